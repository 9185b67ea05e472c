//! EFS access points through the real aws-sdk-efs client: POSIX user and
//! root directory, ClientToken idempotency as EFS does it, the per-file
//! system limit, describe (filters, pagination), delete, lifecycle, tags.

mod efs_common;
mod support;

use std::time::{Duration, Instant};

use aws_sdk_efs::operation::create_access_point::CreateAccessPointError;
use aws_sdk_efs::types::{CreationInfo, LifeCycleState, PosixUser, RootDirectory};
use efs_common::*;

fn posix_user() -> PosixUser {
    PosixUser::builder()
        .uid(1000)
        .gid(1000)
        .secondary_gids(27)
        .secondary_gids(100)
        .build()
        .unwrap()
}

fn root_directory(path: &str) -> RootDirectory {
    RootDirectory::builder()
        .path(path)
        .creation_info(
            CreationInfo::builder()
                .owner_uid(1000)
                .owner_gid(1000)
                .permissions("0750")
                .build()
                .unwrap(),
        )
        .build()
}

#[tokio::test]
async fn create_records_posix_user_root_directory_and_tags() {
    let (_dir, running) = support::sim(|_| {}).await;
    let efs = support::efs(&running.api_url).await;
    let fs = available_file_system(&efs, "fs").await;

    let created = efs
        .create_access_point()
        .client_token("cluster-a/vol1")
        .file_system_id(&fs)
        .posix_user(posix_user())
        .root_directory(root_directory("/volumes/vol1"))
        .tags(tag("Name", "vol1"))
        .tags(tag("cluster", "a"))
        .send()
        .await
        .unwrap();
    let id = created.access_point_id().unwrap().to_string();
    assert!(id.starts_with("fsap-") && id.len() == 22, "{id}");
    assert_eq!(
        created.access_point_arn(),
        Some(
            format!("arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/{id}").as_str()
        )
    );
    assert_eq!(created.client_token(), Some("cluster-a/vol1"));
    assert_eq!(created.file_system_id(), Some(fs.as_str()));
    assert_eq!(created.posix_user(), Some(&posix_user()));
    assert_eq!(
        created.root_directory(),
        Some(&root_directory("/volumes/vol1"))
    );
    assert_eq!(created.name(), Some("vol1"));
    assert_eq!(created.tags(), &[tag("Name", "vol1"), tag("cluster", "a")]);
    assert_eq!(created.owner_id(), Some("123456789012"));
    assert_eq!(created.life_cycle_state(), Some(&LifeCycleState::Creating));

    let described = efs
        .describe_access_points()
        .access_point_id(&id)
        .send()
        .await
        .unwrap();
    let ap = &described.access_points()[0];
    assert_eq!(
        ap.life_cycle_state(),
        Some(&LifeCycleState::Available),
        "no delay: available at once"
    );
    assert_eq!(ap.root_directory(), Some(&root_directory("/volumes/vol1")));

    // Without a root directory, EFS reports "/"; without a POSIX user, none.
    let bare = efs
        .create_access_point()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.root_directory().and_then(|r| r.path()), Some("/"));
    assert_eq!(bare.posix_user(), None);
    assert!(
        bare.client_token().is_some_and(|t| !t.is_empty()),
        "the SDK fills in a token"
    );
}

fn already_exists_id(error: CreateAccessPointError) -> String {
    match error {
        CreateAccessPointError::AccessPointAlreadyExists(e) => e.access_point_id,
        other => panic!("expected AccessPointAlreadyExists, got {other:?}"),
    }
}

#[tokio::test]
async fn a_reused_client_token_answers_access_point_already_exists_with_the_id() {
    let (_dir, running) = support::sim(|_| {}).await;
    let efs = support::efs(&running.api_url).await;
    let fs = available_file_system(&efs, "fs").await;
    let other_fs = available_file_system(&efs, "other").await;
    let create = |fs: &str, path: &str| {
        efs.create_access_point()
            .client_token("token-1")
            .file_system_id(fs)
            .root_directory(root_directory(path))
    };
    let first = create(&fs, "/a")
        .send()
        .await
        .unwrap()
        .access_point_id
        .unwrap();

    let same = expect_error(
        create(&fs, "/a").send().await,
        "AccessPointAlreadyExists",
        409,
    );
    assert_eq!(already_exists_id(same), first);
    let different = expect_error(
        create(&fs, "/b").send().await,
        "AccessPointAlreadyExists",
        409,
    );
    assert_eq!(already_exists_id(different), first);
    let elsewhere = expect_error(
        create(&other_fs, "/a").send().await,
        "AccessPointAlreadyExists",
        409,
    );
    assert_eq!(
        already_exists_id(elsewhere),
        first,
        "a token is unique in the region, not per file system"
    );

    let listed = efs.describe_access_points().send().await.unwrap();
    assert_eq!(listed.access_points().len(), 1);

    // Once the access point is gone its token may name a new one.
    efs.delete_access_point()
        .access_point_id(&first)
        .send()
        .await
        .unwrap();
    let second = create(&fs, "/a")
        .send()
        .await
        .unwrap()
        .access_point_id
        .unwrap();
    assert_ne!(second, first);
}

