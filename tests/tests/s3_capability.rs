//! The host's `s3` capability driven directly (no guest): its core `S3`
//! against s3s-fs (fast, the s3s project's server) and moto (an independent
//! implementation), each test once per server. A missing server skips.

use std::collections::BTreeMap;

use ballast::capabilities::aws::AwsSettings;
use ballast::capabilities::s3::{S3, SETTINGS_PREFIX, SMALL_OBJECT_MAX};
use ballast::config::AwsConfig;
use ballast::runtime::bindings::BackendError;
use ballast_tests::s3::{REGION, S3Server};
use futures::{StreamExt, TryStreamExt};

/// Asserts that a `BackendError` (or a result) matches a pattern, showing
/// it when it does not.
macro_rules! assert_err {
    ($err:expr, $($pattern:tt)+) => {{
        let err = &$err;
        assert!(matches!(err, $($pattern)+), "{err:?}");
    }};
}

/// Each scenario once per server: `mod fast` (s3s-fs) and `mod moto`.
macro_rules! on_both_servers {
    ($($scenario:ident),* $(,)?) => {
        mod fast {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let test = concat!("s3 fast ", stringify!($scenario));
                    if let Some(server) = ballast_tests::s3::S3Server::fast(test) {
                        super::$scenario(&server, super::Server::Fast).await;
                    }
                }
            )*
        }
        mod moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let test = concat!("s3 moto ", stringify!($scenario));
                    if let Some(server) = ballast_tests::s3::S3Server::moto(test) {
                        super::$scenario(&server, super::Server::Moto).await;
                    }
                }
            )*
        }
    };
}

on_both_servers!(
    bucket_lifecycle_is_idempotent,
    listing_pages_and_common_prefixes,
    usage_counts_up_to_the_limit,
    delete_prefix_removes_thousands_in_batches,
    small_objects_are_capped_both_ways,
    errors_map_to_the_contract,
);

/// Which server a scenario runs against, for the few places they differ
/// from S3 (and each other).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Server {
    /// s3s-fs: deletes a bucket with objects in it.
    Fast,
    /// moto: accepts any keys.
    Moto,
}

/// The capability as a backend configured with the server's `S3FS_*`
/// settings gets it (few retries, so a dead endpoint fails quickly).
fn s3_for(server: &S3Server) -> S3 {
    s3_with(&server.settings())
}

fn s3_with(settings: &[(String, String)]) -> S3 {
    let settings: BTreeMap<String, String> = settings.iter().cloned().collect();
    let table = AwsConfig {
        max_attempts: 2,
        operation_timeout_secs: 10,
        ..Default::default()
    };
    let resolved = AwsSettings::resolve(&table, &settings, SETTINGS_PREFIX).unwrap();
    S3::new("s3fs", resolved, true)
}

