//! Runtime costs, printed (not asserted: these machines are noisy).
//!
//!     cargo bench -p ballast-tests --bench runtime
//!
//! 1. Per module: cold compile vs loading the cached artifact.
//! 2. Per driver call: fresh store + instantiate + init + operation, as
//!    every request pays it; p50/p99 over 10,000 calls.

use std::time::{Duration, Instant};

use ballast::runtime::cache::{CacheOutcome, ModuleCache};
use ballast::runtime::engine;
use ballast_tests::{host, module};

const CALLS: usize = 10_000;

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!("== module load: cold compile vs cached artifact ==");
    for name in ["ballast_local", "ballast_test_misbehave"] {
        compile_vs_cache(name);
    }
    println!("\n== instantiate + init + call, {CALLS} calls each ==");
    rt.block_on(call_overhead());
}

fn compile_vs_cache(name: &str) {
    let bytes = std::fs::read(module(name)).unwrap();
    let engine = engine::new_engine().unwrap();
    let cold: Vec<Duration> = (0..3)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let cache = ModuleCache::new(Some(dir.path().to_owned()));
            let start = Instant::now();
            let (_, outcome) = cache.load(&engine, &bytes).unwrap();
            assert_eq!(outcome, CacheOutcome::Compiled);
            start.elapsed()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let cache = ModuleCache::new(Some(dir.path().to_owned()));
    cache.load(&engine, &bytes).unwrap();
    let warm: Vec<Duration> = (0..50)
        .map(|_| {
            let start = Instant::now();
            let (_, outcome) = cache.load(&engine, &bytes).unwrap();
            assert_eq!(outcome, CacheOutcome::Hit);
            start.elapsed()
        })
        .collect();
    println!(
        "{name:<24} {:>7.1} KiB  compile (incl. cache write) median {:>8.2} ms   cached load median {:>6.3} ms",
        bytes.len() as f64 / 1024.0,
        ms(percentile(cold, 50)),
        ms(percentile(warm, 50)),
    );
}

async fn call_overhead() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path(), "").await.unwrap();
    let local = host.backend(None).unwrap();
    local
        .create("bench", &[("size".into(), "16MiB".into())])
        .await
        .unwrap();

    report(
        "local get (kv read)",
        time_calls(|| async { local.get("bench").await.unwrap() }).await,
    );
    // No host I/O at all: the misbehaving guest refuses `resize` at once,
    // so this is the bare cost of store + instantiate + init + call.
    let config = format!(
        "[backends.bad]\nmodule = {:?}\ncapabilities = [\"log\", \"kv\"]\n",
        module("ballast_test_misbehave").display().to_string()
    );
    let bare_dir = tempfile::tempdir().unwrap();
    let bare = ballast_tests::host(bare_dir.path(), &config).await.unwrap();
    let bad = bare.backend(Some("bad")).unwrap();
    report(
        "bare call (no host I/O)",
        time_calls(|| async { bad.resize("x", 1).await.unwrap_err() }).await,
    );
    report(
        "local get, missing name",
        time_calls(|| async { local.get("missing").await.unwrap() }).await,
    );
    report(
        "local list (1 volume)",
        time_calls(|| async { local.list().await.unwrap() }).await,
    );
}

async fn time_calls<F, Fut, T>(mut call: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    for _ in 0..200 {
        call().await; // warm-up
    }
    let mut times = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let start = Instant::now();
        std::hint::black_box(call().await);
        times.push(start.elapsed());
    }
    times
}

fn report(what: &str, times: Vec<Duration>) {
    let (p50, p99) = (percentile(times.clone(), 50), percentile(times, 99));
    println!(
        "{what:<28} p50 {:>8.1} µs   p99 {:>8.1} µs",
        us(p50),
        us(p99)
    );
}

fn percentile(mut times: Vec<Duration>, p: usize) -> Duration {
    times.sort();
    times[(times.len() * p / 100).min(times.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
