//! `instance`: who this machine is. Static (config, else the machine id),
//! or read once from AWS instance metadata (IMDSv2, through the AWS SDK's
//! IMDS client) or Compute Engine metadata and kept: a machine's identity
//! does not change while the host runs. Metadata trouble is `unavailable`,
//! never a made-up identity.

use std::time::Duration;

use aws_config::imds;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::OnceCell;

use super::{Capability, granted};
use crate::config::{InstanceConfig, InstanceSource};
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::instance::{Details, Host, Identity};
use crate::runtime::store::HostState;

/// Where identities come from, for one backend.
pub enum Source {
    Static(Identity),
    AwsImds {
        client: imds::Client,
        endpoint: String,
        known: OnceCell<Identity>,
    },
    GceMetadata {
        endpoint: GceEndpoint,
        known: OnceCell<(Identity, Details)>,
    },
}

impl Source {
    pub fn new(config: &InstanceConfig) -> anyhow::Result<Source> {
        Ok(match config.source {
            InstanceSource::Static => Source::Static(static_identity(config)),
            InstanceSource::AwsImds => {
                let endpoint = config
                    .metadata_endpoint
                    .clone()
                    .unwrap_or_else(|| "http://169.254.169.254".into());
                let client = imds::Client::builder()
                    .endpoint(&endpoint)
                    .map_err(|e| anyhow::anyhow!("instance metadata endpoint {endpoint:?}: {e}"))?
                    .build();
                Source::AwsImds {
                    client,
                    endpoint,
                    known: OnceCell::new(),
                }
            }
            InstanceSource::GceMetadata => {
                let endpoint = config
                    .metadata_endpoint
                    .as_deref()
                    .unwrap_or("http://169.254.169.254");
                Source::GceMetadata {
                    endpoint: GceEndpoint::parse(endpoint).map_err(|e| {
                        anyhow::anyhow!("instance metadata endpoint {endpoint:?}: {e}")
                    })?,
                    known: OnceCell::new(),
                }
            }
        })
    }

    /// This machine's identity.
    pub async fn identity(&self) -> Result<Identity, BackendError> {
        match self {
            Source::Static(identity) => Ok(identity.clone()),
            Source::AwsImds {
                client,
                endpoint,
                known,
            } => known
                .get_or_try_init(|| aws_identity(client, endpoint))
                .await
                .cloned(),
            Source::GceMetadata { endpoint, known } => known
                .get_or_try_init(|| gce_machine(endpoint))
                .await
                .map(|(identity, _)| identity.clone()),
        }
    }

    /// This machine's name and project, where the provider has them
    /// (Compute Engine); none for the static and AWS sources.
    pub async fn details(&self) -> Result<Details, BackendError> {
        match self {
            Source::Static(_) | Source::AwsImds { .. } => Ok(Details {
                name: None,
                project: None,
            }),
            Source::GceMetadata { endpoint, known } => known
                .get_or_try_init(|| gce_machine(endpoint))
                .await
                .map(|(_, details)| details.clone()),
        }
    }

    /// The AWS instance metadata value at `path` (under
    /// `/latest/meta-data/`, e.g. "mac"), read each time it is asked for;
    /// `None` when the identity is static.
    pub async fn aws_metadata(&self, path: &str) -> Option<Result<String, BackendError>> {
        match self {
            Source::Static(_) | Source::GceMetadata { .. } => None,
            Source::AwsImds {
                client, endpoint, ..
            } => Some(imds_get(client, endpoint, path).await),
        }
    }
}

async fn aws_identity(client: &imds::Client, endpoint: &str) -> Result<Identity, BackendError> {
    let get = |path| imds_get(client, endpoint, path);
    Ok(Identity {
        provider: "aws".into(),
        instance_id: get("instance-id").await?,
        region: Some(get("placement/region").await?),
        zone: Some(get("placement/availability-zone").await?),
        instance_type: Some(get("instance-type").await?),
    })
}

/// One metadata value; any trouble is `unavailable` (never a made-up value).
async fn imds_get(
    client: &imds::Client,
    endpoint: &str,
    path: &str,
) -> Result<String, BackendError> {
    client
        .get(format!("/latest/meta-data/{path}"))
        .await
        .map(|v| v.as_ref().to_string())
        .map_err(|e| {
            BackendError::Unavailable(format!("instance metadata {path} from {endpoint}: {e}"))
        })
}

/// A Compute Engine metadata server: plain HTTP on a link-local address
/// (a simulator's loopback port in tests).
pub struct GceEndpoint {
    /// `host:port`, to connect to and for the Host header.
    authority: String,
}

impl GceEndpoint {
    fn parse(url: &str) -> Result<GceEndpoint, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or("the metadata server speaks plain http:// only")?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return Err("expected http://host[:port]".into());
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        {
            authority.to_string()
        } else if authority.contains(':') && !authority.ends_with(']') {
            return Err("expected http://host[:port]".into());
        } else {
            format!("{authority}:80")
        };
        Ok(GceEndpoint { authority })
    }
}

/// How long one metadata request may take (the server is on the machine's
/// own link; anything slower is trouble).
const GCE_METADATA_TIMEOUT: Duration = Duration::from_secs(5);

/// The most a metadata value may be; these are short strings.
const GCE_METADATA_MAX: usize = 64 * 1024;

