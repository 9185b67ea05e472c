//! AttachVolume / DetachVolume through the real aws-sdk-ec2 client: the
//! happy path, every attach rule (zone, instance, single attachment,
//! device names, Multi-Attach), the detach errors, and a killed instance
//! whose volume only a forced detach frees.

mod ec2_support;
mod support;

use std::time::Duration;

use aws_sdk_ec2::types::VolumeType;
use ec2_support::{attachment_state, code, describe, failure, state, volume};

#[tokio::test]
async fn attach_and_detach() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let id = volume(&ec2, "us-east-1a", 1).await;

    let out = ec2
        .attach_volume()
        .volume_id(&id)
        .instance_id("i-a")
        .device("/dev/sdf")
        .send()
        .await
        .unwrap();
    assert_eq!(out.state().map(|s| s.as_str()), Some("attaching"));
    assert_eq!(
        (out.volume_id(), out.instance_id(), out.device()),
        (Some(id.as_str()), Some("i-a"), Some("/dev/sdf"))
    );
    assert!(out.attach_time().is_some());

    let v = describe(&ec2, &id).await;
    assert_eq!(v.state().map(|s| s.as_str()), Some("in-use"));
    let a = &v.attachments()[0];
    assert_eq!(
        (a.instance_id(), a.device(), a.state().map(|s| s.as_str())),
        (Some("i-a"), Some("/dev/sdf"), Some("attached"))
    );
    assert_eq!(a.delete_on_termination(), Some(false));

    let out = ec2
        .describe_instances()
        .instance_ids("i-a")
        .send()
        .await
        .unwrap();
    let mappings = out.reservations()[0].instances()[0].block_device_mappings();
    assert_eq!(mappings[0].device_name(), Some("/dev/sdf"));

    let out = ec2.detach_volume().volume_id(&id).send().await.unwrap();
    assert_eq!(out.state().map(|s| s.as_str()), Some("detaching"));
    assert_eq!(out.instance_id(), Some("i-a"));
    assert_eq!(state(&ec2, &id).await, "available");
    assert!(describe(&ec2, &id).await.attachments().is_empty());
    let out = ec2
        .describe_instances()
        .instance_ids("i-a")
        .send()
        .await
        .unwrap();
    assert!(
        out.reservations()[0].instances()[0]
            .block_device_mappings()
            .is_empty()
    );

    let (got, status) = failure(ec2.detach_volume().volume_id(&id).send().await);
    assert_eq!(
        (got.as_str(), status),
        ("IncorrectState", 400),
        "not attached"
    );

    // Attach again elsewhere, detach naming the instance and device.
    ec2.attach_volume()
        .volume_id(&id)
        .instance_id("i-b")
        .device("xvdg")
        .send()
        .await
        .unwrap();
    ec2.detach_volume()
        .volume_id(&id)
        .instance_id("i-b")
        .device("xvdg")
        .send()
        .await
        .unwrap();
    assert_eq!(state(&ec2, &id).await, "available");
}

#[tokio::test]
async fn attach_rules() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let a1 = volume(&ec2, "us-east-1a", 1).await;
    let a2 = volume(&ec2, "us-east-1a", 1).await;
    let b1 = volume(&ec2, "us-east-1b", 1).await;
    let attach = |vol: &str, instance: &str, device: &str| {
        ec2.attach_volume()
            .volume_id(vol)
            .instance_id(instance)
            .device(device)
            .send()
    };

    let (got, status) = failure(attach(&b1, "i-a", "/dev/sdf").await);
    assert_eq!((got.as_str(), status), ("InvalidVolume.ZoneMismatch", 400));
    assert_eq!(
        code(attach(&a1, "i-nothere", "/dev/sdf").await),
        "InvalidInstanceID.NotFound"
    );
    assert_eq!(
        code(attach(&a1, "gce-a", "/dev/sdf").await),
        "InvalidInstanceID.NotFound",
        "not an EC2 instance"
    );
    assert_eq!(
        code(attach("vol-00000000000000000", "i-a", "/dev/sdf").await),
        "InvalidVolume.NotFound"
    );
    assert_eq!(
        code(attach(&a1, "i-a", "/dev/nvme1n1").await),
        "InvalidParameterValue",
        "not an EBS device name"
    );
    assert_eq!(
        code(
            ec2.attach_volume()
                .volume_id(&a1)
                .instance_id("i-a")
                .send()
                .await
        ),
        "MissingParameter"
    );

    attach(&a1, "i-a", "/dev/sdf").await.unwrap();
    assert_eq!(
        code(attach(&a1, "i-b", "/dev/sdf").await),
        "VolumeInUse",
        "one attachment only"
    );
    assert_eq!(
        code(attach(&a1, "i-a", "/dev/sdg").await),
        "VolumeInUse",
        "already attached here"
    );

    let err = attach(&a2, "i-a", "/dev/sdf").await.unwrap_err();
    let service = err.into_service_error();
    assert_eq!(
        aws_sdk_ec2::error::ProvideErrorMetadata::code(&service),
        Some("InvalidParameterValue")
    );
    assert_eq!(
        aws_sdk_ec2::error::ProvideErrorMetadata::message(&service),
        Some("Attachment point /dev/sdf is already in use")
    );
    assert_eq!(
        code(attach(&a2, "i-a", "/dev/xvdf").await),
        "InvalidParameterValue",
        "xvdf is sdf's twin"
    );
    assert_eq!(
        code(attach(&a2, "i-a", "/dev/xvda").await),
        "InvalidParameterValue",
        "the root device"
    );
    attach(&a2, "i-b", "/dev/sdf")
        .await
        .expect("the same device name on another instance is free");
    assert_eq!(
        describe(&ec2, &a2).await.attachments()[0].instance_id(),
        Some("i-b")
    );
}

