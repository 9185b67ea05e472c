//! Compute Engine operations and faults: RUNNING → DONE after the
//! configured delay (the change takes effect then), zoneOperations and
//! globalOperations get/wait, wait's time limit, an operation that stays
//! RUNNING while polled, disks busy while an operation changes them,
//! authentication, the policy of allowed actions, 429 and 503 (and other
//! injected failures) in GCE's error shape, call counters.

mod gce_support;
mod support;

use std::time::{Duration, Instant};

use gce_support::{Gce, ZONE_A, with_gce_a2};
use serde_json::{Value, json};

#[tokio::test]
async fn an_operation_runs_then_is_done_and_the_change_waits_for_it() {
    let (_dir, _running, gce) =
        gce_support::start(|c| c.delays.gce_operation = Duration::from_millis(400)).await;
    gce.insert_disk(ZONE_A, json!({"name": "data", "sizeGb": 10}))
        .await;

    let started = Instant::now();
    let op = gce
        .attach(ZONE_A, "gce-a", Gce::source(ZONE_A, "data"), false)
        .await
        .ok();
    assert_eq!(op["status"], "RUNNING");
    assert_eq!(op["progress"], 0);
    assert!(op.get("endTime").is_none());
    let name = op["name"].as_str().unwrap();
    let path = format!("zones/{ZONE_A}/operations/{name}");
    let polled = gce.get(&path).await.ok();
    assert_eq!(polled["status"], "RUNNING");
    assert_eq!(polled["id"], op["id"]);
    // Not attached until DONE; the disk is busy meanwhile.
    assert_eq!(
        gce.device_names(ZONE_A, "gce-a").await,
        ["persistent-disk-0"]
    );
    gce.delete(&format!("zones/{ZONE_A}/disks/data"))
        .await
        .assert_error(400, "resourceNotReady");
    gce.assert_post_error(
        &format!("zones/{ZONE_A}/disks/data/resize"),
        json!({"sizeGb": 20}),
        400,
        "resourceNotReady",
    )
    .await;

    // wait blocks until DONE.
    let done = gce.post(&format!("{path}/wait"), Value::Null).await.ok();
    assert_eq!(done["status"], "DONE");
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(done["progress"], 100);
    assert!(done["endTime"].is_string());
    assert!(done.get("error").is_none());
    assert_eq!(
        gce.device_names(ZONE_A, "gce-a").await,
        ["persistent-disk-0", "data"]
    );
    assert_eq!(gce.get(&path).await.ok()["status"], "DONE");
    // The operation's selfLink can be followed.
    assert_eq!(
        gce.get(done["selfLink"].as_str().unwrap()).await.ok()["name"],
        done["name"]
    );
}

