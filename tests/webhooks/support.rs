//! What the webhook tests share beyond `tests/common`: a daemon that trusts the test CA,
//! checks of each verdict, webhook and delivery requests, polling, and independent
//! signature verification.

// What every topic module uses, so that each starts with `use crate::support::*;`.
pub use std::collections::HashMap;
pub use std::sync::atomic::Ordering;
pub use std::sync::{Arc, Mutex};
pub use std::time::{Duration, Instant};

pub use bytes::Bytes;
pub use driftguard::config::Config;
pub use driftguard::credentials::{generate_key, Environment};
pub use hyper::Method;
pub use serde_json::{json, Value};
pub use time::OffsetDateTime;

pub use crate::common::*;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::hmac;
use time::format_description::well_known::Rfc3339;
/// A daemon that trusts `ca`, with rate limits out of the way of polling. Its target
/// guard lets loopback through (`webhooks.allow_targets`): every receiver here listens
/// on 127.0.0.1 (the default refusal is tested in `the_target_guard_*`).
pub async fn start(ca: &TestCa, adjust: impl FnOnce(&mut Config)) -> TestServer {
    let ca_file = ca.pem_file.clone();
    TestServer::start_with(move |cfg| {
        cfg.limits.requests_per_minute = 1_000_000.try_into().unwrap();
        cfg.webhooks.ca_file = Some(ca_file);
        cfg.webhooks.allow_targets = loopback();
        adjust(cfg);
    })
    .await
}

/// `127.0.0.0/8` and `::1/128`.
pub fn loopback() -> Vec<driftguard::webhooks::guard::Cidr> {
    ["127.0.0.0/8", "::1/128"]
        .iter()
        .map(|c| c.parse().expect("a CIDR"))
        .collect()
}

/// Retry delays of `ms` milliseconds each.
pub fn delays(ms: &[u64]) -> Vec<Duration> {
    ms.iter().map(|&ms| Duration::from_millis(ms)).collect()
}

/// Creates the users contract as `name`; returns its id.
pub async fn contract(server: &TestServer, name: &str) -> String {
    let body = server
        .create_contract(&server.key, name, users_columns())
        .await;
    body["id"].as_str().expect("contract id").to_owned()
}

/// Incoming columns scoring `pass` (identical schema).
pub fn pass_columns() -> Value {
    users_columns()
}

/// Incoming columns scoring `warning` (70: email removed, created_at retyped).
pub fn warning_columns() -> Value {
    json!([
        {"name": "user_id", "type": "integer"},
        {"name": "created_at", "type": "string"}
    ])
}

/// Incoming columns scoring `breaking` (100).
pub fn breaking_columns() -> Value {
    json!([{"name": "created_at", "type": "string"}])
}

/// Runs a check; returns its answer body (the exact bytes) and id.
pub async fn run_check(server: &TestServer, contract_id: &str, columns: Value) -> (Bytes, String) {
    let answer = server.check(&server.key, contract_id, columns).await;
    let body = answer.assert_status(200);
    (
        answer.body,
        body["id"].as_str().expect("check id").to_owned(),
    )
}

/// Registers a webhook; returns the 201 body (with the secret).
pub async fn webhook(
    server: &TestServer,
    url: &str,
    events: &[&str],
    contract_id: Option<&str>,
) -> Value {
    server
        .post(
            "/api/v1/webhooks",
            &json!({"url": url, "events": events, "contract_id": contract_id}),
        )
        .await
        .assert_status(201)
}

/// The `id` of a JSON document.
pub fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// Pauses (`false`) or resumes (`true`) a webhook with `PATCH`; returns the webhook.
pub async fn set_active(server: &TestServer, webhook_id: &str, active: bool) -> Value {
    let body = server
        .send(
            Method::PATCH,
            &format!("/api/v1/webhooks/{webhook_id}"),
            Some(&server.key),
            json!({"active": active}).to_string(),
        )
        .await
        .assert_status(200);
    assert_eq!(body["active"], active, "{body}");
    assert!(body.get("secret").is_none(), "PATCH never shows the secret");
    body
}

/// A webhook's deliveries, newest first (one page of up to 1000).
pub async fn deliveries(server: &TestServer, webhook_id: &str) -> Vec<Value> {
    server
        .get(&format!(
            "/api/v1/webhooks/{webhook_id}/deliveries?limit=1000"
        ))
        .await
        .assert_status(200)
        .as_array()
        .expect("array of deliveries")
        .clone()
}

