//! The `http` capability's core, driven directly (no guest): credentials
//! against cloudsim's Compute Engine API and OAuth2 token endpoint, and the
//! policy's refusals (unlisted hosts, the metadata IP, names resolving to
//! blocked addresses, guest credentials, endless responses). Tokens must
//! never reach what the guest receives nor the host's log.

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use ballast::capabilities::http::Http;
use ballast::config::{BackendConfig, CredentialProvider, HttpConfig, HttpCredential};
use ballast::runtime::bindings::BackendError;
use ballast::runtime::bindings::ballast::backend::http::{Request, Response};
use ballast_tests::capture::{logs, rss_kib};
use cloudsim::{Provider, SimConfig};

const ZONE: &str = "us-central1-a";
const SA_EMAIL: &str = "ballast-test@ballast-sim.iam.gserviceaccount.com";
const BEARER: &str = "static-bearer-s3cr3t";

/// A local server: a redirect, an endless body, a bearer check.
async fn local_server(redirect_to: String) -> String {
    let app = Router::new()
        .route(
            "/redirect",
            get(move || {
                let to = redirect_to.clone();
                async move { (StatusCode::FOUND, [("location", to)], "") }
            }),
        )
        .route(
            "/endless",
            get(|| async {
                let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
                Body::from_stream(futures::stream::repeat_with(move || {
                    Ok::<_, Infallible>(chunk.clone())
                }))
            }),
        )
        .route(
            "/bearer",
            get(|headers: HeaderMap| async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
                if auth == Some(&format!("Bearer {BEARER}")) {
                    (StatusCode::OK, "welcome")
                } else {
                    (StatusCode::UNAUTHORIZED, "who are you")
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn get_request(url: &str, credential: Option<&str>) -> Request {
    Request {
        method: "GET".into(),
        url: url.into(),
        headers: Vec::new(),
        body: Vec::new(),
        credential: credential.map(String::from),
        timeout_ms: None,
    }
}

fn credential(provider: CredentialProvider, hosts: &[&str]) -> HttpCredential {
    HttpCredential {
        provider,
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        metadata_endpoint: None,
        key_file: None,
        scopes: vec!["https://www.googleapis.com/auth/cloud-platform".into()],
        setting: None,
    }
}

fn backend(http: HttpConfig) -> BackendConfig {
    BackendConfig {
        module: "/x.wasm".into(),
        capabilities: vec!["http".into()],
        settings: [("GCE_TOKEN".to_string(), BEARER.to_string())].into(),
        http,
        ..Default::default()
    }
}

/// Everything a guest would see of a result.
fn seen(result: &Result<Response, BackendError>) -> String {
    match result {
        Ok(r) => format!(
            "{} {:?} {}",
            r.status,
            r.headers,
            String::from_utf8_lossy(&r.body)
        ),
        Err(e) => format!("{e:?}"),
    }
}

fn denied(result: Result<Response, BackendError>, expect: &str) -> String {
    match result {
        Err(BackendError::PermissionDenied(m)) => {
            assert!(m.contains(expect), "{m:?} does not say {expect:?}");
            m
        }
        other => panic!(
            "expected permission-denied ({expect}), got {}",
            seen(&other)
        ),
    }
}

#[tokio::test]
async fn credentials_are_added_by_the_host_and_never_seen() {
    let logs = logs();
    let dir = tempfile::tempdir().unwrap();
    let mut config = SimConfig::fast(dir.path().to_owned()).with_instance(
        Provider::Gce,
        "node-1",
        ZONE,
        "n2-standard-2",
    );
    config.service_accounts = vec![(
        SA_EMAIL.into(),
        include_str!("../fixtures/http-test-sa-key.pub.pem").into(),
    )];
    config.oauth_token_secs = 63;
    let sim = cloudsim::start(config).await.unwrap();
    let api = sim.api_url.clone();
    let local = local_server(format!("{api}/compute/v1")).await;
    let key_file = dir.path().join("sa.json");
    std::fs::write(
        &key_file,
        serde_json::json!({
            "type": "service_account",
            "client_email": SA_EMAIL,
            "private_key": include_str!("../fixtures/http-test-sa-key.pem"),
            "token_uri": format!("{api}/token"),
        })
        .to_string(),
    )
    .unwrap();
    let mut gce = credential(CredentialProvider::GceMetadata, &[&api]);
    gce.metadata_endpoint = Some(sim.instance("node-1").metadata_url);
    let mut sa = credential(CredentialProvider::ServiceAccount, &[&api]);
    sa.key_file = Some(key_file);
    let mut bearer = credential(CredentialProvider::Bearer, &[&local]);
    bearer.setting = Some("GCE_TOKEN".into());
    let http = Http::from_config(
        "gce",
        &backend(HttpConfig {
            allow: vec![api.clone(), local.clone()],
            allow_loopback: true,
            credentials: [
                ("gce".to_string(), gce),
                ("sa".to_string(), sa),
                ("tok".to_string(), bearer),
            ]
            .into(),
            ..Default::default()
        }),
    )
    .unwrap();
    let disks = format!("{api}/compute/v1/projects/ballast-sim/zones/{ZONE}/disks");
    let mut guest_saw = Vec::new();

    // No credential: the API refuses; an HTTP error status is a response.
    let anonymous = http.send(get_request(&disks, None)).await;
    guest_saw.push(seen(&anonymous));
    assert_eq!(anonymous.unwrap().status, 401);

    // gce-metadata: accepted, one token for several requests.
    for _ in 0..3 {
        let r = http.send(get_request(&disks, Some("gce"))).await;
        guest_saw.push(seen(&r));
        let r = r.unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!(http.token_fetches("gce"), Some(1));

    // service-account: the JWT exchange, cached, refreshed near expiry.
    for _ in 0..2 {
        let r = http.send(get_request(&disks, Some("sa"))).await;
        guest_saw.push(seen(&r));
        assert_eq!(r.unwrap().status, 200);
    }
    assert_eq!(http.token_fetches("sa"), Some(1));
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let r = http.send(get_request(&disks, Some("sa"))).await;
    guest_saw.push(seen(&r));
    assert_eq!(r.unwrap().status, 200);
    assert_eq!(http.token_fetches("sa"), Some(2), "refreshed before expiry");

    // bearer from a (secret) setting.
    let r = http
        .send(get_request(&format!("{local}/bearer"), Some("tok")))
        .await;
    guest_saw.push(seen(&r));
    let r = r.unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, b"welcome".as_slice()));

    // A credential is only for its hosts; unknown credentials are refused.
    let r = http
        .send(get_request(&format!("{local}/bearer"), Some("gce")))
        .await;
    guest_saw.push(seen(&r));
    denied(r, "not configured for");
    let r = http.send(get_request(&disks, Some("nope"))).await;
    guest_saw.push(seen(&r));
    denied(r, "no credential \"nope\"");

    // Redirects are returned, not followed (even to an allowed host).
    let r = http
        .send(get_request(&format!("{local}/redirect"), Some("tok")))
        .await;
    guest_saw.push(seen(&r));
    let r = r.unwrap();
    assert_eq!(r.status, 302);
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k == "location" && v.ends_with("/compute/v1"))
    );

    let mut tokens: Vec<String> = sim.sim.world().gce_tokens.iter().cloned().collect();
    assert!(tokens.len() >= 3, "{tokens:?}");
    tokens.push(BEARER.into());
    let log = logs.text();
    assert!(
        log.contains("http request"),
        "requests are logged at debug: {log}"
    );
    for token in &tokens {
        assert!(!log.contains(token.as_str()), "a token is in the log");
        for saw in &guest_saw {
            assert!(
                !saw.contains(token.as_str()),
                "a token reached the guest: {saw}"
            );
        }
    }
}

#[tokio::test]
async fn the_policy_refuses_what_it_must() {
    let logs = logs();
    let local = local_server("http://example.com/".into()).await;
    let port = local.rsplit(':').next().unwrap().to_string();
    let by_name = format!("http://localhost:{port}");
    let strict = Http::from_config(
        "x",
        &backend(HttpConfig {
            allow: vec![
                "https://compute.googleapis.com".into(),
                "http://169.254.169.254".into(),
                by_name.clone(),
                local.clone(),
            ],
            ..Default::default()
        }),
    )
    .unwrap();

    // An unlisted host, named with the list.
    let m = denied(
        strict
            .send(get_request("https://example.com/x", None))
            .await,
        "https://example.com:443 is not in the backend's allow-list",
    );
    assert!(m.contains("https://compute.googleapis.com:443"), "{m}");
    // The metadata IP, even listed.
    denied(
        strict
            .send(get_request(
                "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token",
                None,
            ))
            .await,
        "link-local",
    );
    // A literal loopback IP, and a listed name resolving to loopback.
    denied(
        strict
            .send(get_request(&format!("{local}/endless"), None))
            .await,
        "loopback",
    );
    denied(
        strict
            .send(get_request(&format!("{by_name}/endless"), None))
            .await,
        "localhost resolves to",
    );
    // Guest credentials.
    let mut with_auth = get_request("https://compute.googleapis.com/compute/v1", None);
    with_auth.headers = vec![("Authorization".into(), "Bearer guest-made".into())];
    denied(strict.send(with_auth).await, "\"Authorization\" refused");
    let mut with_cookie = get_request("https://compute.googleapis.com/compute/v1", None);
    with_cookie.headers = vec![("Proxy-Authorization".into(), "x".into())];
    denied(strict.send(with_cookie).await, "proxy");
    // Malformed requests.
    for (method, url) in [
        ("GET", "not a url"),
        ("GET", "ftp://compute.googleapis.com/"),
        ("TRACE", "https://compute.googleapis.com/"),
    ] {
        let mut r = get_request(url, None);
        r.method = method.into();
        match strict.send(r).await {
            Err(BackendError::InvalidArgument(_)) => {}
            other => panic!("{method} {url}: {}", seen(&other)),
        }
    }

    // An endless response stops at the cap, memory stays bounded.
    let open = Http::from_config(
        "x",
        &backend(HttpConfig {
            allow: vec![local.clone()],
            allow_loopback: true,
            max_response_bytes: 1 << 20,
            ..Default::default()
        }),
    )
    .unwrap();
    let before = rss_kib();
    denied(
        open.send(get_request(&format!("{local}/endless"), None))
            .await,
        "larger than max_response_bytes",
    );
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 128 * 1024, "RSS grew by {grown} KiB");
    assert!(logs.text().contains("http request"));
}
