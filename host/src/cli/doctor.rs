//! `ballast doctor`: can this machine run Ballast? Storage tools, loop
//! devices, the kernel's filesystems (NFS for EFS, FUSE for S3), the plugin
//! socket directory, and whether each configured backend loads. Prints one
//! line per check; fails when a check that mounting needs fails.

use std::path::Path;

use crate::config::Config;
use crate::host::Host;
use crate::storage;

/// One check's outcome.
struct Check {
    name: String,
    ok: bool,
    /// Needed to mount volumes at all (else only informative).
    required: bool,
    detail: String,
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let mut checks = tool_checks();
    checks.push(loop_check());
    checks.extend(filesystem_checks(
        &std::fs::read_to_string("/proc/filesystems").unwrap_or_default(),
    ));
    checks.push(socket_dir_check(&config.plugin.socket_dir));
    checks.extend(backend_checks(config).await);
    for check in &checks {
        let mark = match (check.ok, check.required) {
            (true, _) => "ok  ",
            (false, true) => "FAIL",
            (false, false) => "warn",
        };
        println!("{mark}  {:<28} {}", check.name, check.detail);
    }
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.required && !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("required checks failed: {}", failed.join(", "))
    }
}

fn tool_checks() -> Vec<Check> {
    storage::check_tools()
        .into_iter()
        .map(|(tool, path)| Check {
            name: format!("tool {tool}"),
            ok: path.is_some(),
            required: true,
            detail: path.map_or(
                "missing: install e2fsprogs, xfsprogs, util-linux".into(),
                |p| p.display().to_string(),
            ),
        })
        .collect()
}

fn loop_check() -> Check {
    let ok = Path::new("/dev/loop-control").exists();
    Check {
        name: "loop devices".into(),
        ok,
        required: true,
        detail: if ok {
            "/dev/loop-control".into()
        } else {
            "no /dev/loop-control (modprobe loop)".into()
        },
    }
}

/// What the kernel can mount, from the text of /proc/filesystems.
fn filesystem_checks(proc_filesystems: &str) -> Vec<Check> {
    let has = |fs: &str| {
        proc_filesystems
            .lines()
            .any(|l| l.split_whitespace().last() == Some(fs))
    };
    [
        ("ext4", true, "local and block volumes"),
        ("xfs", false, "fstype=xfs"),
        ("nfs4", false, "EFS volumes"),
        ("fuse", false, "S3 volumes"),
    ]
    .into_iter()
    .map(|(fs, required, used_for)| Check {
        name: format!("kernel {fs}"),
        ok: has(fs),
        required,
        detail: if has(fs) {
            format!("for {used_for}")
        } else {
            format!("not in /proc/filesystems: {used_for} cannot mount here")
        },
    })
    .collect()
}

fn socket_dir_check(dir: &Path) -> Check {
    let probe = std::fs::create_dir_all(dir).and_then(|()| {
        let file = dir.join(format!(".ballast-doctor-{}", std::process::id()));
        std::fs::write(&file, b"")?;
        std::fs::remove_file(&file)
    });
    Check {
        name: "plugin socket dir".into(),
        ok: probe.is_ok(),
        required: true,
        detail: match probe {
            Ok(()) => format!("{} is writable", dir.display()),
            Err(e) => format!("{}: {e}", dir.display()),
        },
    }
}

async fn backend_checks(config: Config) -> Vec<Check> {
    let names: Vec<String> = config.backends.keys().cloned().collect();
    let mut checks = Vec::new();
    for name in names {
        let loaded = Host::load(config.clone(), Some(&name)).await;
        checks.push(Check {
            name: format!("backend {name}"),
            ok: loaded.is_ok(),
            required: true,
            detail: match loaded {
                Ok(host) => {
                    let backend = &host.backends[&name];
                    let caps: Vec<&str> = backend
                        .module()
                        .capabilities
                        .iter()
                        .map(|c| c.name())
                        .collect();
                    format!(
                        "loads: {} {} (imports {})",
                        backend.info().name,
                        backend.info().version,
                        caps.join(", ")
                    )
                }
                Err(e) => format!("{e:#}"),
            },
        });
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_filesystems_are_read_from_proc_filesystems() {
        let checks = filesystem_checks("nodev\tsysfs\n\text4\nnodev\tfuse\n");
        let ok: Vec<(&str, bool)> = checks.iter().map(|c| (c.name.as_str(), c.ok)).collect();
        assert_eq!(
            ok,
            [
                ("kernel ext4", true),
                ("kernel xfs", false),
                ("kernel nfs4", false),
                ("kernel fuse", true)
            ]
        );
        assert!(checks[2].detail.contains("EFS volumes cannot mount here"));
    }
}
