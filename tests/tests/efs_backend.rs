//! The EFS backend end to end, through the plugin socket, against cloudsim:
//! every `ballast serve` here is one simulated instance (i-a and i-b in
//! us-east-1a, i-c in us-east-1b), serving `builtin:efs`.
//!
//! This kernel has no NFS client, so a Mount goes as far as the host's
//! mount(2) and fails there: the tests check everything up to it — the
//! mount target made in the right zone and the exact mount the host would
//! issue, which its error shows — and that a failed mount leaves nothing
//! recorded. On a kernel with NFS the same Mount times out against the
//! simulated address, and the tests check the address only.

use std::collections::BTreeSet;

use ballast_tests::cloud::{PluginCalls, SimCloud};
use ballast_tests::serve::BallastServe;
use cloudsim::efs::{AccessPoint, FileSystem, MountTarget};

const EFS_OPTIONS: &str =
    "nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport";

fn kernel_has_nfs() -> bool {
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    ballast::storage::nfs::kernel_has_nfs4(&filesystems)
}

fn tag_of<'a>(tags: &'a [cloudsim::efs::Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

/// The access points of volume `name`.
fn access_points_named(cloud: &SimCloud, name: &str) -> Vec<AccessPoint> {
    let efs = cloud.efs();
    efs.access_points
        .values()
        .filter(|a| tag_of(&a.tags, "ballast.volume") == Some(name))
        .cloned()
        .collect()
}

/// The file systems of volume `name` (its own, in file system mode).
fn file_systems_named(cloud: &SimCloud, name: &str) -> Vec<FileSystem> {
    let efs = cloud.efs();
    efs.file_systems
        .values()
        .filter(|f| tag_of(&f.tags, "ballast.volume") == Some(name))
        .cloned()
        .collect()
}

fn mount_targets_of(cloud: &SimCloud, file_system_id: &str) -> Vec<MountTarget> {
    let efs = cloud.efs();
    efs.mount_targets_of(file_system_id)
        .into_iter()
        .cloned()
        .collect()
}

fn only<T: std::fmt::Debug>(found: Vec<T>, what: &str) -> T {
    assert_eq!(found.len(), 1, "{what}: {found:#?}");
    found.into_iter().next().unwrap()
}

fn status<'a>(volume: &'a serde_json::Value, key: &str) -> &'a str {
    volume["Status"][key].as_str().unwrap_or_default()
}

/// Mount `name` on `host`: here it must fail at the kernel's NFS mount,
/// naming `<ip>:<export>` (and, without NFS, the exact command); nothing
/// may stay recorded as mounted.
fn mount_reaches_the_kernel(host: &BallastServe, name: &str, ip: &str, export: &str) {
    let err = host.mount(name, "c0ffee").unwrap_err();
    let source = format!("{ip}:{export}");
    assert!(err.contains(&source), "Mount error names {source}: {err}");
    if !kernel_has_nfs() {
        let target = host.mountpoint(name);
        let command = format!(
            "mount -t nfs4 -o {EFS_OPTIONS},addr={ip} {source} {}",
            target.display()
        );
        assert!(
            err.contains(&command),
            "the exact mount: {command}\nin: {err}"
        );
        assert!(err.contains("no NFS client"), "{err}");
    }
    let volume = host.get(name).unwrap();
    assert!(
        volume["Mountpoint"].as_str().unwrap_or_default().is_empty(),
        "a failed mount is not recorded: {volume:#}"
    );
}

/// A file system for access point volumes, made as an operator would
/// (outside Ballast), available.
fn shared_file_system(cloud: &SimCloud) -> String {
    cloud.create_file_system("shared-by-operator")
}

