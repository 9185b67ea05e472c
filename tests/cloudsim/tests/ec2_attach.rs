//! AttachVolume / DetachVolume through the real aws-sdk-ec2 client: the
//! happy path, every attach rule (zone, instance, single attachment,
//! device names, Multi-Attach), the detach errors, and a killed instance
//! whose volume only a forced detach frees.

mod ec2_support;
mod support;

use std::time::Duration;

use ec2_support::{
    attach, attach_code, attach_request, attachment_state, code, delete_code, describe,
    describe_instance, detach_code, detach_request, failure, io2, state, volume,
};

#[tokio::test]
async fn attach_and_detach() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let id = volume(&ec2, "us-east-1a", 1).await;

    let out = attach(&ec2, &id, "i-a", "/dev/sdf").await;
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

    let instance = describe_instance(&ec2, "i-a").await;
    let mappings = instance.block_device_mappings();
    assert_eq!(mappings[0].device_name(), Some("/dev/sdf"));

    let out = detach_request(&ec2, &id).send().await.unwrap();
    assert_eq!(out.state().map(|s| s.as_str()), Some("detaching"));
    assert_eq!(out.instance_id(), Some("i-a"));
    assert_eq!(state(&ec2, &id).await, "available");
    assert!(describe(&ec2, &id).await.attachments().is_empty());
    assert!(
        describe_instance(&ec2, "i-a")
            .await
            .block_device_mappings()
            .is_empty()
    );

    let (got, status) = failure(detach_request(&ec2, &id).send().await);
    assert_eq!(
        (got.as_str(), status),
        ("IncorrectState", 400),
        "not attached"
    );

    // Attach again elsewhere, detach naming the instance and device.
    attach(&ec2, &id, "i-b", "xvdg").await;
    detach_request(&ec2, &id)
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

    let (got, status) = failure(attach_request(&ec2, &b1, "i-a", "/dev/sdf").send().await);
    assert_eq!((got.as_str(), status), ("InvalidVolume.ZoneMismatch", 400));
    assert_eq!(
        attach_code(&ec2, &a1, "i-nothere", "/dev/sdf").await,
        "InvalidInstanceID.NotFound"
    );
    assert_eq!(
        attach_code(&ec2, &a1, "gce-a", "/dev/sdf").await,
        "InvalidInstanceID.NotFound",
        "not an EC2 instance"
    );
    assert_eq!(
        attach_code(&ec2, "vol-00000000000000000", "i-a", "/dev/sdf").await,
        "InvalidVolume.NotFound"
    );
    assert_eq!(
        attach_code(&ec2, &a1, "i-a", "/dev/nvme1n1").await,
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

    attach(&ec2, &a1, "i-a", "/dev/sdf").await;
    assert_eq!(
        attach_code(&ec2, &a1, "i-b", "/dev/sdf").await,
        "VolumeInUse",
        "one attachment only"
    );
    assert_eq!(
        attach_code(&ec2, &a1, "i-a", "/dev/sdg").await,
        "VolumeInUse",
        "already attached here"
    );

    let err = attach_request(&ec2, &a2, "i-a", "/dev/sdf")
        .send()
        .await
        .unwrap_err();
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
        attach_code(&ec2, &a2, "i-a", "/dev/xvdf").await,
        "InvalidParameterValue",
        "xvdf is sdf's twin"
    );
    assert_eq!(
        attach_code(&ec2, &a2, "i-a", "/dev/xvda").await,
        "InvalidParameterValue",
        "the root device"
    );
    // The same device name on another instance is free.
    attach(&ec2, &a2, "i-b", "/dev/sdf").await;
    assert_eq!(
        describe(&ec2, &a2).await.attachments()[0].instance_id(),
        Some("i-b")
    );
}

#[tokio::test]
async fn multi_attach() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let shared = io2(&ec2, 4, 1000, true).await;
    let shared = shared.volume_id().unwrap();
    let single = io2(&ec2, 4, 1000, false).await;
    let single = single.volume_id().unwrap();

    attach(&ec2, shared, "i-a", "/dev/sdf").await;
    attach(&ec2, shared, "i-b", "/dev/sdf").await;
    let v = describe(&ec2, shared).await;
    assert_eq!(v.attachments().len(), 2);
    assert_eq!(
        attach_code(&ec2, shared, "i-c", "/dev/sdf").await,
        "InvalidVolume.ZoneMismatch"
    );
    assert_eq!(
        attach_code(&ec2, shared, "i-a", "/dev/sdg").await,
        "VolumeInUse"
    );
    assert_eq!(
        detach_code(&ec2, shared).await,
        "InvalidParameterCombination",
        "which instance?"
    );
    detach_request(&ec2, shared)
        .instance_id("i-a")
        .send()
        .await
        .unwrap();
    assert_eq!(state(&ec2, shared).await, "in-use");
    assert_eq!(attachment_state(&ec2, shared, "i-b").await, "attached");
    detach_request(&ec2, shared)
        .instance_id("i-b")
        .send()
        .await
        .unwrap();
    assert_eq!(state(&ec2, shared).await, "available");

    attach(&ec2, single, "i-a", "/dev/sdg").await;
    assert_eq!(
        attach_code(&ec2, single, "i-b", "/dev/sdg").await,
        "VolumeInUse"
    );
}

#[tokio::test]
async fn detach_errors() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let id = volume(&ec2, "us-east-1a", 1).await;
    assert_eq!(
        code(detach_request(&ec2, "vol-00000000000000000").send().await),
        "InvalidVolume.NotFound"
    );
    assert_eq!(detach_code(&ec2, &id).await, "IncorrectState");
    attach(&ec2, &id, "i-a", "/dev/sdf").await;
    assert_eq!(
        code(detach_request(&ec2, &id).instance_id("i-b").send().await),
        "InvalidAttachment.NotFound"
    );
    assert_eq!(
        code(detach_request(&ec2, &id).device("/dev/sdz").send().await),
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
    attach(&ec2, &id, "i-a", "/dev/sdf").await;

    ec2_support::kill(&running, "i-a").await;
    let instance = describe_instance(&ec2, "i-a").await;
    assert_eq!(
        instance.state().and_then(|s| s.name()).map(|n| n.as_str()),
        Some("stopped")
    );
    assert_eq!(
        instance.block_device_mappings().len(),
        1,
        "a dead node keeps its attachments"
    );

    let out = detach_request(&ec2, &id).send().await.unwrap();
    assert_eq!(out.state().map(|s| s.as_str()), Some("detaching"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        attachment_state(&ec2, &id, "i-a").await,
        "detaching",
        "stuck: the node never answers"
    );
    assert_eq!(delete_code(&ec2, &id).await, "VolumeInUse");
    assert_eq!(
        detach_code(&ec2, &id).await,
        "IncorrectState",
        "already detaching"
    );
    assert_eq!(
        attach_code(&ec2, &id, "i-b", "/dev/sdf").await,
        "VolumeInUse"
    );

    let out = detach_request(&ec2, &id).force(true).send().await.unwrap();
    assert_eq!(out.state().map(|s| s.as_str()), Some("detaching"));
    assert_eq!(state(&ec2, &id).await, "available");
    // Free for another node.
    attach(&ec2, &id, "i-b", "/dev/sdf").await;
    assert_eq!(attachment_state(&ec2, &id, "i-b").await, "attached");

    // A forced detach from a running instance works at once too.
    detach_request(&ec2, &id).force(true).send().await.unwrap();
    assert_eq!(state(&ec2, &id).await, "available");
}