#[tokio::test]
async fn concurrent_creates_with_one_token_make_one_access_point() {
    let (_dir, running) = support::sim(|_| {}).await;
    let efs = support::efs(&running.api_url).await;
    let fs = available_file_system(&efs, "fs").await;

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let efs = efs.clone();
            let fs = fs.clone();
            tokio::spawn(async move {
                efs.create_access_point()
                    .client_token("race")
                    .file_system_id(fs)
                    .posix_user(posix_user())
                    .root_directory(root_directory("/race"))
                    .send()
                    .await
            })
        })
        .collect();
    let mut created = Vec::new();
    let mut existing = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(out) => created.push(out.access_point_id.unwrap()),
            Err(error) => existing.push(already_exists_id(error.into_service_error())),
        }
    }
    assert_eq!(created.len(), 1, "exactly one create wins");
    assert_eq!(existing, vec![created[0].clone(); 7]);
    let listed = efs
        .describe_access_points()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.access_points().len(), 1);
}

#[tokio::test]
async fn create_errors() {
    let (_dir, running) = support::sim(|c| c.delays.efs = Duration::from_millis(300)).await;
    let efs = support::efs(&running.api_url).await;

    let missing = expect_error(
        efs.create_access_point()
            .file_system_id("fs-0123456789abcdef0")
            .send()
            .await,
        "FileSystemNotFound",
        404,
    );
    assert!(missing.is_file_system_not_found());
    let young = file_system(&efs, "young").await;
    let state = expect_error(
        efs.create_access_point()
            .file_system_id(&young)
            .send()
            .await,
        "IncorrectFileSystemLifeCycleState",
        409,
    );
    assert!(state.is_incorrect_file_system_life_cycle_state());

    wait_for_file_system(&efs, &young, LifeCycleState::Available).await;
    let bad_permissions = RootDirectory::builder()
        .path("/x")
        .creation_info(
            CreationInfo::builder()
                .owner_uid(0)
                .owner_gid(0)
                .permissions("rwx")
                .build()
                .unwrap(),
        )
        .build();
    let bad = expect_error(
        efs.create_access_point()
            .file_system_id(&young)
            .root_directory(bad_permissions)
            .send()
            .await,
        "BadRequest",
        400,
    );
    assert!(bad.is_bad_request());
    expect_error(
        efs.create_access_point()
            .file_system_id(&young)
            .root_directory(root_directory("relative/path"))
            .send()
            .await,
        "BadRequest",
        400,
    );
    let huge_uid = PosixUser::builder().uid(1 << 33).gid(0).build().unwrap();
    expect_error(
        efs.create_access_point()
            .file_system_id(&young)
            .posix_user(huge_uid)
            .send()
            .await,
        "BadRequest",
        400,
    );
    let many_gids = PosixUser::builder()
        .uid(1)
        .gid(1)
        .set_secondary_gids(Some((0..17).collect()))
        .build()
        .unwrap();
    expect_error(
        efs.create_access_point()
            .file_system_id(&young)
            .posix_user(many_gids)
            .send()
            .await,
        "BadRequest",
        400,
    );
    expect_error(
        efs.create_access_point()
            .file_system_id(&young)
            .client_token("t".repeat(65))
            .send()
            .await,
        "BadRequest",
        400,
    );
    assert!(
        running.sim.world().efs.access_points.is_empty(),
        "no failed create left an access point behind"
    );
}

