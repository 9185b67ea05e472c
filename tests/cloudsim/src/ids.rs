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

/// The region's one VPC, `vpc-<17 hex>`, stable per region: EC2's
/// DescribeInstances, EFS's mount targets and instance metadata all name it.
pub fn vpc_id(region: &str) -> String {
    stable_id("vpc", &format!("vpc/{region}"))
}

/// The VPC's default security group: every instance's, and a mount
/// target's when none is given.
pub fn default_security_group(region: &str) -> String {
    stable_id("sg", &format!("default-sg/{region}"))
}

/// An instance's primary network interface's MAC address, stable per
/// instance id (locally administered, like AWS's `0e:…` addresses).
pub fn mac_for_instance(instance_id: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("mac/{instance_id}").as_bytes());
    let tail: Vec<String> = digest[..5].iter().map(|b| format!("{b:02x}")).collect();
    format!("0e:{}", tail.join(":"))
}

/// `prefix-<17 hex>` derived from `seed`.
fn stable_id(prefix: &str, seed: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(seed.as_bytes());
    format!("{prefix}-{}", &hex::encode(digest)[..17])
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

    #[test]
    fn network_ids_are_stable() {
        assert_eq!(super::vpc_id("us-east-1"), super::vpc_id("us-east-1"));
        assert_eq!(super::vpc_id("us-east-1").len(), 4 + 17);
        assert!(super::default_security_group("us-east-1").starts_with("sg-"));
        let mac = super::mac_for_instance("i-a");
        assert_eq!(mac, super::mac_for_instance("i-a"));
        assert_ne!(mac, super::mac_for_instance("i-b"));
        assert_eq!(mac.len(), 17, "{mac}");
        assert!(mac.starts_with("0e:"), "{mac}");
    }
}
