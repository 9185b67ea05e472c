//! EFS mount targets through the real aws-sdk-efs client: one per zone,
//! addresses in the zone's subnet, security groups, lifecycle, describe by
//! file system / mount target / access point, and each error path.

mod efs_common;
mod support;

use std::time::{Duration, Instant};

use aws_sdk_efs::Client;
use aws_sdk_efs::types::LifeCycleState;
use efs_common::*;

#[tokio::test]
async fn a_mount_target_gets_an_address_in_its_zones_subnet() {
    let (_dir, _running, efs) = efs_sim().await;
    let fs = available_file_system(&efs, "fs").await;

    let created = mount_target(&efs, &fs, "us-east-1b").await;
    let id = created.mount_target_id().to_string();
    assert!(id.starts_with("fsmt-") && id.len() == 22, "{id}");
    assert_eq!(created.file_system_id(), fs);
    assert_eq!(created.subnet_id(), subnet("us-east-1b"));
    assert_eq!(created.owner_id(), Some("123456789012"));
    assert_eq!(created.life_cycle_state(), &LifeCycleState::Creating);
    // us-east-1b is the second zone: 10.0.1.0/24.
    assert_eq!(
        created.ip_address(),
        Some(cloudsim::ids::private_ip(1, 100).as_str())
    );
    assert!(created.network_interface_id().unwrap().starts_with("eni-"));
    assert_eq!(created.availability_zone_name(), Some("us-east-1b"));
    assert_eq!(created.availability_zone_id(), Some("use1-az2"));
    assert!(created.vpc_id().unwrap().starts_with("vpc-"));

    assert_eq!(
        mount_target_state(&efs, &id).await,
        LifeCycleState::Available,
        "no delay: available at once"
    );
    let described = efs
        .describe_file_systems()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap();
    assert_eq!(described.file_systems()[0].number_of_mount_targets(), 1);

    // A second file system's target in the same subnet takes the next address.
    let other = available_file_system(&efs, "other").await;
    let second = mount_target(&efs, &other, "us-east-1b").await;
    assert_eq!(
        second.ip_address(),
        Some(cloudsim::ids::private_ip(1, 101).as_str())
    );
    assert_eq!(
        second.vpc_id(),
        created.vpc_id(),
        "one VPC holds every subnet"
    );
}

#[tokio::test]
async fn one_mount_target_per_zone_per_file_system() {
    let (_dir, _running, efs) = efs_sim().await;
    let fs = available_file_system(&efs, "fs").await;

    mount_target(&efs, &fs, "us-east-1a").await;
    let conflict = expect_error(
        try_mount_target(&efs, &fs, "us-east-1a").await,
        "MountTargetConflict",
        409,
    );
    assert!(conflict.is_mount_target_conflict());
    mount_target(&efs, &fs, "us-east-1b").await;
    mount_target(&efs, &fs, "us-east-1c").await;
    let all = mount_targets_of(&efs, &fs).await;
    let zones: Vec<_> = all
        .iter()
        .map(|m| m.availability_zone_name().unwrap())
        .collect();
    assert_eq!(zones, ["us-east-1a", "us-east-1b", "us-east-1c"]);
}

#[tokio::test]
async fn create_errors() {
    let (_dir, running, efs) = slow_efs_sim(Duration::from_millis(300)).await;

    expect_not_found(
        try_mount_target(&efs, MISSING_FS, "us-east-1a").await,
        "FileSystemNotFound",
        |e| e.is_file_system_not_found(),
    );

    let creating = file_system(&efs, "young").await;
    let state = expect_error(
        try_mount_target(&efs, &creating, "us-east-1a").await,
        "IncorrectFileSystemLifeCycleState",
        409,
    );
    assert!(state.is_incorrect_file_system_life_cycle_state());

    let fs = available_file_system(&efs, "fs").await;
    let no_subnet = expect_error(
        efs.create_mount_target()
            .file_system_id(&fs)
            .subnet_id("subnet-0123456789abcdef0")
            .send()
            .await,
        "SubnetNotFound",
        400,
    );
    assert!(no_subnet.is_subnet_not_found());

    let too_many = expect_error(
        create_mount_target(&efs, &fs, "us-east-1a")
            .set_security_groups(Some((1..=6).map(|i| format!("sg-0000000{i}")).collect()))
            .send()
            .await,
        "SecurityGroupLimitExceeded",
        400,
    );
    assert!(too_many.is_security_group_limit_exceeded());
    let bad_group = expect_error(
        create_mount_target(&efs, &fs, "us-east-1a")
            .security_groups("default")
            .send()
            .await,
        "SecurityGroupNotFound",
        400,
    );
    assert!(bad_group.is_security_group_not_found());

    // One Zone file systems take targets in their own zone only.
    let one_zone = efs
        .create_file_system()
        .creation_token("oz")
        .availability_zone_name("us-east-1a")
        .send()
        .await
        .unwrap();
    wait_for_file_system(&efs, one_zone.file_system_id(), LifeCycleState::Available).await;
    let mismatch = expect_error(
        efs.create_mount_target()
            .file_system_id(one_zone.file_system_id())
            .subnet_id(subnet("us-east-1b"))
            .send()
            .await,
        "AvailabilityZonesMismatch",
        400,
    );
    assert!(mismatch.is_availability_zones_mismatch());

    assert!(
        running.sim.world().efs.mount_targets.is_empty(),
        "no failed create left a mount target behind"
    );
}