/// Put `count` small objects `<prefix><i>` through the raw SDK client.
async fn put_many(server: &S3Server, bucket: &str, prefix: &str, count: usize) {
    let client = server.client().await;
    futures::stream::iter(0..count)
        .map(|i| {
            let client = client.clone();
            let key = format!("{prefix}{i:05}");
            async move {
                client
                    .put_object()
                    .bucket(bucket)
                    .key(&key)
                    .body(format!("object {i}").into_bytes().into())
                    .send()
                    .await
                    .map_err(|e| format!("{key}: {e:?}"))
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
}

/// Every key in `bucket` under `prefix`, through the raw client.
async fn raw_keys(server: &S3Server, bucket: &str, prefix: &str) -> Vec<String> {
    let pages: Vec<_> = server
        .client()
        .await
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    pages
        .iter()
        .flat_map(|page| page.contents())
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

async fn bucket_lifecycle_is_idempotent(server: &S3Server, _: Server) {
    let s3 = s3_for(server);
    s3.create_bucket("lifecycle", None).await.unwrap();
    s3.create_bucket("lifecycle", None)
        .await
        .expect("a second create of our own bucket succeeds");
    s3.create_bucket("lifecycle", Some(REGION))
        .await
        .expect("naming us-east-1 sends no LocationConstraint");
    assert_eq!(s3.head_bucket("lifecycle").await.unwrap(), REGION);
    let buckets = s3.list_buckets().await.unwrap();
    let mine: Vec<_> = buckets.iter().filter(|b| b.name == "lifecycle").collect();
    assert_eq!(mine.len(), 1, "{buckets:?}");
    assert!(mine[0].created_ms > 1_600_000_000_000, "{:?}", mine[0]);

    s3.delete_bucket("lifecycle").await.unwrap();
    assert_err!(
        s3.head_bucket("lifecycle").await,
        Err(BackendError::NotFound(_))
    );
    assert!(
        !s3.list_buckets()
            .await
            .unwrap()
            .iter()
            .any(|b| b.name == "lifecycle")
    );
}

async fn listing_pages_and_common_prefixes(server: &S3Server, _: Server) {
    let s3 = s3_for(server);
    s3.create_bucket("paged", None).await.unwrap();
    put_many(server, "paged", "vol/", 1_005).await;
    put_many(server, "paged", "other/", 2).await;
    s3.put_object("paged", "top", b"x".to_vec()).await.unwrap();

    // Small pages: every key once, in order, the last page without a token.
    let mut keys = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = s3
            .list_objects("paged", "vol/", None, token, 400)
            .await
            .unwrap();
        assert!(page.objects.len() <= 400);
        pages += 1;
        keys.extend(page.objects.into_iter().map(|o| o.key));
        match page.next_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(keys.len(), 1_005);
    assert_eq!(keys[0], "vol/00000");
    assert_eq!(keys[1_004], "vol/01004");

    // max-keys is clamped to S3's 1000 (and 0 to 1).
    let page = s3
        .list_objects("paged", "vol/", None, None, 5_000)
        .await
        .unwrap();
    assert_eq!(page.objects.len(), 1_000);
    assert!(page.next_token.is_some());
    let page = s3
        .list_objects("paged", "vol/", None, None, 0)
        .await
        .unwrap();
    assert_eq!(page.objects.len(), 1);
    assert_eq!(page.objects[0].size, "object 0".len() as u64);

    // With a delimiter: one level down.
    let page = s3
        .list_objects("paged", "", Some("/"), None, 1_000)
        .await
        .unwrap();
    assert_eq!(page.common_prefixes, ["other/", "vol/"]);
    let top: Vec<&str> = page.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(top, ["top"]);
    assert!(page.next_token.is_none());
}

async fn usage_counts_up_to_the_limit(server: &S3Server, _: Server) {
    let s3 = s3_for(server);
    s3.create_bucket("usage", None).await.unwrap();
    put_many(server, "usage", "v/", 1_200).await;
    let bytes: u64 = (0..1_200).map(|i| format!("object {i}").len() as u64).sum();

    let all = s3.usage("usage", "v/", 10_000).await.unwrap();
    assert_eq!(
        (all.objects, all.bytes, all.truncated),
        (1_200, bytes, false)
    );
    let exact = s3.usage("usage", "v/", 1_200).await.unwrap();
    assert_eq!((exact.objects, exact.truncated), (1_200, false));
    let capped = s3.usage("usage", "v/", 1_050).await.unwrap();
    assert_eq!((capped.objects, capped.truncated), (1_050, true));
    let few = s3.usage("usage", "v/", 3).await.unwrap();
    assert_eq!((few.objects, few.truncated), (3, true));
    let none = s3.usage("usage", "nothing/", 10).await.unwrap();
    assert_eq!((none.objects, none.bytes, none.truncated), (0, 0, false));
}

async fn delete_prefix_removes_thousands_in_batches(server: &S3Server, _: Server) {
    let s3 = s3_for(server);
    s3.create_bucket("bulk", None).await.unwrap();
    put_many(server, "bulk", "vol/", 2_500).await;
    put_many(server, "bulk", "keep/", 3).await;

    assert_eq!(s3.delete_prefix("bulk", "vol/").await.unwrap(), 2_500);
    assert!(raw_keys(server, "bulk", "vol/").await.is_empty());
    assert_eq!(
        raw_keys(server, "bulk", "keep/").await.len(),
        3,
        "others stay"
    );
    assert_eq!(s3.delete_prefix("bulk", "vol/").await.unwrap(), 0);

    // An empty prefix is the whole bucket, which can then go.
    assert_eq!(s3.delete_prefix("bulk", "").await.unwrap(), 3);
    s3.delete_bucket("bulk").await.unwrap();
}

async fn small_objects_are_capped_both_ways(server: &S3Server, _: Server) {
    let s3 = s3_for(server);
    s3.create_bucket("small", None).await.unwrap();
    let body = vec![7u8; SMALL_OBJECT_MAX];
    s3.put_object("small", "a/marker.json", body.clone())
        .await
        .unwrap();
    assert_eq!(s3.get_object("small", "a/marker.json").await.unwrap(), body);

    let err = s3
        .put_object("small", "big", vec![0; SMALL_OBJECT_MAX + 1])
        .await
        .unwrap_err();
    assert_err!(err, BackendError::InvalidArgument(m) if m.starts_with("PutObject: EntityTooLarge"));
    assert!(raw_keys(server, "small", "big").await.is_empty());

    // A large object put by someone else is refused, not downloaded.
    server
        .client()
        .await
        .put_object()
        .bucket("small")
        .key("large")
        .body(vec![1u8; 3 * SMALL_OBJECT_MAX].into())
        .send()
        .await
        .unwrap();
    let err = s3.get_object("small", "large").await.unwrap_err();
    assert_err!(err, BackendError::InvalidArgument(m) if m.contains("3145728 bytes"));

    assert_err!(
        s3.get_object("small", "missing").await,
        Err(BackendError::NotFound(m)) if m.starts_with("GetObject: NoSuchKey")
    );
    s3.delete_object("small", "a/marker.json").await.unwrap();
    s3.delete_object("small", "a/marker.json")
        .await
        .expect("deleting a missing key is not an error");
    assert!(raw_keys(server, "small", "a/").await.is_empty());
}

async fn errors_map_to_the_contract(server: &S3Server, kind: Server) {
    let s3 = s3_for(server);
    assert_err!(
        s3.head_bucket("no-such-bucket").await,
        Err(BackendError::NotFound(m)) if m.starts_with("HeadBucket: ")
    );
    assert_err!(
        s3.list_objects("no-such-bucket", "", None, None, 10).await,
        Err(BackendError::NotFound(m)) if m.starts_with("ListObjectsV2: NoSuchBucket")
    );
    assert_err!(
        s3.get_object("no-such-bucket", "k").await,
        Err(BackendError::NotFound(_))
    );
    assert_err!(
        s3.delete_prefix("no-such-bucket", "").await,
        Err(BackendError::NotFound(_))
    );

    s3.create_bucket("full", None).await.unwrap();
    s3.put_object("full", "k", b"v".to_vec()).await.unwrap();
    if kind == Server::Moto {
        assert_err!(
            s3.delete_bucket("full").await,
            Err(BackendError::Conflict(m)) if m.starts_with("DeleteBucket: BucketNotEmpty")
        );
    }

    // Wrong keys: a server that checks signatures refuses them.
    let mut wrong = server.settings();
    for (k, v) in &mut wrong {
        if k == "S3FS_SECRETKEY" {
            *v = "not-the-secret".into();
        }
    }
    if kind == Server::Fast {
        assert_err!(
            s3_with(&wrong).list_buckets().await,
            Err(BackendError::PermissionDenied(m)) if m.starts_with("ListBuckets: ")
        );
    }

    // Nobody listens: transient, never not-found.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let mut gone = server.settings();
    for (k, v) in &mut gone {
        if k == "S3FS_ENDPOINT" {
            *v = format!("http://127.0.0.1:{port}");
        }
    }
    let gone = s3_with(&gone);
    assert_err!(
        gone.head_bucket("full").await,
        Err(BackendError::Unavailable(m)) if m.starts_with("HeadBucket: DispatchFailure")
    );
    assert_err!(gone.list_buckets().await, Err(BackendError::Unavailable(_)));
}

/// A server that dies after the client has talked to it: calls become
/// `unavailable` (retried by the host first), never `not-found`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_makes_calls_unavailable() {
    let Some(mut server) = S3Server::fast("s3 killed server") else {
        return;
    };
    let s3 = s3_for(&server);
    s3.create_bucket("before", None).await.unwrap();
    server.kill();
    assert_err!(
        s3.usage("before", "", 10).await,
        Err(BackendError::Unavailable(_))
    );
}
