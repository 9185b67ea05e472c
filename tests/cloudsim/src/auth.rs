//! Request authentication. AWS calls must carry a SigV4 `Authorization`
//! header (always checked); with `verify_keys` configured, the access key
//! must be the configured one and the signature must verify. GCE calls must
//! carry a Bearer token issued by a simulated metadata server.

use axum::http::{HeaderMap, Method, Uri};

use crate::world::Sim;

/// An authentication failure, in the provider's words.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthError {
    pub code: &'static str,
    pub message: String,
}

/// Check an AWS request's SigV4 authorization.
pub fn check_aws(
    sim: &Sim,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), AuthError> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(credential) = auth.strip_prefix("AWS4-HMAC-SHA256 Credential=") else {
        return Err(AuthError {
            code: "MissingAuthenticationToken",
            message: "Request is missing a SigV4 Authorization header.".into(),
        });
    };
    let Some((key, secret)) = &sim.config.verify_keys else {
        return Ok(());
    };
    let access_key = credential.split('/').next().unwrap_or_default();
    if access_key != key {
        return Err(AuthError {
            code: "AuthFailure",
            message: format!(
                "AWS was not able to validate the provided access credentials ({access_key})."
            ),
        });
    }
    verify_signature(method, uri, headers, body, secret)
}

/// Recompute the SigV4 signature of the request with the configured
/// secret, the request's own `x-amz-date` and the region and service of its
/// credential scope, over exactly the headers it says it signed, and compare.
/// Requests dated more than 15 minutes away from now are expired, as on AWS.
fn verify_signature(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    secret: &str,
) -> Result<(), AuthError> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;

    let failure = |why: &str| AuthError {
        code: "AuthFailure",
        message: format!("AWS was not able to validate the provided access credentials ({why})."),
    };
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let fields: std::collections::HashMap<&str, &str> = auth
        .strip_prefix("AWS4-HMAC-SHA256")
        .unwrap_or_default()
        .split(',')
        .filter_map(|part| part.trim().split_once('='))
        .collect();
    let (Some(credential), Some(signed_headers), Some(signature)) = (
        fields.get("Credential"),
        fields.get("SignedHeaders"),
        fields.get("Signature"),
    ) else {
        return Err(failure("malformed Authorization header"));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key, _date, region, service, "aws4_request"] = scope[..] else {
        return Err(failure("malformed credential scope"));
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let time = header("x-amz-date")
        .and_then(parse_amz_date)
        .ok_or_else(|| failure("missing or malformed X-Amz-Date"))?;
    let skew = match time.duration_since(std::time::SystemTime::now()) {
        Ok(ahead) => ahead,
        Err(behind) => behind.duration(),
    };
    if skew > std::time::Duration::from_secs(15 * 60) {
        return Err(AuthError {
            code: "RequestExpired",
            message: "Request has expired.".into(),
        });
    }
    let token = header("x-amz-security-token").map(str::to_string);
    let identity =
        aws_credential_types::Credentials::new(key, secret, token, None, "cloudsim").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| failure(&e.to_string()))?
        .into();
    let host = header("host")
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()));
    let host = host.ok_or_else(|| failure("no Host"))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut signed = Vec::new();
    for name in signed_headers.split(';') {
        for value in headers.get_all(name) {
            signed.push((
                name,
                value
                    .to_str()
                    .map_err(|_| failure("a signed header is not text"))?,
            ));
        }
    }
    let request = SignableRequest::new(
        method.as_str(),
        format!("http://{host}{path}"),
        signed.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| failure(&e.to_string()))?;
    let expected = sign(request, &params).map_err(|e| failure(&e.to_string()))?;
    if expected.signature() == *signature {
        Ok(())
    } else {
        Err(failure("signature mismatch"))
    }
}

/// `20240102T030405Z` as a time.
fn parse_amz_date(value: &str) -> Option<std::time::SystemTime> {
    let digits = |range: std::ops::Range<usize>| value.get(range)?.parse::<u32>().ok();
    if value.len() != 16 || value.as_bytes()[8] != b'T' || !value.ends_with('Z') {
        return None;
    }
    let month = time::Month::try_from(digits(4..6)? as u8).ok()?;
    let date =
        time::Date::from_calendar_date(digits(0..4)? as i32, month, digits(6..8)? as u8).ok()?;
    let time = time::Time::from_hms(
        digits(9..11)? as u8,
        digits(11..13)? as u8,
        digits(13..15)? as u8,
    )
    .ok()?;
    Some(time::PrimitiveDateTime::new(date, time).assume_utc().into())
}

/// Check a GCE request's Bearer token.
pub fn check_gce(sim: &Sim, headers: &HeaderMap) -> Result<(), AuthError> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if sim.world().gce_tokens.contains(token) {
        Ok(())
    } else {
        Err(AuthError {
            code: "UNAUTHENTICATED",
            message: "Request had invalid authentication credentials.".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn amz_dates() {
        let t = super::parse_amz_date("20240102T030405Z").unwrap();
        assert_eq!(
            t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
            1_704_164_645
        );
        assert!(super::parse_amz_date("2024-01-02T03:04:05Z").is_none());
        assert!(super::parse_amz_date("20241302T030405Z").is_none());
    }
}
