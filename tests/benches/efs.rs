//! What the EFS backend's calls cost, through the plugin socket of a real
//! `ballast serve` against cloudsim. Printed, not asserted.
//!
//!     cargo build --profile bench -p ballast     # the `ballast` binary it starts
//!     cargo bench -p ballast-tests --bench efs
//!
//! This kernel has no NFS client, so "Mount" is timed up to the host's
//! mount(2), which it refuses at once: everything the backend and the host
//! do before the kernel (identity, mount target found or created and waited
//! for, the mount request built) — the part Ballast owns.
//!
//! 1. Simulator delays at zero: the host's own overhead and the EFS calls.
//! 2. Realistic delays (EFS resources take 3 s to become available): the
//!    totals beside what REX-Ray's polling schedule would take.

use std::time::{Duration, Instant};

use ballast_tests::bench::{median, ms, over, rexray_seen};
use ballast_tests::cloud::{PluginCalls, SimCloud};
use ballast_tests::serve::BallastServe;
use cloudsim::delays::Delays;

fn main() {
    for (label, delays, rounds) in [
        ("simulator delays at zero", Delays::zero(), 10),
        ("realistic delays", Delays::realistic(), 3),
    ] {
        let Some(cloud) = SimCloud::start("efs bench", |c| c.delays = delays) else {
            return;
        };
        println!(
            "== {label} (EFS creating → available {:?}), {rounds} volumes per mode ==",
            delays.efs
        );
        let fs = cloud.create_file_system("bench-shared");
        let ap_host = cloud.efs_host("i-a", "bench-ap", &[("EFS_FILESYSTEMID", fs.as_str())]);
        let fs_host = cloud.efs_host("i-a", "bench-fs", &[]);
        for (mode, host) in [("access point", &ap_host), ("file system", &fs_host)] {
            cloud.clear_faults();
            let figures = measure(host, mode, rounds);
            println!("-- {mode} per volume --");
            figures.print(&cloud, rounds);
            if !delays.efs.is_zero() {
                // In file system mode Create and the first Mount each wait
                // for one state change (file system, mount target).
                println!(
                    "REX-Ray's schedule sees a {:?} state change after {} ms; Ballast's Create \
                     took {} ms over the change{}",
                    delays.efs,
                    rexray_seen(delays.efs),
                    over(figures.create, delays.efs),
                    match mode {
                        "file system" => format!(
                            ", its first Mount {} ms",
                            over(figures.first_mount, delays.efs)
                        ),
                        _ => String::new(),
                    }
                );
            }
        }
        println!();
    }
}

/// Median times of each call over fresh volumes.
struct Figures {
    create: Duration,
    get: Duration,
    /// The first Mount of a volume (in file system mode it makes the zone's
    /// mount target; in access point mode only the first volume's does).
    first_mount: Duration,
    /// A later Mount (the mount target is there).
    remount: Duration,
    remove: Duration,
}

impl Figures {
    fn print(&self, cloud: &SimCloud, rounds: usize) {
        println!("Create            p50 {}", ms(self.create));
        println!("Get               p50 {}", ms(self.get));
        println!(
            "first Mount       p50 {}  (up to the kernel's mount; file system mode: makes the zone's mount target)",
            ms(self.first_mount)
        );
        println!("later Mount       p50 {}", ms(self.remount));
        println!("Remove            p50 {}", ms(self.remove));
        let calls = cloud.counters();
        let total: u64 = calls.values().sum();
        println!(
            "EFS calls per volume lifecycle: {:.1}",
            total as f64 / rounds as f64
        );
        for (action, count) in calls {
            println!("    {action:<40} {count}");
        }
    }
}

fn measure(host: &BallastServe, prefix: &str, rounds: usize) -> Figures {
    let mut times: [Vec<Duration>; 5] = Default::default();
    for i in 0..rounds {
        let name = format!("{}{i}", prefix.replace(' ', "-"));
        let timed = |slot: &mut Vec<Duration>, f: &dyn Fn() -> Result<(), String>| {
            let start = Instant::now();
            f().unwrap_or_else(|e| panic!("{name}: {e}"));
            slot.push(start.elapsed());
        };
        // Without NFS in the kernel the mount's refusal is the expected end.
        let mount = |id: &str| match host.mount(&name, id) {
            Err(e) if e.contains("no NFS client") => Ok(()),
            other => other.map(drop),
        };
        timed(&mut times[0], &|| host.create(&name, &[]));
        timed(&mut times[1], &|| host.get(&name).map(drop));
        timed(&mut times[2], &|| mount("a"));
        timed(&mut times[3], &|| mount("b"));
        timed(&mut times[4], &|| host.remove(&name));
    }
    let [create, get, first_mount, remount, remove] = times.map(median);
    Figures {
        create,
        get,
        first_mount,
        remount,
        remove,
    }
}