#[tokio::test]
async fn explicit_addresses_must_be_free_and_in_the_subnet() {
    let (_dir, _running, efs) = efs_sim().await;
    let a = available_file_system(&efs, "a").await;
    let b = available_file_system(&efs, "b").await;

    let chosen = create_mount_target(&efs, &a, "us-east-1a")
        .ip_address("10.0.0.50")
        .security_groups("sg-0123456789abcdef0")
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.ip_address(), Some("10.0.0.50"));

    let taken = expect_error(
        create_mount_target(&efs, &b, "us-east-1a")
            .ip_address("10.0.0.50")
            .send()
            .await,
        "IpAddressInUse",
        409,
    );
    assert!(taken.is_ip_address_in_use());
    for outside in ["10.0.1.50", "10.0.0.2", "10.0.0.255", "not-an-ip"] {
        expect_error(
            create_mount_target(&efs, &b, "us-east-1a")
                .ip_address(outside)
                .send()
                .await,
            "BadRequest",
            400,
        );
    }
}

async fn security_groups_of(efs: &Client, mount_target: &str) -> Vec<String> {
    let out = efs
        .describe_mount_target_security_groups()
        .mount_target_id(mount_target)
        .send()
        .await
        .unwrap();
    out.security_groups().to_vec()
}

#[tokio::test]
async fn security_groups_can_be_described_and_changed() {
    let (_dir, _running, efs) = efs_sim().await;
    let fs = available_file_system(&efs, "fs").await;

    let plain = mount_target(&efs, &fs, "us-east-1a").await;
    let groups = security_groups_of(&efs, plain.mount_target_id()).await;
    assert_eq!(groups.len(), 1, "the VPC's default group");
    assert!(groups[0].starts_with("sg-"));

    let chosen = create_mount_target(&efs, &fs, "us-east-1b")
        .security_groups("sg-0123456789abcdef0")
        .security_groups("sg-0fedcba9876543210")
        .send()
        .await
        .unwrap();
    assert_eq!(
        security_groups_of(&efs, chosen.mount_target_id()).await,
        ["sg-0123456789abcdef0", "sg-0fedcba9876543210"]
    );

    efs.modify_mount_target_security_groups()
        .mount_target_id(chosen.mount_target_id())
        .security_groups("sg-0aaaaaaaaaaaaaaaa")
        .send()
        .await
        .unwrap();
    assert_eq!(
        security_groups_of(&efs, chosen.mount_target_id()).await,
        ["sg-0aaaaaaaaaaaaaaaa"]
    );

    expect_not_found(
        efs.describe_mount_target_security_groups()
            .mount_target_id(MISSING_MT)
            .send()
            .await,
        "MountTargetNotFound",
        |e| e.is_mount_target_not_found(),
    );
}

