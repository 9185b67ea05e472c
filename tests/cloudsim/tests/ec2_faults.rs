//! Fault injection on EC2 through the admin API, seen by the real
//! aws-sdk-ec2 client: throttling (RequestLimitExceeded, and the SDK's own
//! retries counted), latency, failing the next K calls of an action, an
//! attachment stuck in `attaching`, a stale DescribeVolumes, a killed
//! instance; and the per-action call counters.

mod ec2_support;
mod support;

use std::time::{Duration, Instant};

use ec2_support::{
    attach, attach_code, attach_request, attachment_state, code, detach_request, ec2_no_retry,
    failure, state, volume,
};
use serde_json::json;

#[tokio::test]
async fn throttling_answers_request_limit_exceeded() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = ec2_no_retry(&running.api_url).await;
    support::set_faults(&running, json!({ "throttle_share": 1.0 })).await;
    let (got, status) = failure(ec2.describe_volumes().send().await);
    assert_eq!((got.as_str(), status), ("RequestLimitExceeded", 503));
    let (got, _) = failure(
        ec2.create_volume()
            .availability_zone("us-east-1a")
            .size(1)
            .send()
            .await,
    );
    assert_eq!(got, "RequestLimitExceeded");

    // The SDK's standard retries (3 attempts) all meet the throttle.
    let retrying = support::ec2(&running.api_url).await;
    let before = support::counters(&running)
        .await
        .get("ec2:DescribeAvailabilityZones")
        .copied()
        .unwrap_or(0);
    assert_eq!(
        code(retrying.describe_availability_zones().send().await),
        "RequestLimitExceeded"
    );
    let after = support::counters(&running).await["ec2:DescribeAvailabilityZones"];
    assert_eq!(after - before, 3, "one call, three attempts");

    // Half the calls: some pass, some are throttled.
    support::set_faults(&running, json!({ "throttle_share": 0.5 })).await;
    let mut outcomes = (0, 0);
    for _ in 0..40 {
        match ec2.describe_volumes().send().await {
            Ok(_) => outcomes.0 += 1,
            Err(_) => outcomes.1 += 1,
        }
    }
    assert!(outcomes.0 > 0 && outcomes.1 > 0, "{outcomes:?}");

    support::set_faults(&running, json!({})).await;
    ec2.describe_volumes()
        .send()
        .await
        .expect("no more throttling");
}

#[tokio::test]
async fn latency_delays_every_call() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = ec2_no_retry(&running.api_url).await;
    support::set_faults(&running, json!({ "latency_ms": 300 })).await;
    for _ in 0..2 {
        let start = Instant::now();
        ec2.describe_availability_zones().send().await.unwrap();
        assert!(
            start.elapsed() >= Duration::from_millis(300),
            "took {:?}",
            start.elapsed()
        );
    }
}

#[tokio::test]
async fn fail_next_fails_exactly_k_calls_of_an_action() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = ec2_no_retry(&running.api_url).await;
    support::set_faults(
        &running,
        json!({ "fail_next": [
            { "action": "CreateVolume", "count": 2 },
            { "action": "AttachVolume", "count": 1, "code": "ServiceUnavailable", "status": 503 },
        ] }),
    )
    .await;
    let create = || {
        ec2.create_volume()
            .availability_zone("us-east-1a")
            .size(1)
            .send()
    };
    for _ in 0..2 {
        let (got, status) = failure(create().await);
        assert_eq!((got.as_str(), status), ("InternalError", 500));
    }
    ec2.describe_volumes()
        .send()
        .await
        .expect("other actions are not affected");
    let id = create()
        .await
        .expect("the third call passes")
        .volume_id()
        .unwrap()
        .to_string();
    assert_eq!(
        ec2.describe_volumes().send().await.unwrap().volumes().len(),
        1,
        "failed calls created nothing"
    );

    let attach = || attach_request(&ec2, &id, "i-a", "/dev/sdf").send();
    let (got, status) = failure(attach().await);
    assert_eq!((got.as_str(), status), ("ServiceUnavailable", 503));
    attach().await.expect("then it passes");

    // The SDK retries a 500 on its own: with one failure planned, a
    // retrying client succeeds, and the counters show both attempts.
    support::set_faults(
        &running,
        json!({ "fail_next": [{ "action": "DescribeSnapshots", "count": 1 }] }),
    )
    .await;
    let retrying = support::ec2(&running.api_url).await;
    retrying
        .describe_snapshots()
        .send()
        .await
        .expect("retried past the failure");
    assert_eq!(
        support::counters(&running).await["ec2:DescribeSnapshots"],
        2
    );
}

