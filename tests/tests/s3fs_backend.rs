//! The s3fs backend end to end, through the plugin socket of a `ballast
//! serve`, against s3s-fs (and moto for the lifecycle, as a second
//! opinion). Results are checked in the bucket with a raw SDK client.
//! A missing server skips.

use std::process::Command;

use ballast_tests::ballast_bin;
use ballast_tests::cloud::{PluginCalls, write_synced};
use ballast_tests::s3::S3Server;
use ballast_tests::serve::BallastServe;

const MARKER: &str = ".ballast-volume.json";

/// A `ballast serve` with the s3fs backend on `server`, plus `settings`.
fn host(server: &S3Server, tag: &str, settings: &[(&str, &str)]) -> BallastServe {
    BallastServe::start(server.s3fs_config(tag, settings))
}

fn status<'a>(volume: &'a serde_json::Value, key: &str) -> &'a str {
    volume["Status"][key].as_str().unwrap_or_default()
}

fn names(host: &BallastServe) -> Vec<String> {
    let answer = host.request("List", serde_json::json!({})).unwrap();
    let mut names: Vec<String> = answer["Volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// `ballast volume rm [--force] <name>` with the host's config.
fn volume_rm(host: &BallastServe, name: &str, force: bool) -> Result<(), String> {
    let mut command = Command::new(ballast_bin());
    command
        .arg("--config")
        .arg(host.config().config_path())
        .args(["volume", "rm", name]);
    if force {
        command.arg("--force");
    }
    let out = command.output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn bucket_mode_lifecycle(server: &S3Server, tag: &str) {
    let a = host(server, tag, &[("S3FS_OPTIONS", "allow_other,umask=022")]);
    a.create("pgdata", &[("uid", "1000"), ("gid", "1000")])
        .unwrap();
    assert!(server.buckets().contains(&"pgdata".to_string()));
    let marker: serde_json::Value =
        serde_json::from_str(&server.object_text("pgdata", MARKER)).unwrap();
    assert_eq!(marker["name"], "pgdata");
    assert_eq!(marker["options"]["uid"], 1000);
    assert_eq!(marker["options"]["gid"], 1000);
    assert!(
        marker["created_by"]
            .as_str()
            .unwrap()
            .starts_with("ballast-s3fs")
    );

    let got = a.get("pgdata").unwrap();
    for (key, want) in [
        ("bucket", "pgdata"),
        ("prefix", ""),
        ("mode", "bucket"),
        ("region", "us-east-1"),
        ("objects", "0"),
        ("bytes", "0"),
        ("options", "uid=1000,gid=1000,umask=022,allow_other=true"),
    ] {
        assert_eq!(status(&got, key), want, "Status {key}: {got:#}");
    }
    assert_eq!(names(&a), ["pgdata"]);

    a.create("pgdata", &[("uid", "1000"), ("gid", "1000")])
        .expect("the same create again is the same volume");
    let err = a.create("pgdata", &[("uid", "2000")]).unwrap_err();
    assert!(err.contains("uid=1000,gid=1000"), "{err}");
    assert!(err.contains("asked for uid=2000"), "{err}");

    a.remove("pgdata").unwrap();
    assert!(!server.buckets().contains(&"pgdata".to_string()));
    assert!(a.get("pgdata").unwrap().is_null(), "Get after Remove");
}

#[test]
fn bucket_per_volume_lifecycle_on_s3s_fs() {
    let Some(server) = S3Server::fast("s3fs bucket lifecycle") else {
        return;
    };
    bucket_mode_lifecycle(&server, "life-fast");
}

#[test]
fn bucket_per_volume_lifecycle_on_moto() {
    let Some(server) = S3Server::moto("s3fs bucket lifecycle moto") else {
        return;
    };
    bucket_mode_lifecycle(&server, "life-moto");
}

#[test]
fn prefix_mode_keeps_any_volume_name_in_one_bucket() {
    let Some(server) = S3Server::fast("s3fs prefix mode") else {
        return;
    };
    let a = host(
        &server,
        "prefix",
        &[("S3FS_BUCKET", "shared-vols"), ("S3FS_PREFIX", "docker")],
    );
    let anonymous = "3f9ab0c1".repeat(8);
    a.create("Data_1", &[]).unwrap();
    a.create(&anonymous, &[("ro", "true")]).unwrap();
    assert_eq!(
        server.buckets(),
        ["shared-vols"],
        "one bucket, made on demand"
    );
    let mut stored = server.keys("shared-vols", "");
    stored.sort();
    assert_eq!(
        stored,
        [
            format!("docker/{anonymous}/{MARKER}"),
            format!("docker/Data_1/{MARKER}"),
        ]
    );
    let mut want = vec!["Data_1".to_string(), anonymous.clone()];
    want.sort();
    assert_eq!(names(&a), want);

    let got = a.get("Data_1").unwrap();
    assert_eq!(status(&got, "bucket"), "shared-vols");
    assert_eq!(status(&got, "prefix"), "docker/Data_1/");
    assert_eq!(status(&got, "mode"), "prefix");
    assert!(a.get("Missing").unwrap().is_null());

    // Objects beside the volume are not the volume's.
    server.put("shared-vols", "docker/Data_1/file.txt", "hello");
    let err = a.remove("Data_1").unwrap_err();
    assert!(err.contains("1 objects"), "{err}");
    volume_rm(&a, "Data_1", true).unwrap();
    assert!(server.keys("shared-vols", "docker/Data_1/").is_empty());
    a.remove(&anonymous).unwrap();
    assert!(server.keys("shared-vols", "").is_empty());
    assert_eq!(server.buckets(), ["shared-vols"], "the shared bucket stays");
}

#[test]
fn bad_names_and_options_are_refused_with_nothing_created() {
    let Some(server) = S3Server::fast("s3fs bad names") else {
        return;
    };
    let a = host(&server, "names", &[]);
    for (name, rule) in [
        ("Pg_Data", "capital letters"),
        ("ab", "3-63 characters"),
        (&"0123abcd".repeat(8)[..], "3-63 characters"),
        ("my_data", "'_'"),
        ("192.168.1.1", "IP addresses"),
        ("xn--data", "xn--"),
        ("data-s3alias", "-s3alias"),
    ] {
        let err = a.create(name, &[]).unwrap_err();
        assert!(err.contains(rule), "{name}: {err}");
        assert!(err.contains("S3FS_BUCKET"), "{name}: {err}");
    }
    let err = a.create("good-name", &[("size", "10")]).unwrap_err();
    assert!(err.contains("unknown option \"size\""), "{err}");
    assert!(err.contains("part_size"), "{err}");
    let err = a.create("good-name", &[("umask", "999")]).unwrap_err();
    assert!(err.contains("umask"), "{err}");
    assert!(server.buckets().is_empty(), "nothing was created");
}

#[test]
fn create_from_two_hosts_at_once_gives_one_volume() {
    let Some(server) = S3Server::fast("s3fs two hosts") else {
        return;
    };
    let a = host(&server, "two-a", &[]);
    let b = host(&server, "two-b", &[]);
    for round in 0..3 {
        let name = format!("swarm-vol-{round}");
        std::thread::scope(|s| {
            let one = s.spawn(|| a.create(&name, &[("uid", "33")]));
            let two = s.spawn(|| b.create(&name, &[("uid", "33")]));
            one.join().unwrap().unwrap();
            two.join().unwrap().unwrap();
        });
        assert_eq!(server.keys(&name, ""), [MARKER]);
        assert_eq!(status(&a.get(&name).unwrap(), "options"), "uid=33");
        assert_eq!(status(&b.get(&name).unwrap(), "options"), "uid=33");
    }
    assert_eq!(server.buckets().len(), 3);
}

#[test]
fn remove_refuses_a_volume_with_data_unless_forced() {
    let Some(server) = S3Server::fast("s3fs remove force") else {
        return;
    };
    let a = host(&server, "force", &[]);
    a.create("full-vol", &[]).unwrap();
    for i in 0..3 {
        server.put("full-vol", &format!("dir/file{i}"), "data");
    }
    let err = a.remove("full-vol").unwrap_err();
    assert!(err.contains("3 objects"), "{err}");
    assert!(err.contains("ballast volume rm --force full-vol"), "{err}");
    assert_eq!(server.keys("full-vol", "").len(), 4, "nothing deleted");
    let err = volume_rm(&a, "full-vol", false).unwrap_err();
    assert!(err.contains("not empty"), "{err}");

    volume_rm(&a, "full-vol", true).unwrap();
    assert!(!server.buckets().contains(&"full-vol".to_string()));
    assert!(a.get("full-vol").unwrap().is_null());
}

#[test]
fn an_existing_bucket_is_a_volume_and_create_adopts_it() {
    let Some(server) = S3Server::fast("s3fs adopt") else {
        return;
    };
    server.create_bucket("legacy");
    for i in 0..5 {
        server.put("legacy", &format!("f{i}"), "12345");
    }
    let a = host(&server, "adopt", &[]);
    assert_eq!(names(&a), ["legacy"], "REX-Ray listed every bucket");
    let got = a.get("legacy").unwrap();
    assert_eq!(status(&got, "objects"), "5");
    assert_eq!(status(&got, "bytes"), "25");
    a.create("legacy", &[]).unwrap();
    assert!(server.keys("legacy", "").contains(&MARKER.to_string()));
    let got = a.get("legacy").unwrap();
    assert_eq!(status(&got, "objects"), "5", "the marker is not counted");
    assert_eq!(status(&got, "bytes"), "25");
}

#[test]
fn mount_writes_through_to_the_bucket() {
    let Some(server) = S3Server::fast("s3fs mount") else {
        return;
    };
    if !std::path::Path::new("/dev/fuse").exists() {
        eprintln!("SKIPPED s3fs mount: no /dev/fuse");
        return;
    }
    let a = host(&server, "mount", &[]);
    a.create("mounted", &[]).unwrap();
    let dir = a.mount("mounted", "m1").unwrap();
    write_synced(&dir, "hello.txt", "hello from a container");
    let listed: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, ["hello.txt"], "the marker is hidden");
    a.unmount("mounted", "m1").unwrap();
    assert_eq!(
        server.object_text("mounted", "hello.txt"),
        "hello from a container"
    );
    assert!(
        !server.keys("mounted", "").is_empty(),
        "the marker stays hidden but present"
    );
}

/// The host is killed (-9) with an object volume mounted: its FUSE session
/// dies with it. The restarted host takes the dead mount down and serves
/// the volume again under the same path and mount ID; the data is there,
/// new writes reach the bucket, and the ID's Unmount ends the mount.
#[test]
fn a_restarted_host_serves_its_object_mounts_again() {
    let Some(server) = S3Server::fast("s3fs restart") else {
        return;
    };
    if !std::path::Path::new("/dev/fuse").exists() {
        eprintln!("SKIPPED s3fs restart: no /dev/fuse");
        return;
    }
    let mut a = host(&server, "restart", &[]);
    a.create("survivor", &[]).unwrap();
    let dir = a.mount("survivor", "m1").unwrap();
    write_synced(&dir, "before.txt", "written before the crash");
    a.kill9();
    a.restart();
    assert!(
        a.is_mounted("survivor"),
        "served again after the restart\n{}",
        a.log()
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("before.txt")).unwrap(),
        "written before the crash"
    );
    write_synced(&dir, "after.txt", "written after the restart");
    assert_eq!(
        a.mount("survivor", "m1").unwrap(),
        dir,
        "same path for the same ID"
    );
    a.unmount("survivor", "m1").unwrap();
    assert!(
        a.is_mounted("survivor"),
        "m1 was counted twice in this session"
    );
    a.unmount("survivor", "m1").unwrap();
    assert!(
        !a.is_mounted("survivor"),
        "the last Unmount ends the mount\n{}",
        a.log()
    );
    assert_eq!(
        server.object_text("survivor", "after.txt"),
        "written after the restart"
    );
}

/// The host's keys go only to the endpoint its config names: a backend
/// whose mount source names another endpoint is refused at Mount. Here the
/// config's endpoint is an alias of the same server (localhost vs
/// 127.0.0.1) while the backend's settings name the other spelling.
#[test]
fn a_mount_source_naming_another_endpoint_is_refused() {
    let Some(server) = S3Server::fast("s3fs endpoint") else {
        return;
    };
    let alias = server.endpoint.replace("127.0.0.1", "localhost");
    let mut config = server.s3fs_config("endpoint", &[]);
    config.extra = format!("[backends.s3fs.aws]\nendpoint = {alias:?}\n");
    let a = BallastServe::start(config);
    a.create("elsewhere", &[]).unwrap();
    let err = a.mount("elsewhere", "m1").unwrap_err();
    assert!(
        err.contains("endpoint") && err.contains(&server.endpoint),
        "expected a refusal naming the endpoint: {err}"
    );
    assert!(!a.is_mounted("elsewhere"));
}
