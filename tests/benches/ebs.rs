//! What a Mount of an EBS volume costs, through the plugin socket of a real
//! `ballast serve` against cloudsim (as root: the simulator's hypervisor
//! loop-attaches volumes). Printed, not asserted.
//!
//!     cargo build --profile bench -p ballast     # the `ballast` binary it starts
//!     cargo bench -p ballast-tests --bench ebs
//!
//! 1. Simulator delays at zero: the host's own overhead per Create, first
//!    Mount (attach + find + mkfs + mount), Unmount (unmount + detach) and
//!    remount, and the EC2 calls each makes.
//! 2. Realistic delays (create 1.5 s, attach 3 s, detach 2 s): the totals,
//!    beside what REX-Ray's polling schedule would take for the same
//!    delays (status polls after 100 ms × 2^i, device polls every 500 ms).

use std::time::Duration;

use ballast_tests::bench::{self, median, ms, over, rexray_seen};
use ballast_tests::cloud::{PluginCalls, SimCloud};
use ballast_tests::serve::BallastServe;
use cloudsim::delays::Delays;

fn main() {
    let fast_rounds = 10;
    let Some(cloud) = SimCloud::start("ebs bench", |_| {}) else {
        return;
    };
    let host = cloud.ebs_host("i-a", "bench-fast", &[]);
    println!("== simulator delays at zero, {fast_rounds} volumes ==");
    let fast = measure(&cloud, &host, "fast", fast_rounds);
    fast.print();
    drop(host);
    drop(cloud);

    let slow_rounds = 3;
    let Some(cloud) = SimCloud::start("ebs bench", |c| c.delays = Delays::realistic()) else {
        return;
    };
    let delays = Delays::realistic();
    let host = cloud.ebs_host("i-a", "bench-real", &[]);
    println!(
        "\n== realistic delays (create {:?}, attach {:?}, detach {:?}), {slow_rounds} volumes ==",
        delays.volume_create, delays.attach, delays.detach
    );
    let real = measure(&cloud, &host, "real", slow_rounds);
    real.print();
    println!(
        "\nREX-Ray's schedule for the same delays: create seen after {} ms, attach after {} ms \
         (+ up to 500 ms until its device poll), detach after {} ms",
        rexray_seen(delays.volume_create),
        rexray_seen(delays.attach),
        rexray_seen(delays.detach),
    );
    println!(
        "Ballast over the simulated delay: create {} ms, first mount {} ms, remount {} ms, unmount {} ms",
        over(real.create, delays.volume_create),
        over(real.first_mount, delays.attach),
        over(real.remount, delays.attach),
        over(real.unmount, delays.detach),
    );
}

/// Median times of each call over `rounds` fresh volumes.
struct Figures {
    create: Duration,
    first_mount: Duration,
    unmount: Duration,
    remount: Duration,
    remove: Duration,
    /// EC2 calls per volume lifecycle (create, mount, unmount, remount, unmount, remove).
    calls_per_volume: f64,
    calls: Vec<(String, u64)>,
}

impl Figures {
    fn print(&self) {
        println!("Create            p50 {}", ms(self.create));
        println!(
            "first Mount       p50 {}  (attach + wait + find + mkfs + mount)",
            ms(self.first_mount)
        );
        println!(
            "Unmount           p50 {}  (unmount + detach + wait)",
            ms(self.unmount)
        );
        println!("remount           p50 {}", ms(self.remount));
        println!("Remove            p50 {}", ms(self.remove));
        println!(
            "EC2 calls per volume lifecycle: {:.1}",
            self.calls_per_volume
        );
        for (action, count) in &self.calls {
            println!("    {action:<40} {count}");
        }
    }
}

fn measure(cloud: &SimCloud, host: &BallastServe, prefix: &str, rounds: usize) -> Figures {
    let mut times: [Vec<Duration>; 5] = Default::default();
    cloud.clear_faults();
    for i in 0..rounds {
        let name = format!("{prefix}{i}");
        let timed = |slot: &mut Vec<Duration>, f: &dyn Fn() -> Result<(), String>| {
            slot.push(bench::timed(|| {
                f().unwrap_or_else(|e| panic!("{name}: {e}"))
            }));
        };
        timed(&mut times[0], &|| host.create(&name, &[("size", "1")]));
        timed(&mut times[1], &|| host.mount(&name, "a").map(drop));
        timed(&mut times[2], &|| host.unmount(&name, "a"));
        timed(&mut times[3], &|| host.mount(&name, "b").map(drop));
        host.unmount(&name, "b").unwrap();
        timed(&mut times[4], &|| host.remove(&name));
    }
    let calls: Vec<(String, u64)> = cloud.counters().into_iter().collect();
    let total: u64 = calls.iter().map(|(_, n)| n).sum();
    let [create, first_mount, unmount, remount, remove] = times.map(median);
    Figures {
        create,
        first_mount,
        unmount,
        remount,
        remove,
        calls_per_volume: total as f64 / rounds as f64,
        calls,
    }
}
