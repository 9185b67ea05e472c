//! Small helpers the bench binaries share.

use std::time::Duration;

/// The median of some timings.
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// When REX-Ray's status polls (after 100, 200, 400 … ms) first see a
/// change that takes `delay`: the cumulative sleep at that poll, in ms.
pub fn rexray_seen(delay: Duration) -> u64 {
    let mut slept = 0;
    let mut step = 100;
    while slept < delay.as_millis() as u64 {
        slept += step;
        step *= 2;
    }
    slept
}

/// How much longer than `delay` a call took, in ms.
pub fn over(total: Duration, delay: Duration) -> i64 {
    total.as_millis() as i64 - delay.as_millis() as i64
}

/// How long `f` took.
pub fn timed(f: impl FnOnce()) -> Duration {
    let started = std::time::Instant::now();
    f();
    started.elapsed()
}

/// Milliseconds with one decimal, for printing.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
