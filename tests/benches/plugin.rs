//! The plugin server's costs through its real Unix socket, with the
//! built-in local backend on loop devices. Printed, not asserted.
//!
//!     cargo bench -p ballast-tests --bench plugin        (as root)
//!
//! 1. A fresh volume's first mount (create + attach + loop + mkfs + mount)
//!    and a remount of a formatted one (no mkfs).
//! 2. Get / List / Path p50/p99.
//! 3. 32 volumes mounted concurrently vs one after another.

use std::time::{Duration, Instant};

use ballast_tests::plugin::Plugin;
use ballast_tests::{Leftovers, can_mount};
use serde_json::json;

const ROUNDS: usize = 10;
const CALLS: usize = 2_000;
const CONCURRENT: usize = 32;

fn main() {
    if !can_mount("plugin bench") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let _leftovers = Leftovers(dir.path().to_owned());
        let plugin = Plugin::start(dir.path()).await;
        mount_costs(&plugin).await;
        socket_calls(&plugin).await;
        concurrency(&plugin).await;
    });
}

async fn call(plugin: &Plugin, path: &str, body: serde_json::Value) {
    let (status, answer) = plugin.post(path, body.to_string()).await;
    assert_eq!(status, 200, "{path} {body}: {answer}");
}

async fn mount_costs(plugin: &Plugin) {
    let (mut fresh, mut remount) = (Vec::new(), Vec::new());
    for i in 0..ROUNDS {
        let name = format!("m{i}");
        let start = Instant::now();
        call(
            plugin,
            "/VolumeDriver.Create",
            json!({"Name": name, "Opts": {"size": "256MiB"}}),
        )
        .await;
        call(
            plugin,
            "/VolumeDriver.Mount",
            json!({"Name": name, "ID": "a"}),
        )
        .await;
        fresh.push(start.elapsed());
        call(
            plugin,
            "/VolumeDriver.Unmount",
            json!({"Name": name, "ID": "a"}),
        )
        .await;
        let start = Instant::now();
        call(
            plugin,
            "/VolumeDriver.Mount",
            json!({"Name": name, "ID": "b"}),
        )
        .await;
        remount.push(start.elapsed());
        call(
            plugin,
            "/VolumeDriver.Unmount",
            json!({"Name": name, "ID": "b"}),
        )
        .await;
        call(plugin, "/VolumeDriver.Remove", json!({"Name": name})).await;
    }
    println!("== mount, 256 MiB ext4 volume, {ROUNDS} rounds ==");
    report("create + first mount (mkfs)", fresh);
    report("remount (formatted)", remount);
}

async fn socket_calls(plugin: &Plugin) {
    call(
        plugin,
        "/VolumeDriver.Create",
        json!({"Name": "q", "Opts": {"size": "32MiB"}}),
    )
    .await;
    call(
        plugin,
        "/VolumeDriver.Mount",
        json!({"Name": "q", "ID": "a"}),
    )
    .await;
    println!("\n== socket calls on a mounted volume, {CALLS} each ==");
    for (path, body) in [
        ("/VolumeDriver.Get", json!({"Name": "q"})),
        ("/VolumeDriver.List", json!({})),
        ("/VolumeDriver.Path", json!({"Name": "q"})),
    ] {
        let mut times = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let start = Instant::now();
            call(plugin, path, body.clone()).await;
            times.push(start.elapsed());
        }
        report(path, times);
    }
    call(
        plugin,
        "/VolumeDriver.Unmount",
        json!({"Name": "q", "ID": "a"}),
    )
    .await;
    call(plugin, "/VolumeDriver.Remove", json!({"Name": "q"})).await;
}

async fn concurrency(plugin: &Plugin) {
    let names: Vec<String> = (0..CONCURRENT).map(|i| format!("c{i}")).collect();
    for name in &names {
        call(
            plugin,
            "/VolumeDriver.Create",
            json!({"Name": name, "Opts": {"size": "64MiB"}}),
        )
        .await;
    }
    // Format them all once, so both runs below measure mount, not mkfs.
    for name in &names {
        call(
            plugin,
            "/VolumeDriver.Mount",
            json!({"Name": name, "ID": "f"}),
        )
        .await;
        call(
            plugin,
            "/VolumeDriver.Unmount",
            json!({"Name": name, "ID": "f"}),
        )
        .await;
    }
    let start = Instant::now();
    for name in &names {
        call(
            plugin,
            "/VolumeDriver.Mount",
            json!({"Name": name, "ID": "s"}),
        )
        .await;
    }
    let serial = start.elapsed();
    for name in &names {
        call(
            plugin,
            "/VolumeDriver.Unmount",
            json!({"Name": name, "ID": "s"}),
        )
        .await;
    }
    let start = Instant::now();
    let mounts = names.iter().map(|name| {
        call(
            plugin,
            "/VolumeDriver.Mount",
            json!({"Name": name, "ID": "p"}),
        )
    });
    futures::future::join_all(mounts).await;
    let parallel = start.elapsed();
    println!("\n== {CONCURRENT} formatted volumes: mount all ==");
    println!(
        "one after another   {:>8.1} ms  ({:.1} ms each)",
        ms(serial),
        ms(serial) / CONCURRENT as f64
    );
    println!("all at once         {:>8.1} ms", ms(parallel));
    for name in &names {
        call(
            plugin,
            "/VolumeDriver.Unmount",
            json!({"Name": name, "ID": "p"}),
        )
        .await;
        call(plugin, "/VolumeDriver.Remove", json!({"Name": name})).await;
    }
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let p = |q: usize| times[(times.len() * q / 100).min(times.len() - 1)];
    println!(
        "{what:<30} p50 {:>9.3} ms   p99 {:>9.3} ms",
        ms(p(50)),
        ms(p(99))
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
