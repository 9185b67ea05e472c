//! `ballast doctor`: can this machine run Ballast? Storage tools, loop
//! devices, the kernel's filesystems (NFS for EFS, FUSE for S3), the plugin
//! socket directory, whether each configured backend loads, and for each
//! backend granted `ec2`: the region and endpoint in use, EC2 reachable,
//! this instance's zone among the region's, and what the credentials may
//! do (DryRun); for each backend granted `s3`: the region and endpoint in
//! use and S3 reachable (ListBuckets); for each backend granted `efs`: the
//! region and endpoint in use, EFS reachable (DescribeFileSystems) and
//! whether this kernel has the NFS 4 client EFS volumes mount with; for
//! each backend granted `http`: its allow-list, whether each credential
//! yields a token, and the instance identity it sees. Prints
//! one line per check, never a key; fails when a check that mounting needs
//! fails.

use std::path::Path;

use crate::capabilities::Capability;
use crate::capabilities::aws::AwsSettings;
use crate::capabilities::ec2::{self, Ec2};
use crate::capabilities::efs::Efs;
use crate::capabilities::instance;
use crate::capabilities::s3::S3;
use crate::config::{BackendConfig, Config};
use crate::host::Host;
use crate::runtime::backend::describe;
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::ec2::Action;
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
    let proc_filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    let block = may_serve_block_devices(&config);
    let mut checks = tool_checks(block);
    checks.push(loop_check(block));
    checks.extend(filesystem_checks(&proc_filesystems));
    checks.push(socket_dir_check(&config.plugin.socket_dir));
    for (name, backend) in granted(&config, Capability::Ec2) {
        checks.extend(ebs_backend_checks(name, backend).await);
    }
    for (name, backend) in granted(&config, Capability::S3) {
        checks.extend(s3_backend_checks(name, backend).await);
    }
    for (name, backend) in granted(&config, Capability::Efs) {
        checks.extend(efs_backend_checks(name, backend, &proc_filesystems).await);
    }
    for (name, backend) in granted(&config, Capability::Http) {
        checks.extend(http_backend_checks(name, backend).await);
    }
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

/// Whether a configured backend may hand the host block devices to format
/// and mount: one granted `local-disk`, `ec2` or `http` (gcepd, third
/// parties). Backends granted only `s3` or `efs` (FUSE, NFS) need neither
/// the storage tools nor loop devices.
fn may_serve_block_devices(config: &Config) -> bool {
    config.backends.values().any(|b| {
        b.capabilities
            .iter()
            .any(|c| ["local-disk", "ec2", "http"].contains(&c.as_str()))
    })
}

/// The storage tools; required when block devices may be served.
fn tool_checks(required: bool) -> Vec<Check> {
    storage::check_tools()
        .into_iter()
        .map(|(tool, path)| Check {
            name: format!("tool {tool}"),
            ok: path.is_some(),
            required,
            detail: path.map_or(
                "missing: install e2fsprogs, xfsprogs, util-linux".into(),
                |p| p.display().to_string(),
            ),
        })
        .collect()
}

