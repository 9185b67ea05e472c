//! Device names for AttachVolume, chosen as the EBS CSI driver does: from
//! /dev/xvdba … /dev/xvdbz, /dev/xvdca … /dev/xvdcz, skipping names the
//! instance has in use and names that concurrent attaches on this host have
//! reserved in kv but EC2 does not show yet.
//!
//! A reservation is kv key `device/<name>` = "<volume id> <unix seconds>",
//! taken with compare-and-swap and released once the attach settled. One
//! left by a call that died is ignored after its time-to-live. This module
//! must never release a reservation that is not its own.

use ballast_sdk::cluster::unix_now;
use ballast_sdk::{Result, kv, log};

const PREFIX: &str = "device/";

/// The names tried, in order: 52 of them.
pub fn candidates() -> impl Iterator<Item = String> {
    ['b', 'c']
        .into_iter()
        .flat_map(|first| ('a'..='z').map(move |second| format!("/dev/xvd{first}{second}")))
}

/// The first candidate that is not taken: not in `used` (the instance's
/// block-device mappings), not `reserved` here, not already `tried`. Names
/// compare as EC2 does: /dev/sdX and /dev/xvdX are the same attachment point.
pub fn choose(used: &[String], reserved: &[String], tried: &[String]) -> Option<String> {
    let taken = |candidate: &str| {
        used.iter()
            .chain(reserved)
            .chain(tried)
            .any(|name| slot(name) == slot(candidate))
    };
    candidates().find(|candidate| !taken(candidate))
}

/// The part of a device name that identifies the attachment point:
/// "/dev/sdba", "sdba", "/dev/xvdba" and "xvdba" all give "ba".
fn slot(name: &str) -> &str {
    let name = name.strip_prefix("/dev/").unwrap_or(name);
    name.strip_prefix("xvd")
        .or_else(|| name.strip_prefix("sd"))
        .unwrap_or(name)
}

/// The kernel name the device gets on Xen instances (which rename sdX to
/// xvdX): "/dev/sdf" → "xvdf", "/dev/xvdba" → "xvdba".
pub fn xvd_name(device: &str) -> String {
    let name = device.strip_prefix("/dev/").unwrap_or(device);
    match name.strip_prefix("sd") {
        Some(rest) => format!("xvd{rest}"),
        None => name.to_owned(),
    }
}

/// A device name reserved in kv by this call.
#[derive(Debug)]
pub struct Reservation {
    pub device: String,
    value: Vec<u8>,
}

/// Reserve a free device name for `volume_id`, given the names the instance
/// uses and those already `tried`. `None` when every name is taken.
pub fn reserve(
    volume_id: &str,
    used: &[String],
    tried: &[String],
    ttl_secs: u64,
) -> Result<Option<Reservation>> {
    let now = unix_now();
    let mut lost: Vec<String> = Vec::new();
    loop {
        let reserved = live_reservations(now, ttl_secs)?;
        let skip: Vec<String> = tried.iter().chain(&lost).cloned().collect();
        let Some(device) = choose(used, &reserved, &skip) else {
            return Ok(None);
        };
        let key = key(&device);
        let value = format!("{volume_id} {now}").into_bytes();
        // A stale reservation is replaced only if it is still the one seen;
        // a live one appeared since the list was read.
        let current = kv::get(&key)?;
        if current
            .as_deref()
            .is_some_and(|value| !is_stale(value, now, ttl_secs))
        {
            lost.push(device);
            continue;
        }
        if kv::compare_and_swap(&key, current.as_deref(), Some(&value))? {
            return Ok(Some(Reservation { device, value }));
        }
        // Another attach on this host took it between list and swap.
        lost.push(device);
    }
}

/// Give a reservation back, if it is still ours. Failures are only logged:
/// the reservation then expires by itself.
pub fn release(reservation: Reservation) {
    let key = key(&reservation.device);
    if let Err(err) = kv::compare_and_swap(&key, Some(&reservation.value), None) {
        log::warn(
            "could not release a device name reservation; it expires by itself",
            &[("device", &reservation.device), ("error", err.message())],
        );
    }
}

/// Devices reserved by attaches that may still be running.
fn live_reservations(now: u64, ttl_secs: u64) -> Result<Vec<String>> {
    let mut live = Vec::new();
    for key in kv::list_keys(PREFIX)? {
        let Some(device) = key.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(value) = kv::get(&key)? else {
            continue;
        };
        if !is_stale(&value, now, ttl_secs) {
            live.push(format!("/dev/{device}"));
        }
    }
    Ok(live)
}

/// Whether reservation `value` ("<volume id> <unix seconds>") is older than
/// `ttl_secs`. An unreadable value counts as stale: nothing of ours wrote it.
fn is_stale(value: &[u8], now: u64, ttl_secs: u64) -> bool {
    let taken_at = std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.rsplit_once(' '))
        .and_then(|(_, secs)| secs.parse::<u64>().ok());
    match taken_at {
        Some(at) => now.saturating_sub(at) > ttl_secs,
        None => true,
    }
}

fn key(device: &str) -> String {
    format!("{PREFIX}{}", device.strip_prefix("/dev/").unwrap_or(device))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn candidates_are_the_csi_range() {
        let all: Vec<String> = candidates().collect();
        assert_eq!(all.len(), 52);
        assert_eq!(all[0], "/dev/xvdba");
        assert_eq!(all[25], "/dev/xvdbz");
        assert_eq!(all[26], "/dev/xvdca");
        assert_eq!(all[51], "/dev/xvdcz");
    }

    #[test]
    fn the_first_free_name_is_chosen() {
        assert_eq!(choose(&[], &[], &[]).as_deref(), Some("/dev/xvdba"));
        let used = names(&["/dev/xvda", "/dev/xvdba", "/dev/sdbb"]);
        assert_eq!(
            choose(&used, &[], &[]).as_deref(),
            Some("/dev/xvdbc"),
            "sdbb is xvdbb"
        );
        let reserved = names(&["/dev/xvdbc"]);
        let tried = names(&["/dev/xvdbd"]);
        assert_eq!(
            choose(&used, &reserved, &tried).as_deref(),
            Some("/dev/xvdbe")
        );
    }

    #[test]
    fn unrelated_names_do_not_block_and_a_full_range_gives_none() {
        let used = names(&["/dev/sda1", "/dev/xvdf", "/dev/nvme0n1", "xvdb"]);
        assert_eq!(choose(&used, &[], &[]).as_deref(), Some("/dev/xvdba"));
        let all: Vec<String> = candidates().collect();
        assert_eq!(choose(&all[..30], &all[30..], &[]), None);
        assert_eq!(choose(&[], &[], &all), None);
    }

    #[test]
    fn xen_renames_sd_to_xvd() {
        assert_eq!(xvd_name("/dev/sdf"), "xvdf");
        assert_eq!(xvd_name("/dev/xvdba"), "xvdba");
        assert_eq!(xvd_name("sdba"), "xvdba");
    }

    #[test]
    fn reservations_expire() {
        assert!(!is_stale(b"vol-1 1000", 1000, 600));
        assert!(!is_stale(b"vol-1 1000", 1600, 600));
        assert!(is_stale(b"vol-1 1000", 1601, 600));
        assert!(
            !is_stale(b"vol-1 2000", 1000, 600),
            "a clock behind is not stale"
        );
        assert!(is_stale(b"garbage", 1000, 600));
        assert!(is_stale(&[0xff, 0xfe], 1000, 600));
        assert_eq!(key("/dev/xvdba"), "device/xvdba");
    }
}