/// Polls `fetch` until `done` holds for its result or `deadline` passes; returns whether it
/// did and the last result.
pub async fn poll<T, F, Fut>(
    deadline: Duration,
    mut fetch: F,
    done: impl Fn(&T) -> bool,
) -> (bool, T)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let last: Mutex<Option<T>> = Mutex::new(None);
    let ok = wait_until(deadline, || {
        let next = fetch();
        let (last, done) = (&last, &done);
        async move {
            let value = next.await;
            let ok = done(&value);
            *lock(last) = Some(value);
            ok
        }
    })
    .await;
    let value = last
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .expect("polled at least once");
    (ok, value)
}

/// Waits until the webhook's only delivery has `status`; returns it.
pub async fn wait_delivery(
    server: &TestServer,
    webhook_id: &str,
    status: &str,
    deadline: Duration,
) -> Value {
    let (done, mut last) = poll(
        deadline,
        || deliveries(server, webhook_id),
        |list| list.len() == 1 && list[0]["status"] == status,
    )
    .await;
    assert!(
        done,
        "delivery of {webhook_id} not {status} within {deadline:?}: {last:#?}"
    );
    last.remove(0)
}

/// Lower-case hex to bytes.
pub fn hex_decode(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "even length: {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The wall clock, in Unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Verifies the Standard Webhooks signature of `request` with `secret`, independently of
/// the server's code.
pub fn verify_standard(secret: &str, request: &Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 secret");
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    let mut signed = Vec::new();
    signed.extend_from_slice(request.header("webhook-id").as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(request.header("webhook-timestamp").as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(&request.body);
    // A space-separated list of `v1,<base64>`; one valid signature suffices.
    request
        .header("webhook-signature")
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .any(|tag| hmac::verify(&key, &signed, &tag).is_ok())
}

/// Verifies `X-DriftGuard-Signature` (hex HMAC-SHA256 of the body) with `secret`.
pub fn verify_driftguard(secret: &str, request: &Received) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hex_decode(request.header("x-driftguard-signature"));
    hmac::verify(&key, &request.body, &tag).is_ok()
}

/// The `X-DriftGuard-Attempt` of each request, in order.
pub fn attempt_numbers(requests: &[Received]) -> Vec<String> {
    requests
        .iter()
        .map(|r| r.header("x-driftguard-attempt").to_owned())
        .collect()
}

/// The `status_code` of each of a delivery's attempts.
pub fn status_codes(delivery: &Value) -> Vec<Value> {
    delivery["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["status_code"].clone())
        .collect()
}

/// A loopback port with nothing listening on it.
pub fn dead_port() -> u16 {
    free_port()
}

/// Every event a webhook can subscribe to.
pub const ALL_EVENTS: &[&str] = &["pass", "warning", "breaking"];

/// When `delivery`'s last attempt ended, as the server recorded it (`at` + `duration_ms`).
pub fn last_attempt_end(delivery: &Value) -> OffsetDateTime {
    let last = delivery["attempts"]
        .as_array()
        .and_then(|a| a.last())
        .unwrap_or_else(|| panic!("an attempt: {delivery:#}"));
    let at = OffsetDateTime::parse(last["at"].as_str().expect("at"), &Rfc3339).expect("RFC 3339");
    at + Duration::from_millis(last["duration_ms"].as_u64().expect("duration_ms"))
}

/// The time the server gave, e.g. a delivery's `next_attempt_at`.
pub fn server_time(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().expect("a time"), &Rfc3339).expect("RFC 3339")
}

/// Waits until the wall clock is past `t` (a time computed from what the server
/// recorded): the condition behind "nothing more was sent by then".
pub async fn wait_past(t: OffsetDateTime) {
    let passed = wait_until(Duration::from_secs(30), || async move {
        OffsetDateTime::now_utc() > t
    })
    .await;
    assert!(passed, "the clock passed {t}");
}

/// `POST`s `body` with the server's key.
pub async fn post(server: &TestServer, path: &str, body: Value) -> Answer {
    server.post(path, &body).await
}

/// `PATCH`es a webhook; returns the 200 body.
pub async fn patch(server: &TestServer, webhook_id: &str, body: Value) -> Value {
    server
        .send(
            Method::PATCH,
            &format!("/api/v1/webhooks/{webhook_id}"),
            Some(&server.key),
            body.to_string(),
        )
        .await
        .assert_status(200)
}

/// Reads a webhook.
pub async fn get_webhook(server: &TestServer, webhook_id: &str) -> Value {
    server
        .get(&format!("/api/v1/webhooks/{webhook_id}"))
        .await
        .assert_status(200)
}

/// Registers a webhook with `format`.
pub async fn webhook_as(server: &TestServer, url: &str, format: &str) -> Value {
    post(
        server,
        "/api/v1/webhooks",
        json!({"url": url, "events": ALL_EVENTS, "format": format}),
    )
    .await
    .assert_status(201)
}
