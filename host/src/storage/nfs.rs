//! NFS mounts (EFS): what mount(2) is asked for an `nfs` mount source, and
//! the mount itself with a bounded wait.
//!
//! The kernel's NFS client takes text options, but unlike mount.nfs it
//! does not resolve the server's name: `addr=` must carry an IP address,
//! so the host resolves it (once, here) and the request is
//! `mount("<server>:<path>", target, "nfs4", flags, "<options>,addr=<ip>")`.
//! Options are allow-listed: a backend cannot ask for `sec=`, `local_lock=`
//! or anything that changes whom the host trusts.

use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use rustix::mount::MountFlags;

use super::mount::{apply_flag, flag_names};
use super::{Result, StorageError};

/// The options a backend may ask for (with `=value` where they take one).
const ALLOWED: &[&str] = &[
    "nfsvers=",
    "vers=",
    "minorversion=",
    "rsize=",
    "wsize=",
    "timeo=",
    "retrans=",
    "port=",
    "actimeo=",
    "acregmin=",
    "acregmax=",
    "acdirmin=",
    "acdirmax=",
    "proto=tcp",
    "hard",
    "soft",
    "noresvport",
    "resvport",
    "noac",
    "sharecache",
    "nosharecache",
    "fsc",
    "nofsc",
];
const ALLOWED_HELP: &str = "nfsvers/vers 4.x, minorversion, rsize, wsize, timeo, retrans, port, \
    ac* cache times, proto=tcp, hard, soft, noresvport, resvport, noac, (no)sharecache, (no)fsc, \
    and the generic ro, rw, noatime, nodiratime, relatime, nosuid, nodev, noexec";

/// How long a mount may take before the host gives up on it. A `hard`
/// mount of an unreachable server would otherwise block for ever.
pub const MOUNT_TIMEOUT: Duration = Duration::from_secs(60);

/// One NFS mount as mount(2) receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfsRequest {
    /// `<server>:<export path>`, e.g. `10.0.1.10:/` or `fs-1.efs…:/vols/a`.
    pub source: String,
    pub fs_type: &'static str,
    pub flags: MountFlags,
    /// The options text, ending in `addr=<server ip>`.
    pub data: String,
}

impl NfsRequest {
    /// The request as the equivalent command line, for people:
    /// `mount -t nfs4 -o <options> <source> <target>` (flags as their
    /// option names, first).
    pub fn command(&self, target: &Path) -> String {
        let mut options = flag_names(self.flags);
        options.push(self.data.clone());
        format!(
            "mount -t {} -o {} {} {}",
            self.fs_type,
            options.join(","),
            self.source,
            target.display()
        )
    }
}

/// Build the mount(2) request for `server:export_path` with `options`,
/// resolving the server with `resolve` (tests pass their own).
pub fn request(
    server: &str,
    export_path: &str,
    options: &[String],
    resolve: impl Fn(&str) -> std::io::Result<IpAddr>,
) -> Result<NfsRequest> {
    if server.is_empty() || server.contains(['/', ',', ' ']) {
        return Err(parse_error(
            "NFS server",
            "an IP address or DNS name",
            server,
        ));
    }
    if !export_path.starts_with('/') || export_path.contains(',') {
        return Err(parse_error(
            "NFS export path",
            "an absolute path",
            export_path,
        ));
    }
    let (flags, mut data) = split_options(options)?;
    let version = data
        .iter()
        .find_map(|o| o.strip_prefix("nfsvers=").or(o.strip_prefix("vers=")));
    if let Some(v) = version
        && !v.starts_with('4')
    {
        return Err(parse_error("NFS version", "4, 4.0, 4.1 or 4.2", v));
    }
    let ip = match server.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => {
            resolve(server).map_err(|e| StorageError::io("resolving NFS server", server, e))?
        }
    };
    data.push(format!("addr={ip}"));
    let host = match ip {
        IpAddr::V6(_) if server.parse::<IpAddr>().is_ok() => format!("[{server}]"),
        _ => server.to_string(),
    };
    Ok(NfsRequest {
        source: format!("{host}:{export_path}"),
        fs_type: "nfs4",
        flags,
        data: data.join(","),
    })
}

/// The system resolver: the first address of `host`.
pub fn resolve(host: &str) -> std::io::Result<IpAddr> {
    (host, 2049)
        .to_socket_addrs()?
        .map(|a| a.ip())
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))
}

/// Whether the running kernel has an NFS 4 client (`nfs4` in
/// /proc/filesystems; the module may also load on first use, which this
/// does not try).
pub fn kernel_has_nfs4(proc_filesystems: &str) -> bool {
    proc_filesystems
        .lines()
        .any(|l| l.split_whitespace().last() == Some("nfs4"))
}

