//! The `http` capability through a real guest (tests/guests/http-probe):
//! a backend that tries an unlisted host, the metadata IP, a name
//! resolving to a blocked address, credentials of its own and a 1 GiB
//! response gets each refused with an error saying which rule; with a
//! credential the host adds, its requests succeed (cloudsim's Compute
//! Engine API, a bearer-checking server) yet the token appears nowhere in
//! what the guest received, kept or logged, nor in the host's log. A
//! server that echoes the request's headers back would hand the guest the
//! token: the host refuses that response.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use ballast::host::Host;
use ballast::runtime::CallError;
use ballast::runtime::bindings::{BackendError, Volume};
use ballast_tests::capture::{logs, rss_kib};
use ballast_tests::{host, module};
use cloudsim::{Provider, SimConfig};

const ZONE: &str = "us-central1-a";
const BEARER: &str = "probe-bearer-s3cr3t-7f3a";
const GIB: u64 = 1 << 30;
/// The cap of the hosts that fetch big responses.
const CAP: u64 = 4 << 20;

/// A local server; `hits` counts the requests that reached it.
struct Local {
    url: String,
    port: u16,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Local {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// 1 GiB of `x`, produced lazily in 64 KiB chunks.
fn gib_stream() -> Body {
    let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
    let count = GIB / chunk.len() as u64;
    Body::from_stream(futures::stream::iter(
        (0..count).map(move |_| Ok::<_, Infallible>(chunk.clone())),
    ))
}

/// Every request header, one `name: value` line each.
fn header_lines(headers: &HeaderMap) -> String {
    headers
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())))
        .collect()
}

async fn local_server() -> Local {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = Router::new()
        .route(
            "/hello",
            get(|| async { ([("x-probe", "hello-header")], "hello") }),
        )
        .route(
            "/bytes/{n}",
            get(|Path(n): Path<usize>| async move { vec![b'y'; n] }),
        )
        // 1 GiB, announced by content-length.
        .route(
            "/gib",
            get(|| async { ([("content-length", GIB.to_string())], gib_stream()) }),
        )
        // 1 GiB, chunked: the size shows only while reading.
        .route("/gib-chunked", get(|| async { gib_stream() }))
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
        )
        // Traps: servers that repeat the request's headers back.
        .route(
            "/echo-body",
            get(|headers: HeaderMap| async move { header_lines(&headers) }),
        )
        .route(
            "/echo-header",
            get(|headers: HeaderMap| async move {
                let auth = headers
                    .get("authorization")
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .unwrap_or_default();
                ([("x-seen-authorization", auth)], "seen")
            }),
        )
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                counted.fetch_add(1, Ordering::SeqCst);
                next.run(request)
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Local {
        url: format!("http://{addr}"),
        port: addr.port(),
        hits,
        task,
    }
}

/// A host with the probe as backend `probe`; `http` is the body of its
/// `[backends.probe.http]` table, `more` any further TOML after it.
async fn probe_host(dir: &std::path::Path, settings: &str, http: &str, more: &str) -> Host {
    logs();
    let config = format!(
        r#"
        [runtime]
        memory_limit_mib = 64
        call_timeout_secs = 30
        [backends.probe]
        module = {module:?}
        capabilities = ["log", "kv", "instance", "http"]
        settings = {{ {settings} }}
        [backends.probe.http]
        {http}
        {more}
        "#,
        module = module("ballast_test_http_probe").display().to_string()
    );
    host(dir, &config)
        .await
        .unwrap_or_else(|e| panic!("the probe loads: {e:#}\n{config}"))
}

/// `create(name)` on the probe: one request, `options` describing it.
async fn probe(host: &Host, name: &str, options: &[(&str, &str)]) -> Result<Volume, CallError> {
    let options: Vec<(String, String)> = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    host.backend(Some("probe"))
        .unwrap()
        .create(name, &options)
        .await
}

/// The status value `key` of what the guest reported.
fn field<'a>(volume: &'a Volume, key: &str) -> Option<&'a str> {
    volume
        .status
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Everything the guest would see of a result.
fn seen(result: &Result<Volume, CallError>) -> String {
    match result {
        Ok(volume) => format!("{volume:?}"),
        Err(e) => format!("{e} {e:?}"),
    }
}

