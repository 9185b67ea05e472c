//! The host's NFS mount end to end against a local kernel NFS server: the
//! EFS defaults, the export directory the host makes on request
//! (`ballast-mkdir`) through a mount of the server's root, data written
//! through the mount landing in the export, and the unmount.
//!
//! It needs a kernel with an NFS 4 client and server and the server's tools
//! (`exportfs`, `rpc.nfsd` from nfs-kernel-server). These machines' kernel
//! has no NFS client at all: there the test says so and skips.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use ballast::storage::nfs;

/// efs-utils' defaults, as the EFS backend hands them over.
const EFS_OPTIONS: &str =
    "nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport";

/// Why this machine cannot run the test, if it cannot.
fn missing_parts() -> Option<String> {
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !nfs::kernel_has_nfs4(&filesystems) {
        return Some("this kernel has no NFS 4 client (no nfs4 in /proc/filesystems)".into());
    }
    if !filesystems.lines().any(|l| l.ends_with("nfsd")) {
        return Some("this kernel has no NFS server (no nfsd in /proc/filesystems)".into());
    }
    let tools = ["exportfs", "rpc.nfsd"];
    let absent: Vec<_> = tools.iter().filter(|t| !on_path(t)).collect();
    if !absent.is_empty() {
        let reason = format!("{absent:?} not installed (Debian: nfs-kernel-server)");
        assert!(
            std::env::var("BALLAST_E2E_REQUIRED").as_deref() != Ok("1"),
            "{reason} and BALLAST_E2E_REQUIRED=1"
        );
        return Some(reason);
    }
    None
}

fn on_path(tool: &str) -> bool {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(tool).exists())
}

fn run(tool: &str, args: &[&str]) {
    let out = Command::new(tool).args(args).output().expect(tool);
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The export and the nfsd threads this test started, undone on drop.
struct Server {
    client_spec: String,
    started_threads: bool,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let client_spec = format!("127.0.0.1:{}", dir.display());
        // fsid=0: the directory is the NFS 4 pseudo-root, "/" to clients;
        // insecure: noresvport connects from an unprivileged port.
        run(
            "exportfs",
            &[
                "-o",
                "rw,no_root_squash,fsid=0,insecure,no_subtree_check,sync",
                &client_spec,
            ],
        );
        let threads = std::fs::read_to_string("/proc/fs/nfsd/threads").unwrap_or_default();
        let started_threads = threads.trim().parse::<u32>().unwrap_or(0) == 0;
        if started_threads {
            run("rpc.nfsd", &["4"]);
        }
        Server {
            client_spec,
            started_threads,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("exportfs")
            .args(["-u", &self.client_spec])
            .status();
        if self.started_threads {
            let _ = Command::new("rpc.nfsd").arg("0").status();
        }
    }
}

#[test]
fn an_efs_style_source_mounts_makes_its_export_and_unmounts() {
    if let Some(reason) = missing_parts() {
        eprintln!("SKIPPED an_efs_style_source_mounts_makes_its_export_and_unmounts: {reason}");
        return;
    }
    let export = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let _server = Server::start(export.path());

    let mut options: Vec<String> = EFS_OPTIONS.split(',').map(String::from).collect();
    options.push("ballast-mkdir=1000:1000:750".into());
    let (kernel, mkdir) = nfs::host_options(&options).unwrap();
    let mkdir = mkdir.expect("the mkdir option is the host's");
    let root = nfs::request("127.0.0.1", "/", &kernel, nfs::resolve).unwrap();
    let volume = nfs::request("127.0.0.1", "/ballast/pgdata", &kernel, nfs::resolve).unwrap();
    assert_eq!(volume.source, "127.0.0.1:/ballast/pgdata");
    assert!(
        volume.data.ends_with(",noresvport,addr=127.0.0.1"),
        "{}",
        volume.data
    );

    let scratch = work.path().join("root");
    assert!(nfs::ensure_export(&root, "/ballast/pgdata", &mkdir, &scratch).unwrap());
    let made = std::fs::metadata(export.path().join("ballast/pgdata")).unwrap();
    assert_eq!(
        (made.uid(), made.gid(), made.mode() & 0o7777),
        (1000, 1000, 0o750)
    );
    assert!(
        ballast::storage::mounted_at(&scratch).unwrap().is_none(),
        "the root mount is gone again"
    );

    let target = work.path().join("pgdata");
    std::fs::create_dir_all(&target).unwrap();
    nfs::mount(&volume, &target, nfs::MOUNT_TIMEOUT).unwrap();
    let entry = ballast::storage::mounted_at(&target)
        .unwrap()
        .expect("mounted");
    assert_eq!(entry.fs_type, "nfs4");
    std::fs::write(target.join("row"), b"through NFS").unwrap();
    nfs::unmount(&target, nfs::MOUNT_TIMEOUT).unwrap();
    assert!(ballast::storage::mounted_at(&target).unwrap().is_none());
    assert_eq!(
        std::fs::read(export.path().join("ballast/pgdata/row")).unwrap(),
        b"through NFS"
    );
}
