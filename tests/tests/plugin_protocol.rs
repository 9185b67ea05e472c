//! Docker's volume plugin protocol over a real Unix socket, as dockerd
//! speaks it: every endpoint, `Opts: null`, malformed, empty and oversized
//! bodies, unknown endpoints and fields, hostile names; and the mount
//! refcount by ID, including after a host crash and restart.

use ballast_tests::plugin::{Plugin, post_raw};
use ballast_tests::{Leftovers, can_mount};
use serde_json::json;

fn err_of(answer: &serde_json::Value) -> &str {
    answer["Err"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn activate_and_capabilities() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = Plugin::start(dir.path()).await;
    assert_eq!(
        plugin.post("/Plugin.Activate", "").await,
        (200, json!({"Implements": ["VolumeDriver"]}))
    );
    assert_eq!(
        plugin.post("/VolumeDriver.Capabilities", "").await,
        (200, json!({"Capabilities": {"Scope": "local"}}))
    );
}

#[tokio::test]
async fn create_get_list_path_remove_with_null_opts_and_unknown_fields() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = Plugin::start(dir.path()).await;
    let created = plugin
        .post(
            "/VolumeDriver.Create",
            r#"{"Name":"p1","Opts":null,"Future":true}"#,
        )
        .await;
    assert_eq!(created, (200, json!({})));
    let (_, sized) = plugin
        .post(
            "/VolumeDriver.Create",
            r#"{"Name":"p2","Opts":{"size":"32MiB"}}"#,
        )
        .await;
    assert_eq!(sized, json!({}));

    let (status, got) = plugin.post("/VolumeDriver.Get", r#"{"Name":"p2"}"#).await;
    assert_eq!(status, 200);
    assert_eq!(got["Volume"]["Name"], "p2");
    assert_eq!(got["Volume"]["Mountpoint"], "");
    assert_eq!(got["Volume"]["Status"]["fstype"], "ext4");
    assert!(
        got.get("Err").is_none() && got["Volume"].get("CreatedAt").is_none(),
        "{got}"
    );

    let (_, missing) = plugin.post("/VolumeDriver.Get", r#"{"Name":"nope"}"#).await;
    assert_eq!(
        missing,
        json!({"Volume": null}),
        "no such volume: Volume null, no Err"
    );

    let (_, listed) = plugin.post("/VolumeDriver.List", "").await;
    let names: Vec<&str> = listed["Volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["p1", "p2"]);

    assert_eq!(
        plugin.post("/VolumeDriver.Path", r#"{"Name":"p1"}"#).await,
        (200, json!({"Mountpoint": ""}))
    );
    assert_eq!(
        plugin
            .post("/VolumeDriver.Remove", r#"{"Name":"p1"}"#)
            .await,
        (200, json!({}))
    );
    let (status, again) = plugin
        .post("/VolumeDriver.Remove", r#"{"Name":"p1"}"#)
        .await;
    assert_eq!(status, 500);
    assert!(err_of(&again).contains("not found"), "{again}");
}

#[tokio::test]
async fn bad_requests_get_a_clear_err_never_an_empty_body() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = Plugin::start(dir.path()).await;
    let huge_name = format!(r#"{{"Name":"{}"}}"#, "x".repeat(1024 * 1024 - 64));
    let over_limit = format!(r#"{{"Name":"{}"}}"#, "x".repeat(1024 * 1024 + 1));
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "/VolumeDriver.Create",
            "{not json".into(),
            "malformed request body",
        ),
        ("/VolumeDriver.Create", "".into(), "request body is empty"),
        (
            "/VolumeDriver.Create",
            r#"{"Opts":{}}"#.into(),
            "missing field `Name`",
        ),
        (
            "/VolumeDriver.Create",
            r#"{"Name":"v","Opts":{"size":"abc"}}"#.into(),
            "size",
        ),
        (
            "/VolumeDriver.Create",
            r#"{"Name":"v","Opts":{"size":"-1"}}"#.into(),
            "size",
        ),
        (
            "/VolumeDriver.Create",
            r#"{"Name":"v","Opts":"big"}"#.into(),
            "malformed request body",
        ),
        (
            "/VolumeDriver.Mount",
            r#"{"Name":"v"}"#.into(),
            "missing field `ID`",
        ),
        ("/VolumeDriver.Get", huge_name, "invalid volume name"),
        ("/VolumeDriver.Get", over_limit, "larger than 1048576 bytes"),
        (
            "/VolumeDriver.Frobnicate",
            "{}".into(),
            "unknown endpoint /VolumeDriver.Frobnicate",
        ),
    ];
    for (path, body, expected) in cases {
        let shown: String = body.chars().take(60).collect();
        let (status, answer) = plugin.post(path, body).await;
        assert_ne!(status, 200, "{path} {shown}");
        assert!(
            err_of(&answer).contains(expected),
            "{path} {shown}: {answer:.300}"
        );
    }
    assert_eq!(
        plugin.post("/VolumeDriver.List", "").await.1,
        json!({"Volumes": []}),
        "nothing was created"
    );
}

#[tokio::test]
async fn hostile_names_are_refused_by_every_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = Plugin::start(dir.path()).await;
    let long = "a".repeat(300);
    for name in ["../x", "a/b", "", "..", ".hidden", long.as_str(), "a\u{0}b"] {
        for path in [
            "/VolumeDriver.Create",
            "/VolumeDriver.Get",
            "/VolumeDriver.Remove",
            "/VolumeDriver.Path",
        ] {
            let (status, answer) = plugin.post(path, json!({"Name": name}).to_string()).await;
            assert_eq!(status, 500, "{path} {name:?}");
            assert!(
                err_of(&answer).contains("invalid volume name"),
                "{path} {name:?}: {answer}"
            );
        }
        let (_, answer) = plugin
            .post(
                "/VolumeDriver.Mount",
                json!({"Name": name, "ID": "x"}).to_string(),
            )
            .await;
        assert!(
            err_of(&answer).contains("invalid volume name"),
            "Mount {name:?}: {answer}"
        );
    }
    assert!(
        !dir.path().join("volumes").exists()
            || std::fs::read_dir(dir.path().join("volumes"))
                .unwrap()
                .count()
                == 0
    );
}

#[tokio::test]
async fn raw_answers_are_json_with_err_even_for_get_requests_on_unknown_paths() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = Plugin::start(dir.path()).await;
    let (status, body) = post_raw(&plugin.socket, "/nothing/here", "".into()).await;
    assert_eq!(status, 404);
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(!err_of(&answer).is_empty());
}

fn mounted(target: &std::path::Path) -> bool {
    let target = target.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(&target))
}

/// A plugin with one 32 MiB volume `name` created, for tests that mount;
/// `None` (after saying why) where loop devices and mount(2) are not allowed.
async fn plugin_with_volume(
    test: &str,
    name: &str,
) -> Option<(tempfile::TempDir, Leftovers, Plugin)> {
    if !can_mount(test) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let leftovers = Leftovers(dir.path().to_owned());
    let plugin = Plugin::start(dir.path()).await;
    let create = json!({"Name": name, "Opts": {"size": "32MiB"}}).to_string();
    assert_eq!(
        plugin.post("/VolumeDriver.Create", create).await,
        (200, json!({}))
    );
    Some((dir, leftovers, plugin))
}

#[tokio::test]
async fn mounts_are_counted_by_id_and_survive_a_host_crash() {
    let Some((dir, _leftovers, plugin)) =
        plugin_with_volume("mounts_are_counted_by_id_and_survive_a_host_crash", "m1").await
    else {
        return;
    };
    let target = plugin.mount_root.join("m1");
    let data = target.join("data").display().to_string();

    let first = plugin
        .post("/VolumeDriver.Mount", r#"{"Name":"m1","ID":"one"}"#)
        .await;
    assert_eq!(first, (200, json!({"Mountpoint": data})));
    assert!(mounted(&target));
    std::fs::write(target.join("data/hello"), b"kept").unwrap();
    // A repeated ID (docker cp) is counted, and paired with its own Unmount.
    assert_eq!(
        plugin
            .post("/VolumeDriver.Mount", r#"{"Name":"m1","ID":"one"}"#)
            .await
            .1["Mountpoint"],
        data,
        "repeated ID"
    );
    plugin
        .post("/VolumeDriver.Unmount", r#"{"Name":"m1","ID":"one"}"#)
        .await;
    assert_eq!(
        plugin
            .post("/VolumeDriver.Mount", r#"{"Name":"m1","ID":"two"}"#)
            .await
            .1["Mountpoint"],
        data
    );
    assert_eq!(
        plugin
            .post("/VolumeDriver.Path", r#"{"Name":"m1"}"#)
            .await
            .1["Mountpoint"],
        data
    );
    let (_, got) = plugin.post("/VolumeDriver.Get", r#"{"Name":"m1"}"#).await;
    assert_eq!(got["Volume"]["Mountpoint"], data);
    assert!(
        got["Volume"]["Status"]["device"]
            .as_str()
            .unwrap()
            .starts_with("/dev/loop"),
        "{got}"
    );

    plugin
        .post("/VolumeDriver.Unmount", r#"{"Name":"m1","ID":"one"}"#)
        .await;
    assert!(mounted(&target), "still used by ID two");
    let (status, refused) = plugin
        .post("/VolumeDriver.Remove", r#"{"Name":"m1"}"#)
        .await;
    assert_eq!(status, 500);
    assert!(
        err_of(&refused).contains("is mounted for 1 container"),
        "{refused}"
    );

    // The host dies without unmounting; a new one must still honour ID two.
    drop(plugin);
    let restarted = Plugin::start(dir.path()).await;
    assert!(mounted(&target));
    assert_eq!(
        restarted
            .post("/VolumeDriver.Unmount", r#"{"Name":"m1","ID":"two"}"#)
            .await,
        (200, json!({}))
    );
    assert!(!mounted(&target), "the last unmount unmounts");
    let image = dir
        .path()
        .join("state/backends/local/images/m1.img")
        .display()
        .to_string();
    let loops = std::process::Command::new("losetup")
        .args(["-j", &image])
        .output()
        .unwrap();
    assert!(
        loops.stdout.is_empty(),
        "loop device released: {}",
        String::from_utf8_lossy(&loops.stdout)
    );

    // Remounting finds the data: formatted once, never again.
    restarted
        .post("/VolumeDriver.Mount", r#"{"Name":"m1","ID":"three"}"#)
        .await;
    assert_eq!(std::fs::read(target.join("data/hello")).unwrap(), b"kept");
    restarted
        .post("/VolumeDriver.Unmount", r#"{"Name":"m1","ID":"three"}"#)
        .await;
    assert_eq!(
        restarted
            .post("/VolumeDriver.Remove", r#"{"Name":"m1"}"#)
            .await,
        (200, json!({}))
    );
    assert!(!std::path::Path::new(&image).exists());
}

#[tokio::test]
async fn a_failing_backend_get_answers_from_the_last_known_state_not_no_such_volume() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = Plugin::start(dir.path()).await;
    plugin
        .post(
            "/VolumeDriver.Create",
            r#"{"Name":"kept","Opts":{"size":"32MiB"}}"#,
        )
        .await;
    let (_, before) = plugin.post("/VolumeDriver.Get", r#"{"Name":"kept"}"#).await;
    assert_eq!(before["Volume"]["Name"], "kept");

    // The backend's store becomes unreadable: its Get now fails.
    let kv = dir.path().join("state/backends/local/kv/kv.json");
    let saved = std::fs::read(&kv).unwrap();
    std::fs::write(&kv, b"{ torn").unwrap();
    let (status, during) = plugin.post("/VolumeDriver.Get", r#"{"Name":"kept"}"#).await;
    assert_eq!(status, 200, "{during}");
    assert_eq!(
        during["Volume"]["Name"], "kept",
        "a failing backend must not read as 'no such volume': {during}"
    );
    // A volume never seen has no last known state: the error shows.
    let (status, unknown) = plugin
        .post("/VolumeDriver.Get", r#"{"Name":"never"}"#)
        .await;
    assert_eq!(status, 500);
    assert!(err_of(&unknown).contains("corrupt"), "{unknown}");

    std::fs::write(&kv, saved).unwrap();
    let (_, after) = plugin.post("/VolumeDriver.Get", r#"{"Name":"kept"}"#).await;
    assert_eq!(after["Volume"]["Status"]["fstype"], "ext4");
}

#[tokio::test]
async fn docker_cp_repeats_an_id_and_a_dockerd_restart_reaffirms_it() {
    let Some((_dir, _leftovers, plugin)) = plugin_with_volume(
        "docker_cp_repeats_an_id_and_a_dockerd_restart_reaffirms_it",
        "cp",
    )
    .await
    else {
        return;
    };
    let target = plugin.mount_root.join("cp");
    let mount = r#"{"Name":"cp","ID":"ctr"}"#;

    // A container runs; `docker cp` into it mounts and unmounts under its ID.
    plugin.post("/VolumeDriver.Mount", mount).await;
    plugin.post("/VolumeDriver.Mount", mount).await;
    plugin.post("/VolumeDriver.Unmount", mount).await;
    assert!(
        mounted(&target),
        "the container still uses it after docker cp"
    );

    // dockerd restarts with live-restore: it activates the plugin, then
    // mounts the running container's ID once more; one Unmount ends it.
    plugin.post("/Plugin.Activate", "").await;
    plugin.post("/VolumeDriver.Mount", mount).await;
    assert_eq!(
        plugin.post("/VolumeDriver.Unmount", mount).await,
        (200, json!({}))
    );
    assert!(!mounted(&target), "re-affirmed, not counted twice");
    plugin
        .post("/VolumeDriver.Remove", r#"{"Name":"cp"}"#)
        .await;
}
