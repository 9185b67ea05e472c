//! KMS key names as AWS backends compare them: what a user typed in an
//! option against what EC2 or EFS reports. Pure.

/// Whether the key asked for is the resource's. EC2 and EFS report a key
/// ARN; the option may be that ARN, the bare key id, or an alias (which only
/// KMS can resolve, so an alias is taken as matching).
pub fn same_key(asked: &str, actual: Option<&str>) -> bool {
    let Some(actual) = actual else {
        return false;
    };
    asked == actual
        || actual.ends_with(&format!("/{asked}"))
        || asked.starts_with("alias/")
        || asked.contains(":alias/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_by_arn_id_or_alias() {
        let arn = Some("arn:aws:kms:us-east-1:123456789012:key/k-1");
        assert!(same_key("arn:aws:kms:us-east-1:123456789012:key/k-1", arn));
        assert!(same_key("k-1", arn));
        assert!(same_key("alias/prod", arn));
        assert!(same_key(
            "arn:aws:kms:us-east-1:123456789012:alias/prod",
            arn
        ));
        assert!(!same_key("k-2", arn));
        assert!(!same_key("1", arn), "a suffix is not an id");
        assert!(!same_key("k-1", None), "an unencrypted resource has no key");
    }
}
