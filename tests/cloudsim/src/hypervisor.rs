//! The simulator as hypervisor: every volume has a sparse backing file in
//! the data directory, shared by all instances so data follows the volume.
//! When an attachment completes, the file is loop-attached and the links
//! the real platform would create appear in the instance's device
//! directory; detaching removes them and the loop device. Snapshots are
//! sparse copies. Without `enabled` (no root) only files are kept.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Hypervisor {
    data_dir: PathBuf,
    enabled: bool,
}

impl Hypervisor {
    pub fn new(data_dir: PathBuf, enabled: bool) -> Hypervisor {
        Hypervisor { data_dir, enabled }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The backing file of volume/disk `id`.
    pub fn backing_file(&self, id: &str) -> PathBuf {
        self.data_dir.join("volumes").join(format!("{id}.img"))
    }

    fn snapshot_file(&self, id: &str) -> PathBuf {
        self.data_dir.join("snapshots").join(format!("{id}.img"))
    }

    /// A new, blank, sparse volume of `size_bytes`.
    pub fn create(&self, id: &str, size_bytes: u64) -> io::Result<()> {
        let path = self.backing_file(id);
        fs::create_dir_all(path.parent().unwrap())?;
        fs::File::create_new(&path)?.set_len(size_bytes)
    }

    /// Grow volume `id` to `size_bytes` (never shrinks). A plugged volume's
    /// loop device takes the new size at once, as a real disk's does.
    pub fn grow(&self, id: &str, size_bytes: u64) -> io::Result<()> {
        let path = self.backing_file(id);
        let file = fs::OpenOptions::new().write(true).open(&path)?;
        if file.metadata()?.len() < size_bytes {
            file.set_len(size_bytes)?;
        }
        if self.enabled
            && let Some(device) = loop_of(&path)?
        {
            run("losetup", &["--set-capacity", &device.to_string_lossy()])?;
        }
        Ok(())
    }

    pub fn remove(&self, id: &str) -> io::Result<()> {
        remove_if_present(&self.backing_file(id))
    }

    /// Snapshot volume `volume` as `snapshot`: a sparse copy of its bytes now.
    pub fn snapshot(&self, volume: &str, snapshot: &str) -> io::Result<()> {
        let to = self.snapshot_file(snapshot);
        fs::create_dir_all(to.parent().unwrap())?;
        sparse_copy(&self.backing_file(volume), &to)
    }

    /// A new volume `volume` holding snapshot `snapshot`'s bytes, grown to `size_bytes`.
    pub fn restore(&self, snapshot: &str, volume: &str, size_bytes: u64) -> io::Result<()> {
        let to = self.backing_file(volume);
        fs::create_dir_all(to.parent().unwrap())?;
        sparse_copy(&self.snapshot_file(snapshot), &to)?;
        self.grow(volume, size_bytes)
    }

    pub fn remove_snapshot(&self, snapshot: &str) -> io::Result<()> {
        remove_if_present(&self.snapshot_file(snapshot))
    }

    /// Plug volume `id` into an instance: loop-attach its file and create
    /// `links` (names under the instance's device dir) pointing at the loop
    /// device. Returns the loop device, if the hypervisor is enabled.
    pub fn plug(
        &self,
        device_dir: &Path,
        id: &str,
        links: &[String],
    ) -> io::Result<Option<PathBuf>> {
        if !self.enabled {
            return Ok(None);
        }
        let file = self.backing_file(id);
        let device = match loop_of(&file)? {
            Some(device) => device,
            None => PathBuf::from(
                run("losetup", &["--find", "--show", &file.to_string_lossy()])?.trim(),
            ),
        };
        fs::create_dir_all(device_dir)?;
        for link in links {
            let path = device_dir.join(link);
            remove_if_present(&path)?;
            std::os::unix::fs::symlink(&device, &path)?;
        }
        Ok(Some(device))
    }

    /// Undo `plug`: remove the links, detach the loop device.
    pub fn unplug(&self, device_dir: &Path, id: &str, links: &[String]) -> io::Result<()> {
        for link in links {
            remove_if_present(&device_dir.join(link))?;
        }
        let file = self.backing_file(id);
        if self.enabled
            && let Some(device) = loop_of(&file)?
        {
            run("losetup", &["-d", &device.to_string_lossy()])?;
            // A device someone still has open (udev, a concurrent
            // `losetup --find` probing it) is only marked for autoclear and
            // goes when they close it. Wait for that, so a detach never
            // completes with the old device still there for the next plug
            // to reuse.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while loop_of(&file)?.is_some() {
                if std::time::Instant::now() > deadline {
                    return Err(io::Error::other(format!(
                        "{} still backs {}",
                        file.display(),
                        device.display()
                    )));
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        Ok(())
    }
}

impl Hypervisor {
    /// Detach every loop device backed by one of this simulator's volumes
    /// (the simulator is stopping). Best effort: this runs in Drop.
    pub fn unplug_everything(&self) {
        if !self.enabled {
            return;
        }
        let Ok(entries) = fs::read_dir(self.data_dir.join("volumes")) else {
            return;
        };
        for entry in entries.flatten() {
            if let Ok(Some(device)) = loop_of(&entry.path()) {
                let _ = run("losetup", &["-d", &device.to_string_lossy()]);
            }
        }
    }
}

/// The by-id links an AWS instance of `instance_type` shows for an EBS
/// volume attached as `device` ("/dev/sdf", "xvdf").
pub fn aws_links(instance_type: &str, volume_id: &str, device: &str) -> Vec<String> {
    if is_nitro(instance_type) {
        // NVMe: the serial is the volume id without its dash.
        vec![format!(
            "nvme-Amazon_Elastic_Block_Store_{}",
            volume_id.replace('-', "")
        )]
    } else {
        // Xen: the kernel renames sdX to xvdX; the link carries that name.
        let name = device.trim_start_matches("/dev/");
        vec![
            name.strip_prefix("sd")
                .map_or(name.to_string(), |rest| format!("xvd{rest}")),
        ]
    }
}

/// The by-id links a GCE instance shows for a disk attached as `device_name`.
pub fn gce_links(device_name: &str) -> Vec<String> {
    vec![
        format!("google-{device_name}"),
        format!("scsi-0Google_PersistentDisk_{device_name}"),
    ]
}

/// Xen families (the older generations); everything else is Nitro (NVMe).
pub fn is_nitro(instance_type: &str) -> bool {
    const XEN: &[&str] = &[
        "t1", "t2", "m1", "m2", "m3", "m4", "c1", "c3", "c4", "r3", "r4", "i2", "d2", "x1", "p2",
        "g2", "h1",
    ];
    let family = instance_type.split('.').next().unwrap_or_default();
    !XEN.contains(&family)
}

fn loop_of(file: &Path) -> io::Result<Option<PathBuf>> {
    let out = run(
        "losetup",
        &["-n", "-O", "NAME", "-j", &file.to_string_lossy()],
    )?;
    Ok(out
        .lines()
        .next()
        .map(|l| PathBuf::from(l.trim()))
        .filter(|p| !p.as_os_str().is_empty()))
}

fn sparse_copy(from: &Path, to: &Path) -> io::Result<()> {
    let from = from.to_string_lossy();
    let to = to.to_string_lossy();
    run("cp", &["--sparse=always", "--reflink=auto", &from, &to]).map(drop)
}

fn run(program: &str, args: &[&str]) -> io::Result<String> {
    let out = Command::new(program).args(args).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_follow_the_platform() {
        assert_eq!(
            aws_links("m5.large", "vol-0abc", "/dev/sdf"),
            ["nvme-Amazon_Elastic_Block_Store_vol0abc"]
        );
        assert_eq!(aws_links("t2.micro", "vol-0abc", "/dev/sdf"), ["xvdf"]);
        assert_eq!(aws_links("m4.large", "vol-0abc", "xvdg"), ["xvdg"]);
        assert_eq!(
            gce_links("data-1"),
            ["google-data-1", "scsi-0Google_PersistentDisk_data-1"]
        );
    }
}
