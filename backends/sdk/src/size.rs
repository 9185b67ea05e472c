//! Parsing sizes and booleans the way REX-Ray users write them, and
//! printing sizes for people.
//!
//! Sizes: a bare number means GiB (`--opt size=10` is 10 GiB, as in REX-Ray);
//! `K M G T P`, `Ki Mi Gi Ti Pi` and `KiB MiB GiB TiB PiB` are powers of
//! 1024; `KB MB GB TB PB` are powers of 1000; `B` is bytes. Units ignore
//! case and may follow a space. Decimals are fine when they come to a whole
//! number of bytes (`1.5GiB`). Pure functions: no capability is called.

use crate::{Error, Result};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;
const PIB: u64 = 1 << 50;

/// Most significant decimal places accepted; more cannot name whole bytes
/// of any unit here and would overflow the arithmetic below.
const MAX_DECIMALS: usize = 20;

const SIZE_HELP: &str = "expected a number with an optional unit, e.g. 10 (GiB), 512MiB, 1.5TB";

/// Parse a size into bytes. Zero, negative, malformed or over 16 EiB →
/// `invalid-argument` saying what was wrong.
pub fn parse_size(input: &str) -> Result<u64> {
    let text = input.trim();
    if text.starts_with('-') {
        return Err(invalid_size(input, "a size cannot be negative"));
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim_start());
    if number.is_empty() {
        return Err(invalid_size(input, SIZE_HELP));
    }
    let multiplier = unit_multiplier(unit).ok_or_else(|| {
        invalid_size(
            input,
            &format!(
                "unknown unit {unit:?}; use B, KiB, MiB, GiB, TiB, PiB (or K, M, G, T, P) \
                 for powers of 1024, KB, MB, GB, TB, PB for powers of 1000, \
                 or no unit for GiB"
            ),
        )
    })?;
    let bytes = scale(number, multiplier).map_err(|why| invalid_size(input, why))?;
    if bytes == 0 {
        return Err(invalid_size(input, "a size must be greater than zero"));
    }
    Ok(bytes)
}

fn invalid_size(input: &str, why: &str) -> Error {
    Error::invalid_argument(format!("invalid size {input:?}: {why}"))
}

/// Bytes per unit; `None` for an unknown unit. No unit means GiB.
fn unit_multiplier(unit: &str) -> Option<u64> {
    let multiplier = match unit.to_ascii_lowercase().as_str() {
        "" => GIB,
        "b" => 1,
        "k" | "ki" | "kib" => KIB,
        "m" | "mi" | "mib" => MIB,
        "g" | "gi" | "gib" => GIB,
        "t" | "ti" | "tib" => TIB,
        "p" | "pi" | "pib" => PIB,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "pb" => 1_000_000_000_000_000,
        _ => return None,
    };
    Some(multiplier)
}

/// `number` (digits, optionally `.` and more digits) times `multiplier`,
/// computed exactly.
fn scale(number: &str, multiplier: u64) -> core::result::Result<u64, &'static str> {
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (number, ""),
    };
    let well_formed = !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && !(number.contains('.') && fraction.is_empty());
    if !well_formed {
        return Err(SIZE_HELP);
    }
    let too_large = "too large (the limit is 16 EiB)";
    let whole_bytes = parse_digits(whole)
        .and_then(|w| w.checked_mul(u128::from(multiplier)))
        .ok_or(too_large)?;
    let fraction_bytes = scale_fraction(fraction, multiplier)?;
    u64::try_from(whole_bytes + fraction_bytes).map_err(|_| too_large)
}

/// The bytes `0.<fraction>` units make; an error unless they are whole.
fn scale_fraction(fraction: &str, multiplier: u64) -> core::result::Result<u128, &'static str> {
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        return Ok(0);
    }
    if fraction.len() > MAX_DECIMALS {
        return Err("too many decimal places");
    }
    // Both fit: below 10^20 times below 2^51 is below 2^128.
    let numerator = parse_digits(fraction).ok_or(SIZE_HELP)? * u128::from(multiplier);
    let denominator = 10u128.pow(fraction.len() as u32);
    if !numerator.is_multiple_of(denominator) {
        return Err("not a whole number of bytes");
    }
    Ok(numerator / denominator)
}

/// Decimal digits as a number; `None` when it does not fit in `u128`.
fn parse_digits(digits: &str) -> Option<u128> {
    digits.parse::<u128>().ok()
}

/// Parse a boolean: true/false, yes/no, on/off, 1/0 (any case).
pub fn parse_bool(input: &str) -> Result<bool> {
    match input.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(Error::invalid_argument(format!(
            "invalid boolean {input:?}: use true/false, yes/no, on/off or 1/0"
        ))),
    }
}

