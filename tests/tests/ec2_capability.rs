//! The host's `ec2` capability driven directly (no guest): its core `Ec2`
//! against cloudsim (strict: tokens, zones, single attach, DryRun policy,
//! faults) and, as a second opinion, moto.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ballast::capabilities::aws::AwsSettings;
use ballast::capabilities::ec2::{self, Ec2, RELOCATED_FROM, RELOCATING};
use ballast::config::{AwsConfig, BackendConfig};
use ballast::runtime::bindings::BackendError;
use ballast::runtime::bindings::ballast::backend::ec2::{
    Action, CreateVolumeRequest, EbsVolume, Filter, ModifyVolumeRequest, Relocation,
    VolumeCondition, VolumeState, WaitPolicy,
};
use cloudsim::moto::Moto;
use cloudsim::{Running, SimConfig};

/// Asserts that a `BackendError` (or a result) matches a pattern, with an
/// optional guard, showing it when it does not.
macro_rules! assert_err {
    ($err:expr, $($pattern:tt)+) => {{
        let err = &$err;
        assert!(matches!(err, $($pattern)+), "{err:?}");
    }};
}

const ACCESS_KEY: &str = "AKIDSIMULATED0000001";
const SECRET_KEY: &str = "simulated-secret-key";

/// A fast simulator (no hypervisor: volumes are sparse files only) with
/// `i-a` and `i-b` in us-east-1a and `i-c` in us-east-1b.
async fn sim(adjust: impl FnOnce(&mut SimConfig)) -> (tempfile::TempDir, Running) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SimConfig::fast(dir.path().to_owned()).with_test_instances();
    adjust(&mut config);
    let running = cloudsim::start(config).await.unwrap();
    (dir, running)
}

/// The `aws` table pointing at `endpoint` with static keys.
fn aws_table(endpoint: &str) -> AwsConfig {
    AwsConfig {
        region: Some("us-east-1".into()),
        endpoint: Some(endpoint.into()),
        access_key: Some(ACCESS_KEY.into()),
        secret_key: Some(SECRET_KEY.into()),
        ..Default::default()
    }
}

fn ec2_with(table: AwsConfig) -> Arc<Ec2> {
    let settings = AwsSettings::resolve(&table, &BTreeMap::new(), "EBS").unwrap();
    Arc::new(Ec2::new("ebs", settings))
}

fn ec2_for(running: &Running) -> Arc<Ec2> {
    ec2_with(aws_table(&running.api_url))
}

/// [`sim`] and an `Ec2` pointed at it.
async fn sim_ec2(adjust: impl FnOnce(&mut SimConfig)) -> (tempfile::TempDir, Running, Arc<Ec2>) {
    let (dir, running) = sim(adjust).await;
    let ec2 = ec2_for(&running);
    (dir, running, ec2)
}

/// A 1 GiB gp3 volume in `zone` with `tags`.
async fn create(ec2: &Ec2, zone: &str, tags: &[(&str, &str)]) -> EbsVolume {
    ec2.create_volume(&request(zone, tags)).await.unwrap()
}

/// Wait (polling every 10 ms, at most `max_attempts` times) for `condition`.
async fn wait_for(
    ec2: &Ec2,
    volume_id: &str,
    condition: VolumeCondition,
    max_attempts: u32,
) -> EbsVolume {
    ec2.wait_volume(volume_id, &condition, &policy(10, max_attempts))
        .await
        .unwrap()
}