#[tokio::test]
async fn a_file_system_holds_at_most_1000_access_points() {
    let (_dir, running) = support::sim(|_| {}).await;
    let efs = support::efs(&running.api_url).await;
    let fs = available_file_system(&efs, "fs").await;

    for chunk in 0..10 {
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let efs = efs.clone();
                let fs = fs.clone();
                tokio::spawn(async move {
                    efs.create_access_point()
                        .client_token(format!("ap-{chunk}-{i}"))
                        .file_system_id(fs)
                        .send()
                        .await
                        .unwrap()
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    }
    let limit = expect_error(
        efs.create_access_point()
            .client_token("one-too-many")
            .file_system_id(&fs)
            .send()
            .await,
        "AccessPointLimitExceeded",
        403,
    );
    assert!(limit.is_access_point_limit_exceeded());

    // Another file system is not affected.
    let other = available_file_system(&efs, "other").await;
    efs.create_access_point()
        .file_system_id(&other)
        .send()
        .await
        .unwrap();

    // Describe pages through all 1000 at most 100 a page.
    let first = efs
        .describe_access_points()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap();
    assert_eq!(first.access_points().len(), 100);
    assert!(first.next_token().is_some());
    let all = efs
        .describe_access_points()
        .file_system_id(&fs)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 1000);
}

#[tokio::test]
async fn describe_filters_and_paginates() {
    let (_dir, running) = support::sim(|_| {}).await;
    let efs = support::efs(&running.api_url).await;
    let a = available_file_system(&efs, "a").await;
    let b = available_file_system(&efs, "b").await;
    let mut on_a = Vec::new();
    for i in 0..3 {
        let out = efs
            .create_access_point()
            .file_system_id(&a)
            .root_directory(root_directory(&format!("/{i}")))
            .send();
        on_a.push(out.await.unwrap().access_point_id.unwrap());
    }
    let on_b = efs
        .create_access_point()
        .file_system_id(&b)
        .send()
        .await
        .unwrap()
        .access_point_id
        .unwrap();

    let ids = |out: &aws_sdk_efs::operation::describe_access_points::DescribeAccessPointsOutput| -> Vec<String> {
        out.access_points().iter().map(|ap| ap.access_point_id().unwrap().to_string()).collect()
    };
    assert_eq!(
        ids(&efs
            .describe_access_points()
            .file_system_id(&a)
            .send()
            .await
            .unwrap()),
        on_a
    );
    assert_eq!(
        ids(&efs
            .describe_access_points()
            .file_system_id(&b)
            .send()
            .await
            .unwrap()),
        std::slice::from_ref(&on_b)
    );
    assert_eq!(
        ids(&efs.describe_access_points().send().await.unwrap()).len(),
        4,
        "no filter: every access point"
    );
    assert_eq!(
        ids(&efs
            .describe_access_points()
            .access_point_id(&on_a[1])
            .send()
            .await
            .unwrap()),
        on_a[1..2]
    );

    let first = efs
        .describe_access_points()
        .file_system_id(&a)
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(ids(&first), on_a[..2]);
    let second = efs
        .describe_access_points()
        .file_system_id(&a)
        .max_results(2)
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ids(&second), on_a[2..]);
    assert_eq!(second.next_token(), None);

    expect_error(
        efs.describe_access_points()
            .file_system_id(&a)
            .access_point_id(&on_b)
            .send()
            .await,
        "BadRequest",
        400,
    );
    let e = expect_error(
        efs.describe_access_points()
            .access_point_id("fsap-0123456789abcdef0")
            .send()
            .await,
        "AccessPointNotFound",
        404,
    );
    assert!(e.is_access_point_not_found());
    let e = expect_error(
        efs.describe_access_points()
            .file_system_id("fs-0123456789abcdef0")
            .send()
            .await,
        "FileSystemNotFound",
        404,
    );
    assert!(e.is_file_system_not_found());
}

#[tokio::test]
async fn delete_removes_the_access_point() {
    let (_dir, running) = support::sim(|_| {}).await;
    let efs = support::efs(&running.api_url).await;
    let fs = available_file_system(&efs, "fs").await;
    let ap = efs
        .create_access_point()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap()
        .access_point_id
        .unwrap();

    efs.delete_access_point()
        .access_point_id(&ap)
        .send()
        .await
        .unwrap();
    expect_error(
        efs.describe_access_points()
            .access_point_id(&ap)
            .send()
            .await,
        "AccessPointNotFound",
        404,
    );
    let again = expect_error(
        efs.delete_access_point().access_point_id(&ap).send().await,
        "AccessPointNotFound",
        404,
    );
    assert!(again.is_access_point_not_found());

    // Deleting a file system takes its access points with it.
    let kept = efs
        .create_access_point()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap()
        .access_point_id
        .unwrap();
    efs.delete_file_system()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap();
    expect_error(
        efs.describe_access_points()
            .access_point_id(&kept)
            .send()
            .await,
        "AccessPointNotFound",
        404,
    );
}

#[tokio::test]
async fn states_follow_the_delay_and_tags_apply_to_access_points() {
    let (_dir, running) = support::sim(|c| c.delays.efs = Duration::from_millis(300)).await;
    let efs = support::efs(&running.api_url).await;
    let fs = available_file_system(&efs, "fs").await;

    let started = Instant::now();
    let ap = efs
        .create_access_point()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap()
        .access_point_id
        .unwrap();
    let state = |efs: aws_sdk_efs::Client, id: String| async move {
        let out = efs
            .describe_access_points()
            .access_point_id(id)
            .send()
            .await
            .unwrap();
        out.access_points()[0].life_cycle_state().cloned().unwrap()
    };
    assert_eq!(
        state(efs.clone(), ap.clone()).await,
        LifeCycleState::Creating
    );
    while state(efs.clone(), ap.clone()).await != LifeCycleState::Available {
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(250));

    efs.tag_resource()
        .resource_id(&ap)
        .tags(tag("Name", "renamed"))
        .send()
        .await
        .unwrap();
    let described = efs
        .describe_access_points()
        .access_point_id(&ap)
        .send()
        .await
        .unwrap();
    assert_eq!(described.access_points()[0].name(), Some("renamed"));
    let listed = efs
        .list_tags_for_resource()
        .resource_id(&ap)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.tags(), &[tag("Name", "renamed")]);

    efs.delete_access_point()
        .access_point_id(&ap)
        .send()
        .await
        .unwrap();
    assert_eq!(
        state(efs.clone(), ap.clone()).await,
        LifeCycleState::Deleting
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while efs
        .describe_access_points()
        .access_point_id(&ap)
        .send()
        .await
        .is_ok()
    {
        assert!(
            Instant::now() < deadline,
            "the access point was never removed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