#[test]
fn access_point_volumes_get_their_directory_and_a_mount_target_per_zone() {
    let Some(cloud) = SimCloud::start("efs access points", |_| {}) else {
        return;
    };
    let fs = shared_file_system(&cloud);
    let settings = [("EFS_FILESYSTEMID", fs.as_str())];
    let a = cloud.efs_host("i-a", "ap", &settings);
    let c = cloud.efs_host("i-c", "ap", &settings);
    let name = "pgshared";

    a.create(
        name,
        &[("uid", "1000"), ("gid", "1001"), ("permissions", "750")],
    )
    .unwrap();
    let ap = only(access_points_named(&cloud, name), "access points");
    assert_eq!(ap.file_system_id, fs);
    assert_eq!(ap.root_directory.path.as_deref(), Some("/ballast/pgshared"));
    let info = ap
        .root_directory
        .creation_info
        .clone()
        .expect("creation info");
    assert_eq!(
        (info.owner_uid, info.owner_gid, info.permissions.as_str()),
        (1000, 1001, "750")
    );
    let user = ap.posix_user.clone().expect("uid/gid given: a POSIX user");
    assert_eq!((user.uid, user.gid), (1000, 1001));
    assert_eq!(
        tag_of(&ap.tags, "ballast.cluster"),
        Some(SimCloud::cluster_tag("ap").as_str())
    );
    assert!(
        mount_targets_of(&cloud, &fs).is_empty(),
        "create makes no mount target"
    );

    // Idempotent from any host; other options are a conflict naming them.
    c.create(
        name,
        &[("uid", "1000"), ("gid", "1001"), ("permissions", "750")],
    )
    .unwrap();
    assert_eq!(
        only(access_points_named(&cloud, name), "after a repeat").id,
        ap.id
    );
    let err = c.create(name, &[("uid", "2000")]).unwrap_err();
    assert!(err.contains("uid"), "{err}");
    let got = c.get(name).unwrap();
    assert_eq!(status(&got, "accesspointid"), ap.id, "{got:#}");
    assert_eq!(status(&got, "filesystemid"), fs, "{got:#}");

    // Mount on i-a: the zone's mount target is created in i-a's subnet.
    mount_reaches_the_kernel_after(&cloud, &a, name, &fs, "us-east-1a", "/ballast/pgshared");
    // i-c is in another zone: it gets its own zone's mount target.
    mount_reaches_the_kernel_after(&cloud, &c, name, &fs, "us-east-1b", "/ballast/pgshared");
    let zones: BTreeSet<String> = mount_targets_of(&cloud, &fs)
        .into_iter()
        .map(|m| m.zone)
        .collect();
    assert_eq!(
        zones,
        BTreeSet::from(["us-east-1a".into(), "us-east-1b".into()])
    );
    // A second mount on i-a reuses its zone's target.
    mount_reaches_the_kernel_after(&cloud, &a, name, &fs, "us-east-1a", "/ballast/pgshared");
    assert_eq!(mount_targets_of(&cloud, &fs).len(), 2);

    // Remove deletes the access point; the file system and targets stay.
    a.remove(name).unwrap();
    assert!(access_points_named(&cloud, name).is_empty());
    assert!(cloud.efs().file_systems.contains_key(&fs));
    assert_eq!(mount_targets_of(&cloud, &fs).len(), 2);
    assert!(
        a.get(name).unwrap().is_null(),
        "Get after Remove: no volume"
    );
}

/// Mount `name` on `host` (in `zone`) and check the mount target it made or
/// used: available, in the zone's subnet, and the address the host mounts.
fn mount_reaches_the_kernel_after(
    cloud: &SimCloud,
    host: &BallastServe,
    name: &str,
    fs: &str,
    zone: &str,
    export: &str,
) {
    // The mount target appears during the Mount; its address is only known
    // after. Mount, then look, then check the error named that address.
    let err = host.mount(name, "probe").unwrap_err();
    let target = only(
        mount_targets_of(cloud, fs)
            .into_iter()
            .filter(|m| m.zone == zone)
            .collect(),
        "mount targets in the zone",
    );
    assert_eq!(target.life_cycle_state, "available");
    assert_eq!(target.subnet_id, cloudsim::ids::subnet_for_zone(zone));
    assert!(
        err.contains(&format!("{}:{export}", target.ip_address)),
        "{err}"
    );
    mount_reaches_the_kernel(host, name, &target.ip_address, export);
}

