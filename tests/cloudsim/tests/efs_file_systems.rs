//! EFS file systems through the real aws-sdk-efs client: CreateFileSystem
//! (parameters, CreationToken idempotency, validation), DescribeFileSystems
//! (filters, pagination), DeleteFileSystem, lifecycle states with delays,
//! tags, and SigV4 verification.

mod efs_common;
mod support;

use std::time::{Duration, Instant};

use aws_sdk_efs::operation::create_file_system::CreateFileSystemError;
use aws_sdk_efs::types::{LifeCycleState, PerformanceMode, ThroughputMode};
use efs_common::*;

#[tokio::test]
async fn create_describes_the_new_file_system_which_becomes_available_after_the_delay() {
    let (_dir, _running, efs) = slow_efs_sim(Duration::from_millis(300)).await;

    let started = Instant::now();
    let created = efs
        .create_file_system()
        .creation_token("data-1")
        .performance_mode(PerformanceMode::MaxIo)
        .encrypted(true)
        .throughput_mode(ThroughputMode::Bursting)
        .tags(tag("Name", "data"))
        .tags(tag("team", "storage"))
        .send()
        .await
        .unwrap();
    let id = created.file_system_id().to_string();
    assert!(id.starts_with("fs-") && id.len() == 20, "{id}");
    assert_eq!(created.creation_token(), "data-1");
    assert_eq!(created.owner_id(), "123456789012");
    assert_eq!(
        created.file_system_arn(),
        Some(format!("arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/{id}").as_str())
    );
    assert_eq!(created.life_cycle_state(), &LifeCycleState::Creating);
    assert_eq!(created.name(), Some("data"));
    assert_eq!(created.number_of_mount_targets(), 0);
    assert_eq!(created.performance_mode(), &PerformanceMode::MaxIo);
    assert_eq!(created.encrypted(), Some(true));
    assert!(
        created
            .kms_key_id()
            .unwrap()
            .starts_with("arn:aws:kms:us-east-1:123456789012:key/")
    );
    assert_eq!(created.throughput_mode(), Some(&ThroughputMode::Bursting));
    assert_eq!(
        created.tags(),
        &[tag("Name", "data"), tag("team", "storage")]
    );
    assert!(created.size_in_bytes().unwrap().value() > 0);
    assert!(created.creation_time().secs() > 1_600_000_000);

    assert_eq!(file_system_state(&efs, &id).await, LifeCycleState::Creating);
    wait_for_file_system(&efs, &id, LifeCycleState::Available).await;
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "available after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn defaults_and_optional_parameters() {
    let (_dir, _running, efs) = efs_sim().await;

    let plain = efs
        .create_file_system()
        .creation_token("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.performance_mode(), &PerformanceMode::GeneralPurpose);
    assert_eq!(plain.encrypted(), Some(false));
    assert_eq!(plain.kms_key_id(), None);
    assert_eq!(plain.throughput_mode(), Some(&ThroughputMode::Bursting));
    assert_eq!(plain.name(), None);
    assert!(plain.tags().is_empty());
    assert_eq!(plain.availability_zone_name(), None);

    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let provisioned = efs
        .create_file_system()
        .creation_token("provisioned")
        .encrypted(true)
        .kms_key_id(key)
        .throughput_mode(ThroughputMode::Provisioned)
        .provisioned_throughput_in_mibps(128.0)
        .send()
        .await
        .unwrap();
    assert_eq!(provisioned.kms_key_id(), Some(key));
    assert_eq!(
        provisioned.throughput_mode(),
        Some(&ThroughputMode::Provisioned)
    );
    assert_eq!(provisioned.provisioned_throughput_in_mibps(), Some(128.0));

    let one_zone = efs
        .create_file_system()
        .creation_token("one-zone")
        .availability_zone_name("us-east-1b")
        .send()
        .await
        .unwrap();
    assert_eq!(one_zone.availability_zone_name(), Some("us-east-1b"));
    assert_eq!(one_zone.availability_zone_id(), Some("use1-az2"));
}

/// The id a FileSystemAlreadyExists error names.
fn existing_id(error: CreateFileSystemError) -> String {
    match error {
        CreateFileSystemError::FileSystemAlreadyExists(e) => e.file_system_id,
        other => panic!("expected FileSystemAlreadyExists, got {other:?}"),
    }
}

#[tokio::test]
async fn a_reused_creation_token_answers_file_system_already_exists_with_the_id() {
    let (_dir, _running, efs) = efs_sim().await;
    let id = file_system(&efs, "shared-token").await;

    // Same parameters, then different ones: EFS answers the same way.
    let again = expect_error(
        efs.create_file_system()
            .creation_token("shared-token")
            .send()
            .await,
        "FileSystemAlreadyExists",
        409,
    );
    assert!(again.is_file_system_already_exists());
    assert_eq!(existing_id(again), id);
    let different = expect_error(
        efs.create_file_system()
            .creation_token("shared-token")
            .performance_mode(PerformanceMode::MaxIo)
            .send()
            .await,
        "FileSystemAlreadyExists",
        409,
    );
    assert_eq!(existing_id(different), id);

    let listed = file_systems_with_token(&efs, "shared-token").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(all_file_systems(&efs).await.len(), 1);
}

#[tokio::test]
async fn concurrent_creates_with_one_token_make_one_file_system() {
    let (_dir, _running, efs) = efs_sim().await;

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let efs = efs.clone();
            tokio::spawn(
                async move { efs.create_file_system().creation_token("race").send().await },
            )
        })
        .collect();
    let mut created = Vec::new();
    let mut existing = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(out) => created.push(out.file_system_id),
            Err(error) => existing.push(existing_id(error.into_service_error())),
        }
    }
    assert_eq!(created.len(), 1, "exactly one create wins");
    assert_eq!(
        existing,
        vec![created[0].clone(); 7],
        "the others learn the winner's id"
    );
    let all = all_file_systems(&efs).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].file_system_id(), created[0]);
}

