//! EBS's per-type limits on size, IOPS and throughput, checked before
//! CreateVolume and ModifyVolume so a bad request is refused with the rule
//! it broke (`invalid-argument`) and nothing is created. The numbers are
//! EBS's (and tests/cloudsim's, which enforces the same ones).
//!
//! Pure: no capability is called.

use ballast_sdk::{Error, Result};

pub const GIB: u64 = 1 << 30;

/// Every volume type EBS offers.
pub const VOLUME_TYPES: [&str; 7] = ["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"];

/// gp3's baseline IOPS, which any size gets.
const GP3_BASELINE_IOPS: u32 = 3000;

/// Smallest and largest size (GiB) of a volume type.
pub fn size_range(volume_type: &str) -> (u32, u32) {
    match volume_type {
        "io1" => (4, 16384),
        "io2" => (4, 65536),
        "st1" | "sc1" => (125, 16384),
        "standard" => (1, 1024),
        _ => (1, 16384),
    }
}

/// IOPS range and most IOPS per GiB of the types that take an IOPS value.
fn iops_limits(volume_type: &str) -> Option<(u32, u32, u32)> {
    match volume_type {
        "gp3" => Some((3000, 16000, 500)),
        "io1" => Some((100, 64000, 50)),
        "io2" => Some((100, 256000, 1000)),
        _ => None,
    }
}

/// A size must fit its type.
pub fn check_size(volume_type: &str, size_gib: u32) -> Result<()> {
    let (min, max) = size_range(volume_type);
    if size_gib < min {
        return Err(Error::invalid_argument(format!(
            "{volume_type} volumes must be at least {min} GiB (asked {size_gib} GiB)"
        )));
    }
    if size_gib > max {
        return Err(Error::invalid_argument(format!(
            "{volume_type} volumes can be at most {max} GiB (asked {size_gib} GiB)"
        )));
    }
    Ok(())
}

/// IOPS: required for io1/io2, optional for gp3, refused for the others
/// (gp2 derives its IOPS from the size; st1, sc1, standard have none).
pub fn check_iops(volume_type: &str, size_gib: u32, iops: Option<u32>) -> Result<()> {
    let Some((min, max, per_gib)) = iops_limits(volume_type) else {
        return match iops {
            Some(_) => Err(Error::invalid_argument(format!(
                "iops is not supported for {volume_type} volumes (only gp3, io1, io2)"
            ))),
            None => Ok(()),
        };
    };
    let iops = match iops {
        Some(iops) => iops,
        None if volume_type == "gp3" => return Ok(()),
        None => {
            return Err(Error::invalid_argument(format!(
                "{volume_type} volumes need iops ({min}-{max}, at most {per_gib} per GiB)"
            )));
        }
    };
    if !(min..=max).contains(&iops) {
        return Err(Error::invalid_argument(format!(
            "iops for {volume_type} volumes must be {min}-{max} (asked {iops})"
        )));
    }
    // gp3 gets its baseline at any size; only what is above it is bounded
    // by the size.
    let allowed = u64::from(per_gib) * u64::from(size_gib);
    let free = if volume_type == "gp3" {
        GP3_BASELINE_IOPS
    } else {
        0
    };
    if iops > free && u64::from(iops) > allowed {
        return Err(Error::invalid_argument(format!(
            "{volume_type} volumes allow at most {per_gib} iops per GiB: \
             {size_gib} GiB allows {} (asked {iops})",
            allowed.max(u64::from(free))
        )));
    }
    Ok(())
}

/// Throughput (MiB/s): gp3 only, 125–1000, at most a quarter of the IOPS
/// (3000 when not given).
pub fn check_throughput(
    volume_type: &str,
    iops: Option<u32>,
    throughput: Option<u32>,
) -> Result<()> {
    let Some(throughput) = throughput else {
        return Ok(());
    };
    if volume_type != "gp3" {
        return Err(Error::invalid_argument(format!(
            "throughput is only supported for gp3 volumes, not {volume_type}"
        )));
    }
    if !(125..=1000).contains(&throughput) {
        return Err(Error::invalid_argument(format!(
            "throughput for gp3 volumes must be 125-1000 MiB/s (asked {throughput})"
        )));
    }
    let iops = iops.unwrap_or(GP3_BASELINE_IOPS);
    if u64::from(throughput) * 4 > u64::from(iops) {
        return Err(Error::invalid_argument(format!(
            "throughput may be at most iops/4: {throughput} MiB/s needs at least {} iops (asked {iops})",
            u64::from(throughput) * 4
        )));
    }
    Ok(())
}

