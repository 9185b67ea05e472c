//! `cloudsim` as a newcomer runs it: standalone, printing where its API and
//! instances are, answering the admin API; bad arguments say what is wrong.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn standalone_cloudsim_prints_its_addresses_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloudsim"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args([
            "--instance",
            "aws:i-demo:us-east-1a:m5.large",
            "--delay",
            "attach=2500",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let api = lines.next().unwrap().unwrap();
    let instance = lines.next().unwrap().unwrap();
    let url = api
        .strip_prefix("api      ")
        .expect("first line names the API")
        .to_string();
    assert!(
        instance.starts_with("instance i-demo Aws us-east-1a m5.large  metadata http://127.0.0.1:"),
        "{instance}"
    );

    let instances: serde_json::Value = reqwest::get(format!("{url}/_sim/instances"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(instances[0]["spec"]["id"], "i-demo");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn bad_arguments_are_explained() {
    let cases = [
        (
            vec!["--instance", "aws:i-x:us-east-1a"],
            "expected PROVIDER:ID:ZONE:TYPE",
        ),
        (vec!["--instance", "azure:i-x:z:t"], "is not aws or gce"),
        (vec!["--delay", "attach"], "--delay takes NAME=MS"),
        (vec!["--delay", "teleport=5"], "unknown delay \"teleport\""),
        (vec!["--verify-keys", "nocolon"], "ACCESS_KEY:SECRET"),
    ];
    for (args, expected) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_cloudsim"))
            .args(["--listen", "127.0.0.1:0"])
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
