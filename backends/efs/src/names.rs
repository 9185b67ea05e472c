//! EFS's names and Ballast's names for EFS things: file system, subnet and
//! security group ids, the directory an access point volume lives in, the
//! tags beyond the cluster scheme, and the idempotency tokens.
//!
//! Pure. The path rules are EFS's for an access point's root directory
//! (at most 100 characters and four components, none starting with '.'),
//! checked before any call so a bad path is refused with the rule it breaks.

use ballast_sdk::cluster::{Cluster, window_token};
use ballast_sdk::{Error, Result, VolumeName};

/// On an access point: "true" when the volume was created with `purge=true`
/// (its directory is deleted with it).
pub const PURGE_TAG: &str = "ballast.purge";

/// On an access point: when it was created, milliseconds since the Unix
/// epoch by the creating host's clock (EFS does not say). Decides which of
/// two duplicates is the volume; see `lookup::survivor`.
pub const CREATED_TAG: &str = "ballast.created";

/// The directory access point volumes go under when `EFS_BASEPATH` is not set.
pub const DEFAULT_BASE_PATH: &str = "/ballast";

/// EFS's limits on an access point's root directory.
pub const MAX_ROOT_PATH_LEN: usize = 100;
pub const MAX_ROOT_PATH_DEPTH: usize = 4;

/// Security groups a mount target may have.
pub const MAX_SECURITY_GROUPS: usize = 5;

/// The tag that marks a file system as holding access point volumes of
/// `cluster` (put there by `create`, so `get` and `list` know where to
/// look when the file system was named by an option, not the settings).
pub fn holder_tag(cluster: &Cluster) -> String {
    format!("ballast.access-points.{}", cluster.tag)
}

/// The idempotency token (CreationToken, ClientToken) of a create of `name`
/// at `unix_secs`: shared by every host in one 10-minute window. `after` is
/// the id of a file system or access point the plain token handed back
/// while it was being deleted (a volume removed and created again within
/// the window): the token then moves on, the same way on every host.
pub fn token(cluster: &Cluster, name: &VolumeName, unix_secs: u64, after: Option<&str>) -> String {
    match after {
        None => window_token(&[&cluster.tag, name], unix_secs),
        Some(gone) => window_token(&[&cluster.tag, name, gone], unix_secs),
    }
}

/// The root directory of access point volume `name` under `base`
/// (as [`check_base_path`] gave it); `invalid-argument` past EFS's limits.
pub fn root_path(base: &str, name: &VolumeName) -> Result<String> {
    let path = if base == "/" {
        format!("/{name}")
    } else {
        format!("{base}/{name}")
    };
    if path.len() > MAX_ROOT_PATH_LEN {
        return Err(Error::invalid_argument(format!(
            "volume {name} would live in {path}, which is {} characters long; EFS allows \
             access point directories of at most {MAX_ROOT_PATH_LEN}: use a shorter name \
             (or a shorter EFS_BASEPATH)",
            path.len()
        )));
    }
    Ok(path)
}

/// `EFS_BASEPATH` normalised: absolute, no trailing '/', at most three
/// components (the volume's directory is the fourth) of letters, digits,
/// '_', '.', '-', none starting with '.'.
pub fn check_base_path(text: &str) -> Result<String> {
    let trimmed = text.trim();
    let bad = |why: &str| {
        Error::invalid_argument(format!(
            "setting EFS_BASEPATH {text:?}: {why}, e.g. {DEFAULT_BASE_PATH} or /docker/volumes"
        ))
    };
    let Some(rest) = trimmed.strip_prefix('/') else {
        return Err(bad("expected an absolute path"));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Ok("/".into());
    }
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.len() > MAX_ROOT_PATH_DEPTH - 1 {
        return Err(bad(&format!(
            "at most {} directories (EFS allows {MAX_ROOT_PATH_DEPTH} levels and the volume \
             takes one)",
            MAX_ROOT_PATH_DEPTH - 1
        )));
    }
    let good_part = |p: &&str| {
        !p.is_empty()
            && !p.starts_with('.')
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    };
    if !parts.iter().all(good_part) {
        return Err(bad(
            "use directories of letters, digits, '_', '.', '-', none empty or starting with '.'",
        ));
    }
    Ok(format!("/{}", parts.join("/")))
}

/// An EFS file system id (`fs-` and 8 to 40 hex digits) named by `what`.
pub fn check_file_system_id(what: &str, id: &str) -> Result<String> {
    check_id(what, id.trim(), "fs-", "fs-0123456789abcdef0")
}

/// A subnet id (`subnet-…`) named by `what`.
pub fn check_subnet_id(what: &str, id: &str) -> Result<String> {
    check_id(what, id.trim(), "subnet-", "subnet-0123456789abcdef0")
}

/// `EFS_SECURITYGROUPS`: security group ids separated by commas or spaces,
/// 1 to 5 of them (a mount target's limit).
pub fn parse_security_groups(text: &str) -> Result<Vec<String>> {
    let what = "setting EFS_SECURITYGROUPS";
    let groups = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|g| !g.is_empty())
        .map(|g| check_id(what, g, "sg-", "sg-0123456789abcdef0"))
        .collect::<Result<Vec<String>>>()?;
    if groups.is_empty() {
        return Err(Error::invalid_argument(format!(
            "{what} is empty; leave it out (mount targets then get this host's groups) or \
             list security group ids"
        )));
    }
    if groups.len() > MAX_SECURITY_GROUPS {
        return Err(Error::invalid_argument(format!(
            "{what}: {} groups given; a mount target takes at most {MAX_SECURITY_GROUPS}",
            groups.len()
        )));
    }
    Ok(groups)
}