/// Every rule of a volume about to be created.
pub fn check(
    volume_type: &str,
    size_gib: u32,
    iops: Option<u32>,
    throughput: Option<u32>,
) -> Result<()> {
    check_size(volume_type, size_gib)?;
    check_iops(volume_type, size_gib, iops)?;
    check_throughput(volume_type, iops, throughput)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(result: Result<()>) -> String {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), "invalid-argument");
        err.message().to_owned()
    }

    #[test]
    fn sizes_per_type() {
        for (volume_type, min, max) in [
            ("gp2", 1, 16384),
            ("gp3", 1, 16384),
            ("io1", 4, 16384),
            ("io2", 4, 65536),
            ("st1", 125, 16384),
            ("sc1", 125, 16384),
            ("standard", 1, 1024),
        ] {
            check_size(volume_type, min).unwrap();
            check_size(volume_type, max).unwrap();
            assert!(check_size(volume_type, min - 1).is_err(), "{volume_type}");
            assert!(check_size(volume_type, max + 1).is_err(), "{volume_type}");
        }
        assert_eq!(
            refused(check_size("st1", 10)),
            "st1 volumes must be at least 125 GiB (asked 10 GiB)"
        );
        assert_eq!(
            refused(check_size("standard", 2000)),
            "standard volumes can be at most 1024 GiB (asked 2000 GiB)"
        );
    }

    #[test]
    fn iops_only_where_the_type_takes_it() {
        for volume_type in ["gp2", "st1", "sc1", "standard"] {
            check_iops(volume_type, 500, None).unwrap();
            assert_eq!(
                refused(check_iops(volume_type, 500, Some(3000))),
                format!("iops is not supported for {volume_type} volumes (only gp3, io1, io2)")
            );
        }
        check_iops("gp3", 1, None).unwrap();
        assert_eq!(
            refused(check_iops("io1", 10, None)),
            "io1 volumes need iops (100-64000, at most 50 per GiB)"
        );
        assert!(refused(check_iops("io2", 10, None)).starts_with("io2 volumes need iops"));
    }

    #[test]
    fn iops_ranges() {
        for (volume_type, min, max) in [
            ("gp3", 3000, 16000),
            ("io1", 100, 64000),
            ("io2", 100, 256000),
        ] {
            let big = 65536;
            check_iops(volume_type, big, Some(min)).unwrap();
            check_iops(volume_type, big, Some(max)).unwrap();
            assert_eq!(
                refused(check_iops(volume_type, big, Some(min - 1))),
                format!(
                    "iops for {volume_type} volumes must be {min}-{max} (asked {})",
                    min - 1
                )
            );
            assert!(check_iops(volume_type, big, Some(max + 1)).is_err());
        }
    }

    #[test]
    fn iops_per_gib() {
        // gp3: 3000 at any size, 500/GiB above that.
        check_iops("gp3", 1, Some(3000)).unwrap();
        check_iops("gp3", 10, Some(5000)).unwrap();
        assert_eq!(
            refused(check_iops("gp3", 10, Some(5001))),
            "gp3 volumes allow at most 500 iops per GiB: 10 GiB allows 5000 (asked 5001)"
        );
        assert_eq!(
            refused(check_iops("gp3", 2, Some(4000))),
            "gp3 volumes allow at most 500 iops per GiB: 2 GiB allows 3000 (asked 4000)"
        );
        // io1: 50/GiB; io2: 1000/GiB.
        check_iops("io1", 10, Some(500)).unwrap();
        assert!(refused(check_iops("io1", 10, Some(501))).contains("at most 50 iops per GiB"));
        check_iops("io2", 10, Some(10000)).unwrap();
        assert!(refused(check_iops("io2", 10, Some(10001))).contains("at most 1000 iops per GiB"));
    }

    #[test]
    fn throughput_rules() {
        check_throughput("gp3", None, None).unwrap();
        check_throughput("gp3", None, Some(125)).unwrap();
        check_throughput("gp3", None, Some(750)).unwrap();
        check_throughput("gp3", Some(4000), Some(1000)).unwrap();
        check_throughput("io2", Some(1000), None).unwrap();
        assert_eq!(
            refused(check_throughput("io2", Some(1000), Some(500))),
            "throughput is only supported for gp3 volumes, not io2"
        );
        assert_eq!(
            refused(check_throughput("gp3", None, Some(124))),
            "throughput for gp3 volumes must be 125-1000 MiB/s (asked 124)"
        );
        assert!(check_throughput("gp3", Some(16000), Some(1001)).is_err());
        assert_eq!(
            refused(check_throughput("gp3", None, Some(800))),
            "throughput may be at most iops/4: 800 MiB/s needs at least 3200 iops (asked 3000)"
        );
    }

    #[test]
    fn check_applies_every_rule_in_order() {
        check("gp3", 16, None, None).unwrap();
        check("io1", 10, Some(400), None).unwrap();
        assert!(refused(check("st1", 10, None, None)).contains("125 GiB"));
        assert!(refused(check("gp2", 10, Some(300), None)).contains("iops"));
        assert!(refused(check("gp2", 10, None, Some(125))).contains("throughput"));
    }
}