/// A size for people: the largest binary unit, up to two decimals
/// (`64 MiB`, `1.5 GiB`, `512 B`).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (PIB, "PiB"),
        (TIB, "TiB"),
        (GIB, "GiB"),
        (MIB, "MiB"),
        (KIB, "KiB"),
    ];
    let Some(&(unit, name)) = UNITS.iter().find(|(unit, _)| bytes >= *unit) else {
        return format!("{bytes} B");
    };
    // Integer arithmetic, rounded to hundredths: no float formatting code
    // in every component.
    let hundredths = (u128::from(bytes) * 100 + u128::from(unit) / 2) / u128::from(unit);
    let (whole, fraction) = (hundredths / 100, hundredths % 100);
    match fraction {
        0 => format!("{whole} {name}"),
        f if f % 10 == 0 => format!("{whole}.{} {name}", f / 10),
        f => format!("{whole}.{f:02} {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_numbers_are_gib() {
        assert_eq!(parse_size("10").unwrap(), 10 * GIB);
        assert_eq!(parse_size("1").unwrap(), GIB);
        assert_eq!(parse_size(" 2 ").unwrap(), 2 * GIB);
    }

    #[test]
    fn binary_units_in_every_spelling() {
        for (input, bytes) in [
            ("1K", KIB),
            ("1Ki", KIB),
            ("1KiB", KIB),
            ("512MiB", 512 * MIB),
            ("512M", 512 * MIB),
            ("512mi", 512 * MIB),
            ("3G", 3 * GIB),
            ("3gib", 3 * GIB),
            ("2TiB", 2 * TIB),
            ("2t", 2 * TIB),
            ("1PiB", PIB),
            ("1P", PIB),
            ("4096B", 4096),
            ("4096 b", 4096),
        ] {
            assert_eq!(parse_size(input).unwrap(), bytes, "{input}");
        }
    }

    #[test]
    fn decimal_units_are_powers_of_1000() {
        assert_eq!(parse_size("1KB").unwrap(), 1_000);
        assert_eq!(parse_size("5MB").unwrap(), 5_000_000);
        assert_eq!(parse_size("20gb").unwrap(), 20_000_000_000);
        assert_eq!(parse_size("1TB").unwrap(), 1_000_000_000_000);
        assert_eq!(parse_size("2PB").unwrap(), 2_000_000_000_000_000);
    }

    #[test]
    fn units_ignore_case_and_may_follow_a_space() {
        assert_eq!(parse_size("10 GiB").unwrap(), 10 * GIB);
        assert_eq!(parse_size("10gIb").unwrap(), 10 * GIB);
        assert_eq!(parse_size("10  mib").unwrap(), 10 * MIB);
    }

    #[test]
    fn decimals_must_make_whole_bytes() {
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 * GIB / 2);
        assert_eq!(parse_size("0.5").unwrap(), GIB / 2);
        assert_eq!(parse_size("1.25 MB").unwrap(), 1_250_000);
        assert_eq!(parse_size("2.000").unwrap(), 2 * GIB);
        let err = parse_size("1.5B").unwrap_err();
        assert!(
            err.message().contains("not a whole number of bytes"),
            "{err}"
        );
        let err = parse_size("0.0000001KB").unwrap_err();
        assert!(
            err.message().contains("not a whole number of bytes"),
            "{err}"
        );
        let err = parse_size(&format!("1.{}1", "0".repeat(30))).unwrap_err();
        assert!(err.message().contains("too many decimal places"), "{err}");
    }

    #[test]
    fn refuses_bad_sizes_with_a_clear_message() {
        for (input, says) in [
            ("-1", "cannot be negative"),
            ("-1GiB", "cannot be negative"),
            ("abc", "expected a number"),
            ("10XB", "unknown unit \"XB\""),
            ("10 GiBs", "unknown unit"),
            ("1e3", "unknown unit"),
            ("", "expected a number"),
            ("   ", "expected a number"),
            ("GiB", "expected a number"),
            (".5", "expected a number"),
            ("1.", "expected a number"),
            ("1.2.3", "expected a number"),
            ("0", "greater than zero"),
            ("0GiB", "greater than zero"),
            ("0.0", "greater than zero"),
            ("16384PiB", "too large"),
            ("18446744073709551616B", "too large"),
            ("99999999999999999999999999999999999999999999", "too large"),
        ] {
            let err = parse_size(input).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{input:?}");
            assert!(err.message().contains(says), "{input:?}: {err}");
            assert!(
                err.message().contains(&format!("{input:?}")),
                "{input:?}: {err}"
            );
        }
    }

    #[test]
    fn the_largest_size_fits() {
        assert_eq!(parse_size("18446744073709551615B").unwrap(), u64::MAX);
        assert_eq!(parse_size("16383PiB").unwrap(), 16383 * PIB);
    }

    #[test]
    fn booleans_in_every_spelling() {
        for input in ["true", "TRUE", "yes", "Yes", "on", "1", " on "] {
            assert!(parse_bool(input).unwrap(), "{input}");
        }
        for input in ["false", "False", "no", "NO", "off", "0"] {
            assert!(!parse_bool(input).unwrap(), "{input}");
        }
        for input in ["", "maybe", "2", "y", "t"] {
            let err = parse_bool(input).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{input}");
            assert!(err.message().contains("true/false"), "{err}");
        }
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(512), "512 B");
        assert_eq!(format_size(KIB), "1 KiB");
        assert_eq!(format_size(64 * MIB), "64 MiB");
        assert_eq!(format_size(3 * GIB / 2), "1.5 GiB");
        assert_eq!(format_size(GIB + 1), "1 GiB");
        assert_eq!(format_size(16 * TIB), "16 TiB");
        assert_eq!(format_size(PIB), "1 PiB");
        assert_eq!(format_size(1_000_000_000), "953.67 MiB");
        assert_eq!(format_size(GIB + GIB / 20), "1.05 GiB");
        assert_eq!(format_size(u64::MAX), "16384 PiB");
    }
}