#[test]
fn file_system_volumes_carry_their_options_and_go_entirely_on_remove() {
    let Some(cloud) = SimCloud::start("efs file systems", |_| {}) else {
        return;
    };
    let a = cloud.efs_host("i-a", "fsmode", &[]);
    a.create("maxio", &[("volumetype", "maxIO"), ("encrypted", "true")])
        .unwrap();
    let maxio = only(file_systems_named(&cloud, "maxio"), "file systems");
    assert_eq!(maxio.performance_mode, "maxIO");
    assert!(maxio.encrypted);
    assert_eq!(maxio.life_cycle_state, "available");
    assert_eq!(
        tag_of(&maxio.tags, "Name"),
        Some(format!("{}/maxio", SimCloud::cluster_tag("fsmode")).as_str())
    );

    a.create(
        "provisioned",
        &[
            ("throughputmode", "provisioned"),
            ("provisionedthroughput", "64"),
        ],
    )
    .unwrap();
    let provisioned = only(file_systems_named(&cloud, "provisioned"), "file systems");
    assert_eq!(
        (
            provisioned.throughput_mode.as_str(),
            provisioned.provisioned_throughput_in_mibps
        ),
        ("provisioned", Some(64.0))
    );

    a.create("onezone", &[("zone", "us-east-1b")]).unwrap();
    let onezone = only(file_systems_named(&cloud, "onezone"), "file systems");
    assert_eq!(
        onezone.availability_zone_name.as_deref(),
        Some("us-east-1b")
    );
    // i-a is in us-east-1a: a One Zone file system elsewhere cannot serve it.
    let err = a.mount("onezone", "x").unwrap_err();
    assert!(err.contains("us-east-1b"), "{err}");
    assert!(mount_targets_of(&cloud, &onezone.id).is_empty());

    // The whole file system is the volume: the export is "/".
    mount_reaches_the_kernel_after(&cloud, &a, "maxio", &maxio.id, "us-east-1a", "/");

    for name in ["maxio", "provisioned", "onezone"] {
        a.remove(name).unwrap();
        assert!(
            file_systems_named(&cloud, name).is_empty(),
            "{name} deleted"
        );
    }
    assert!(
        cloud.efs().mount_targets.is_empty(),
        "mount targets go with their file system"
    );
}

