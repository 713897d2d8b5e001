//! `webhooks`: three webhooks per check, to the local HTTPS receiver answering 200:
//! checks/s, and deliveries/s until the receiver has confirmed every delivery; then the
//! same number of deliveries from a bare hyper-rustls client (the deliveries' baseline).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use serde_json::json;

use crate::common::{client_with, Receiver};
use crate::daemon::Daemon;
use crate::load::{post_args, run_oha};
use crate::Bench;

/// `webhooks.max_in_flight_per_webhook`'s default: the daemon's concurrency per webhook.
const DELIVERY_SLOTS_PER_WEBHOOK: usize = 32;

/// Registers the three webhooks (`/a`, `/b`, `/c`, every event) the webhook, depth and
/// start-up rows use.
pub async fn register(b: &mut Bench) {
    let daemon = Daemon::start(&b.http, &b.key).await;
    for path in ["/a", "/b", "/c"] {
        let hook = b
            .post(
                "/api/v1/webhooks",
                json!({"url": b.receiver.url(path), "events": ["pass", "warning", "breaking"]}),
            )
            .await;
        b.hooks
            .push(hook["id"].as_str().expect("webhook id").to_owned());
    }
    daemon.stop().await;
}

/// `webhook_checks` checks, each delivered three times, then the client baseline.
pub async fn run(b: &mut Bench) {
    let webhook_checks = b.webhook_checks;
    let daemon = Daemon::start(&b.http, &b.key).await;
    b.receiver.reset_confirmed();
    let clock = Instant::now();
    let mut args = post_args(&b.url, &b.key, &b.body, &b.seconds);
    args.splice(0..2, ["-n".to_owned(), webhook_checks.to_string()]);
    let with_hooks = run_oha(&args);
    let answered = clock.elapsed();
    let expected = 3 * with_hooks.ok as usize;
    let confirmed = b
        .receiver
        .wait_confirmed(expected, Duration::from_secs(600))
        .await;
    let delivered = clock.elapsed();
    daemon.stop().await;
    let scenario = format!("POST /check + 3 webhooks ({webhook_checks} checks)");
    b.webhook_peak_rps = Some(webhook_checks as f64 / answered.as_secs_f64());
    b.results.add(
        &scenario,
        "checks/s",
        webhook_checks as f64 / answered.as_secs_f64(),
        "req/s",
        Some(b.baseline.rps),
    );
    b.results.add(
        &scenario,
        "p99",
        with_hooks.p99_ms,
        "ms",
        Some(b.baseline.p99_ms),
    );
    let end_to_end = confirmed as f64 / delivered.as_secs_f64();
    b.results.add(
        &scenario,
        "deliveries/s end to end",
        end_to_end,
        "dlv/s",
        None,
    );
    b.results.add(
        &scenario,
        "deliveries confirmed",
        confirmed as f64 / expected.max(1) as f64 * 100.0,
        "%",
        None,
    );
    b.results.add(
        &scenario,
        "last delivery after last answer",
        (delivered - answered).as_secs_f64(),
        "s",
        None,
    );
    // The client baseline: the same bodies, signed per request, same concurrency.
    let sample = b
        .receiver
        .sample()
        .unwrap_or_else(|| Bytes::from(b.body.clone()));
    b.receiver.reset_confirmed();
    let client_rate = client_baseline(
        &b.receiver,
        &b.ca.der(),
        sample,
        expected.max(3),
        3 * DELIVERY_SLOTS_PER_WEBHOOK,
    )
    .await;
    b.results.add(
        &format!(
            "baseline: bare hyper-rustls client, {} deliveries, {} in flight",
            expected.max(3),
            3 * DELIVERY_SLOTS_PER_WEBHOOK
        ),
        "deliveries/s",
        client_rate,
        "dlv/s",
        None,
    );
    b.results.add(
        &scenario,
        "deliveries/s vs client baseline",
        end_to_end,
        "dlv/s",
        Some(client_rate),
    );
    b.results.target(
        "deliveries_vs_client",
        "deliveries/s end to end (checks + 3 webhooks) vs a bare hyper-rustls client",
        end_to_end,
        "dlv/s",
        Some(end_to_end / client_rate),
        end_to_end / client_rate >= 1.0,
        ">= 1.0x",
    );
}

/// The deliveries' baseline: a bare hyper-rustls client (HTTP/1.1 and HTTP/2, like the
/// daemon's) trusting `ca_der`, POSTing `n` copies of a delivery body, each signed like
/// the daemon signs it, `in_flight` at once, to the same receiver. Returns deliveries/s
/// until all are confirmed.
async fn client_baseline(
    receiver: &Receiver,
    ca_der: &[u8],
    body: Bytes,
    n: usize,
    in_flight: usize,
) -> f64 {
    use driftguard::webhooks::signature::{driftguard_signature, standard_signature};
    let client = client_with(Some(ca_der), true);
    let next = Arc::new(AtomicUsize::new(0));
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let clock = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..in_flight {
        let (client, next, body) = (client.clone(), next.clone(), body.clone());
        let url = receiver.url(["/a", "/b", "/c"][tasks.len() % 3]);
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let id = format!("dlv_baseline{i:016}");
                let timestamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let mut request = Request::builder()
                    .method(Method::POST)
                    .uri(&url)
                    .header("content-type", "application/json")
                    .header(
                        "x-driftguard-signature",
                        driftguard_signature(secret, &body),
                    )
                    .header("x-driftguard-delivery", &id)
                    .header("x-driftguard-attempt", "1")
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", timestamp.to_string());
                if let Some(sig) = standard_signature(secret, &id, timestamp, &body) {
                    request = request.header("webhook-signature", sig);
                }
                let request = request.body(Full::new(body.clone())).expect("request");
                if let Ok(response) = client.request(request).await {
                    let _ = response.into_body().collect().await;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let confirmed = receiver.wait_confirmed(n, Duration::from_secs(60)).await;
    confirmed as f64 / clock.elapsed().as_secs_f64()
}