/// `<prefix>` and 8 to 40 lowercase hex digits (AWS's short and long ids).
fn check_id(what: &str, id: &str, prefix: &str, example: &str) -> Result<String> {
    let ok = id.strip_prefix(prefix).is_some_and(|hex| {
        (8..=40).contains(&hex.len())
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(id.to_owned())
    } else {
        Err(Error::invalid_argument(format!(
            "{what} {id:?} is not an id like {example}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> VolumeName {
        VolumeName::new(n).unwrap()
    }

    fn cluster(tag: Option<&str>) -> Cluster {
        Cluster::from_setting("EFS_TAG", tag.map(str::to_owned)).unwrap()
    }

    #[test]
    fn base_paths_are_normalised() {
        assert_eq!(check_base_path("/ballast").unwrap(), "/ballast");
        assert_eq!(check_base_path(" /a/b/ ").unwrap(), "/a/b");
        assert_eq!(check_base_path("/").unwrap(), "/");
        assert_eq!(check_base_path("/a.b/c-d/e_f").unwrap(), "/a.b/c-d/e_f");
        for (bad, says) in [
            ("ballast", "absolute"),
            ("", "absolute"),
            ("/a//b", "none empty"),
            ("/a/../b", "starting with '.'"),
            ("/.hidden", "starting with '.'"),
            ("/a b", "letters, digits"),
            ("/a/$HOME", "letters, digits"),
            ("/a/b/c/d", "at most 3 directories"),
        ] {
            let err = check_base_path(bad).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{bad:?}");
            assert!(err.message().contains(says), "{bad:?}: {err}");
            assert!(err.message().contains("EFS_BASEPATH"), "{err}");
        }
    }

    #[test]
    fn root_paths_fit_efs_limits() {
        assert_eq!(
            root_path("/ballast", &name("pgdata")).unwrap(),
            "/ballast/pgdata"
        );
        assert_eq!(root_path("/", &name("pgdata")).unwrap(), "/pgdata");
        // Docker's anonymous names (64 hex digits) fit under the default.
        let anonymous = "a1".repeat(32);
        assert!(root_path(DEFAULT_BASE_PATH, &name(&anonymous)).is_ok());
        let longest = "x".repeat(MAX_ROOT_PATH_LEN - "/ballast/".len());
        assert_eq!(
            root_path("/ballast", &name(&longest)).unwrap().len(),
            MAX_ROOT_PATH_LEN
        );
        let err = root_path("/ballast", &name(&format!("{longest}y"))).unwrap_err();
        assert_eq!(err.kind(), "invalid-argument");
        assert!(err.message().contains("101 characters"), "{err}");
    }

    #[test]
    fn ids_are_checked_by_shape() {
        assert_eq!(
            check_file_system_id("option filesystemid", " fs-0123abcd ").unwrap(),
            "fs-0123abcd"
        );
        assert!(check_file_system_id("x", "fs-0123456789abcdef0").is_ok());
        for bad in [
            "fs-123",
            "fs-0123ABCD",
            "vol-0123abcd",
            "0123abcd",
            "fs-0123abcg",
        ] {
            let err = check_file_system_id("option filesystemid", bad).unwrap_err();
            assert!(
                err.message().starts_with("option filesystemid"),
                "{bad}: {err}"
            );
        }
        assert!(check_subnet_id("setting EFS_SUBNETID", "subnet-0abc1234").is_ok());
        assert!(check_subnet_id("setting EFS_SUBNETID", "sg-0abc1234").is_err());
    }

    #[test]
    fn security_groups_split_on_commas_and_spaces() {
        assert_eq!(
            parse_security_groups("sg-0000000a, sg-0000000b  sg-0000000c").unwrap(),
            ["sg-0000000a", "sg-0000000b", "sg-0000000c"]
        );
        for (bad, says) in [
            (" , ", "is empty"),
            ("sg-1", "not an id"),
            ("default", "not an id"),
            (
                "sg-00000001 sg-00000002 sg-00000003 sg-00000004 sg-00000005 sg-00000006",
                "at most 5",
            ),
        ] {
            let err = parse_security_groups(bad).unwrap_err();
            assert!(err.message().contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn tokens_follow_cluster_name_and_what_they_replace() {
        let t = 1_700_000_400;
        let default = cluster(None);
        let plain = token(&default, &name("pgdata"), t, None);
        assert_eq!(plain, window_token(&["ballast", "pgdata"], t));
        assert!(plain.len() <= 64);
        assert_eq!(token(&default, &name("pgdata"), t + 10, None), plain);
        assert_ne!(
            token(&cluster(Some("prod")), &name("pgdata"), t, None),
            plain
        );
        let moved = token(&default, &name("pgdata"), t, Some("fs-0000000a"));
        assert_ne!(moved, plain);
        assert_eq!(
            token(&default, &name("pgdata"), t, Some("fs-0000000a")),
            moved,
            "every host moves on to the same token"
        );
        assert_ne!(
            token(&default, &name("pgdata"), t, Some("fs-0000000b")),
            moved
        );
    }

    #[test]
    fn the_holder_tag_is_per_cluster() {
        assert_eq!(holder_tag(&cluster(None)), "ballast.access-points.ballast");
        assert_eq!(
            holder_tag(&cluster(Some("prod"))),
            "ballast.access-points.prod"
        );
    }
}