#[tokio::test]
async fn multi_attach() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let create = |multi: bool| {
        ec2.create_volume()
            .availability_zone("us-east-1a")
            .size(4)
            .volume_type(VolumeType::Io2)
            .iops(1000)
            .multi_attach_enabled(multi)
            .send()
    };
    let shared = create(true).await.unwrap().volume_id().unwrap().to_string();
    let single = create(false)
        .await
        .unwrap()
        .volume_id()
        .unwrap()
        .to_string();

    ec2.attach_volume()
        .volume_id(&shared)
        .instance_id("i-a")
        .device("/dev/sdf")
        .send()
        .await
        .unwrap();
    ec2.attach_volume()
        .volume_id(&shared)
        .instance_id("i-b")
        .device("/dev/sdf")
        .send()
        .await
        .unwrap();
    let v = describe(&ec2, &shared).await;
    assert_eq!(v.attachments().len(), 2);
    assert_eq!(
        code(
            ec2.attach_volume()
                .volume_id(&shared)
                .instance_id("i-c")
                .device("/dev/sdf")
                .send()
                .await
        ),
        "InvalidVolume.ZoneMismatch"
    );
    assert_eq!(
        code(
            ec2.attach_volume()
                .volume_id(&shared)
                .instance_id("i-a")
                .device("/dev/sdg")
                .send()
                .await
        ),
        "VolumeInUse"
    );
    assert_eq!(
        code(ec2.detach_volume().volume_id(&shared).send().await),
        "InvalidParameterCombination",
        "which instance?"
    );
    ec2.detach_volume()
        .volume_id(&shared)
        .instance_id("i-a")
        .send()
        .await
        .unwrap();
    assert_eq!(state(&ec2, &shared).await, "in-use");
    assert_eq!(attachment_state(&ec2, &shared, "i-b").await, "attached");
    ec2.detach_volume()
        .volume_id(&shared)
        .instance_id("i-b")
        .send()
        .await
        .unwrap();
    assert_eq!(state(&ec2, &shared).await, "available");

    ec2.attach_volume()
        .volume_id(&single)
        .instance_id("i-a")
        .device("/dev/sdg")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(
            ec2.attach_volume()
                .volume_id(&single)
                .instance_id("i-b")
                .device("/dev/sdg")
                .send()
                .await
        ),
        "VolumeInUse"
    );
}

#[tokio::test]
async fn detach_errors() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let id = volume(&ec2, "us-east-1a", 1).await;
    assert_eq!(
        code(
            ec2.detach_volume()
                .volume_id("vol-00000000000000000")
                .send()
                .await
        ),
        "InvalidVolume.NotFound"
    );
    assert_eq!(
        code(ec2.detach_volume().volume_id(&id).send().await),
        "IncorrectState"
    );
    ec2.attach_volume()
        .volume_id(&id)
        .instance_id("i-a")
        .device("/dev/sdf")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(
            ec2.detach_volume()
                .volume_id(&id)
                .instance_id("i-b")
                .send()
                .await
        ),
        "InvalidAttachment.NotFound"
    );
    assert_eq!(
        code(
            ec2.detach_volume()
                .volume_id(&id)
                .device("/dev/sdz")
                .send()
                .await
        ),
        "InvalidAttachment.NotFound"
    );
    assert_eq!(
        state(&ec2, &id).await,
        "in-use",
        "failed detaches change nothing"
    );
}

#[tokio::test]
async fn a_killed_instance_keeps_its_volume_until_forced() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let id = volume(&ec2, "us-east-1a", 1).await;
    ec2.attach_volume()
        .volume_id(&id)
        .instance_id("i-a")
        .device("/dev/sdf")
        .send()
        .await
        .unwrap();

    ec2_support::kill(&running, "i-a").await;
    let out = ec2
        .describe_instances()
        .instance_ids("i-a")
        .send()
        .await
        .unwrap();
    let instance = &out.reservations()[0].instances()[0];
    assert_eq!(
        instance.state().and_then(|s| s.name()).map(|n| n.as_str()),
        Some("stopped")
    );
    assert_eq!(
        instance.block_device_mappings().len(),
        1,
        "a dead node keeps its attachments"
    );

    let out = ec2.detach_volume().volume_id(&id).send().await.unwrap();
    assert_eq!(out.state().map(|s| s.as_str()), Some("detaching"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        attachment_state(&ec2, &id, "i-a").await,
        "detaching",
        "stuck: the node never answers"
    );
    assert_eq!(
        code(ec2.delete_volume().volume_id(&id).send().await),
        "VolumeInUse"
    );
    assert_eq!(
        code(ec2.detach_volume().volume_id(&id).send().await),
        "IncorrectState",
        "already detaching"
    );
    assert_eq!(
        code(
            ec2.attach_volume()
                .volume_id(&id)
                .instance_id("i-b")
                .device("/dev/sdf")
                .send()
                .await
        ),
        "VolumeInUse"
    );

    let out = ec2
        .detach_volume()
        .volume_id(&id)
        .force(true)
        .send()
        .await
        .unwrap();
    assert_eq!(out.state().map(|s| s.as_str()), Some("detaching"));
    assert_eq!(state(&ec2, &id).await, "available");
    ec2.attach_volume()
        .volume_id(&id)
        .instance_id("i-b")
        .device("/dev/sdf")
        .send()
        .await
        .expect("free for another node");
    assert_eq!(attachment_state(&ec2, &id, "i-b").await, "attached");

    // A forced detach from a running instance works at once too.
    ec2.detach_volume()
        .volume_id(&id)
        .force(true)
        .send()
        .await
        .unwrap();
    assert_eq!(state(&ec2, &id).await, "available");
}
