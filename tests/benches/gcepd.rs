//! What the gcepd backend's calls cost, through the plugin socket of real
//! `ballast serve` processes playing GCE instances node-1 and node-2
//! (us-central1-a) against cloudsim's Compute Engine (as root: the
//! simulator's hypervisor loop-attaches disks). Printed, not asserted.
//!
//!     cargo build --profile bench -p ballast     # the `ballast` binary it starts
//!     cargo bench -p ballast-tests --bench gcepd
//!
//! Per volume: Create, Get, first Mount (attach + zone operation + mkfs +
//! mount), Unmount (unmount + detach), a second Mount, a Mount on node-2
//! after node-1 unmounted (a move) and Remove; the Compute Engine calls a
//! lifecycle makes and the tokens the hosts fetched.
//!
//! 1. Simulator delays at zero: the host's own overhead and the API calls,
//!    then the `http` capability's cost: a plugin Get beside the same
//!    disks.get made in-process through the capability and made directly
//!    with reqwest and a metadata-server token.
//! 2. Realistic delays (zone operations RUNNING for 2 s): the totals beside
//!    what REX-Ray's polling schedule would take. gcepd waits with
//!    zoneOperations.wait, which the API holds until the operation is DONE,
//!    so it should see each change as soon as it happens.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ballast::capabilities::http::Http;
use ballast::config::{BackendConfig, CredentialProvider, HttpConfig, HttpCredential};
use ballast::runtime::bindings::ballast::backend::http::Request;
use ballast_tests::bench::{self, median, ms, over, rexray_seen};
use ballast_tests::cloud::{PluginCalls, SimCloud, with_gce_instances};
use ballast_tests::serve::BallastServe;
use cloudsim::delays::Delays;

/// Samples per way of getting one disk, in the overhead comparison.
const GET_SAMPLES: usize = 50;
/// Untimed requests before each way's samples (connections, token cache).
const WARM_UP: usize = 3;
/// What the host logs when its credential fetches a token.
const TOKEN_FETCHED: &str = "http credential token fetched";

fn main() {
    let mut at_zero: Option<Figures> = None;
    for (label, tag, delays, rounds) in [
        ("simulator delays at zero", "fast", Delays::zero(), 10),
        ("realistic delays", "real", Delays::realistic(), 3),
    ] {
        let Some(cloud) = SimCloud::start("gcepd bench", |c| {
            with_gce_instances(c);
            c.delays = delays;
        }) else {
            return;
        };
        // disks.insert is DONE when the disk is READY and the operation's
        // own delay has passed; every other change after the latter.
        let operation = delays.gce_operation;
        let insert = delays.volume_create.max(operation);
        println!(
            "== {label} (zone operation RUNNING → DONE {operation:?}, disks.insert {insert:?}), \
             {rounds} volumes =="
        );
        let cluster = format!("bench-{tag}");
        let one = cloud.gce_host("node-1", &cluster, &[]);
        let two = cloud.gce_host("node-2", &cluster, &[]);
        cloud.clear_faults();
        let figures = measure(&one, &two, tag, rounds);
        println!("-- per volume (node-1, the move to node-2) --");
        figures.print();
        print_calls(&cloud, rounds);
        print_token_fetches(&[("node-1", &one), ("node-2", &two)]);
        match &at_zero {
            None if operation.is_zero() => {
                http_overhead(&cloud, &one, &cluster);
                at_zero = Some(figures);
            }
            _ => compare_with_rexray(&figures, at_zero.as_ref(), insert, operation),
        }
        println!();
    }
}

/// Median times of each call over fresh volumes.
struct Figures {
    create: Duration,
    get: Duration,
    /// attachDisk + wait + find the device + mkfs + mount.
    first_mount: Duration,
    /// unmount + instances.get + detachDisk + wait.
    unmount: Duration,
    /// attachDisk + wait + find + mount (formatted already).
    remount: Duration,
    /// node-2 mounts what node-1 unmounted (attach there, no mkfs).
    moved: Duration,
    remove: Duration,
}

impl Figures {
    fn print(&self) {
        println!("Create            p50 {}", ms(self.create));
        println!("Get               p50 {}", ms(self.get));
        println!(
            "first Mount       p50 {}  (attach + wait for the zone operation + find + mkfs + mount)",
            ms(self.first_mount)
        );
        println!(
            "Unmount           p50 {}  (unmount + detach + wait)",
            ms(self.unmount)
        );
        println!(
            "second Mount      p50 {}  (attach + wait + find + mount)",
            ms(self.remount)
        );
        println!(
            "Mount on node-2   p50 {}  (after node-1 unmounted: the move)",
            ms(self.moved)
        );
        println!("Remove            p50 {}", ms(self.remove));
    }