#[tokio::test]
async fn describe_by_file_system_mount_target_or_access_point() {
    let (_dir, _running, efs) = efs_sim().await;
    let fs = available_file_system(&efs, "fs").await;
    let a = mount_target(&efs, &fs, "us-east-1a").await;
    let b = mount_target(&efs, &fs, "us-east-1b").await;
    let ap = access_point(&efs, &fs).await;

    let by_fs = mount_targets_of(&efs, &fs).await;
    let ids: Vec<_> = by_fs.iter().map(|m| m.mount_target_id()).collect();
    assert_eq!(ids, [a.mount_target_id(), b.mount_target_id()]);
    let by_id = describe_mount_target(&efs, b.mount_target_id())
        .await
        .unwrap();
    assert_eq!(by_id.mount_targets().len(), 1);
    assert_eq!(by_id.mount_targets()[0].ip_address(), b.ip_address());
    let by_ap = efs
        .describe_mount_targets()
        .access_point_id(ap)
        .send()
        .await
        .unwrap();
    assert_eq!(by_ap.mount_targets().len(), 2);

    // Pages of one, by hand and with the paginator.
    let pages_of_one = || {
        efs.describe_mount_targets()
            .file_system_id(&fs)
            .max_items(1)
    };
    let first = pages_of_one().send().await.unwrap();
    assert_eq!(
        first.mount_targets()[0].mount_target_id(),
        a.mount_target_id()
    );
    let next = first.next_marker().unwrap();
    let second = pages_of_one().marker(next).send().await.unwrap();
    assert_eq!(
        second.mount_targets()[0].mount_target_id(),
        b.mount_target_id()
    );
    assert_eq!(second.next_marker(), None);
    let all = pages_of_one().into_paginator().items().send();
    assert_eq!(all.try_collect().await.unwrap().len(), 2);

    expect_error(efs.describe_mount_targets().send().await, "BadRequest", 400);
    expect_error(
        efs.describe_mount_targets()
            .file_system_id(&fs)
            .mount_target_id(a.mount_target_id())
            .send()
            .await,
        "BadRequest",
        400,
    );
    expect_not_found(
        describe_mount_target(&efs, MISSING_MT).await,
        "MountTargetNotFound",
        |e| e.is_mount_target_not_found(),
    );
    expect_not_found(
        efs.describe_mount_targets()
            .file_system_id(MISSING_FS)
            .send()
            .await,
        "FileSystemNotFound",
        |e| e.is_file_system_not_found(),
    );
    expect_not_found(
        efs.describe_mount_targets()
            .access_point_id(MISSING_AP)
            .send()
            .await,
        "AccessPointNotFound",
        |e| e.is_access_point_not_found(),
    );
}

#[tokio::test]
async fn delete_removes_the_target_and_frees_its_zone() {
    let (_dir, _running, efs) = efs_sim().await;
    let fs = available_file_system(&efs, "fs").await;
    let target = mount_target(&efs, &fs, "us-east-1a").await;

    delete_mount_target(&efs, target.mount_target_id()).await;
    expect_error(
        describe_mount_target(&efs, target.mount_target_id()).await,
        "MountTargetNotFound",
        404,
    );
    assert!(mount_targets_of(&efs, &fs).await.is_empty());
    expect_not_found(
        efs.delete_mount_target()
            .mount_target_id(target.mount_target_id())
            .send()
            .await,
        "MountTargetNotFound",
        |e| e.is_mount_target_not_found(),
    );

    let replacement = mount_target(&efs, &fs, "us-east-1a").await;
    assert_eq!(
        replacement.ip_address(),
        target.ip_address(),
        "the address was released"
    );
}

#[tokio::test]
async fn states_follow_the_delay_both_ways() {
    let (_dir, _running, efs) = slow_efs_sim(Duration::from_millis(300)).await;
    let fs = available_file_system(&efs, "fs").await;

    let started = Instant::now();
    let target = mount_target(&efs, &fs, "us-east-1a").await;
    let id = target.mount_target_id();
    assert_eq!(target.life_cycle_state(), &LifeCycleState::Creating);
    assert_eq!(mount_target_state(&efs, id).await, LifeCycleState::Creating);
    poll_until(Duration::from_secs(5), "never available", async || {
        mount_target_state(&efs, id).await == LifeCycleState::Available
    })
    .await;
    assert!(started.elapsed() >= Duration::from_millis(250));

    // A target being deleted still occupies its zone and keeps the file system in use.
    delete_mount_target(&efs, id).await;
    assert_eq!(mount_target_state(&efs, id).await, LifeCycleState::Deleting);
    expect_error(
        efs.delete_file_system().file_system_id(&fs).send().await,
        "FileSystemInUse",
        409,
    );
    expect_error(
        try_mount_target(&efs, &fs, "us-east-1a").await,
        "MountTargetConflict",
        409,
    );
    poll_until(
        Duration::from_secs(5),
        "the mount target was never removed",
        async || describe_mount_target(&efs, id).await.is_err(),
    )
    .await;
    delete_file_system(&efs, &fs).await;
}