#[tokio::test]
async fn invalid_parameters_are_refused() {
    let (_dir, _running, efs) = efs_sim().await;

    let bad = |token: &str| efs.create_file_system().creation_token(token);
    expect_error(bad("kms").kms_key_id("k1").send().await, "BadRequest", 400);
    expect_error(
        bad("prov")
            .throughput_mode(ThroughputMode::Provisioned)
            .send()
            .await,
        "BadRequest",
        400,
    );
    expect_error(
        bad("burst")
            .provisioned_throughput_in_mibps(10.0)
            .send()
            .await,
        "BadRequest",
        400,
    );
    expect_error(
        bad("maxio-elastic")
            .performance_mode(PerformanceMode::MaxIo)
            .throughput_mode(ThroughputMode::Elastic)
            .send()
            .await,
        "BadRequest",
        400,
    );
    expect_error(
        bad("mode")
            .performance_mode(PerformanceMode::from("turbo"))
            .send()
            .await,
        "BadRequest",
        400,
    );
    expect_error(bad(&"t".repeat(65)).send().await, "BadRequest", 400);
    expect_error(
        bad("tags").tags(tag("aws:reserved", "x")).send().await,
        "BadRequest",
        400,
    );
    let zone = expect_error(
        bad("zone")
            .availability_zone_name("us-east-1z")
            .send()
            .await,
        "UnsupportedAvailabilityZone",
        400,
    );
    assert!(zone.is_unsupported_availability_zone());
    assert!(
        all_file_systems(&efs).await.is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn describe_filters_by_id_and_token_and_paginates() {
    let (_dir, _running, efs) = efs_sim().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(file_system(&efs, &format!("token-{i}")).await);
    }

    // Pages of two, by hand.
    let mut seen = Vec::new();
    let mut marker = None;
    let mut pages = 0;
    loop {
        let page = efs
            .describe_file_systems()
            .max_items(2)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(page.marker(), marker.as_deref());
        assert!(page.file_systems().len() <= 2);
        seen.extend(
            page.file_systems()
                .iter()
                .map(|fs| fs.file_system_id().to_string()),
        );
        pages += 1;
        match page.next_marker() {
            Some(next) => marker = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids, "every file system once, in creation order");

    // And with the SDK's paginator.
    let all: Vec<_> = efs
        .describe_file_systems()
        .max_items(3)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(all.len(), 5);

    let by_id = describe_file_system(&efs, &ids[3]).await.unwrap();
    assert_eq!(by_id.file_systems().len(), 1);
    assert_eq!(by_id.file_systems()[0].creation_token(), "token-3");
    assert_eq!(by_id.next_marker(), None);
    let arn = by_id.file_systems()[0]
        .file_system_arn()
        .unwrap()
        .to_string();
    let by_arn = describe_file_system(&efs, &arn).await.unwrap();
    assert_eq!(by_arn.file_systems()[0].file_system_id(), ids[3]);
    let by_token = file_systems_with_token(&efs, "token-1").await;
    assert_eq!(by_token[0].file_system_id(), ids[1]);
    assert!(file_systems_with_token(&efs, "nobody").await.is_empty());

    expect_not_found(
        describe_file_system(&efs, MISSING_FS).await,
        "FileSystemNotFound",
        |e| e.is_file_system_not_found(),
    );
    expect_error(
        efs.describe_file_systems().max_items(0).send().await,
        "BadRequest",
        400,
    );
    expect_error(
        efs.describe_file_systems()
            .marker("not-a-marker")
            .send()
            .await,
        "BadRequest",
        400,
    );
}

#[tokio::test]
async fn delete_removes_the_file_system_and_frees_its_token() {
    let (_dir, _running, efs) = efs_sim().await;
    let id = available_file_system(&efs, "doomed").await;

    delete_file_system(&efs, &id).await;
    expect_not_found(
        describe_file_system(&efs, &id).await,
        "FileSystemNotFound",
        |e| e.is_file_system_not_found(),
    );
    expect_not_found(
        efs.delete_file_system().file_system_id(&id).send().await,
        "FileSystemNotFound",
        |e| e.is_file_system_not_found(),
    );

    let reborn = file_system(&efs, "doomed").await;
    assert_ne!(
        reborn, id,
        "the token names a new file system once the old one is gone"
    );
}

#[tokio::test]
async fn delete_is_refused_while_mount_targets_remain() {
    let (_dir, _running, efs) = efs_sim().await;
    let id = available_file_system(&efs, "busy").await;
    let target = mount_target(&efs, &id, "us-east-1a").await;

    let in_use = expect_error(
        efs.delete_file_system().file_system_id(&id).send().await,
        "FileSystemInUse",
        409,
    );
    assert!(in_use.is_file_system_in_use());
    assert_eq!(
        file_system_state(&efs, &id).await,
        LifeCycleState::Available,
        "the refused delete changed nothing"
    );

    delete_mount_target(&efs, target.mount_target_id()).await;
    delete_file_system(&efs, &id).await;
    expect_error(
        describe_file_system(&efs, &id).await,
        "FileSystemNotFound",
        404,
    );
}

#[tokio::test]
async fn deleting_lasts_the_delay_and_keeps_the_token_taken() {
    let (_dir, _running, efs) = slow_efs_sim(Duration::from_millis(300)).await;
    let id = available_file_system(&efs, "slow").await;

    delete_file_system(&efs, &id).await;
    assert_eq!(file_system_state(&efs, &id).await, LifeCycleState::Deleting);
    expect_error(
        efs.create_file_system().creation_token("slow").send().await,
        "FileSystemAlreadyExists",
        409,
    );
    // Deleting until removed; then not found.
    let gone = async || match describe_file_system(&efs, &id).await {
        Ok(out) => {
            let state = out.file_systems()[0].life_cycle_state();
            assert_eq!(state, &LifeCycleState::Deleting);
            false
        }
        Err(error) => {
            assert!(error.into_service_error().is_file_system_not_found());
            true
        }
    };
    poll_until(
        Duration::from_secs(5),
        "the file system was never removed",
        gone,
    )
    .await;
}

#[tokio::test]
async fn tags_can_be_added_listed_and_removed() {
    let (_dir, _running, efs) = efs_sim().await;
    let created = efs
        .create_file_system()
        .creation_token("tagged")
        .tags(tag("team", "a"))
        .send()
        .await
        .unwrap();
    let id = created.file_system_id();
    let arn = created.file_system_arn().unwrap();

    efs.tag_resource()
        .resource_id(id)
        .tags(tag("Name", "shared"))
        .tags(tag("team", "b"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(&efs, id).await,
        &[tag("team", "b"), tag("Name", "shared")],
        "a new value replaces the old in place"
    );
    let described = describe_file_system(&efs, id).await.unwrap();
    assert_eq!(
        described.file_systems()[0].name(),
        Some("shared"),
        "the Name tag is the name"
    );

    let pages_of_one = || efs.list_tags_for_resource().resource_id(arn).max_results(1);
    let first = pages_of_one().send().await.unwrap();
    assert_eq!(first.tags(), &[tag("team", "b")]);
    let next = first.next_token().unwrap();
    let second = pages_of_one().next_token(next).send().await.unwrap();
    assert_eq!(second.tags(), &[tag("Name", "shared")]);
    assert_eq!(second.next_token(), None);

    efs.untag_resource()
        .resource_id(id)
        .tag_keys("Name")
        .send()
        .await
        .unwrap();
    let described = describe_file_system(&efs, id).await.unwrap();
    assert_eq!(described.file_systems()[0].name(), None);
    assert_eq!(described.file_systems()[0].tags(), &[tag("team", "b")]);

    expect_not_found(
        efs.tag_resource()
            .resource_id(MISSING_FS)
            .tags(tag("a", "b"))
            .send()
            .await,
        "FileSystemNotFound",
        |e| e.is_file_system_not_found(),
    );
    expect_not_found(
        efs.list_tags_for_resource()
            .resource_id(MISSING_AP)
            .send()
            .await,
        "AccessPointNotFound",
        |e| e.is_access_point_not_found(),
    );
    expect_error(
        efs.list_tags_for_resource()
            .resource_id("vol-0123")
            .send()
            .await,
        "BadRequest",
        400,
    );
    expect_error(
        efs.tag_resource()
            .resource_id(id)
            .tags(tag("aws:x", "y"))
            .send()
            .await,
        "BadRequest",
        400,
    );
}

#[tokio::test]
async fn requests_must_be_signed_with_the_configured_keys() {
    let (_dir, _running, efs) = efs_sim_with(|c| {
        c.verify_keys = Some((support::ACCESS_KEY.into(), support::SECRET_KEY.into()));
    })
    .await;
    let id = file_system(&efs, "signed").await;
    describe_file_system(&efs, &id).await.unwrap();

    let (_dir2, other, stranger) =
        efs_sim_with(|c| c.verify_keys = Some(("AKIDSOMEONEELSE00001".into(), "secret".into())))
            .await;
    expect_error(
        stranger.describe_file_systems().send().await,
        "UnrecognizedClientException",
        403,
    );
    assert!(
        !support::counters(&other)
            .await
            .contains_key("efs:DescribeFileSystems"),
        "refused before counting"
    );

    let (_dir3, wrong_secret, forger) = efs_sim_with(|c| {
        c.verify_keys = Some((support::ACCESS_KEY.into(), "another-secret".into()))
    })
    .await;
    expect_error(
        forger.create_file_system().creation_token("x").send().await,
        "InvalidSignatureException",
        403,
    );
    assert!(wrong_secret.sim.world().efs.file_systems.is_empty());
}
