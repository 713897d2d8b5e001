//! Prometheus metrics, served on their own listener (`[metrics] listen`) in the
//! OpenMetrics text format by the `prometheus-client` crate.

use std::convert::Infallible;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::net;
use crate::store::{CommitHistogram, Store};
use crate::sync::lock;

/// Labels of the request metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route pattern, e.g. `/api/v1/contracts/{id}`.
    route: &'static str,
    /// The HTTP status.
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

type HistogramFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// Every metric the daemon exports. Shared as `Arc<Metrics>`; updates are lock-free.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    checks: Family<ResultLabels, Counter>,
    deliveries: Family<OutcomeLabels, Counter>,
    rate_limited: Counter,
    queue_depth: Gauge,
    queue_overdue: Gauge<f64, AtomicU64>,
    store_bytes: Gauge,
    commit_seconds: CommitSeconds,
}

/// The store's commit durations, as the store counted them at the last render.
#[derive(Clone, Debug, Default)]
struct CommitSeconds(Arc<std::sync::Mutex<CommitHistogram>>);

impl EncodeMetric for CommitSeconds {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let histogram = lock(&self.0).clone();
        encoder.encode_histogram::<NoLabelSet>(
            histogram.sum_seconds,
            histogram.count,
            &histogram.buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

fn latency_histogram() -> Histogram {
    // 100 µs … ~3.3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("driftguard");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let checks = Family::<ResultLabels, Counter>::default();
        let deliveries = Family::<OutcomeLabels, Counter>::default();
        let rate_limited = Counter::default();
        let queue_depth = Gauge::default();
        let queue_overdue = Gauge::<f64, AtomicU64>::default();
        let store_bytes = Gauge::default();
        let commit_seconds = CommitSeconds::default();
        registry.register(
            "http_requests",
            "API requests answered, by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an API request, by route and status",
            latency.clone(),
        );
        registry.register("checks", "Checks stored, by result", checks.clone());
        registry.register(
            "webhook_attempts",
            "Webhook delivery attempts, by outcome (delivered, failed, abandoned, gone)",
            deliveries.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused with 429",
            rate_limited.clone(),
        );
        registry.register(
            "delivery_queue_depth",
            "Deliveries waiting in the queue",
            queue_depth.clone(),
        );
        registry.register(
            "delivery_queue_overdue_seconds",
            "How long the earliest queued delivery has been due (0 if none is overdue)",
            queue_overdue.clone(),
        );
        registry.register(
            "store_size_bytes",
            "Size of the database file",
            store_bytes.clone(),
        );
        registry.register(
            "store_commit_duration_seconds",
            "Time to make a write batch durable (page writes and fsync): the disk's part of \
             every write's latency",
            commit_seconds.clone(),
        );
        Arc::new(Metrics {
            registry,
            requests,
            latency,
            checks,
            deliveries,
            rate_limited,
            queue_depth,
            queue_overdue,
            store_bytes,
            commit_seconds,
        })
    }

    /// Counts an answered request and its latency.
    pub fn observe_request(&self, route: &'static str, status: StatusCode, seconds: f64) {
        let labels = RequestLabels {
            route,
            status: status.as_u16(),
        };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.rate_limited.inc();
        }
    }

    /// Counts a stored check.
    pub fn count_check(&self, result: &'static str) {
        self.checks.get_or_create(&ResultLabels { result }).inc();
    }

    /// Counts a webhook attempt's outcome.
    pub fn count_attempt(&self, outcome: &'static str) {
        self.deliveries
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Refreshes the store gauges and renders everything.
    pub async fn render(&self, store: &Store) -> String {
        if let Ok((next_due, depth)) = store.deliveries().queue_state().await {
            self.queue_depth.set(depth as i64);
            let overdue = next_due.map_or(Duration::ZERO, |at| store.clock().steady().since(at));
            self.queue_overdue.set(overdue.as_secs_f64());
        }
        if let Ok(meta) = std::fs::metadata(store.path()) {
            self.store_bytes.set(meta.len() as i64);
        }
        *lock(&self.commit_seconds.0) = store.commit_times();
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        text
    }
}

/// Connections the metrics listener serves at once: a scraper or two, and room for an
/// operator's `curl`. More wait in the kernel's accept queue.
const MAX_CONNECTIONS: usize = 16;

/// Serves `GET /metrics` on `listener` until `stop` turns true, then closes the open
/// connections (a scrape is cheap to repeat, so none is waited for). It takes the API's
/// header and idle timeouts and its per-address cap, and serves at most
/// [`MAX_CONNECTIONS`] at once, so an idle client cannot hold it.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    store: Store,
    timeouts: net::Timeouts,
    max_connections_per_ip: usize,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let per_ip = net::PerIpLimit::new(max_connections_per_ip);
    let accept = || net::accept_capped(&listener, &permits, &per_ip, "metrics");
    let serve = |(stream, _peer, permit, ip_slot)| {
        let (metrics, store) = (metrics.clone(), store.clone());
        async move {
            let activity = net::Activity::new();
            let requests = activity.clone();
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let (metrics, store) = (metrics.clone(), store.clone());
                let guard = requests.begin_request();
                async move {
                    let response = answer(&req, &metrics, &store).await;
                    drop(guard);
                    Ok::<_, Infallible>(response)
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeouts.first_request)
                .serve_connection(TokioIo::new(stream), service);
            net::watch_idle(connection, &activity, timeouts).await;
            drop((permit, ip_slot));
        }
    };
    let connections = net::accept_until_stopped("metrics", &mut stop, accept, serve).await;
    drop(listener);
    connections.drain(Duration::ZERO).await;
}

async fn answer(
    req: &Request<hyper::body::Incoming>,
    metrics: &Metrics,
    store: &Store,
) -> Response<Full<Bytes>> {
    if req.uri().path() != "/metrics" {
        return status_only(StatusCode::NOT_FOUND);
    }
    if req.method() != Method::GET {
        return status_only(StatusCode::METHOD_NOT_ALLOWED);
    }
    let mut response = Response::new(Full::new(Bytes::from(metrics.render(store).await)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

fn status_only(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}