    /// The calls that wait for one zone operation each, with their times.
    fn waiting(&self) -> [(&'static str, Duration); 6] {
        [
            ("Create", self.create),
            ("first Mount", self.first_mount),
            ("Unmount", self.unmount),
            ("second Mount", self.remount),
            ("Mount on node-2", self.moved),
            ("Remove", self.remove),
        ]
    }
}

/// Per volume: on node-1 Create, Get, Mount, Unmount, Mount, Unmount; on
/// node-2 Mount, Unmount; Remove on node-1.
fn measure(one: &BallastServe, two: &BallastServe, prefix: &str, rounds: usize) -> Figures {
    let mut times: [Vec<Duration>; 7] = Default::default();
    for i in 0..rounds {
        let name = format!("{prefix}{i}");
        let timed = |slot: &mut Vec<Duration>, f: &dyn Fn() -> Result<(), String>| {
            slot.push(bench::timed(|| {
                f().unwrap_or_else(|e| panic!("{name}: {e}"))
            }));
        };
        timed(&mut times[0], &|| one.create(&name, &[]));
        timed(&mut times[1], &|| match one.get(&name) {
            Ok(volume) if volume.is_null() => Err("Get found no volume".into()),
            other => other.map(drop),
        });
        timed(&mut times[2], &|| one.mount(&name, "a").map(drop));
        timed(&mut times[3], &|| one.unmount(&name, "a"));
        timed(&mut times[4], &|| one.mount(&name, "b").map(drop));
        one.unmount(&name, "b").unwrap();
        timed(&mut times[5], &|| two.mount(&name, "c").map(drop));
        two.unmount(&name, "c").unwrap();
        timed(&mut times[6], &|| one.remove(&name));
    }
    let [create, get, first_mount, unmount, remount, moved, remove] = times.map(median);
    Figures {
        create,
        get,
        first_mount,
        unmount,
        remount,
        moved,
        remove,
    }
}

/// The Compute Engine calls since the counters were cleared, in total and
/// per volume lifecycle.
fn print_calls(cloud: &SimCloud, rounds: usize) {
    let calls: BTreeMap<String, u64> = cloud
        .counters()
        .into_iter()
        .filter(|(key, _)| key.starts_with("gce:"))
        .collect();
    let total: u64 = calls.values().sum();
    println!(
        "Compute Engine calls per volume lifecycle: {:.1}",
        total as f64 / rounds as f64
    );
    for (method, count) in calls {
        println!(
            "    {method:<40} {count:>4}  ({:.1} per volume)",
            count as f64 / rounds as f64
        );
    }
}

/// Tokens each host fetched from its metadata server, from its log.
fn print_token_fetches(hosts: &[(&str, &BallastServe)]) {
    let counts: Vec<String> = hosts
        .iter()
        .map(|(instance, host)| {
            let log = host.log();
            if log.contains("\"http request\"") {
                format!("{instance} {}", log.matches(TOKEN_FETCHED).count())
            } else {
                format!("{instance} not observable (its log has no debug lines)")
            }
        })
        .collect();
    println!(
        "metadata-server token fetches (whole run, startup included): {}",
        counts.join(", ")
    );
}

/// REX-Ray's gcepd polls zoneOperations.get at once, then after sleeps of
/// GCEPD_STATUSINITIALDELAY (100 ms) doubling: the schedule of
/// [`rexray_seen`]. Ballast's figures beside it, and over the delay.
fn compare_with_rexray(
    figures: &Figures,
    at_zero: Option<&Figures>,
    insert: Duration,
    operation: Duration,
) {
    println!(
        "REX-Ray's schedule (zoneOperations.get at 0, 100, 300, 700 … ms) sees disks.insert \
         DONE after {} ms, every other operation after {} ms; gcepd uses zoneOperations.wait, \
         which answers when the operation is DONE",
        rexray_seen(insert),
        rexray_seen(operation)
    );
    let zero = at_zero.map(Figures::waiting);
    println!("Ballast over the operation delay (one zone operation each):");
    for (i, (call, took)) in figures.waiting().into_iter().enumerate() {
        let delay = if call == "Create" { insert } else { operation };
        let beyond_zero = zero
            .as_ref()
            .map(|z| {
                format!(
                    "; {} ms beyond the same call at zero delays",
                    over(took, delay + z[i].1)
                )
            })
            .unwrap_or_default();
        println!(
            "    {call:<16} {:>6} ms over {delay:?} (REX-Ray: {} ms over){beyond_zero}",
            over(took, delay),
            rexray_seen(delay) as i64 - delay.as_millis() as i64,
        );
    }
}

/// One disk read three ways: through the plugin socket (wasm guest + `http`
/// capability), in-process through the capability alone, and directly
/// with reqwest and a token from the instance's metadata server.
fn http_overhead(cloud: &SimCloud, host: &BallastServe, cluster: &str) {
    let name = "probe";
    host.create(name, &[]).expect("Create of the probe volume");
    let labelled = SimCloud::cluster_tag(cluster);
    let description = format!("ballast volume: {name}");
    let disk = cloud
        .gce_disks()
        .into_iter()
        .find(|d| {
            d.labels.get("ballast-cluster") == Some(&labelled)
                && d.description.as_deref() == Some(description.as_str())
        })
        .expect("the probe volume's disk");
    let api = cloud.api_url().trim_end_matches('/').to_string();
    let metadata = cloud.instance("node-1").metadata_url;
    let metadata = metadata.trim_end_matches('/');
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the direct requests");
    let client = reqwest::Client::new();
    let metadata_get = |path: &str| {
        let url = format!("{metadata}/computeMetadata/v1/{path}");
        runtime.block_on(async {
            client
                .get(&url)
                .header("Metadata-Flavor", "Google")
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .unwrap_or_else(|e| panic!("{url}: {e}"))
                .text()
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"))
        })
    };
    let project = metadata_get("project/project-id");
    let token: serde_json::Value =
        serde_json::from_str(&metadata_get("instance/service-accounts/default/token"))
            .expect("a token answer");
    let token = token["access_token"]
        .as_str()
        .expect("an access_token")
        .to_string();
    let url = format!(
        "{api}/compute/v1/projects/{project}/zones/{}/disks/{}",
        disk.zone, disk.name
    );

    // Through the plugin socket.
    for _ in 0..WARM_UP {
        host.get(name).unwrap();
    }
    cloud.clear_faults();
    let mut plugin = Vec::new();
    for _ in 0..GET_SAMPLES {
        let start = Instant::now();
        let volume = host.get(name).unwrap();
        plugin.push(start.elapsed());
        assert!(!volume.is_null(), "Get found the probe volume");
    }
    let per_get: u64 = cloud.counters().values().sum();

    // The capability alone, configured as the host configures it.
    let http = Http::from_config("gcepd", &capability_config(&api, metadata))
        .expect("the http capability");
    let request = || Request {
        method: "GET".into(),
        url: url.clone(),
        headers: Vec::new(),
        body: Vec::new(),
        credential: Some("gce".into()),
        timeout_ms: None,
    };
    let in_process = runtime.block_on(async {
        let mut times = Vec::new();
        for i in 0..WARM_UP + GET_SAMPLES {
            let start = Instant::now();
            let answer = http.send(request()).await.expect("disks.get through Http");
            if i >= WARM_UP {
                times.push(start.elapsed());
            }
            assert_eq!(
                answer.status,
                200,
                "{}",
                String::from_utf8_lossy(&answer.body)
            );
        }
        times
    });

    // Directly, with the metadata server's token.
    let direct = runtime.block_on(async {
        let mut times = Vec::new();
        for i in 0..WARM_UP + GET_SAMPLES {
            let start = Instant::now();
            let answer = client
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .expect("disks.get");
            let status = answer.status();
            let body = answer.bytes().await.expect("disks.get's body");
            if i >= WARM_UP {
                times.push(start.elapsed());
            }
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        }
        times
    });
    host.remove(name).expect("Remove of the probe volume");

    let (plugin, in_process, direct) = (median(plugin), median(in_process), median(direct));
    // These are tens of microseconds: ms() would print 0.0.
    let us = |d: Duration| format!("{} µs", d.as_micros());
    let diff = |a: Duration, b: Duration| a.as_micros() as i64 - b.as_micros() as i64;
    println!("-- the http capability's cost: Get of one disk, p50 of {GET_SAMPLES} --");
    println!(
        "direct reqwest GET (metadata-server token)    p50 {}",
        us(direct)
    );
    println!(
        "Http::send in-process (policy, cached token)  p50 {}  ({:+} µs over direct)",
        us(in_process),
        diff(in_process, direct)
    );
    println!(
        "plugin Get through the socket                 p50 {}  ({:+} µs over in-process: a new \
         socket connection, the wasm guest, JSON both ways; {:.1} Compute Engine calls per Get)",
        us(plugin),
        diff(plugin, in_process),
        per_get as f64 / GET_SAMPLES as f64
    );
    println!(
        "in-process capability's token fetches: {}",
        http.token_fetches("gce").unwrap_or_default()
    );
}

/// The `http` section [`SimCloud::gce_config`] gives the hosts.
fn capability_config(api: &str, metadata: &str) -> BackendConfig {
    let credential = HttpCredential {
        provider: CredentialProvider::GceMetadata,
        hosts: vec![api.into()],
        metadata_endpoint: Some(metadata.into()),
        key_file: None,
        scopes: vec!["https://www.googleapis.com/auth/cloud-platform".into()],
        setting: None,
    };
    BackendConfig {
        module: "builtin:gcepd".into(),
        capabilities: vec!["http".into()],
        http: HttpConfig {
            allow: vec![api.into()],
            allow_loopback: true,
            credentials: [("gce".to_string(), credential)].into(),
            ..Default::default()
        },
        ..Default::default()
    }
}
