//! Resource ids in each provider's format.

use rand::Rng;

/// `vol-0123456789abcdef0` style: prefix, dash, 17 hex digits.
pub fn aws(prefix: &str) -> String {
    let n: u128 = rand::rng().random();
    format!("{prefix}-{:017x}", n & ((1u128 << 68) - 1))
}

/// The one subnet each zone has, `subnet-<17 hex>`, stable per zone (EC2's
/// DescribeInstances reports it; EFS mount targets are created in it).
pub fn subnet_for_zone(zone: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(zone.as_bytes());
    format!("subnet-{}", &hex::encode(digest)[..17])
}

/// The `n`th private address in `zone`'s subnet (zones are 10.0.<i>.0/24
/// in the order configured).
pub fn private_ip(zone_index: usize, n: usize) -> String {
    format!("10.0.{}.{}", zone_index, 10 + n)
}

pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// RFC 3339 UTC with milliseconds, as AWS prints times.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .unwrap()
}

#[cfg(test)]
mod tests {
    #[test]
    fn aws_ids_have_17_hex_digits() {
        let id = super::aws("vol");
        assert_eq!(id.len(), 4 + 17, "{id}");
        assert!(id[4..].chars().all(|c| c.is_ascii_hexdigit()));
    }
}