/// Mount `request` at `target`, giving up after `timeout`. The mount call
/// runs on a thread of its own: a server that never answers leaves that
/// thread waiting in the kernel, not the caller.
pub fn mount(request: &NfsRequest, target: &Path, timeout: Duration) -> Result<()> {
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !kernel_has_nfs4(&filesystems) {
        return Err(StorageError::NoNfsClient {
            request: request.command(target),
        });
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    let (req, dir) = (request.clone(), target.to_owned());
    // Options are allow-listed and sources checked: no NUL can be inside.
    let data = std::ffi::CString::new(req.data.clone()).expect("no NUL in NFS options");
    std::thread::spawn(move || {
        let done = rustix::mount::mount(
            req.source.as_str(),
            &dir,
            req.fs_type,
            req.flags,
            Some(data.as_c_str()),
        );
        let _ = sender.send(done);
    });
    let failed = |source: std::io::Error| StorageError::MountFailed {
        device: request.source.clone().into(),
        target: target.to_owned(),
        fs_type: request.fs_type.into(),
        source,
    };
    match receiver.recv_timeout(timeout) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(failed(e.into())),
        Err(_) => Err(failed(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "no answer from the NFS server within {}s",
                timeout.as_secs()
            ),
        ))),
    }
}

/// The option the host acts on itself (never the kernel's): create the
/// export path when the server lacks it (see `Mkdir`).
const MKDIR_OPTION: &str = "ballast-mkdir=";

/// Owner and mode for an export path the host creates, from
/// `ballast-mkdir=<uid>:<gid>:<octal mode>`: what EFS does for an access
/// point's root directory on the first mount through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mkdir {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// Split the host's own options from the kernel's.
pub fn host_options(options: &[String]) -> Result<(Vec<String>, Option<Mkdir>)> {
    let mut kernel = vec![];
    let mut mkdir = None;
    for option in options.iter().flat_map(|o| o.split(',')).map(str::trim) {
        match option.strip_prefix(MKDIR_OPTION) {
            Some(spec) => mkdir = Some(parse_mkdir(spec)?),
            None => kernel.push(option.to_string()),
        }
    }
    Ok((kernel, mkdir))
}

fn parse_mkdir(spec: &str) -> Result<Mkdir> {
    let bad = || {
        parse_error(
            "ballast-mkdir",
            "<uid>:<gid>:<octal mode>, e.g. 1000:1000:755",
            spec,
        )
    };
    let mut parts = spec.split(':');
    let (Some(uid), Some(gid), Some(mode), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let mode = u32::from_str_radix(mode, 8).ok().filter(|m| *m <= 0o7777);
    match (uid.parse(), gid.parse(), mode) {
        (Ok(uid), Ok(gid), Some(mode)) => Ok(Mkdir { uid, gid, mode }),
        _ => Err(bad()),
    }
}

/// Create `export` under `root` (a mount of the server's "/") when it is
/// missing: parents root-owned 0755, the last directory with `mkdir`'s
/// owner and mode. Existing directories are left as they are. Answers
/// whether the last directory was created here.
pub fn create_export_dir(root: &Path, export: &str, mkdir: &Mkdir) -> std::io::Result<bool> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let parts: Vec<&str> = export.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("export path {export:?} must not contain . or .."),
        ));
    }
    let mut dir = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        dir.push(part);
        let last = i + 1 == parts.len();
        match std::fs::DirBuilder::new().mode(0o755).create(&dir) {
            Ok(()) if last => {
                std::os::unix::fs::chown(&dir, Some(mkdir.uid), Some(mkdir.gid))?;
                // Set after creating: the umask must not trim the mode.
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mkdir.mode))?;
                return Ok(true);
            }
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // A symlink planted on the server must not lead us elsewhere.
                if !dir.symlink_metadata()?.is_dir() {
                    return Err(std::io::Error::other(format!(
                        "{} exists and is not a directory",
                        dir.display()
                    )));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Make `export` exist on the server of `root_request` (a request for its
/// "/"): mount that at `scratch`, create the directory, unmount. The
/// scratch mount is always taken down again.
pub fn ensure_export(
    root_request: &NfsRequest,
    export: &str,
    mkdir: &Mkdir,
    scratch: &Path,
) -> Result<bool> {
    std::fs::create_dir_all(scratch).map_err(|e| StorageError::io("creating", scratch, e))?;
    mount(root_request, scratch, MOUNT_TIMEOUT)?;
    let created = create_export_dir(scratch, export, mkdir).map_err(|e| {
        StorageError::io(
            "creating the NFS export directory",
            scratch.join(export.trim_start_matches('/')),
            e,
        )
    });
    let unmounted = unmount(scratch, MOUNT_TIMEOUT);
    let _ = std::fs::remove_dir(scratch);
    let created = created?;
    unmounted?;
    tracing::info!(source = %root_request.source, export, created, "NFS export directory ready");
    Ok(created)
}

/// Unmount an NFS mount, giving up after `timeout`: flushing to a `hard`
/// mount's server that no longer answers would block for ever. After the
/// timeout the kernel is asked to abort the server's pending requests
/// (MNT_FORCE) and the unmount is tried once more.
pub fn unmount(target: &Path, timeout: Duration) -> Result<()> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let dir = target.to_owned();
    std::thread::spawn(move || {
        let _ = sender.send(super::unmount(&dir));
    });
    match receiver.recv_timeout(timeout) {
        Ok(done) => done,
        Err(_) => {
            tracing::warn!(target = %target.display(), "NFS server not answering; forcing the unmount");
            rustix::mount::unmount(target, rustix::mount::UnmountFlags::FORCE).map_err(|e| {
                StorageError::UnmountFailed {
                    target: target.to_owned(),
                    source: e.into(),
                }
            })
        }
    }
}

fn split_options(options: &[String]) -> Result<(MountFlags, Vec<String>)> {
    let mut flags = MountFlags::empty();
    let mut data = vec![];
    for option in options.iter().flat_map(|o| o.split(',')).map(str::trim) {
        if apply_flag(&mut flags, option) {
            continue;
        }
        match option {
            other if allowed(other) => data.push(other.to_string()),
            other => {
                return Err(StorageError::OptionNotAllowed {
                    kind: "NFS mount",
                    option: other.into(),
                    allowed: ALLOWED_HELP,
                });
            }
        }
    }
    Ok((flags, data))
}

/// A listed flag, or a listed `key=` with a plain value (digits, dots, letters).
fn allowed(option: &str) -> bool {
    ALLOWED.iter().any(|a| match a.strip_suffix('=') {
        Some(key) => option
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('='))
            .is_some_and(|v| {
                !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
            }),
        None => option == *a,
    })
}