#[tokio::test]
async fn wait_gives_up_after_its_limit_and_returns_the_running_operation() {
    let (_dir, running) = support::sim(|c| c.delays.gce_operation = Duration::from_secs(60)).await;
    running.sim.world().gce.wait_limit = Duration::from_millis(300);
    let gce = Gce::new(&running).await;
    let op = gce
        .post_disk(ZONE_A, json!({"name": "data", "sizeGb": 10}))
        .await
        .ok();
    let started = Instant::now();
    let waited = gce
        .post(&format!("{}/wait", Gce::operation_path(&op)), Value::Null)
        .await
        .ok();
    assert_eq!(waited["status"], "RUNNING");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_long_operation_stays_running_while_polled() {
    let (_dir, _running, gce) =
        gce_support::start(|c| c.delays.gce_operation = Duration::from_secs(3600)).await;
    let op = gce
        .post_disk(ZONE_A, json!({"name": "data", "sizeGb": 10}))
        .await
        .ok();
    let path = Gce::operation_path(&op);
    for _ in 0..5 {
        gce_support::sleep_ms(100).await;
        let polled = gce.get(&path).await.ok();
        assert_eq!(polled["status"], "RUNNING");
        assert_eq!(polled["progress"], 0);
        assert!(polled.get("error").is_none());
    }
    // The disk stays busy until its operation is DONE.
    gce.assert_disk_busy(ZONE_A, "data").await;
}

#[tokio::test]
async fn operations_are_found_in_their_own_scope_only() {
    let (_dir, _running, gce) = gce_support::start(|_| {}).await;
    let op = gce
        .done(
            gce.post_disk(ZONE_A, json!({"name": "data", "sizeGb": 10}))
                .await,
        )
        .await;
    let name = op["name"].as_str().unwrap();
    assert!(name.starts_with("operation-"), "{name}");
    gce.get(&format!("zones/{ZONE_A}/operations/{name}"))
        .await
        .ok();
    gce.assert_get_error(
        &format!("zones/us-central1-b/operations/{name}"),
        404,
        "notFound",
    )
    .await;
    gce.assert_get_error(&format!("global/operations/{name}"), 404, "notFound")
        .await;
    gce.assert_get_error(
        &format!("zones/{ZONE_A}/operations/operation-nope"),
        404,
        "notFound",
    )
    .await;
    gce.assert_post_error(
        &format!("zones/{ZONE_A}/operations/operation-nope/wait"),
        Value::Null,
        404,
        "notFound",
    )
    .await;
    gce.assert_get_error(
        &format!("zones/us-east1-z/operations/{name}"),
        400,
        "invalid",
    )
    .await;
}

#[tokio::test]
async fn every_call_needs_a_token_from_the_metadata_server() {
    let (_dir, running) = support::sim(|_| {}).await;
    let path = format!("zones/{ZONE_A}/disks");
    let anonymous = reqwest::Client::new()
        .get(format!(
            "{}/compute/v1/projects/ballast-sim/{path}",
            running.api_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(body["error"]["errors"][0]["reason"], "authError");

    let forged = Gce::with_token(&running, "ya29.made-up");
    forged.get(&path).await.assert_error(401, "authError");
    forged
        .post(&path, json!({"name": "x"}))
        .await
        .assert_error(401, "authError");
    // A token from gce-b's metadata server works as well as gce-a's.
    let token = gce_support::metadata_token(&running, "gce-b").await;
    Gce::with_token(&running, &token).get(&path).await.ok();
}

#[tokio::test]
async fn the_policy_of_allowed_actions_applies_to_gce() {
    let (_dir, running) = support::sim(|c| {
        c.allowed_actions = Some(vec!["gce:disks.get".into(), "disks.list".into()])
    })
    .await;
    let gce = Gce::new(&running).await;
    gce.get(&format!("zones/{ZONE_A}/disks")).await.ok();
    gce.get(&format!("zones/{ZONE_A}/disks/gce-a")).await.ok();
    let refused = gce.post_disk(ZONE_A, json!({"name": "x"})).await;
    refused.assert_error(403, "forbidden");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("compute.disks.create")
    );
}

#[tokio::test]
async fn throttling_answers_429_rate_limit_exceeded() {
    let (_dir, running, gce) = gce_support::start(|_| {}).await;
    support::set_faults(&running, json!({"throttle_share": 1.0})).await;
    for _ in 0..3 {
        let throttled = gce.get(&format!("zones/{ZONE_A}/disks")).await;
        throttled.assert_error(429, "rateLimitExceeded");
        assert_eq!(
            throttled.body["error"]["errors"][0]["domain"],
            "usageLimits"
        );
    }
    gce.post_disk(ZONE_A, json!({"name": "x"}))
        .await
        .assert_error(429, "rateLimitExceeded");
    reqwest::Client::new()
        .delete(format!("{}/_sim/faults", running.api_url))
        .send()
        .await
        .unwrap();
    gce.get(&format!("zones/{ZONE_A}/disks")).await.ok();
}

#[tokio::test]
async fn injected_failures_use_gce_error_shape_then_stop() {
    let (_dir, running, gce) = gce_support::start(with_gce_a2).await;
    support::set_faults(
        &running,
        json!({"fail_next": [
            {"action": "disks.insert", "count": 1, "code": "backendError", "status": 503},
            {"action": "instances.attachDisk", "count": 2},
            {"action": "zoneOperations.wait", "count": 1, "code": "backendError", "status": 503},
        ]}),
    )
    .await;
    let path = format!("zones/{ZONE_A}/disks");
    gce.assert_post_error(
        &path,
        json!({"name": "data", "sizeGb": 10}),
        503,
        "backendError",
    )
    .await;
    // Nothing was created; the retry succeeds.
    gce.assert_get_error(&format!("{path}/data"), 404, "notFound")
        .await;
    let op = gce
        .post(&path, json!({"name": "data", "sizeGb": 10}))
        .await
        .ok();
    let wait = format!(
        "zones/{ZONE_A}/operations/{}/wait",
        op["name"].as_str().unwrap()
    );
    gce.assert_post_error(&wait, Value::Null, 503, "backendError")
        .await;
    assert_eq!(gce.post(&wait, Value::Null).await.ok()["status"], "DONE");

    // The fault plan's default (InternalError, 500) is GCE's backendError.
    let attach = Gce::source(ZONE_A, "data");
    gce.attach(ZONE_A, "gce-a", attach.clone(), false)
        .await
        .assert_error(500, "backendError");
    gce.attach(ZONE_A, "gce-a", attach.clone(), false)
        .await
        .assert_error(500, "backendError");
    gce.done(gce.attach(ZONE_A, "gce-a", attach, false).await)
        .await;

    let counters = support::counters(&running).await;
    assert_eq!(counters["gce:disks.insert"], 2);
    assert_eq!(counters["gce:instances.attachDisk"], 3);
    assert_eq!(counters["gce:zoneOperations.wait"], 3);
}

#[tokio::test]
async fn injected_latency_delays_calls() {
    let (_dir, running, gce) = gce_support::start(|_| {}).await;
    support::set_faults(&running, json!({"latency_ms": 200})).await;
    let started = Instant::now();
    gce.get(&format!("zones/{ZONE_A}/disks")).await.ok();
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn a_stuck_attachment_stays_running_and_can_be_retried() {
    let (_dir, running, gce) = gce_support::start(|_| {}).await;
    gce.insert_disk(ZONE_A, json!({"name": "data", "sizeGb": 10}))
        .await;
    support::set_faults(&running, json!({"stuck_attaching": 1})).await;
    let body = Gce::source(ZONE_A, "data");
    let stuck = gce.attach(ZONE_A, "gce-a", body.clone(), false).await.ok();
    let path = format!(
        "zones/{ZONE_A}/operations/{}",
        stuck["name"].as_str().unwrap()
    );
    for _ in 0..3 {
        gce_support::sleep_ms(50).await;
        assert_eq!(gce.get(&path).await.ok()["status"], "RUNNING");
    }
    assert!(gce.users(ZONE_A, "data").await.is_empty());
    // Giving up on it and trying again works; the stuck one never completes.
    gce.done(gce.attach(ZONE_A, "gce-a", body, false).await)
        .await;
    assert_eq!(gce.users(ZONE_A, "data").await, ["gce-a"]);
    assert_eq!(gce.get(&path).await.ok()["status"], "RUNNING");
}
