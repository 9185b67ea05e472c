//! EFS access points through the real aws-sdk-efs client: POSIX user and
//! root directory, ClientToken idempotency as EFS does it, the per-file
//! system limit, describe (filters, pagination), delete, lifecycle, tags.

mod efs_common;
mod support;

use std::time::{Duration, Instant};

use aws_sdk_efs::operation::create_access_point::CreateAccessPointError;
use aws_sdk_efs::operation::describe_access_points::DescribeAccessPointsOutput;
use aws_sdk_efs::types::{LifeCycleState, PosixUser, RootDirectory};
use efs_common::*;

fn posix_user() -> PosixUser {
    posix_user_of(1000, &[27, 100])
}

fn root_directory(path: &str) -> RootDirectory {
    root_directory_of(path, 1000, "0750")
}

#[tokio::test]
async fn create_records_posix_user_root_directory_and_tags() {
    let (_dir, _running, efs) = efs_sim().await;
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

    let described = describe_access_point(&efs, &id).await.unwrap();
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
    let (_dir, _running, efs) = efs_sim().await;
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
    delete_access_point(&efs, &first).await;
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
    let (_dir, _running, efs) = efs_sim().await;
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
    let listed = access_points_of(&efs, &fs).await;
    assert_eq!(listed.access_points().len(), 1);
}

#[tokio::test]
async fn create_errors() {
    let (_dir, running, efs) = slow_efs_sim(Duration::from_millis(300)).await;

    let create_on = |fs: &str| efs.create_access_point().file_system_id(fs);
    expect_not_found(
        create_on(MISSING_FS).send().await,
        "FileSystemNotFound",
        |e| e.is_file_system_not_found(),
    );
    let young = file_system(&efs, "young").await;
    let state = expect_error(
        create_on(&young).send().await,
        "IncorrectFileSystemLifeCycleState",
        409,
    );
    assert!(state.is_incorrect_file_system_life_cycle_state());

    wait_for_file_system(&efs, &young, LifeCycleState::Available).await;
    let bad_permissions = root_directory_of("/x", 0, "rwx");
    let bad = expect_error(
        create_on(&young)
            .root_directory(bad_permissions)
            .send()
            .await,
        "BadRequest",
        400,
    );
    assert!(bad.is_bad_request());
    expect_error(
        create_on(&young)
            .root_directory(root_directory("relative/path"))
            .send()
            .await,
        "BadRequest",
        400,
    );
    let huge_uid = PosixUser::builder().uid(1 << 33).gid(0).build().unwrap();
    expect_error(
        create_on(&young).posix_user(huge_uid).send().await,
        "BadRequest",
        400,
    );
    let many_gids = posix_user_of(1, &(0..17).collect::<Vec<_>>());
    expect_error(
        create_on(&young).posix_user(many_gids).send().await,
        "BadRequest",
        400,
    );
    expect_error(
        create_on(&young).client_token("t".repeat(65)).send().await,
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
    let (_dir, _running, efs) = efs_sim().await;
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
    access_point(&efs, &other).await;

    // Describe pages through all 1000 at most 100 a page.
    let first = access_points_of(&efs, &fs).await;
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

/// The ids of a DescribeAccessPoints answer, in order.
fn ids(out: &DescribeAccessPointsOutput) -> Vec<String> {
    out.access_points()
        .iter()
        .map(|ap| ap.access_point_id().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn describe_filters_and_paginates() {
    let (_dir, _running, efs) = efs_sim().await;
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
    let on_b = access_point(&efs, &b).await;

    assert_eq!(ids(&access_points_of(&efs, &a).await), on_a);
    assert_eq!(
        ids(&access_points_of(&efs, &b).await),
        std::slice::from_ref(&on_b)
    );
    assert_eq!(
        ids(&efs.describe_access_points().send().await.unwrap()).len(),
        4,
        "no filter: every access point"
    );
    assert_eq!(
        ids(&describe_access_point(&efs, &on_a[1]).await.unwrap()),
        on_a[1..2]
    );

    let pages_of_two = || {
        efs.describe_access_points()
            .file_system_id(&a)
            .max_results(2)
    };
    let first = pages_of_two().send().await.unwrap();
    assert_eq!(ids(&first), on_a[..2]);
    let next = first.next_token().unwrap();
    let second = pages_of_two().next_token(next).send().await.unwrap();
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
    expect_not_found(
        describe_access_point(&efs, MISSING_AP).await,
        "AccessPointNotFound",
        |e| e.is_access_point_not_found(),
    );
    expect_not_found(
        efs.describe_access_points()
            .file_system_id(MISSING_FS)
            .send()
            .await,
        "FileSystemNotFound",
        |e| e.is_file_system_not_found(),
    );
}

#[tokio::test]
async fn delete_removes_the_access_point() {
    let (_dir, _running, efs) = efs_sim().await;
    let fs = available_file_system(&efs, "fs").await;
    let ap = access_point(&efs, &fs).await;

    delete_access_point(&efs, &ap).await;
    expect_error(
        describe_access_point(&efs, &ap).await,
        "AccessPointNotFound",
        404,
    );
    expect_not_found(
        efs.delete_access_point().access_point_id(&ap).send().await,
        "AccessPointNotFound",
        |e| e.is_access_point_not_found(),
    );

    // Deleting a file system takes its access points with it.
    let kept = access_point(&efs, &fs).await;
    delete_file_system(&efs, &fs).await;
    expect_error(
        describe_access_point(&efs, &kept).await,
        "AccessPointNotFound",
        404,
    );
}

#[tokio::test]
async fn states_follow_the_delay_and_tags_apply_to_access_points() {
    let (_dir, _running, efs) = slow_efs_sim(Duration::from_millis(300)).await;
    let fs = available_file_system(&efs, "fs").await;

    let started = Instant::now();
    let ap = access_point(&efs, &fs).await;
    assert_eq!(
        access_point_state(&efs, &ap).await,
        LifeCycleState::Creating
    );
    poll_until(Duration::from_secs(5), "never available", async || {
        access_point_state(&efs, &ap).await == LifeCycleState::Available
    })
    .await;
    assert!(started.elapsed() >= Duration::from_millis(250));

    efs.tag_resource()
        .resource_id(&ap)
        .tags(tag("Name", "renamed"))
        .send()
        .await
        .unwrap();
    let described = describe_access_point(&efs, &ap).await.unwrap();
    assert_eq!(described.access_points()[0].name(), Some("renamed"));
    assert_eq!(tags_of(&efs, &ap).await, [tag("Name", "renamed")]);

    delete_access_point(&efs, &ap).await;
    assert_eq!(
        access_point_state(&efs, &ap).await,
        LifeCycleState::Deleting
    );
    poll_until(
        Duration::from_secs(5),
        "the access point was never removed",
        async || describe_access_point(&efs, &ap).await.is_err(),
    )
    .await;
}