#[test]
fn bad_input_is_refused_before_anything_is_made() {
    let Some(cloud) = SimCloud::start("efs bad input", |_| {}) else {
        return;
    };
    let fs = shared_file_system(&cloud);
    let ap_host = cloud.efs_host("i-a", "bad", &[("EFS_FILESYSTEMID", fs.as_str())]);
    let fs_host = cloud.efs_host("i-b", "bad", &[]);
    for (host, options, named) in [
        (&ap_host, vec![("size", "10")], "size"),
        (&ap_host, vec![("permissions", "999")], "permissions"),
        (&ap_host, vec![("uid", "-1")], "uid"),
        (&ap_host, vec![("perfmode", "maxIO")], "perfmode"),
        (&fs_host, vec![("perfmode", "turbo")], "perfmode"),
        (
            &fs_host,
            vec![("throughputmode", "provisioned")],
            "provisionedthroughput",
        ),
        (&fs_host, vec![("uid", "1000")], "uid"),
    ] {
        let err = host.create("refused", &options).unwrap_err();
        assert!(
            err.to_lowercase().contains(named),
            "{options:?}: error names {named}: {err}"
        );
    }
    let efs = cloud.efs();
    assert!(efs.access_points.is_empty(), "{:#?}", efs.access_points);
    assert_eq!(efs.file_systems.len(), 1, "only the operator's file system");

    let err = fs_host.mount("never-created", "x").unwrap_err();
    assert!(err.contains("never-created"), "{err}");
    // A setting the backend does not know stops the host at start.
    let odd = cloud.efs_config("i-c", "bad", &[("EFS_NOSUCHTHING", "1")]);
    let Err(refusal) = BallastServe::try_start(odd) else {
        panic!("a host with an unknown EFS setting started");
    };
    assert!(
        refusal.contains(r#"unknown setting "EFS_NOSUCHTHING""#),
        "{refusal}"
    );
    assert_eq!(
        refusal.matches("unknown setting").count(),
        1,
        "said once: {refusal}"
    );
}

#[test]
fn hosts_creating_at_once_make_one_volume() {
    let Some(cloud) = SimCloud::start("efs concurrent create", |_| {}) else {
        return;
    };
    let fs = shared_file_system(&cloud);
    let settings = [("EFS_FILESYSTEMID", fs.as_str())];
    let ap_hosts: Vec<_> = ["i-a", "i-b", "i-c"]
        .iter()
        .map(|i| cloud.efs_host(i, "race", &settings))
        .collect();
    let fs_hosts: Vec<_> = ["i-a", "i-b", "i-c"]
        .iter()
        .map(|i| cloud.efs_host(i, "race-fs", &[]))
        .collect();
    std::thread::scope(|s| {
        for host in ap_hosts.iter().chain(&fs_hosts) {
            s.spawn(move || host.create("raced", &[]).unwrap());
        }
    });
    let ap = only(access_points_named(&cloud, "raced"), "access points").clone();
    assert_eq!(
        tag_of(&ap.tags, "ballast.cluster"),
        Some(SimCloud::cluster_tag("race").as_str())
    );
    let own = only(file_systems_named(&cloud, "raced"), "file systems");
    assert_eq!(
        tag_of(&own.tags, "ballast.cluster"),
        Some(SimCloud::cluster_tag("race-fs").as_str())
    );
    for host in &ap_hosts {
        assert_eq!(status(&host.get("raced").unwrap(), "accesspointid"), ap.id);
    }
    for host in &fs_hosts {
        assert_eq!(status(&host.get("raced").unwrap(), "filesystemid"), own.id);
    }
}

#[test]
fn throttling_and_slow_mount_targets_end_in_success_or_a_clean_error() {
    let Some(cloud) = SimCloud::start("efs faults", |config| {
        config.delays.efs = std::time::Duration::from_millis(1500);
    }) else {
        return;
    };
    let fs = shared_file_system(&cloud);
    let a = cloud.efs_host("i-a", "faults", &[("EFS_FILESYSTEMID", fs.as_str())]);

    // Two throttled answers: the host's SDK retries them.
    cloud.faults(serde_json::json!({"fail_next": [
        {"action": "CreateAccessPoint", "count": 2, "code": "ThrottlingException", "status": 429}
    ]}));
    a.create("retried", &[]).unwrap();
    assert_eq!(
        cloud.counters()["efs:CreateAccessPoint"],
        3,
        "{:?}",
        cloud.counters()
    );
    only(access_points_named(&cloud, "retried"), "access points");

    // Throttled on every try: a clean transient error, nothing made. (A
    // host that gives up after 3 attempts, so that the SDK's backoff does
    // not run into the 30 s operation timeout first.)
    let mut config = cloud.efs_config("i-b", "faults", &[("EFS_FILESYSTEMID", fs.as_str())]);
    config.backend_toml.push_str("aws = { max_attempts = 3 }\n");
    let b = BallastServe::start(config);
    cloud.faults(serde_json::json!({"fail_next": [
        {"action": "CreateAccessPoint", "count": 1000, "code": "ThrottlingException", "status": 429}
    ]}));
    let err = b.create("throttled", &[]).unwrap_err();
    assert!(err.contains("ThrottlingException"), "{err}");
    assert!(err.contains("retry"), "transient, said so: {err}");
    assert!(access_points_named(&cloud, "throttled").is_empty());
    cloud.clear_faults();
    a.create("throttled", &[]).unwrap();
    only(
        access_points_named(&cloud, "throttled"),
        "after the throttling",
    );

    // The mount target takes 1.5 s to become available: Mount waits for it.
    mount_reaches_the_kernel_after(&cloud, &a, "retried", &fs, "us-east-1a", "/ballast/retried");

    // A host that waits less than that gets a clean error naming the state;
    // the next Mount finds the target available and goes on.
    let c = cloud.efs_host(
        "i-c",
        "faults",
        &[
            ("EFS_FILESYSTEMID", fs.as_str()),
            ("EFS_STATUSTIMEOUT", "200ms"),
        ],
    );
    let err = c.mount("retried", "x").unwrap_err();
    assert!(err.contains("creating"), "{err}");
    std::thread::sleep(std::time::Duration::from_millis(2000));
    mount_reaches_the_kernel_after(&cloud, &c, "retried", &fs, "us-east-1b", "/ballast/retried");
}

#[test]
fn purge_on_remove_needs_nfs_and_keeps_the_access_point_until_it_worked() {
    let Some(cloud) = SimCloud::start("efs purge", |_| {}) else {
        return;
    };
    let fs = shared_file_system(&cloud);
    let a = cloud.efs_host("i-a", "purge", &[("EFS_FILESYSTEMID", fs.as_str())]);
    a.create("scratch", &[("purge", "true")]).unwrap();
    let ap = only(access_points_named(&cloud, "scratch"), "access points");
    // The purge mounts the file system's root over this zone's target.
    mount_reaches_the_kernel_after(&cloud, &a, "scratch", &fs, "us-east-1a", "/ballast/scratch");
    if kernel_has_nfs() {
        eprintln!(
            "purge: this kernel has NFS, but no server answers at the simulated address; checked the refusal path only"
        );
    }
    let err = a.remove("scratch").unwrap_err();
    assert!(
        err.contains("NFS") || err.contains("nfs"),
        "the purge needs an NFS mount: {err}"
    );
    assert_eq!(
        only(access_points_named(&cloud, "scratch"), "kept").id,
        ap.id,
        "nothing half-done: the access point stays when the purge fails"
    );
}

#[test]
fn settings_and_options_choose_where_a_volume_goes() {
    let Some(cloud) = SimCloud::start("efs placement", |_| {}) else {
        return;
    };
    let fs = shared_file_system(&cloud);
    let teams = cloud.efs_host(
        "i-a",
        "place",
        &[
            ("EFS_FILESYSTEMID", fs.as_str()),
            ("EFS_BASEPATH", "/teams/blue"),
        ],
    );
    teams.create("wiki", &[]).unwrap();
    let ap = only(access_points_named(&cloud, "wiki"), "access points");
    assert_eq!(ap.root_directory.path.as_deref(), Some("/teams/blue/wiki"));
    assert!(ap.posix_user.is_none(), "no uid/gid given: no POSIX user");
    let info = ap.root_directory.creation_info.expect("creation info");
    assert_eq!(
        (info.owner_uid, info.owner_gid, info.permissions.as_str()),
        (0, 0, "755")
    );

    // `mode=filesystem` on a host with a file system id: a file system.
    teams.create("own", &[("mode", "filesystem")]).unwrap();
    assert!(access_points_named(&cloud, "own").is_empty());
    only(file_systems_named(&cloud, "own"), "file systems");

    // `filesystemid=` on a host without one: an access point there.
    let plain = cloud.efs_host("i-b", "place", &[]);
    plain
        .create("pinned", &[("filesystemid", fs.as_str())])
        .unwrap();
    let pinned = only(access_points_named(&cloud, "pinned"), "access points");
    assert_eq!(pinned.file_system_id, fs);
    assert_eq!(
        pinned.root_directory.path.as_deref(),
        Some("/ballast/pinned")
    );
    // Every host of the cluster sees all three, whatever its settings.
    let names: BTreeSet<String> = plain.request("List", serde_json::json!({})).unwrap()["Volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["wiki".into(), "own".into(), "pinned".into()])
    );
}