fn parse_error(what: &'static str, expected: &'static str, found: &str) -> StorageError {
    StorageError::Parse {
        what,
        expected,
        found: found.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// efs-utils' default options, as the EFS backend hands them over.
    fn efs_defaults() -> Vec<String> {
        "nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport"
            .split(',')
            .map(String::from)
            .collect()
    }

    fn no_dns(host: &str) -> std::io::Result<IpAddr> {
        panic!("resolved {host} although it is an address")
    }

    #[test]
    fn efs_mount_target_ip_gives_the_exact_mount_call() {
        let request = request("10.0.1.10", "/", &efs_defaults(), no_dns).unwrap();
        assert_eq!(
            request,
            NfsRequest {
                source: "10.0.1.10:/".into(),
                fs_type: "nfs4",
                flags: MountFlags::empty(),
                data: "nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,addr=10.0.1.10".into(),
            }
        );
    }

    #[test]
    fn a_dns_name_is_resolved_into_addr_and_kept_in_the_source() {
        let dns = "fs-12345678.efs.us-east-1.amazonaws.com";
        let mut options = efs_defaults();
        options.push("ro,noatime".into());
        let request = request(dns, "/ballast/pgdata", &options, |host| {
            assert_eq!(host, dns);
            Ok("10.0.2.20".parse().unwrap())
        })
        .unwrap();
        assert_eq!(request.source, format!("{dns}:/ballast/pgdata"));
        assert!(
            request.data.ends_with(",noresvport,addr=10.0.2.20"),
            "{}",
            request.data
        );
        assert_eq!(request.flags, MountFlags::RDONLY | MountFlags::NOATIME);
        let v6 = super::request("fd00::5", "/", &[], no_dns).unwrap();
        assert_eq!(
            (v6.source.as_str(), v6.data.as_str()),
            ("[fd00::5]:/", "addr=fd00::5")
        );
    }

    #[test]
    fn unlisted_options_versions_and_bad_sources_are_refused() {
        for bad in [
            "sec=sys",
            "local_lock=all",
            "nolock",
            "rsize=1,addr=1.2.3.4",
            "timeo=6 0",
            "addr=1.1.1.1",
        ] {
            let err = request("10.0.0.1", "/", &[bad.to_string()], no_dns).unwrap_err();
            assert!(err.to_string().contains("not allowed"), "{bad}: {err}");
        }
        let err = request("10.0.0.1", "/", &["nfsvers=3".into()], no_dns).unwrap_err();
        assert!(err.to_string().contains("4.1"), "{err}");
        for (server, path) in [
            ("", "/"),
            ("a,b", "/"),
            ("10.0.0.1", "relative"),
            ("10.0.0.1", "/a,b"),
        ] {
            assert!(
                request(server, path, &[], no_dns).is_err(),
                "{server:?} {path:?}"
            );
        }
        let unresolvable = request("nowhere.invalid", "/", &[], |_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such host",
            ))
        });
        assert!(
            unresolvable
                .unwrap_err()
                .to_string()
                .contains("nowhere.invalid")
        );
    }

    #[test]
    fn kernel_nfs_support_is_read_from_proc_filesystems() {
        assert!(kernel_has_nfs4(
            "nodev\tsysfs\nnodev\tnfs\nnodev\tnfs4\n\text4\n"
        ));
        assert!(!kernel_has_nfs4("nodev\tsysfs\n\text4\nnodev\tfuse\n"));
    }

    /// Here: a kernel without NFS gets a clear error before any mount call.
    /// On a kernel with NFS, an unreachable server ends within the bound.
    #[test]
    fn mount_is_refused_or_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let request = request(
            "192.0.2.1",
            "/",
            &["soft,timeo=10,retrans=1".into()],
            no_dns,
        )
        .unwrap();
        let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
        let err = mount(&request, dir.path(), Duration::from_secs(5)).unwrap_err();
        if kernel_has_nfs4(&filesystems) {
            assert!(err.to_string().contains("192.0.2.1"), "{err}");
        } else {
            assert!(err.to_string().contains("no NFS client"), "{err}");
            let command = format!(
                "mount -t nfs4 -o soft,timeo=10,retrans=1,addr=192.0.2.1 192.0.2.1:/ {}",
                dir.path().display()
            );
            assert!(err.to_string().contains(&command), "{err}");
            eprintln!(
                "mount_is_refused_or_bounded: this kernel has no NFS client; checked the refusal only"
            );
        }
    }

    #[test]
    fn the_command_line_shows_flags_then_options() {
        let mut options = efs_defaults();
        options.push("ro".into());
        let request = request("10.0.1.10", "/ballast/a", &options, no_dns).unwrap();
        assert_eq!(
            request.command(Path::new("/mnt/a")),
            "mount -t nfs4 -o ro,nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,addr=10.0.1.10 10.0.1.10:/ballast/a /mnt/a"
        );
    }

    #[test]
    fn the_mkdir_option_is_the_hosts_and_checked() {
        let mut options = efs_defaults();
        options.push("ballast-mkdir=1000:50:0750".into());
        let (kernel, mkdir) = host_options(&options).unwrap();
        assert_eq!(kernel, efs_defaults());
        assert_eq!(
            mkdir,
            Some(Mkdir {
                uid: 1000,
                gid: 50,
                mode: 0o750
            })
        );
        assert_eq!(
            host_options(&efs_defaults()).unwrap(),
            (efs_defaults(), None)
        );
        for bad in [
            "1000:50",
            "a:0:755",
            "0:0:789",
            "0:0:17777",
            "0:0:755:1",
            "-1:0:755",
        ] {
            let err = host_options(&[format!("ballast-mkdir={bad}")]).unwrap_err();
            assert!(err.to_string().contains("ballast-mkdir"), "{bad}: {err}");
        }
        // The kernel never sees it: were it passed on, the allow-list refuses it.
        let err = request("10.0.0.1", "/", &["ballast-mkdir=0:0:755".into()], no_dns).unwrap_err();
        assert!(err.to_string().contains("not allowed"), "{err}");
    }

    #[test]
    fn the_export_directory_is_made_with_its_owner_and_mode_only_when_missing() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let root = tempfile::tempdir().unwrap();
        let mkdir = Mkdir {
            uid: 1234,
            gid: 5678,
            mode: 0o2770,
        };
        assert!(create_export_dir(root.path(), "/ballast/vols/pg", &mkdir).unwrap());
        let parent = std::fs::metadata(root.path().join("ballast/vols")).unwrap();
        assert_eq!((parent.uid(), parent.mode() & 0o7777), (0, 0o755));
        let made = std::fs::metadata(root.path().join("ballast/vols/pg")).unwrap();
        assert_eq!(
            (made.uid(), made.gid(), made.permissions().mode() & 0o7777),
            (1234, 5678, 0o2770)
        );
        // Present already: untouched, even with other owner and mode asked.
        let other = Mkdir {
            uid: 1,
            gid: 1,
            mode: 0o700,
        };
        assert!(!create_export_dir(root.path(), "/ballast/vols/pg", &other).unwrap());
        let kept = std::fs::metadata(root.path().join("ballast/vols/pg")).unwrap();
        assert_eq!((kept.uid(), kept.mode() & 0o7777), (1234, 0o2770));
    }

    #[test]
    fn the_export_directory_never_leaves_the_root() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let mkdir = Mkdir {
            uid: 0,
            gid: 0,
            mode: 0o755,
        };
        let err = create_export_dir(root.path(), "/a/../../etc", &mkdir).unwrap_err();
        assert!(err.to_string().contains(".."), "{err}");
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        let err = create_export_dir(root.path(), "/link/vol", &mkdir).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
        assert!(!outside.path().join("vol").exists());
    }
}
