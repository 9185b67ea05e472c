//! The simulator as hypervisor, driven by the real aws-sdk-ec2 client:
//! an attached volume appears in the instance's device directory under
//! the name the platform would give it (NVMe by-id link on Nitro, xvdX on
//! Xen) pointing at a loop device; data written through it follows the
//! volume to another instance after a forced detach, and a snapshot carries
//! it to a volume in another zone. Needs root and loop devices (skipped
//! with the reason printed otherwise).

mod ec2_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ec2_support::{detach_request, io2, restore, snapshot, volume, wait_attachment, wait_state};

/// Unmounts (lazily, best effort) whatever is still mounted when dropped.
struct Mounts(Vec<PathBuf>);

impl Drop for Mounts {
    fn drop(&mut self) {
        for dir in &self.0 {
            // Only what is still mounted (a test that failed half-way).
            if Command::new("mountpoint")
                .arg("-q")
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success())
            {
                let _ = Command::new("umount").arg("-l").arg(dir).status();
            }
        }
    }
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mount(device: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    run("mount", &[device.to_str().unwrap(), dir.to_str().unwrap()]);
}

fn umount(dir: &Path) {
    run("umount", &[dir.to_str().unwrap()]);
}

/// The loop devices backed by `file`.
fn loops_of(file: &Path) -> String {
    let out = Command::new("losetup")
        .args(["-n", "-O", "NAME", "-j"])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Attach and wait until attached: only then is the device plugged.
async fn attach(ec2: &aws_sdk_ec2::Client, volume: &str, instance: &str, device: &str) {
    ec2_support::attach(ec2, volume, instance, device).await;
    wait_attachment(ec2, volume, instance, "attached").await;
}

async fn detach(ec2: &aws_sdk_ec2::Client, volume: &str, force: bool) {
    detach_request(ec2, volume)
        .force(force)
        .send()
        .await
        .unwrap();
    wait_state(ec2, volume, "available").await;
}

#[tokio::test]
async fn data_follows_the_volume_between_instances_and_through_snapshots() {
    if !support::can_plug("data_follows_the_volume_between_instances_and_through_snapshots") {
        return;
    }
    let (dir, running) = support::sim(|c| c.hypervisor = true).await;
    let mut mounts = Mounts(Vec::new());
    let ec2 = support::ec2(&running.api_url).await;
    let hv = &running.sim.hypervisor;
    let vol = volume(&ec2, "us-east-1a", 1).await;
    let backing = hv.backing_file(&vol);

    // Instance A (Nitro): the NVMe by-id link to a loop device.
    attach(&ec2, &vol, "i-a", "/dev/sdf").await;
    let a = running.instance("i-a");
    let link = a.device_dir.join(format!(
        "nvme-Amazon_Elastic_Block_Store_{}",
        vol.replace('-', "")
    ));
    let device = std::fs::canonicalize(&link).expect("the by-id link exists");
    assert!(
        device.to_str().unwrap().starts_with("/dev/loop"),
        "{}",
        device.display()
    );
    assert_eq!(loops_of(&backing), device.to_str().unwrap());
    run("mkfs.ext4", &["-q", "-F", link.to_str().unwrap()]);
    let mnt_a = dir.path().join("mnt-a");
    mounts.0.push(mnt_a.clone());
    mount(&link, &mnt_a);
    std::fs::write(mnt_a.join("hello.txt"), "written on i-a").unwrap();
    umount(&mnt_a);

    // Force-detach: the link and the loop device go.
    detach(&ec2, &vol, true).await;
    assert!(
        !link.exists() && std::fs::symlink_metadata(&link).is_err(),
        "link removed"
    );
    assert_eq!(loops_of(&backing), "", "loop device detached");

    // Instance B (Xen): the device shows up as xvdg.
    attach(&ec2, &vol, "i-b", "/dev/sdg").await;
    let b = running.instance("i-b");
    let xen_link = b.device_dir.join("xvdg");
    assert!(
        std::fs::canonicalize(&xen_link)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("/dev/loop")
    );
    let mnt_b = dir.path().join("mnt-b");
    mounts.0.push(mnt_b.clone());
    mount(&xen_link, &mnt_b);
    assert_eq!(
        std::fs::read_to_string(mnt_b.join("hello.txt")).unwrap(),
        "written on i-a"
    );
    umount(&mnt_b);

    // Snapshot → a volume in another zone → instance C sees the same data.
    let snap = snapshot(&ec2, &vol).await;
    let copy = restore(&ec2, "us-east-1b", &snap).send().await.unwrap();
    let copy = copy.volume_id().unwrap().to_string();
    attach(&ec2, &copy, "i-c", "/dev/sdf").await;
    let c = running.instance("i-c");
    let copy_link = c.device_dir.join(format!(
        "nvme-Amazon_Elastic_Block_Store_{}",
        copy.replace('-', "")
    ));
    let mnt_c = dir.path().join("mnt-c");
    mounts.0.push(mnt_c.clone());
    mount(&copy_link, &mnt_c);
    assert_eq!(
        std::fs::read_to_string(mnt_c.join("hello.txt")).unwrap(),
        "written on i-a"
    );
    umount(&mnt_c);

    // A normal detach unplugs too.
    detach(&ec2, &copy, false).await;
    detach(&ec2, &vol, false).await;
    assert!(!copy_link.exists() && !xen_link.exists());
    assert_eq!(loops_of(&hv.backing_file(&copy)), "");
    assert_eq!(loops_of(&backing), "");
}

#[tokio::test]
async fn multi_attach_shares_one_loop_device() {
    if !support::can_plug("multi_attach_shares_one_loop_device") {
        return;
    }
    let (_dir, running) = support::sim(|c| c.hypervisor = true).await;
    let ec2 = support::ec2(&running.api_url).await;
    let out = io2(&ec2, 4, 400, true).await;
    let vol = out.volume_id().unwrap().to_string();
    let backing = running.sim.hypervisor.backing_file(&vol);
    attach(&ec2, &vol, "i-a", "/dev/sdf").await;
    attach(&ec2, &vol, "i-b", "/dev/sdh").await;
    let nvme = running.instance("i-a").device_dir.join(format!(
        "nvme-Amazon_Elastic_Block_Store_{}",
        vol.replace('-', "")
    ));
    let xen = running.instance("i-b").device_dir.join("xvdh");
    assert_eq!(
        std::fs::canonicalize(&nvme).unwrap(),
        std::fs::canonicalize(&xen).unwrap(),
        "one loop device"
    );

    detach_request(&ec2, &vol)
        .instance_id("i-a")
        .send()
        .await
        .unwrap();
    assert!(
        std::fs::symlink_metadata(&nvme).is_err(),
        "i-a's link removed"
    );
    assert!(xen.exists(), "i-b still has the volume");
    assert_ne!(loops_of(&backing), "");
    detach(&ec2, &vol, false).await;
    assert_eq!(
        loops_of(&backing),
        "",
        "the last detach frees the loop device"
    );
}

#[tokio::test]
async fn dropping_the_simulator_unplugs_everything() {
    if !support::can_plug("dropping_the_simulator_unplugs_everything") {
        return;
    }
    let (_dir, running) = support::sim(|c| c.hypervisor = true).await;
    let ec2 = support::ec2(&running.api_url).await;
    let vol = ec2_support::volume(&ec2, "us-east-1a", 1).await;
    attach(&ec2, &vol, "i-a", "/dev/sdf").await;
    let backing = running.sim.hypervisor.backing_file(&vol);
    assert_ne!(loops_of(&backing), "");
    drop(running);
    // A loop device someone still probes goes when they let go (autoclear).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !loops_of(&backing).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} still loop-attached",
            backing.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