#[tokio::test]
async fn a_stuck_attachment_stays_attaching_until_detached() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let id = volume(&ec2, "us-east-1a", 1).await;
    support::set_faults(&running, json!({ "stuck_attaching": 1 })).await;

    attach(&ec2, &id, "i-a", "/dev/sdf").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        attachment_state(&ec2, &id, "i-a").await,
        "attaching",
        "stuck"
    );
    assert_eq!(state(&ec2, &id).await, "in-use");
    assert_eq!(
        attach_code(&ec2, &id, "i-b", "/dev/sdf").await,
        "VolumeInUse"
    );

    detach_request(&ec2, &id)
        .send()
        .await
        .expect("a stuck attachment can be detached");
    assert_eq!(state(&ec2, &id).await, "available");
    attach(&ec2, &id, "i-b", "/dev/sdf").await;
    assert_eq!(
        attachment_state(&ec2, &id, "i-b").await,
        "attached",
        "only the planned attachment sticks"
    );
}

#[tokio::test]
async fn a_stale_describe_hides_new_volumes_for_a_while() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let old = volume(&ec2, "us-east-1a", 1).await;
    support::set_faults(&running, json!({ "stale_describe_ms": 800 })).await;
    let new = volume(&ec2, "us-east-1a", 1).await;
    let start = Instant::now();

    let all = ec2.describe_volumes().send().await.unwrap();
    let ids: Vec<&str> = all
        .volumes()
        .iter()
        .map(|v| v.volume_id().unwrap())
        .collect();
    assert_eq!(ids, [old.as_str()], "the new volume is not visible yet");
    assert_eq!(
        code(ec2.describe_volumes().volume_ids(&new).send().await),
        "InvalidVolume.NotFound"
    );
    // Other calls see the live state: the volume can be tagged already.
    ec2.create_tags()
        .resources(&new)
        .tags(ec2_support::tag("k", "v"))
        .send()
        .await
        .unwrap();

    let seen = ec2_support::eventually(Duration::from_secs(10), || async {
        ec2.describe_volumes().volume_ids(&new).send().await.ok()
    })
    .await;
    assert!(
        start.elapsed() >= Duration::from_millis(700),
        "visible after {:?}",
        start.elapsed()
    );
    assert_eq!(seen.volumes()[0].tags()[0].key(), Some("k"));
}

#[tokio::test]
async fn killing_an_instance_stops_it() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    ec2_support::kill(&running, "i-c").await;
    let out = ec2.describe_instances().send().await.unwrap();
    let states: Vec<(&str, &str)> = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| {
            (
                i.instance_id().unwrap(),
                i.state().unwrap().name().unwrap().as_str(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [("i-a", "running"), ("i-b", "running"), ("i-c", "stopped")]
    );
    // What a killed instance does to its volumes: see ec2_attach.rs
    // (a_killed_instance_keeps_its_volume_until_forced).
}

#[tokio::test]
async fn counters_count_every_call() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = ec2_no_retry(&running.api_url).await;
    let id = volume(&ec2, "us-east-1a", 1).await;
    ec2.describe_volumes().send().await.unwrap();
    ec2.describe_volumes().volume_ids(&id).send().await.unwrap();
    let _ = ec2
        .delete_volume()
        .volume_id("vol-00000000000000000")
        .send()
        .await;
    let _ = ec2
        .delete_volume()
        .dry_run(true)
        .volume_id(&id)
        .send()
        .await;
    ec2.delete_volume().volume_id(&id).send().await.unwrap();
    let counters = support::counters(&running).await;
    assert_eq!(counters["ec2:CreateVolume"], 1);
    assert_eq!(counters["ec2:DescribeVolumes"], 2);
    assert_eq!(
        counters["ec2:DeleteVolume"], 3,
        "failed and dry-run calls count too"
    );
    assert!(!counters.contains_key("ec2:AttachVolume"));
}
