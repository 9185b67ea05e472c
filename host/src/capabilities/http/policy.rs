//! What the `http` capability lets a request do: the allow-list of
//! origins, the headers a guest may not set, the address classes a
//! resolved host may not be.

use std::net::IpAddr;

use url::Url;

/// `scheme://host:port`, the port explicit (default per scheme), the host
/// lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

impl Origin {
    /// The origin of a request URL (http or https only).
    pub fn of(url: &Url) -> Result<Origin, String> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            return Err(format!("scheme {scheme:?} is not http or https"));
        }
        let host = url
            .host_str()
            .ok_or_else(|| "the URL has no host".to_string())?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| "the URL has no port".to_string())?;
        Ok(Origin {
            scheme: scheme.into(),
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// An allow-list entry: `scheme://host[:port]`, nothing else.
    pub fn parse_entry(entry: &str) -> Result<Origin, String> {
        let url = Url::parse(entry).map_err(|e| format!("{entry:?}: {e}"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("{entry:?}: no user info in an origin"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "{entry:?}: an origin is scheme://host[:port], without a path"
            ));
        }
        Origin::of(&url).map_err(|e| format!("{entry:?}: {e}"))
    }
}

/// Methods a guest may use.
pub const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// Why a guest header is refused, if it is.
pub fn refused_header(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    match name.as_str() {
        "authorization" => Some("credentials are added by the host, by name"),
        "cookie" => Some("cookies are not the guest's to send"),
        "host" => Some("the host header follows the URL"),
        n if n.starts_with("proxy-") => Some("proxy headers are the host's"),
        _ => None,
    }
}

/// Which address classes a backend may reach.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddressPolicy {
    pub allow_loopback: bool,
    pub allow_private: bool,
}

impl AddressPolicy {
    /// Why `ip` may not be connected to, if it may not.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        let ip = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            },
            v4 => v4,
        };
        match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                if v4.is_unspecified() || o[0] == 0 {
                    Some("an unspecified address")
                } else if v4.is_broadcast() {
                    Some("the broadcast address")
                } else if v4.is_multicast() || o[0] >= 240 {
                    Some("a multicast or reserved address")
                } else if v4.is_link_local() {
                    Some("a link-local address (the metadata service is there)")
                } else if v4.is_loopback() {
                    (!self.allow_loopback).then_some("a loopback address (allow_loopback is off)")
                } else if v4.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
                    (!self.allow_private).then_some("a private address (allow_private is off)")
                } else {
                    None
                }
            }
            IpAddr::V6(v6) => {
                let s = v6.segments();
                if v6.is_unspecified() {
                    Some("an unspecified address")
                } else if v6.is_multicast() {
                    Some("a multicast address")
                } else if (s[0] & 0xffc0) == 0xfe80 {
                    Some("a link-local address")
                } else if v6.is_loopback() {
                    (!self.allow_loopback).then_some("a loopback address (allow_loopback is off)")
                } else if (s[0] & 0xfe00) == 0xfc00 {
                    (!self.allow_private).then_some("a private address (allow_private is off)")
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_get_default_ports_and_lower_case() {
        let a = Origin::parse_entry("https://Compute.GoogleAPIs.com").unwrap();
        assert_eq!(a.to_string(), "https://compute.googleapis.com:443");
        let url = Url::parse("https://compute.googleapis.com:443/compute/v1?x=1").unwrap();
        assert_eq!(Origin::of(&url).unwrap(), a);
        let other = Url::parse("https://compute.googleapis.com:8443/").unwrap();
        assert_ne!(Origin::of(&other).unwrap(), a);
        let http = Url::parse("http://compute.googleapis.com/").unwrap();
        assert_ne!(Origin::of(&http).unwrap(), a);
        assert_eq!(
            Origin::parse_entry("http://127.0.0.1:4566").unwrap().port,
            4566
        );
        for bad in [
            "ftp://x",
            "https://x/path",
            "https://u:p@x",
            "x.com",
            "https://x?q",
        ] {
            assert!(Origin::parse_entry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn guest_headers_that_carry_credentials_are_refused() {
        for name in ["Authorization", "cookie", "Proxy-Authorization", "HOST"] {
            assert!(refused_header(name).is_some(), "{name}");
        }
        for name in ["content-type", "x-goog-user-project", "accept"] {
            assert!(refused_header(name).is_none(), "{name}");
        }
    }

    #[test]
    fn address_classes() {
        let strict = AddressPolicy::default();
        let open = AddressPolicy {
            allow_loopback: true,
            allow_private: true,
        };
        for always in [
            "169.254.169.254",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "fe80::1",
            "::",
            "ff02::1",
            "::ffff:169.254.169.254",
        ] {
            let ip: IpAddr = always.parse().unwrap();
            assert!(strict.refusal(ip).is_some(), "{always}");
            assert!(open.refusal(ip).is_some(), "{always}");
        }
        for configurable in [
            "127.0.0.1",
            "::1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            let ip: IpAddr = configurable.parse().unwrap();
            assert!(strict.refusal(ip).is_some(), "{configurable}");
            assert!(open.refusal(ip).is_none(), "{configurable}");
        }
        for public in ["142.250.1.1", "2607:f8b0::1", "100.128.0.1"] {
            assert!(
                strict.refusal(public.parse().unwrap()).is_none(),
                "{public}"
            );
        }
    }
}
