//! Prometheus metrics: requests and their latency per driver and endpoint,
//! and guest failures (traps, CPU, memory, timeouts) per backend. Served
//! on an opt-in address (`plugin.metrics_addr`); never carries volume
//! contents or settings.

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    driver: String,
    endpoint: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    driver: String,
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GuestLabels {
    backend: String,
    kind: String,
}

type LatencyFamily = Family<LatencyLabels, Histogram, fn() -> Histogram>;

struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    guest_failures: Family<GuestLabels, Counter>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("ballast");
    let requests = Family::<RequestLabels, Counter>::default();
    // 0.5 ms .. ~16 s: from a cached Get to a slow cloud attach.
    let latency: LatencyFamily =
        Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0005, 2.0, 16)));
    let guest_failures = Family::<GuestLabels, Counter>::default();
    registry.register(
        "plugin_requests",
        "Volume plugin requests by outcome",
        requests.clone(),
    );
    registry.register(
        "plugin_request_seconds",
        "Volume plugin request latency",
        latency.clone(),
    );
    registry.register(
        "guest_failures",
        "Guest calls stopped by a trap, limit or timeout",
        guest_failures.clone(),
    );
    Metrics {
        registry,
        requests,
        latency,
        guest_failures,
    }
});

pub fn record_request(driver: &str, endpoint: &str, outcome: &str, elapsed: Duration) {
    let labels = RequestLabels {
        driver: driver.into(),
        endpoint: endpoint.into(),
        outcome: outcome.into(),
    };
    METRICS.requests.get_or_create(&labels).inc();
    let labels = LatencyLabels {
        driver: driver.into(),
        endpoint: endpoint.into(),
    };
    METRICS
        .latency
        .get_or_create(&labels)
        .observe(elapsed.as_secs_f64());
}

/// A guest call that was stopped: `kind` is "trap", "cpu", "memory" or "timeout".
pub fn record_guest_failure(backend: &str, kind: &str) {
    METRICS
        .guest_failures
        .get_or_create(&GuestLabels {
            backend: backend.into(),
            kind: kind.into(),
        })
        .inc();
}

/// The metrics in Prometheus' text format.
pub fn render() -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &METRICS.registry)
        .expect("writing to a String");
    text
}

/// Serve `GET /metrics` on `addr` until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = axum::Router::new().route("/metrics", axum::routing::get(|| async { render() }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "metrics at /metrics");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_guest_failures_are_rendered_with_labels() {
        record_request("ballast-m", "Mount", "ok", Duration::from_millis(3));
        record_guest_failure("m-backend", "cpu");
        let text = render();
        assert!(
            text.contains(r#"ballast_plugin_requests_total{driver="ballast-m",endpoint="Mount",outcome="ok"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"ballast_plugin_request_seconds_count{driver="ballast-m",endpoint="Mount"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"ballast_guest_failures_total{backend="m-backend",kind="cpu"} 1"#),
            "{text}"
        );
    }
}
