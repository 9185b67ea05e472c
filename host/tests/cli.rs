//! The `ballast` binary as an operator uses it: `module inspect` on every
//! built module, and `volume` commands against the default local backend.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ballast::runtime::builtin::BUILT_MODULES_DIR;

fn ballast(config: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ballast"));
    cmd.args(args)
        .env_remove("BALLAST_CONFIG")
        .env("BALLAST_LOG", "warn");
    if let Some(config) = config {
        cmd.env("BALLAST_CONFIG", config);
    }
    cmd.output().expect("running ballast")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "ballast failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn module(name: &str) -> PathBuf {
    Path::new(BUILT_MODULES_DIR).join(format!("{name}.wasm"))
}

#[test]
fn module_inspect_shows_the_capabilities_each_module_imports() {
    let cases = [
        ("ballast_local", "log, kv, local-disk", "local-backend"),
        ("ballast_test_misbehave", "log, kv", "local-backend"),
        ("ballast_ebs", "log, kv, instance, ec2", "ebs-backend"),
    ];
    for (name, capabilities, world) in cases {
        let path = module(name);
        let text = stdout(&ballast(
            None,
            &["module", "inspect", path.to_str().unwrap()],
        ));
        assert!(
            text.contains(&format!("capabilities:  {capabilities}\n")),
            "{name}:\n{text}"
        );
        assert!(
            text.contains(&format!("world:         {world}\n")),
            "{name}:\n{text}"
        );
        assert!(
            text.contains(&format!(
                "wit:           ballast:backend@{}",
                ballast::runtime::bindings::WIT_VERSION
            )),
            "{name}:\n{text}"
        );
        assert!(
            text.contains("verdict:       loads in this host"),
            "{name}:\n{text}"
        );
    }
}

#[test]
fn module_inspect_json_and_wrong_version_verdict() {
    let path = module("ballast_test_wrong_version");
    let out = stdout(&ballast(
        None,
        &["module", "inspect", "--json", path.to_str().unwrap()],
    ));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["wit_version"], "1.0.0");
    assert!(
        json["verdict"]
            .as_str()
            .unwrap()
            .starts_with("refused by this host"),
        "{json}"
    );
}

#[test]
fn module_inspect_of_a_missing_file_fails_clearly() {
    let out = ballast(None, &["module", "inspect", "/nonexistent.wasm"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading /nonexistent.wasm"));
}

#[test]
fn volume_commands_drive_the_default_local_backend() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n",
            dir.path().join("state").display().to_string()
        ),
    )
    .unwrap();
    let config = Some(config.as_path());

    assert_eq!(
        stdout(&ballast(
            config,
            &["volume", "create", "cli1", "-o", "size=20MiB"]
        )),
        "cli1\n"
    );
    let listed = stdout(&ballast(config, &["volume", "ls", "--json"]));
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["name"], "cli1");
    assert_eq!(listed[0]["size_bytes"], 20 * 1024 * 1024);
    let inspected: serde_json::Value =
        serde_json::from_str(&stdout(&ballast(config, &["volume", "inspect", "cli1"]))).unwrap();
    assert_eq!(inspected["status"]["fstype"], "ext4");

    let bad = ballast(config, &["volume", "create", "a/b"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("invalid volume name"),
        "{bad:?}"
    );
    let bad_opt = ballast(config, &["volume", "create", "x", "-o", "size"]);
    assert!(
        String::from_utf8_lossy(&bad_opt.stderr).contains("not KEY=VALUE"),
        "{bad_opt:?}"
    );

    assert_eq!(
        stdout(&ballast(config, &["volume", "rm", "cli1"])),
        "cli1\n"
    );
    assert_eq!(
        stdout(&ballast(config, &["volume", "ls", "--json"])).trim(),
        "[]"
    );
}

#[test]
fn help_is_available_everywhere() {
    for args in [
        &["--help"][..],
        &["volume", "--help"],
        &["module", "inspect", "--help"],
        &["serve", "--help"],
    ] {
        let text = stdout(&ballast(None, args));
        assert!(text.contains("Usage:"), "{args:?}: {text}");
    }
}

#[test]
fn doctor_checks_the_machine_and_names_what_fails() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    let state = dir.path().join("state").display().to_string();
    let sockets = dir.path().join("sockets").display().to_string();
    std::fs::write(
        &good,
        format!("data_dir = {state:?}\n[plugin]\nsocket_dir = {sockets:?}\n"),
    )
    .unwrap();
    let out = ballast(Some(&good), &["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ok    backend local"), "{text}");
    assert!(text.contains("plugin socket dir"), "{text}");
    assert!(text.contains("kernel nfs4"), "{text}");
    if text.contains("FAIL") {
        // A machine without mkfs tools or loop devices: doctor must say so.
        assert!(!out.status.success());
    } else {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!("data_dir = {state:?}\n[plugin]\nsocket_dir = {sockets:?}\n[backends.broken]\nmodule = \"/nonexistent.wasm\"\n"),
    )
    .unwrap();
    let out = ballast(Some(&bad), &["doctor"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL  backend broken") && text.contains("reading module /nonexistent.wasm"),
        "{text}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("required checks failed: backend broken")
    );
}