fn request(zone: &str, tags: &[(&str, &str)]) -> CreateVolumeRequest {
    CreateVolumeRequest {
        zone: zone.into(),
        size_gib: Some(1),
        volume_type: "gp3".into(),
        iops: None,
        throughput: None,
        encrypted: false,
        kms_key_id: None,
        snapshot_id: None,
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        client_token: None,
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter {
        name: name.into(),
        values: vec![value.into()],
    }
}

fn policy(initial_delay_ms: u32, max_attempts: u32) -> WaitPolicy {
    WaitPolicy {
        initial_delay_ms,
        max_attempts,
        timeout_ms: 30_000,
    }
}

/// Install a fault plan in-process (cloudsim's own tests cover its HTTP form).
async fn set_faults(running: &Running, plan: serde_json::Value) {
    let plan = serde_json::from_value(plan).expect("a valid fault plan");
    cloudsim::admin::apply_faults(&running.sim, plan).expect("fault plan accepted");
}

async fn counter(running: &Running, action: &str) -> u64 {
    let counters: BTreeMap<String, u64> =
        reqwest::get(format!("{}/_sim/counters", running.api_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    counters.get(&format!("ec2:{action}")).copied().unwrap_or(0)
}

#[tokio::test]
async fn create_with_the_same_token_twice_gives_one_volume() {
    let (_dir, _running, ec2) = sim_ec2(|_| {}).await;
    let mut req = request("us-east-1a", &[("ballast.volume", "pgdata")]);
    req.client_token = Some("ballast-pgdata-token".into());
    let first = ec2.create_volume(&req).await.unwrap();
    let second = ec2.create_volume(&req).await.unwrap();
    assert_eq!(first.volume_id, second.volume_id);
    let found = ec2
        .describe_volumes(&[], &[filter("tag:ballast.volume", "pgdata")])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].zone, "us-east-1a");
    assert_eq!(found[0].volume_type, "gp3");
    assert!(found[0].create_time_ms > 0);

    // The same token with other parameters is a conflict, not a new volume.
    req.size_gib = Some(2);
    let err = ec2.create_volume(&req).await.unwrap_err();
    assert_err!(err, BackendError::Conflict(m) if m.starts_with("CreateVolume: IdempotentParameterMismatch:"));
}

#[tokio::test]
async fn tags_and_filters_select_volumes_across_pages() {
    let (_dir, running) = sim(|_| {}).await;
    // cloudsim pages only when asked; ask for its smallest page.
    let settings = AwsSettings::resolve(&aws_table(&running.api_url), &BTreeMap::new(), "EBS");
    let ec2 = Ec2::new("ebs", settings.unwrap()).with_page_size(5);
    let mut ids = Vec::new();
    for _ in 0..12 {
        let v = create(&ec2, "us-east-1a", &[("ballast.test", "pages")]).await;
        ids.push(v.volume_id);
    }
    for _ in 0..3 {
        create(&ec2, "us-east-1b", &[("ballast.test", "other")]).await;
    }
    let before = counter(&running, "DescribeVolumes").await;
    let paged = ec2
        .describe_volumes(&[], &[filter("tag:ballast.test", "pages")])
        .await
        .unwrap();
    assert_eq!(paged.len(), 12);
    assert_eq!(
        counter(&running, "DescribeVolumes").await - before,
        3,
        "12 volumes in pages of 5"
    );
    let everything = ec2.describe_volumes(&[], &[]).await.unwrap();
    assert_eq!(everything.len(), 15);
    let in_b = ec2
        .describe_volumes(&[], &[filter("availability-zone", "us-east-1b")])
        .await
        .unwrap();
    assert_eq!(in_b.len(), 3);

    // Tags: add, find by key, remove.
    let two = ids[..2].to_vec();
    ec2.create_tags(&two, &[("ballast.owner".into(), "team-a".into())])
        .await
        .unwrap();
    let owned = ec2
        .describe_volumes(&[], &[filter("tag-key", "ballast.owner")])
        .await
        .unwrap();
    assert_eq!(owned.len(), 2);
    assert!(
        owned[0]
            .tags
            .contains(&("ballast.owner".into(), "team-a".into()))
    );
    ec2.delete_tags(&two, &["ballast.owner".into()])
        .await
        .unwrap();
    let by_id = ec2.describe_volumes(&two, &[]).await.unwrap();
    assert_eq!(by_id.len(), 2);
    assert!(
        by_id
            .iter()
            .all(|v| !v.tags.iter().any(|(k, _)| k == "ballast.owner"))
    );

    // A missing id is not-found, and reads as "no such volume" for one.
    let err = ec2
        .describe_volumes(&["vol-00000000000000000".into()], &[])
        .await
        .unwrap_err();
    assert_err!(err, BackendError::NotFound(_));
    assert_eq!(
        ec2.describe_volume("vol-00000000000000000").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn attach_wait_detach_wait_delete() {
    let (_dir, _running, ec2) = sim_ec2(|_| {}).await;
    let zones = ec2.describe_availability_zones().await.unwrap();
    assert_eq!(zones, ["us-east-1a", "us-east-1b", "us-east-1c"]);
    let v = create(&ec2, "us-east-1a", &[]).await;
    let id = v.volume_id.clone();
    wait_for(&ec2, &id, VolumeCondition::Available, 20).await;

    let attachment = ec2.attach_volume(&id, "i-a", "/dev/xvdf").await.unwrap();
    assert_eq!(attachment.instance_id, "i-a");
    let attached = wait_for(&ec2, &id, VolumeCondition::AttachedTo("i-a".into()), 20).await;
    assert_eq!(attached.state, VolumeState::InUse);
    let instance = ec2.describe_instance("i-a").await.unwrap();
    assert_eq!(instance.zone, "us-east-1a");
    assert_eq!(instance.instance_type, "m5.large");
    assert_eq!(instance.state, "running");
    assert!(instance.device_names.contains(&"/dev/xvdf".to_string()));

    // The strict cases a backend must handle, with EC2's codes in the message.
    let other = create(&ec2, "us-east-1a", &[]).await;
    let err = ec2
        .attach_volume(&other.volume_id, "i-a", "/dev/xvdf")
        .await
        .unwrap_err();
    assert_err!(err, BackendError::Conflict(m) if m.starts_with("AttachVolume: InvalidParameterValue:") && m.contains("already in use"));
    let err = ec2
        .attach_volume(&id, "i-b", "/dev/xvdg")
        .await
        .unwrap_err();
    assert_err!(err, BackendError::Conflict(m) if m.contains("VolumeInUse"));
    let err = ec2
        .attach_volume(&other.volume_id, "i-c", "/dev/xvdg")
        .await
        .unwrap_err();
    assert_err!(err, BackendError::Conflict(m) if m.contains("ZoneMismatch"));
    let err = ec2.delete_volume(&id).await.unwrap_err();
    assert_err!(err, BackendError::Conflict(m) if m.contains("VolumeInUse"));
    let err = ec2
        .describe_instance("i-0000000000000dead")
        .await
        .unwrap_err();
    assert_err!(err, BackendError::NotFound(_));

    ec2.detach_volume(&id, "i-a", false).await.unwrap();
    let detached = wait_for(&ec2, &id, VolumeCondition::DetachedFrom("i-a".into()), 20).await;
    assert!(detached.attachments.is_empty());

    // Grow it and wait until the new size is usable.
    let grow = ModifyVolumeRequest {
        size_gib: Some(2),
        volume_type: None,
        iops: None,
        throughput: None,
    };
    ec2.modify_volume(&id, &grow).await.unwrap();
    let grown = wait_for(&ec2, &id, VolumeCondition::Modified, 50).await;
    assert_eq!(grown.size_gib, 2);

    ec2.delete_volume(&id).await.unwrap();
    let gone = wait_for(&ec2, &id, VolumeCondition::Deleted, 20).await;
    assert_eq!(
        (gone.volume_id.as_str(), gone.state),
        (id.as_str(), VolumeState::Deleted)
    );
    let err = ec2.delete_volume(&id).await.unwrap_err();
    assert_err!(err, BackendError::NotFound(m) if m.starts_with("DeleteVolume: InvalidVolume.NotFound:"));
}

#[tokio::test]
async fn snapshots_are_created_tagged_listed_and_deleted() {
    let (_dir, _running, ec2) = sim_ec2(|_| {}).await;
    let v = create(&ec2, "us-east-1a", &[]).await;
    let snapshot = ec2
        .create_snapshot(
            &v.volume_id,
            "a backup",
            &[("ballast.backup".into(), "1".into())],
        )
        .await
        .unwrap();
    assert_eq!(snapshot.volume_id, v.volume_id);
    let listed = ec2
        .describe_snapshots(&[], &[filter("tag:ballast.backup", "1")])
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].snapshot_id, snapshot.snapshot_id);
    assert_eq!(listed[0].progress, 100);
    ec2.delete_snapshot(&snapshot.snapshot_id).await.unwrap();
    assert!(ec2.describe_snapshots(&[], &[]).await.unwrap().is_empty());
    let err = ec2
        .delete_snapshot(&snapshot.snapshot_id)
        .await
        .unwrap_err();
    assert_err!(err, BackendError::NotFound(_));
}

#[tokio::test]
async fn dry_run_answers_from_the_policy() {
    let allowed = ["DescribeVolumes", "CreateVolume", "ec2:AttachVolume"];
    let (_dir, _running, ec2) = sim_ec2(|c| {
        c.allowed_actions = Some(allowed.iter().map(|a| a.to_string()).collect());
    })
    .await;
    for action in ec2::ALL_ACTIONS {
        let expected = matches!(
            action,
            Action::DescribeVolumes | Action::CreateVolume | Action::AttachVolume
        );
        assert_eq!(
            ec2.check_permission(action).await,
            Ok(expected),
            "{}",
            ec2::action_name(action)
        );
    }
    // DryRun changed nothing.
    assert!(ec2.describe_volumes(&[], &[]).await.unwrap().is_empty());
    let err = ec2
        .delete_volume("vol-0000000000000000f")
        .await
        .unwrap_err();
    assert_err!(err, BackendError::PermissionDenied(m) if m.starts_with("DeleteVolume: UnauthorizedOperation:"));
}

#[tokio::test]
async fn throttled_calls_succeed_through_sdk_retries() {
    let (_dir, running, ec2) = sim_ec2(|_| {}).await;
    // A random share throttled, and (so that retries surely happen) the
    // next two DescribeVolumes answered as EC2 throttles.
    set_faults(
        &running,
        serde_json::json!({
            "throttle_share": 0.3,
            "fail_next": [{ "action": "DescribeVolumes", "count": 2, "code": "RequestLimitExceeded", "status": 503 }]
        }),
    )
    .await;
    for _ in 0..4 {
        create(&ec2, "us-east-1a", &[]).await;
    }
    for _ in 0..8 {
        assert_eq!(ec2.describe_volumes(&[], &[]).await.unwrap().len(), 4);
    }
    // EC2 saw the throttled tries too; the caller saw none of them.
    let tries =
        counter(&running, "DescribeVolumes").await + counter(&running, "CreateVolume").await;
    assert!(tries >= 12 + 2, "{tries} tries for 12 calls");
}

#[tokio::test]
async fn server_errors_beyond_the_retry_budget_are_unavailable() {
    let (_dir, running) = sim(|_| {}).await;
    let mut table = aws_table(&running.api_url);
    table.max_attempts = 2;
    let ec2 = ec2_with(table);
    set_faults(
        &running,
        serde_json::json!({ "fail_next": [{ "action": "CreateVolume", "count": 5 }] }),
    )
    .await;
    let err = ec2
        .create_volume(&request("us-east-1a", &[]))
        .await
        .unwrap_err();
    assert_err!(err, BackendError::Unavailable(m) if m.starts_with("CreateVolume: InternalError:"));
    assert_eq!(
        counter(&running, "CreateVolume").await,
        2,
        "max_attempts = 2"
    );
    // A transient error never reads as "no such volume".
    set_faults(
        &running,
        serde_json::json!({ "fail_next": [{ "action": "DescribeVolumes", "count": 5, "code": "ServiceUnavailable", "status": 503 }] }),
    )
    .await;
    let err = ec2
        .describe_volume("vol-0000000000000000f")
        .await
        .unwrap_err();
    assert_err!(err, BackendError::Unavailable(_));
}

#[tokio::test]
async fn a_stuck_attachment_makes_the_wait_unavailable() {
    let (_dir, running, ec2) = sim_ec2(|_| {}).await;
    let v = create(&ec2, "us-east-1a", &[]).await;
    set_faults(&running, serde_json::json!({ "stuck_attaching": 1 })).await;
    ec2.attach_volume(&v.volume_id, "i-a", "/dev/xvdf")
        .await
        .unwrap();
    let before = counter(&running, "DescribeVolumes").await;
    let err = ec2
        .wait_volume(
            &v.volume_id,
            &VolumeCondition::AttachedTo("i-a".into()),
            &policy(5, 4),
        )
        .await
        .unwrap_err();
    let BackendError::Unavailable(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains(&v.volume_id), "{message}");
    assert!(message.contains("to be attached to i-a"), "{message}");
    assert!(message.contains("i-a attaching"), "{message}");
    assert_eq!(counter(&running, "DescribeVolumes").await - before, 4);
}

/// Call `relocate` until it is done, collecting the phases it reported.
async fn relocate_until_done(
    ec2: &Arc<Ec2>,
    volume_id: &str,
    zone: &str,
) -> Result<(EbsVolume, Vec<(String, u8)>), BackendError> {
    let mut phases = Vec::new();
    for _ in 0..1000 {
        match ec2.relocate(volume_id, zone).await? {
            Relocation::Running(phase) => phases.push(phase),
            Relocation::Done(volume) => return Ok((volume, phases)),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("relocation of {volume_id} never finished; phases seen: {phases:?}");
}

#[tokio::test]
async fn relocate_moves_a_volume_and_its_data_to_another_zone() {
    let (_dir, running, ec2) = sim_ec2(|c| {
        c.delays.snapshot = Duration::from_millis(200);
        c.delays.volume_create = Duration::from_millis(100);
    })
    .await;
    let old = create(
        &ec2,
        "us-east-1a",
        &[("ballast.volume", "pgdata"), ("team", "db")],
    )
    .await;
    let old_id = old.volume_id.clone();
    wait_for(&ec2, &old_id, VolumeCondition::Available, 50).await;
    let data = b"ballast relocation payload";
    write_at(&running.sim.hypervisor.backing_file(&old_id), 1 << 20, data);

    let (new, phases) = relocate_until_done(&ec2, &old_id, "us-east-1b")
        .await
        .unwrap();
    assert_eq!(phases.first(), Some(&("snapshot".to_string(), 0)));
    assert!(phases.windows(2).all(|w| w[0].1 <= w[1].1), "{phases:?}");
    assert_eq!(new.zone, "us-east-1b");
    assert_eq!(new.state, VolumeState::Available);
    assert_eq!((new.volume_type.as_str(), new.size_gib), ("gp3", 1));
    for tag in [
        ("ballast.volume", "pgdata"),
        ("team", "db"),
        (RELOCATED_FROM, old_id.as_str()),
    ] {
        assert!(
            new.tags.contains(&(tag.0.into(), tag.1.into())),
            "{tag:?} in {:?}",
            new.tags
        );
    }
    assert_eq!(
        ec2.describe_volume(&old_id).await.unwrap(),
        None,
        "old volume deleted"
    );
    let leftovers = ec2
        .describe_snapshots(&[], &[filter(&format!("tag:{RELOCATING}"), &old_id)])
        .await
        .unwrap();
    assert!(leftovers.is_empty(), "snapshot deleted: {leftovers:?}");
    assert_eq!(
        read_at(
            &running.sim.hypervisor.backing_file(&new.volume_id),
            1 << 20,
            data.len()
        ),
        data
    );

    // Asking again finds the finished work through its tag.
    let again = ec2.relocate(&old_id, "us-east-1b").await.unwrap();
    assert_eq!(again, Relocation::Done(new.clone()));
    // Already in the zone: nothing to do.
    let here = ec2.relocate(&new.volume_id, "us-east-1b").await.unwrap();
    assert!(matches!(here, Relocation::Done(v) if v.volume_id == new.volume_id));
}

#[tokio::test]
async fn relocate_refuses_attached_volumes_and_unknown_zones() {
    let (_dir, _running, ec2) = sim_ec2(|_| {}).await;
    let v = create(&ec2, "us-east-1a", &[]).await;
    let err = ec2.relocate(&v.volume_id, "us-west-2a").await.unwrap_err();
    assert_err!(err, BackendError::InvalidArgument(_));
    ec2.attach_volume(&v.volume_id, "i-a", "/dev/xvdf")
        .await
        .unwrap();
    let err = ec2.relocate(&v.volume_id, "us-east-1b").await.unwrap_err();
    assert_err!(err, BackendError::Conflict(m) if m.contains("attached to i-a"));
    let err = ec2
        .relocate("vol-0000000000000000f", "us-east-1b")
        .await
        .unwrap_err();
    assert_err!(err, BackendError::NotFound(_));
}

#[tokio::test]
async fn a_failed_relocation_is_reported_once_then_resumes_with_its_snapshot() {
    let (_dir, running, ec2) = sim_ec2(|_| {}).await;
    let old = create(&ec2, "us-east-1a", &[("ballast.volume", "logs")]).await;
    // The copy cannot be created (a refusal the SDK does not retry).
    set_faults(
        &running,
        serde_json::json!({ "fail_next": [{ "action": "CreateVolume", "count": 1, "code": "InvalidParameterValue", "status": 400 }] }),
    )
    .await;
    let mut failure = None;
    for _ in 0..1000 {
        match ec2.relocate(&old.volume_id, "us-east-1c").await {
            Ok(Relocation::Running(_)) => {}
            Ok(Relocation::Done(v)) => panic!("relocated despite the fault: {v:?}"),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let failure = failure.expect("the failure is reported");
    assert_err!(failure, BackendError::InvalidArgument(m) if m.starts_with("CreateVolume: InvalidParameterValue:"));
    // Reported once: the next call starts over and reuses the snapshot.
    let (new, _) = relocate_until_done(&ec2, &old.volume_id, "us-east-1c")
        .await
        .unwrap();
    assert_eq!(new.zone, "us-east-1c");
    assert_eq!(counter(&running, "CreateSnapshot").await, 1);
    assert_eq!(ec2.describe_volume(&old.volume_id).await.unwrap(), None);
}

#[tokio::test]
async fn a_volume_attached_during_its_relocation_stays_and_the_copy_is_discarded() {
    let (_dir, _running, ec2) =
        sim_ec2(|c| c.delays.volume_create = Duration::from_millis(400)).await;
    let old = create(&ec2, "us-east-1a", &[]).await;
    wait_for(&ec2, &old.volume_id, VolumeCondition::Available, 100).await;
    // Wait for the copy to be under way, then take the volume back.
    let mut attached = false;
    let mut outcome = None;
    for _ in 0..1000 {
        match ec2.relocate(&old.volume_id, "us-east-1b").await {
            Ok(Relocation::Running((phase, _))) if phase == "create" && !attached => {
                ec2.attach_volume(&old.volume_id, "i-a", "/dev/xvdf")
                    .await
                    .unwrap();
                attached = true;
            }
            Ok(Relocation::Running(_)) => {}
            other => {
                outcome = Some(other);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(attached, "the relocation never reached its create phase");
    let outcome = outcome.expect("the relocation ended");
    assert_err!(outcome, Err(BackendError::Conflict(m)) if m.contains("was attached to i-a"));
    let old_now = ec2.describe_volume(&old.volume_id).await.unwrap();
    assert!(old_now.is_some(), "the attached volume is kept");
    let copies = ec2
        .describe_volumes(
            &[],
            &[filter(&format!("tag:{RELOCATED_FROM}"), &old.volume_id)],
        )
        .await
        .unwrap();
    assert!(copies.is_empty(), "stale copies discarded: {copies:?}");
    assert!(ec2.describe_snapshots(&[], &[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn rexray_settings_reach_a_signature_checking_endpoint() {
    let (_dir, running) = sim(|c| {
        c.verify_keys = Some((ACCESS_KEY.into(), SECRET_KEY.into()));
    })
    .await;
    let backend = |secret: &str| BackendConfig {
        settings: [
            ("ebs_region", "us-east-1"),
            ("EBS_ENDPOINT", running.api_url.as_str()),
            ("EBS_ACCESSKEY", ACCESS_KEY),
            ("EBS_SECRETKEY", secret),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..Default::default()
    };
    let ec2 = Ec2::from_config("ebs", &backend(SECRET_KEY)).unwrap();
    assert_eq!(ec2.region().await.as_deref(), Some("us-east-1"));
    assert_eq!(ec2.describe_availability_zones().await.unwrap().len(), 3);
    let wrong = Ec2::from_config("ebs", &backend("not-the-secret")).unwrap();
    let err = wrong.describe_availability_zones().await.unwrap_err();
    assert_err!(err, BackendError::PermissionDenied(m) if m.contains("AuthFailure"));
}

fn write_at(path: &std::path::Path, offset: u64, data: &[u8]) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(data, offset).unwrap();
}

fn read_at(path: &std::path::Path, offset: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0; len];
    let file = std::fs::File::open(path).unwrap();
    file.read_exact_at(&mut buf, offset).unwrap();
    buf
}

#[tokio::test]
async fn moto_agrees_on_the_basic_calls() {
    let Some(moto) = Moto::start_if_installed("moto_agrees_on_the_basic_calls") else {
        return;
    };
    let ec2 = ec2_with(aws_table(&moto.url));
    // An instance to attach to (moto has no fixed ones): any image it knows.
    let client = ec2.client().await;
    let images = client.describe_images().send().await.unwrap();
    let image = images.images()[0].image_id().unwrap().to_string();
    let run = client
        .run_instances()
        .image_id(image)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap();
    let instance_id = run.instances()[0].instance_id().unwrap().to_string();
    let instance = ec2.describe_instance(&instance_id).await.unwrap();
    assert!(!instance.zone.is_empty());

    let v = create(&ec2, &instance.zone, &[("ballast.volume", "moto")]).await;
    let found = ec2
        .describe_volumes(&[], &[filter("tag:ballast.volume", "moto")])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].volume_id, v.volume_id);
    ec2.attach_volume(&v.volume_id, &instance_id, "/dev/sdf")
        .await
        .unwrap();
    wait_for(
        &ec2,
        &v.volume_id,
        VolumeCondition::AttachedTo(instance_id.clone()),
        20,
    )
    .await;
    ec2.detach_volume(&v.volume_id, &instance_id, false)
        .await
        .unwrap();
    wait_for(
        &ec2,
        &v.volume_id,
        VolumeCondition::DetachedFrom(instance_id.clone()),
        20,
    )
    .await;
    let snapshot = ec2
        .create_snapshot(
            &v.volume_id,
            "moto",
            &[("ballast.backup".into(), "moto".into())],
        )
        .await
        .unwrap();
    let snapshots = ec2
        .describe_snapshots(&[], &[filter("tag:ballast.backup", "moto")])
        .await
        .unwrap();
    assert_eq!(snapshots.len(), 1);
    ec2.delete_snapshot(&snapshot.snapshot_id).await.unwrap();
    ec2.delete_volume(&v.volume_id).await.unwrap();
    assert_eq!(ec2.describe_volume(&v.volume_id).await.unwrap(), None);
    assert_eq!(ec2.check_permission(Action::CreateVolume).await, Ok(true));
    client
        .terminate_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .unwrap();
}