/// Loop devices; required when block devices may be served.
fn loop_check(required: bool) -> Check {
    let ok = Path::new("/dev/loop-control").exists();
    Check {
        name: "loop devices".into(),
        ok,
        required,
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

/// The backends granted `cap` (a section of checks each).
fn granted(config: &Config, cap: Capability) -> impl Iterator<Item = (&str, &BackendConfig)> {
    config
        .backends
        .iter()
        .filter(move |(_, backend)| backend.granted().is_ok_and(|g| g.contains(&cap)))
        .map(|(name, backend)| (name.as_str(), backend))
}

async fn ebs_backend_checks(name: &str, backend: &BackendConfig) -> Vec<Check> {
    let ec2 = match Ec2::from_config(name, backend) {
        Ok(ec2) => ec2,
        Err(e) => return vec![ebs_check(name, "aws config", Err(e.to_string()))],
    };
    let region = ec2.region().await;
    let mut checks = vec![ebs_check(
        name,
        "region",
        region_detail(ec2.settings(), region, "EBS", ""),
    )];
    let zones = ec2.describe_availability_zones().await;
    checks.push(ebs_check(
        name,
        "EC2 reachable",
        zones
            .as_ref()
            .map(|z| format!("zones {}", z.join(", ")))
            .map_err(describe),
    ));
    let Ok(zones) = zones else {
        return checks; // every DryRun would fail the same way
    };
    if backend
        .granted()
        .is_ok_and(|g| g.contains(&Capability::Instance))
    {
        checks.push(instance_zone_check(name, backend, &zones).await);
    }
    for action in ec2::ALL_ACTIONS {
        checks.push(permission_check(
            name,
            action,
            ec2.check_permission(action).await,
        ));
    }
    checks
}

/// A required check of backend `name`'s EBS set-up.
fn ebs_check(name: &str, what: &str, outcome: Result<String, String>) -> Check {
    section_check("ebs", name, what, outcome)
}

/// A required check of backend `name`'s set-up in one section
/// ("ebs", "s3" or "efs").
fn section_check(section: &str, name: &str, what: &str, outcome: Result<String, String>) -> Check {
    Check {
        name: format!("{section} {name}: {what}"),
        ok: outcome.is_ok(),
        required: true,
        detail: outcome.unwrap_or_else(|e| e),
    }
}

/// "<region> at <endpoint><note>; credentials: <where from>" (never a
/// key), or what to set when the client found no region (`prefix` names
/// the REX-Ray settings, e.g. "EBS" for EBS_REGION).
fn region_detail(
    settings: &AwsSettings,
    region: Option<String>,
    prefix: &str,
    note: &str,
) -> Result<String, String> {
    let endpoint = settings.endpoint.as_deref().unwrap_or("AWS's endpoint");
    match region {
        Some(region) => Ok(format!(
            "{region} at {endpoint}{note}; credentials: {}",
            settings.credentials_source()
        )),
        None => Err(format!(
            "no region: set aws.region or {prefix}_REGION (or AWS_REGION)"
        )),
    }
}

/// Region, endpoint and credential source of backend `name`'s S3 client
/// (never a key), and whether ListBuckets answers.
async fn s3_backend_checks(name: &str, backend: &BackendConfig) -> Vec<Check> {
    let s3 = match S3::from_config(name, backend) {
        Ok(s3) => s3,
        Err(e) => return vec![s3_check(name, "aws config", Err(e.to_string()))],
    };
    let style = if s3.path_style() {
        " (path-style)"
    } else {
        " (virtual-hosted)"
    };
    let region = region_detail(s3.settings(), s3.region().await, "S3FS", style);
    let reachable = s3
        .list_buckets()
        .await
        .map(|b| format!("ListBuckets: {} buckets", b.len()))
        .map_err(|e| describe(&e));
    vec![
        s3_check(name, "region", region),
        s3_check(name, "S3 reachable", reachable),
    ]
}

/// A required check of backend `name`'s S3 set-up.
fn s3_check(name: &str, what: &str, outcome: Result<String, String>) -> Check {
    section_check("s3", name, what, outcome)
}

/// Region, endpoint and credential source of backend `name`'s EFS client
/// (never a key), whether DescribeFileSystems answers, and whether this
/// kernel can mount what EFS serves.
async fn efs_backend_checks(
    name: &str,
    backend: &BackendConfig,
    proc_filesystems: &str,
) -> Vec<Check> {
    let nfs = nfs_client_check(name, proc_filesystems);
    let efs = match Efs::from_config(name, backend) {
        Ok(efs) => efs,
        Err(e) => {
            return vec![
                section_check("efs", name, "aws config", Err(e.to_string())),
                nfs,
            ];
        }
    };
    let region = region_detail(efs.settings(), efs.region().await, "EFS", "");
    let reachable = efs
        .describe_file_systems(None, None)
        .await
        .map(|f| format!("DescribeFileSystems: {} file systems", f.len()))
        .map_err(|e| describe(&e));
    vec![
        section_check("efs", name, "region", region),
        section_check("efs", name, "EFS reachable", reachable),
        nfs,
    ]
}

/// Whether this kernel has the NFS 4 client that EFS volumes (and
/// `purge-directory`) mount with; a backend granted `efs` needs it.
fn nfs_client_check(name: &str, proc_filesystems: &str) -> Check {
    let outcome = if storage::nfs::kernel_has_nfs4(proc_filesystems) {
        Ok("nfs4 in /proc/filesystems: EFS volumes can be mounted".to_string())
    } else {
        Err(
            "this kernel has no NFS 4 client (no nfs4 in /proc/filesystems): EFS volumes \
             cannot be mounted on this host; load the nfs kernel module (modprobe nfs; on \
             Debian/Ubuntu cloud kernels it ships in linux-modules-extra) or run a kernel \
             built with CONFIG_NFS_V4"
                .to_string(),
        )
    };
    section_check("efs", name, "kernel NFS client", outcome)
}

async fn instance_zone_check(name: &str, backend: &BackendConfig, zones: &[String]) -> Check {
    let identity = match instance::Source::new(&backend.instance) {
        Ok(source) => source.identity().await.map_err(|e| describe(&e)),
        Err(e) => Err(format!("{e:#}")),
    };
    let outcome = identity.and_then(|id| match id.zone {
        Some(zone) if zones.contains(&zone) => Ok(format!("{} in {zone}", id.instance_id)),
        Some(zone) => Err(format!(
            "{} is in {zone}, which is not among the region's zones",
            id.instance_id
        )),
        None => Err(format!("{} has no zone", id.instance_id)),
    });
    ebs_check(name, "instance zone", outcome)
}

/// Backend `name`'s `http` policy, a token from each of its credentials
/// (never shown) and the identity its `instance` source gives.
async fn http_backend_checks(name: &str, backend: &BackendConfig) -> Vec<Check> {
    let http = match crate::capabilities::http::Http::from_config(name, backend) {
        Ok(http) => http,
        Err(e) => return vec![section_check("http", name, "config", Err(format!("{e:#}")))],
    };
    let mut checks = vec![section_check(
        "http",
        name,
        "allow-list",
        Ok(http.policy_summary()),
    )];
    for (credential, outcome) in http.check_credentials().await {
        checks.push(section_check(
            "http",
            name,
            &format!("credential {credential}"),
            outcome,
        ));
    }
    let identity = match instance::Source::new(&backend.instance) {
        Ok(source) => match (source.identity().await, source.details().await) {
            (Ok(id), Ok(details)) => Ok(format!(
                "{} {} in {}{}{}",
                id.provider,
                id.instance_id,
                id.zone.as_deref().unwrap_or("no zone"),
                details
                    .name
                    .map(|n| format!(", name {n}"))
                    .unwrap_or_default(),
                details
                    .project
                    .map(|p| format!(", project {p}"))
                    .unwrap_or_default(),
            )),
            (Err(e), _) | (_, Err(e)) => Err(describe(&e)),
        },
        Err(e) => Err(format!("{e:#}")),
    };
    checks.push(section_check("http", name, "instance", identity));
    checks
}

/// One action's DryRun answer; a denied or unknown required action fails.
fn permission_check(name: &str, action: Action, allowed: Result<bool, BackendError>) -> Check {
    let required = ec2::REQUIRED_ACTIONS.contains(&action);
    let detail = match &allowed {
        Ok(true) => "allowed".to_string(),
        Ok(false) if required => "denied (UnauthorizedOperation): the backend needs it".into(),
        Ok(false) => "denied (UnauthorizedOperation)".into(),
        Err(e) => format!("could not check: {}", describe(e)),
    };
    Check {
        name: format!("ebs {name}: {}", ec2::action_name(action)),
        ok: matches!(allowed, Ok(true)),
        required,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_backends_that_may_serve_block_devices_need_the_storage_tools() {
        use crate::config::managed;
        let env = std::collections::BTreeMap::new();
        for (backend, block) in [
            ("local", true),
            ("ebs", true),
            ("gcepd", true),
            ("s3fs", false),
            ("efs", false),
        ] {
            let config = managed::config(backend, &env).unwrap();
            assert_eq!(may_serve_block_devices(&config), block, "{backend}");
        }
        assert!(!tool_checks(false).iter().any(|c| c.required));
        assert!(!loop_check(false).required);
    }

    #[test]
    fn a_denied_required_action_fails_and_an_optional_one_warns() {
        let denied = permission_check("ebs", Action::AttachVolume, Ok(false));
        assert!(!denied.ok && denied.required, "{}", denied.detail);
        assert_eq!(denied.name, "ebs ebs: AttachVolume");
        let optional = permission_check("ebs", Action::CreateSnapshot, Ok(false));
        assert!(!optional.ok && !optional.required);
        let allowed = permission_check("ebs", Action::DescribeVolumes, Ok(true));
        assert!(allowed.ok);
        assert_eq!(allowed.detail, "allowed");
        let unknown = permission_check(
            "ebs",
            Action::DeleteVolume,
            Err(BackendError::Unavailable(
                "DeleteVolume: Throttling: slow down".into(),
            )),
        );
        assert!(!unknown.ok && unknown.required);
        assert!(unknown.detail.contains("Throttling"), "{}", unknown.detail);
    }

    #[test]
    fn efs_needs_the_kernels_nfs_client_and_says_what_to_load() {
        let missing = nfs_client_check("efs", "nodev\tsysfs\n\text4\n");
        assert!(!missing.ok && missing.required);
        assert_eq!(missing.name, "efs efs: kernel NFS client");
        assert!(
            missing
                .detail
                .contains("EFS volumes cannot be mounted on this host"),
            "{}",
            missing.detail
        );
        assert!(
            missing.detail.contains("modprobe nfs"),
            "{}",
            missing.detail
        );
        assert!(
            missing.detail.contains("CONFIG_NFS_V4"),
            "{}",
            missing.detail
        );
        let present = nfs_client_check("efs", "nodev\tnfs\nnodev\tnfs4\n");
        assert!(present.ok, "{}", present.detail);
    }

    #[test]
    fn the_region_line_names_endpoint_and_credential_source_never_a_key() {
        let table = crate::config::AwsConfig {
            endpoint: Some("http://127.0.0.1:4566".into()),
            access_key: Some("AKIDVISIBLE".into()),
            secret_key: Some("hunter2-secret".into()),
            ..Default::default()
        };
        let settings = AwsSettings::resolve(&table, &Default::default(), "EFS").unwrap();
        let line = region_detail(&settings, Some("eu-west-1".into()), "EFS", "").unwrap();
        assert_eq!(
            line,
            "eu-west-1 at http://127.0.0.1:4566; credentials: static keys from the config"
        );
        assert!(!line.contains("hunter2"), "{line}");
        let none = region_detail(&settings, None, "EFS", "").unwrap_err();
        assert!(none.contains("EFS_REGION"), "{none}");
    }

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