async fn gce_machine(endpoint: &GceEndpoint) -> Result<(Identity, Details), BackendError> {
    let get = |path| gce_get(endpoint, path);
    let zone_path = get("instance/zone").await?;
    let machine_type = get("instance/machine-type").await?;
    let zone = last_segment(&zone_path).to_string();
    let region = zone
        .rsplit_once('-')
        .map(|(region, _)| region.to_string())
        .filter(|region| !region.is_empty());
    let identity = Identity {
        provider: "gce".into(),
        instance_id: get("instance/id").await?,
        region,
        zone: Some(zone).filter(|z| !z.is_empty()),
        instance_type: Some(last_segment(&machine_type).to_string()).filter(|t| !t.is_empty()),
    };
    let details = Details {
        name: Some(get("instance/name").await?),
        project: Some(get("project/project-id").await?),
    };
    Ok((identity, details))
}

/// `projects/123/zones/us-central1-a` → `us-central1-a`.
fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// One Compute Engine metadata value (under `/computeMetadata/v1/`); any
/// trouble, an error status included, is `unavailable`.
async fn gce_get(endpoint: &GceEndpoint, path: &str) -> Result<String, BackendError> {
    let unavailable = |e: String| {
        BackendError::Unavailable(format!(
            "instance metadata {path} from http://{}: {e}",
            endpoint.authority
        ))
    };
    let request = async {
        let mut stream = tokio::net::TcpStream::connect(&endpoint.authority).await?;
        let head = format!(
            "GET /computeMetadata/v1/{path} HTTP/1.1\r\nHost: {}\r\nMetadata-Flavor: Google\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
            endpoint.authority
        );
        stream.write_all(head.as_bytes()).await?;
        let mut raw = Vec::new();
        (&mut stream)
            .take(GCE_METADATA_MAX as u64 + 4096)
            .read_to_end(&mut raw)
            .await?;
        std::io::Result::Ok(raw)
    };
    let raw = tokio::time::timeout(GCE_METADATA_TIMEOUT, request)
        .await
        .map_err(|_| unavailable(format!("no answer in {GCE_METADATA_TIMEOUT:?}")))?
        .map_err(|e| unavailable(e.to_string()))?;
    let (status, body) = parse_http_response(&raw).map_err(unavailable)?;
    if status != 200 {
        return Err(unavailable(format!("HTTP status {status}")));
    }
    let value = String::from_utf8(body).map_err(|_| unavailable("not UTF-8".into()))?;
    Ok(value.trim().to_string())
}

/// Status and body of a complete HTTP/1.1 response read until the server
/// closed the connection (`Connection: close`): content-length, chunked or
/// close-delimited bodies.
fn parse_http_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("incomplete response")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "response head not UTF-8")?;
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or("no HTTP status line")?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| "bad content-length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let body = if chunked {
        let mut body = Vec::new();
        let mut rest = rest;
        loop {
            let line_end = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or("truncated chunk")?;
            let size = std::str::from_utf8(&rest[..line_end])
                .ok()
                .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
                .ok_or("bad chunk size")?;
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            body.extend_from_slice(rest.get(..size).ok_or("truncated chunk")?);
            rest = rest.get(size + 2..).ok_or("truncated chunk")?;
        }
        body
    } else if let Some(length) = length {
        rest.get(..length).ok_or("truncated body")?.to_vec()
    } else {
        rest.to_vec()
    };
    if body.len() > GCE_METADATA_MAX {
        return Err("response too large".into());
    }
    Ok((status, body))
}

/// The configured identity, with this machine's id and `local` as the
/// provider where it says nothing.
fn static_identity(config: &InstanceConfig) -> Identity {
    Identity {
        provider: config.provider.clone().unwrap_or_else(|| "local".into()),
        instance_id: config.instance_id.clone().unwrap_or_else(machine_id),
        region: config.region.clone(),
        zone: config.zone.clone(),
        instance_type: config.instance_type.clone(),
    }
}

fn machine_id() -> String {
    ["/etc/machine-id", "/proc/sys/kernel/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

impl Host for HostState {
    async fn get_identity(&mut self) -> wasmtime::Result<Result<Identity, BackendError>> {
        let source = granted(&self.caps.instance, Capability::Instance)?;
        Ok(source.identity().await)
    }

    async fn get_details(&mut self) -> wasmtime::Result<Result<Details, BackendError>> {
        let source = granted(&self.caps.instance, Capability::Instance)?;
        Ok(source.details().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gce_endpoints_are_plain_http_host_and_port() {
        let authority = |url| GceEndpoint::parse(url).map(|e| e.authority);
        assert_eq!(
            authority("http://169.254.169.254").unwrap(),
            "169.254.169.254:80"
        );
        assert_eq!(
            authority("http://127.0.0.1:8080/").unwrap(),
            "127.0.0.1:8080"
        );
        assert_eq!(
            authority("http://metadata.google.internal").unwrap(),
            "metadata.google.internal:80"
        );
        assert!(authority("https://169.254.169.254").is_err());
        assert!(authority("http://h/path").is_err());
        assert!(authority("not a url").is_err());
    }

    #[test]
    fn http_responses_parse_with_length_chunks_or_close() {
        let sized = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(
            parse_http_response(sized).unwrap(),
            (200, b"hello".to_vec())
        );
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n";
        assert_eq!(
            parse_http_response(chunked).unwrap(),
            (200, b"hello".to_vec())
        );
        let closed = b"HTTP/1.0 403 Forbidden\r\n\r\nno";
        assert_eq!(parse_http_response(closed).unwrap(), (403, b"no".to_vec()));
        assert!(parse_http_response(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_http_response(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nhi").is_err());
    }

    #[test]
    fn zone_and_machine_type_are_last_segments() {
        assert_eq!(
            last_segment("projects/123/zones/us-central1-a"),
            "us-central1-a"
        );
        assert_eq!(
            last_segment("projects/123/machineTypes/n2-standard-2"),
            "n2-standard-2"
        );
    }
}
