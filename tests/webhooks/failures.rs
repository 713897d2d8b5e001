//! Failures without an answer (unreachable, TLS, plain HTTP, timeout, redirect): each a
//! failed attempt, recorded with a coarse cause the tenant may see.

use crate::support::*;

/// Checks an abandoned delivery whose attempts all failed without an HTTP answer, each
/// recorded with exactly `summary`: the tenant sees a coarse cause, never the addresses,
/// certificates or OS messages behind it (those go to the operator's log).
#[track_caller]
fn assert_failed_without_answer(delivery: &Value, attempts: usize, summary: &str) {
    let list = delivery["attempts"].as_array().expect("attempts");
    assert_eq!(list.len(), attempts, "{delivery:#}");
    for (i, attempt) in list.iter().enumerate() {
        assert_eq!(attempt["number"], i + 1, "{delivery:#}");
        assert_eq!(attempt["status_code"], Value::Null, "{delivery:#}");
        assert_eq!(attempt["error"], summary, "{delivery:#}");
    }
    assert_eq!(delivery["next_attempt_at"], Value::Null);
}

// These use `retry_delays = []` (one attempt, then abandoned) so that they test how a
// failure is classified and recorded, independently of the retry timing tested above.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_a_failed_attempt() {
    let ca = TestCa::new();
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = Vec::new()).await;
    let contract_id = contract(&server, "users").await;
    let url = format!("https://localhost:{}/nobody", dead_port());
    let hook = webhook(&server, &url, ALL_EVENTS, None).await;
    run_check(&server, &contract_id, pass_columns()).await;
    let delivery =
        wait_delivery(&server, &id_of(&hook), "abandoned", Duration::from_secs(20)).await;
    assert_failed_without_answer(&delivery, 1, "connection refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn an_unreachable_endpoint_is_retried_then_abandoned() {
    let ca = TestCa::new();
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[200, 400])).await;
    let contract_id = contract(&server, "users").await;
    let url = format!("https://localhost:{}/nobody", dead_port());
    let hook = webhook(&server, &url, ALL_EVENTS, None).await;
    run_check(&server, &contract_id, pass_columns()).await;
    let delivery =
        wait_delivery(&server, &id_of(&hook), "abandoned", Duration::from_secs(20)).await;
    assert_failed_without_answer(&delivery, 3, "connection refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_failure_is_a_failed_attempt() {
    let trusted = TestCa::new();
    let untrusted = TestCa::new();
    // Its certificate is signed by a CA the daemon does not trust.
    let receiver = Receiver::start(&untrusted).await;
    let server = start(&trusted, |cfg| cfg.webhooks.retry_delays = Vec::new()).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/tls"), ALL_EVENTS, None).await;
    run_check(&server, &contract_id, pass_columns()).await;
    let delivery =
        wait_delivery(&server, &id_of(&hook), "abandoned", Duration::from_secs(20)).await;
    assert_failed_without_answer(&delivery, 1, "tls handshake failed");
    assert_eq!(receiver.total(), 0, "no request got past the handshake");
    assert!(
        receiver.tls_failures() >= 1,
        "the receiver was reached and the handshake failed ({} connections)",
        receiver.connections()
    );
}

/// Issue 9: a port that speaks plain HTTP reads, to the tenant, like any other broken TLS
/// endpoint — what answers on an internal address stays the operator's business.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_http_port_is_a_coarse_tls_failure() {
    let ca = TestCa::new();
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = Vec::new()).await;
    let contract_id = contract(&server, "users").await;
    // The daemon's own API port speaks plain HTTP.
    let url = server.base.replace("http://", "https://") + "/api/v1/health";
    let hook = webhook(&server, &url, ALL_EVENTS, None).await;
    run_check(&server, &contract_id, pass_columns()).await;
    let delivery =
        wait_delivery(&server, &id_of(&hook), "abandoned", Duration::from_secs(20)).await;
    assert_failed_without_answer(&delivery, 1, "tls handshake failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_and_a_redirect_are_failed_attempts() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| {
        cfg.webhooks.retry_delays = Vec::new();
        cfg.webhooks.attempt_timeout = Duration::from_millis(500);
    })
    .await;
    let contract_id = contract(&server, "users").await;
    let slow = webhook(&server, &receiver.url("/slow"), ALL_EVENTS, None).await;
    let moved = webhook(&server, &receiver.url("/moved"), ALL_EVENTS, None).await;
    receiver.set_default("/slow", Reply::status(200).delayed(Duration::from_secs(3)));
    receiver.set_default(
        "/moved",
        Reply::status(302).header("location", &receiver.url("/elsewhere")),
    );
    run_check(&server, &contract_id, pass_columns()).await;

    let delivery =
        wait_delivery(&server, &id_of(&slow), "abandoned", Duration::from_secs(20)).await;
    assert_failed_without_answer(&delivery, 1, "timed out");
    let duration = delivery["attempts"][0]["duration_ms"]
        .as_u64()
        .expect("duration_ms");
    assert!(
        (400..2500).contains(&duration),
        "cut off at the attempt timeout: {delivery:#}"
    );
    let delivery = wait_delivery(
        &server,
        &id_of(&moved),
        "abandoned",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(status_codes(&delivery), [json!(302)]);
    assert_eq!(
        receiver.count("/elsewhere"),
        0,
        "redirects are not followed"
    );
}