/// The permission-denied error the guest got, its message containing
/// `expect`; the message is returned (it is also what Docker would show).
fn denied(result: Result<Volume, CallError>, expect: &str) -> String {
    match result {
        Err(CallError::Backend(BackendError::PermissionDenied(m))) => {
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
async fn unlisted_host_is_refused_naming_the_origin_and_the_allow_list() {
    let dir = tempfile::tempdir().unwrap();
    let host = probe_host(
        dir.path(),
        "",
        r#"allow = ["https://compute.googleapis.com", "http://127.0.0.1:9"]"#,
        "",
    )
    .await;
    let m = denied(
        probe(&host, "unlisted", &[("url", "https://example.com/x")]).await,
        "http: https://example.com:443 is not in the backend's allow-list [https://compute.googleapis.com:443, http://127.0.0.1:9]",
    );
    assert!(!m.contains("/x"), "{m}");
    // Same host, other port or scheme: another origin.
    denied(
        probe(
            &host,
            "other-port",
            &[("url", "https://compute.googleapis.com:8443/")],
        )
        .await,
        "https://compute.googleapis.com:8443 is not in the backend's allow-list",
    );
    denied(
        probe(
            &host,
            "other-scheme",
            &[("url", "http://compute.googleapis.com/")],
        )
        .await,
        "http://compute.googleapis.com:80 is not in the backend's allow-list",
    );
    // Nothing was kept for the refused calls.
    let kept = host.backend(Some("probe")).unwrap().list().await.unwrap();
    assert!(kept.is_empty(), "{kept:?}");
}

#[tokio::test]
async fn metadata_ip_is_refused_even_when_listed() {
    let dir = tempfile::tempdir().unwrap();
    let host = probe_host(
        dir.path(),
        "",
        r#"allow = ["http://169.254.169.254", "http://metadata.google.internal"]
        allow_loopback = true
        allow_private = true"#,
        "",
    )
    .await;
    denied(
        probe(
            &host,
            "metadata",
            &[(
                "url",
                "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token",
            ), ("header", "Metadata-Flavor: Google")],
        )
        .await,
        "http: http://169.254.169.254:80: 169.254.169.254 is a link-local address (the metadata service is there)",
    );
    // The same address written as an IPv4-mapped IPv6 literal.
    let mapped = probe(
        &host,
        "mapped",
        &[("url", "http://[::ffff:169.254.169.254]/computeMetadata/v1/")],
    )
    .await;
    // Not listed under that spelling: refused by the allow-list first.
    denied(mapped, "is not in the backend's allow-list");
}

#[tokio::test]
async fn a_listed_name_resolving_to_loopback_is_refused_naming_the_address() {
    let local = local_server().await;
    let by_name = format!("http://localhost:{}", local.port);
    let dir = tempfile::tempdir().unwrap();
    let host = probe_host(
        dir.path(),
        "",
        &format!("allow = [{by_name:?}, {:?}]", local.url),
        "",
    )
    .await;
    let m = denied(
        probe(&host, "by-name", &[("url", &format!("{by_name}/hello"))]).await,
        &format!(
            "http: http://localhost:{}: localhost resolves to ",
            local.port
        ),
    );
    assert!(
        m.ends_with("which is a loopback address (allow_loopback is off)"),
        "{m}"
    );
    assert!(m.contains("127.0.0.1") || m.contains("::1"), "{m}");
    denied(
        probe(
            &host,
            "literal",
            &[("url", &format!("{}/hello", local.url))],
        )
        .await,
        &format!(
            "http: {}: 127.0.0.1 is a loopback address (allow_loopback is off)",
            local.url
        ),
    );
    assert_eq!(local.hits.load(Ordering::SeqCst), 0, "no request got out");
}

#[tokio::test]
async fn credentials_from_the_guest_are_refused() {
    let local = local_server().await;
    let dir = tempfile::tempdir().unwrap();
    let host = probe_host(
        dir.path(),
        "",
        &format!("allow = [{:?}]\nallow_loopback = true", local.url),
        "",
    )
    .await;
    let url = format!("{}/echo-body", local.url);
    for (header, why) in [
        (
            "Authorization: Bearer guest-made",
            "header \"Authorization\" refused: credentials are added by the host, by name",
        ),
        (
            "authorization: Basic Z3Vlc3Q6bWFkZQ==",
            "header \"authorization\" refused: credentials are added by the host, by name",
        ),
        (
            "Cookie: session=guest-made",
            "header \"Cookie\" refused: cookies are not the guest's to send",
        ),
        (
            "Proxy-Authorization: Basic eA==",
            "header \"Proxy-Authorization\" refused: proxy headers are the host's",
        ),
        (
            "Host: metadata.google.internal",
            "header \"Host\" refused: the host header follows the URL",
        ),
    ] {
        let m = denied(
            probe(&host, "guest-auth", &[("url", &url), ("header", header)]).await,
            why,
        );
        assert!(!m.contains("guest-made"), "the value is not echoed: {m}");
    }
    assert_eq!(local.hits.load(Ordering::SeqCst), 0, "no request got out");

    // Other headers pass, and the probe reports what came back.
    let ok = probe(
        &host,
        "plain",
        &[("url", &url), ("header", "X-Note: from the guest")],
    )
    .await
    .unwrap();
    assert_eq!(field(&ok, "status"), Some("200"));
    assert!(
        field(&ok, "body")
            .unwrap()
            .contains("x-note: from the guest"),
        "{ok:?}"
    );
    assert_eq!(local.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_gib_response_is_refused_at_the_cap_and_the_host_keeps_serving() {
    let local = local_server().await;
    let dir = tempfile::tempdir().unwrap();
    let host = probe_host(
        dir.path(),
        "",
        &format!(
            "allow = [{:?}]\nallow_loopback = true\nmax_response_bytes = {CAP}",
            local.url
        ),
        "",
    )
    .await;
    let too_big = format!(
        "http: the response of {} is larger than max_response_bytes ({CAP})",
        local.url
    );
    // Warm up (module instance, connection pool) before measuring memory.
    let warm = probe(&host, "warm", &[("url", &format!("{}/hello", local.url))])
        .await
        .unwrap();
    assert_eq!(field(&warm, "status"), Some("200"));

    // The premise: /gib announces its size, /gib-chunked does not.
    for (path, announced) in [("/gib", Some(GIB)), ("/gib-chunked", None)] {
        let response = reqwest::get(format!("{}{path}", local.url)).await.unwrap();
        assert_eq!(response.content_length(), announced, "{path}");
    }

    let before = rss_kib();
    let started = std::time::Instant::now();
    denied(
        probe(&host, "gib", &[("url", &format!("{}/gib", local.url))]).await,
        &too_big,
    );
    denied(
        probe(
            &host,
            "gib-chunked",
            &[("url", &format!("{}/gib-chunked", local.url))],
        )
        .await,
        &too_big,
    );
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 128 * 1024, "RSS grew by {grown} KiB");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the cap stops reading early: {:?}",
        started.elapsed()
    );

    // The host still serves, on the same backend: a body under the cap
    // comes through whole (the probe reports its length, and an excerpt).
    let ok = probe(
        &host,
        "after",
        &[("url", &format!("{}/bytes/100000", local.url))],
    )
    .await
    .unwrap();
    assert_eq!(field(&ok, "status"), Some("200"));
    assert_eq!(field(&ok, "body-bytes"), Some("100000"));
    assert_eq!(field(&ok, "body").unwrap().len(), 8192);
    let hello = probe(&host, "hello", &[("url", &format!("{}/hello", local.url))])
        .await
        .unwrap();
    assert_eq!(field(&hello, "body"), Some("hello"));
    assert_eq!(field(&hello, "header:x-probe"), Some("hello-header"));
    // One byte over the cap is over.
    denied(
        probe(
            &host,
            "one-over",
            &[("url", &format!("{}/bytes/{}", local.url, CAP + 1))],
        )
        .await,
        &too_big,
    );
    let at_cap = probe(
        &host,
        "at-cap",
        &[("url", &format!("{}/bytes/{CAP}", local.url))],
    )
    .await
    .unwrap();
    assert_eq!(field(&at_cap, "body-bytes"), Some(CAP.to_string().as_str()));
}

#[tokio::test]
async fn host_credentials_work_and_the_token_never_reaches_the_guest_or_the_log() {
    let logs = logs();
    let dir = tempfile::tempdir().unwrap();
    let sim = cloudsim::start(SimConfig::fast(dir.path().to_owned()).with_instance(
        Provider::Gce,
        "node-1",
        ZONE,
        "n2-standard-2",
    ))
    .await
    .unwrap();
    let api = sim.api_url.clone();
    let metadata = sim.instance("node-1").metadata_url;
    let local = local_server().await;
    let lurl = local.url.clone();
    let state = dir.path().join("host");
    std::fs::create_dir_all(&state).unwrap();
    let host = probe_host(
        &state,
        &format!("GCE_TOKEN = {BEARER:?}, GCEPD_TAG = \"visible\""),
        &format!("allow = [{api:?}, {lurl:?}]\nallow_loopback = true"),
        &format!(
            r#"
            [backends.probe.http.credentials.gce]
            provider = "gce-metadata"
            hosts = [{api:?}]
            metadata_endpoint = {metadata:?}
            [backends.probe.http.credentials.tok]
            provider = "bearer"
            hosts = [{lurl:?}]
            setting = "GCE_TOKEN"
            "#
        ),
    )
    .await;
    let disks = format!("{api}/compute/v1/projects/ballast-sim/zones/{ZONE}/disks");
    let mut guest_saw = Vec::new();

    // Without the credential the API refuses: a status, not an error.
    let r = probe(&host, "anonymous", &[("url", &disks)]).await;
    guest_saw.push(seen(&r));
    assert_eq!(field(&r.unwrap(), "status"), Some("401"));

    // The GCE metadata token, added by the host.
    for i in 0..2 {
        let r = probe(
            &host,
            &format!("gce-{i}"),
            &[("url", &disks), ("credential", "gce")],
        )
        .await;
        guest_saw.push(seen(&r));
        let v = r.unwrap();
        assert_eq!(field(&v, "status"), Some("200"), "{v:?}");
        assert!(
            field(&v, "body").unwrap().contains("compute#diskList"),
            "{v:?}"
        );
    }

    // The bearer token from a secret setting; the guest's init never got
    // that setting, only the others.
    let r = probe(
        &host,
        "bearer",
        &[("url", &format!("{lurl}/bearer")), ("credential", "tok")],
    )
    .await;
    guest_saw.push(seen(&r));
    let v = r.unwrap();
    assert_eq!(field(&v, "status"), Some("200"));
    assert_eq!(field(&v, "body"), Some("welcome"));
    assert_eq!(field(&v, "setting:GCEPD_TAG"), Some("visible"));
    assert!(
        !v.status
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("setting:GCE_TOKEN")),
        "{v:?}"
    );

    // A credential is only for its hosts; an unknown one is refused.
    let r = probe(
        &host,
        "wrong-host",
        &[("url", &format!("{lurl}/bearer")), ("credential", "gce")],
    )
    .await;
    guest_saw.push(seen(&r));
    denied(
        r,
        &format!("http: credential \"gce\" is not configured for {lurl}"),
    );
    let r = probe(&host, "unknown", &[("url", &disks), ("credential", "nope")]).await;
    guest_saw.push(seen(&r));
    denied(
        r,
        "http: no credential \"nope\" is configured for this backend",
    );

    // The traps: servers echoing the request's Authorization back, in the
    // body or in a header. The request went out with the token (that is
    // the credential's purpose); the answer repeating it is refused.
    for (name, path) in [("echo-body", "/echo-body"), ("echo-header", "/echo-header")] {
        let hits = local.hits.load(Ordering::SeqCst);
        let r = probe(
            &host,
            name,
            &[("url", &format!("{lurl}{path}")), ("credential", "tok")],
        )
        .await;
        guest_saw.push(seen(&r));
        denied(
            r,
            &format!(
                "http: the response of {lurl} repeats the credential \"tok\" the host added; refused so the guest never sees it"
            ),
        );
        assert_eq!(
            local.hits.load(Ordering::SeqCst),
            hits + 1,
            "{name} was asked"
        );
    }
    // Without a credential the echo is harmless and comes through.
    let r = probe(
        &host,
        "echo-plain",
        &[("url", &format!("{lurl}/echo-body"))],
    )
    .await;
    guest_saw.push(seen(&r));
    let v = r.unwrap();
    assert_eq!(field(&v, "status"), Some("200"));
    assert!(
        !field(&v, "body").unwrap().contains("authorization"),
        "{v:?}"
    );

    // What the guest kept (kv) is what it received.
    let backend = host.backend(Some("probe")).unwrap();
    let kept = backend.list().await.unwrap();
    assert_eq!(kept.len(), 5, "{kept:?}");
    guest_saw.push(format!("{kept:?}"));

    let mut tokens: Vec<String> = sim.sim.world().gce_tokens.iter().cloned().collect();
    assert!(!tokens.is_empty(), "the metadata server issued a token");
    tokens.push(BEARER.into());
    let log = logs.text();
    assert!(
        log.contains("http request"),
        "the host logs requests: {log}"
    );
    assert!(
        log.contains("ballast::guest") && log.contains("http response received"),
        "the guest's own log lines are captured: {log}"
    );
    assert!(log.contains("http request refused"), "{log}");
    for token in &tokens {
        assert!(
            !log.contains(token.as_str()),
            "a token is in the log:\n{log}"
        );
        for saw in &guest_saw {
            assert!(
                !saw.contains(token.as_str()),
                "a token reached the guest: {saw}"
            );
        }
    }
    drop(host);
}
