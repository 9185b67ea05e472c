//! The connection side of the `http` capability: a reqwest client that
//! follows no redirects, uses no proxy, and resolves names itself,
//! connecting only to addresses the policy accepts (the checked addresses
//! are the ones connected to, so DNS rebinding cannot slip between).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::policy::AddressPolicy;

/// A resolved name whose addresses the policy refuses.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Resolves with the system resolver, then refuses the name if any of its
/// addresses is refused by the policy.
struct CheckingResolver {
    policy: AddressPolicy,
}

impl Resolve for CheckingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no address").into());
            }
            for addr in &addrs {
                if let Some(why) = policy.refusal(addr.ip()) {
                    return Err(Box::new(Refused(format!(
                        "{host} resolves to {} which is {why}",
                        addr.ip()
                    )))
                        as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The client for guest requests under `policy`.
pub fn guest_client(
    policy: AddressPolicy,
    max_connections: u32,
) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(CheckingResolver { policy }))
        .pool_max_idle_per_host(max_connections as usize)
        .connect_timeout(Duration::from_secs(10))
        .build()?)
}

/// The client the host's own credential requests use (the metadata
/// server is reachable here, never from a guest's request).
pub fn host_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .build()?)
}

/// The policy refusal in an error's chain, if that is what it is.
pub fn refusal(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source = Some(err);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return Some(refused.0.clone());
        }
        source = err.source();
    }
    None
}

/// An error and its causes on one line (reqwest errors say little alone).
/// reqwest's own messages name the URL, never a header.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(err) = source {
        let more = err.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = err.source();
    }
    text
}
