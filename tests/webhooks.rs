#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "test code: a failed step fails the test"
)]
mod common;
use common::*;

// Webhook delivery end to end: the in-process daemon (and, for the crash test, the real
// binary) delivers to a real local HTTPS receiver whose certificate is signed by a test CA
// made here and trusted through `webhooks.ca_file`.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use driftguard::config::Config;
use driftguard::credentials::{generate_key, Environment};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{HeaderMap, Method, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use ring::hmac;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------------------
// Test CA and the HTTPS receiver
// ---------------------------------------------------------------------------------------

/// A certificate authority made for one test, with its PEM written to a file.
struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    pem_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCa {
    fn new() -> TestCa {
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "DriftGuard test CA");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().expect("CA key");
        let issuer = rcgen::CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        let dir = tempfile::tempdir().expect("tempdir");
        let pem_file = dir.path().join("webhook-ca.pem");
        std::fs::write(&pem_file, issuer.pem()).expect("write CA PEM");
        TestCa {
            issuer,
            pem_file,
            _dir: dir,
        }
    }

    /// A server certificate for `localhost` and `127.0.0.1` signed by this CA.
    fn leaf(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("leaf params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign leaf");
        (
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }
}

/// How the receiver answers one request.
#[derive(Clone, Debug)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    /// Wait this long before answering.
    delay: Duration,
    body: &'static str,
}

impl Reply {
    fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
            body: "",
        }
    }

    fn body(mut self, body: &'static str) -> Reply {
        self.body = body;
        self
    }

    fn header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
    at: Instant,
    /// The status it was (or is being) answered with; [`CUT_OFF`] if its body never
    /// arrived whole.
    answered: u16,
}

/// [`Received::answered`] of a request whose sender went away before its body was whole.
const CUT_OFF: u16 = 0;

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("header {name} missing: {:?}", self.headers))
            .to_str()
            .expect("ASCII header")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    fn check_id(&self) -> String {
        self.json()["id"].as_str().expect("check id").to_owned()
    }
}

#[derive(Default)]
struct ReceiverState {
    requests: Mutex<Vec<Received>>,
    /// Replies to use first, per path, in order.
    scripts: Mutex<HashMap<String, VecDeque<Reply>>>,
    /// The reply once a path's script is used up (else 200).
    defaults: Mutex<HashMap<String, Reply>>,
    /// TCP connections accepted.
    connections: AtomicUsize,
    /// TLS handshakes that failed.
    tls_failures: AtomicUsize,
    /// Requests being answered now, and the most at once, per path.
    in_flight: Mutex<HashMap<String, (usize, usize)>>,
    /// Paths that answer like a Slack incoming webhook: `400 no_text` to a body without
    /// a non-empty `text` string and a `blocks` array.
    slack_paths: Mutex<Vec<String>>,
}

/// Counts a request in flight until dropped (answered or cut off).
struct InFlight {
    state: Arc<ReceiverState>,
    path: String,
}

impl InFlight {
    fn new(state: Arc<ReceiverState>, path: String) -> InFlight {
        {
            let mut gauges = lock(&state.in_flight);
            let gauge = gauges.entry(path.clone()).or_default();
            gauge.0 += 1;
            gauge.1 = gauge.1.max(gauge.0);
        }
        InFlight { state, path }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(gauge) = lock(&self.state.in_flight).get_mut(&self.path) {
            gauge.0 -= 1;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A local HTTPS server (HTTP/2 and HTTP/1.1) that records every request and answers from
/// a script.
struct Receiver {
    port: u16,
    state: Arc<ReceiverState>,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// A receiver whose certificate is signed by `ca`.
    async fn start(ca: &TestCa) -> Receiver {
        let (chain, key) = ca.leaf();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server certificate");
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(ReceiverState::default());
        let task = tokio::spawn(accept_loop(listener, acceptor, state.clone()));
        Receiver { port, state, task }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    /// Answers the next requests to `path` with `replies`, in order.
    fn script(&self, path: &str, replies: Vec<Reply>) {
        lock(&self.state.scripts)
            .entry(path.to_owned())
            .or_default()
            .extend(replies);
    }

    /// Answers `path` like Slack: `400 no_text` to a body that is not a Slack message.
    fn like_slack(&self, path: &str) {
        lock(&self.state.slack_paths).push(path.to_owned());
    }

    /// Answers `path` with `reply` once its script is used up.
    fn set_default(&self, path: &str, reply: Reply) {
        lock(&self.state.defaults).insert(path.to_owned(), reply);
    }

    fn requests(&self, path: &str) -> Vec<Received> {
        lock(&self.state.requests)
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    fn count(&self, path: &str) -> usize {
        lock(&self.state.requests)
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    /// The most requests to `path` answered at once.
    fn max_in_flight(&self, path: &str) -> usize {
        lock(&self.state.in_flight)
            .get(path)
            .map_or(0, |gauge| gauge.1)
    }

    fn total(&self) -> usize {
        lock(&self.state.requests).len()
    }

    /// Waits until `path` got at least `n` requests.
    async fn wait_for(&self, path: &str, n: usize, deadline: Duration) -> Vec<Received> {
        let got = wait_until(deadline, || async { self.count(path) >= n }).await;
        let requests = self.requests(path);
        assert!(
            got,
            "{path}: expected {n} requests within {deadline:?}, got {}",
            requests.len()
        );
        requests
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<ReceiverState>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        state.connections.fetch_add(1, Ordering::SeqCst);
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(_) => {
                    state.tls_failures.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            };
            let service = service_fn(move |req| answer(state.clone(), req));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

async fn answer(
    state: Arc<ReceiverState>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let at = Instant::now();
    let path = req.uri().path().to_owned();
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        // The sender went away mid-body (a daemon killed by a crash test): nothing to
        // answer, and nothing that counts as delivered.
        lock(&state.requests).push(Received {
            path,
            headers: parts.headers,
            body: Bytes::new(),
            at,
            answered: CUT_OFF,
        });
        return Ok(Response::new(Full::new(Bytes::new())));
    };
    let reply = {
        let scripted = lock(&state.scripts)
            .get_mut(&path)
            .and_then(VecDeque::pop_front);
        scripted
            .or_else(|| lock(&state.defaults).get(&path).cloned())
            .unwrap_or_else(|| Reply::status(200))
    };
    let reply = if lock(&state.slack_paths).contains(&path) && !slack_accepts(&body) {
        Reply::status(400).body("no_text")
    } else {
        reply
    };
    let _in_flight = InFlight::new(state.clone(), path.clone());
    lock(&state.requests).push(Received {
        path,
        headers: parts.headers,
        body,
        at,
        answered: reply.status,
    });
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        response = response.header(*name, value);
    }
    Ok(response
        .body(Full::new(Bytes::from(reply.body)))
        .expect("valid response"))
}

/// What a Slack incoming webhook requires of a body: JSON with a non-empty `text` and,
/// for Block Kit, an array of `blocks` (at most 50).
fn slack_accepts(body: &[u8]) -> bool {
    let Ok(message) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let text = message["text"]
        .as_str()
        .is_some_and(|t| !t.trim().is_empty());
    let blocks = message["blocks"].as_array().is_some_and(|b| b.len() <= 50);
    text && blocks
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A daemon that trusts `ca`, with rate limits out of the way of polling. Its target
/// guard lets loopback through (`webhooks.allow_targets`): every receiver here listens
/// on 127.0.0.1 (the default refusal is tested in `the_target_guard_*`).
async fn start(ca: &TestCa, adjust: impl FnOnce(&mut Config)) -> TestServer {
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
fn loopback() -> Vec<driftguard::webhooks::guard::Cidr> {
    ["127.0.0.0/8", "::1/128"]
        .iter()
        .map(|c| c.parse().expect("a CIDR"))
        .collect()
}

fn delays(ms: &[u64]) -> Vec<Duration> {
    ms.iter().map(|&ms| Duration::from_millis(ms)).collect()
}

async fn contract(server: &TestServer, name: &str) -> String {
    let body = server
        .create_contract(&server.key, name, users_columns())
        .await;
    body["id"].as_str().expect("contract id").to_owned()
}

/// Incoming columns scoring `pass` (identical schema).
fn pass_columns() -> Value {
    users_columns()
}

/// Incoming columns scoring `warning` (70: email removed, created_at retyped).
fn warning_columns() -> Value {
    json!([
        {"name": "user_id", "type": "integer"},
        {"name": "created_at", "type": "string"}
    ])
}

/// Incoming columns scoring `breaking` (100).
fn breaking_columns() -> Value {
    json!([{"name": "created_at", "type": "string"}])
}

/// Runs a check; returns its answer body (the exact bytes) and id.
async fn run_check(server: &TestServer, contract_id: &str, columns: Value) -> (Bytes, String) {
    let answer = server.check(&server.key, contract_id, columns).await;
    let body = answer.assert_status(200);
    (
        answer.body,
        body["id"].as_str().expect("check id").to_owned(),
    )
}

/// Registers a webhook; returns the 201 body (with the secret).
async fn webhook(
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

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

async fn set_active(server: &TestServer, webhook_id: &str, active: bool) -> Value {
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

async fn deliveries(server: &TestServer, webhook_id: &str) -> Vec<Value> {
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
async fn poll<T, F, Fut>(deadline: Duration, mut fetch: F, done: impl Fn(&T) -> bool) -> (bool, T)
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
async fn wait_delivery(
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

fn hex_decode(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "even length: {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Verifies the Standard Webhooks signature of `request` with `secret`, independently of
/// the server's code.
fn verify_standard(secret: &str, request: &Received) -> bool {
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

fn verify_driftguard(secret: &str, request: &Received) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hex_decode(request.header("x-driftguard-signature"));
    hmac::verify(&key, &request.body, &tag).is_ok()
}

fn attempt_numbers(requests: &[Received]) -> Vec<String> {
    requests
        .iter()
        .map(|r| r.header("x-driftguard-attempt").to_owned())
        .collect()
}

fn status_codes(delivery: &Value) -> Vec<Value> {
    delivery["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["status_code"].clone())
        .collect()
}

/// A loopback port with nothing listening on it.
fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

const ALL_EVENTS: &[&str] = &["pass", "warning", "breaking"];

/// When `delivery`'s last attempt ended, as the server recorded it (`at` + `duration_ms`).
fn last_attempt_end(delivery: &Value) -> OffsetDateTime {
    let last = delivery["attempts"]
        .as_array()
        .and_then(|a| a.last())
        .unwrap_or_else(|| panic!("an attempt: {delivery:#}"));
    let at = OffsetDateTime::parse(last["at"].as_str().expect("at"), &Rfc3339).expect("RFC 3339");
    at + Duration::from_millis(last["duration_ms"].as_u64().expect("duration_ms"))
}

/// The time the server gave, e.g. a delivery's `next_attempt_at`.
fn server_time(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().expect("a time"), &Rfc3339).expect("RFC 3339")
}

/// Waits until the wall clock is past `t` (a time computed from what the server
/// recorded): the condition behind "nothing more was sent by then".
async fn wait_past(t: OffsetDateTime) {
    let passed = wait_until(Duration::from_secs(30), || async move {
        OffsetDateTime::now_utc() > t
    })
    .await;
    assert!(passed, "the clock passed {t}");
}

// ---------------------------------------------------------------------------------------
// Signatures, headers, body
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_is_signed_and_carries_the_exact_check_body() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |_| {}).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/hook"), ALL_EVENTS, None).await;
    let secret = hook["secret"].as_str().expect("secret").to_owned();

    let (answered, check_id) = run_check(&server, &contract_id, warning_columns()).await;
    let request = receiver
        .wait_for("/hook", 1, Duration::from_secs(20))
        .await
        .remove(0);

    // The body is the exact check result: the POST /check answer and GET /checks/{id}.
    let stored = server.get(&format!("/api/v1/checks/{check_id}")).await;
    stored.assert_status(200);
    assert_eq!(request.body, stored.body, "body == GET /checks/{{id}}");
    assert_eq!(request.body, answered, "body == the POST /check answer");
    assert_eq!(request.json()["result"], "warning");

    // X-DriftGuard-Signature: lowercase hex HMAC-SHA256 of the body keyed with the secret.
    let signature = request.header("x-driftguard-signature");
    assert_eq!(signature.len(), 64, "{signature}");
    assert!(
        signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "lowercase hex: {signature}"
    );
    assert!(verify_driftguard(&secret, &request), "plain HMAC verifies");
    let mut tampered = request.clone();
    tampered.body = Bytes::from([&request.body[..], b" "].concat());
    assert!(
        !verify_driftguard(&secret, &tampered),
        "a changed body fails"
    );
    assert!(
        !verify_driftguard("whsec_wrong", &request),
        "a wrong key fails"
    );

    // Standard Webhooks signature, computed independently.
    assert!(
        verify_standard(&secret, &request),
        "webhook-signature verifies: {:?}",
        request.headers
    );
    assert!(!verify_standard(&secret, &tampered));
    let timestamp: i64 = request
        .header("webhook-timestamp")
        .parse()
        .expect("unix seconds");
    assert!(
        (timestamp - unix_now()).abs() <= 60,
        "timestamp {timestamp} is now"
    );

    // The other headers.
    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(
        request.header("user-agent"),
        format!("DriftGuard-Webhooks/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(request.header("x-driftguard-attempt"), "1");
    let delivery_id = request.header("x-driftguard-delivery");
    assert!(delivery_id.starts_with("dlv_"), "{delivery_id}");
    assert_eq!(request.header("webhook-id"), delivery_id);

    // The history records it.
    let delivery =
        wait_delivery(&server, &id_of(&hook), "delivered", Duration::from_secs(20)).await;
    assert_eq!(delivery["id"], delivery_id);
    assert_eq!(delivery["webhook_id"], hook["id"]);
    assert_eq!(delivery["check_id"], check_id.as_str());
    assert_eq!(delivery["next_attempt_at"], Value::Null);
    assert!(delivery["created_at"].is_string());
    let attempts = delivery["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "{delivery}");
    assert_eq!(attempts[0]["number"], 1);
    assert_eq!(attempts[0]["status_code"], 200);
    assert_eq!(attempts[0]["error"], Value::Null);
    assert!(attempts[0]["at"].is_string());
    assert!(attempts[0]["duration_ms"].is_u64());
    assert_eq!(receiver.count("/hook"), 1, "delivered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_history_is_newest_first() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |_| {}).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/h"), ALL_EVENTS, None).await;
    let mut checks = Vec::new();
    for columns in [pass_columns(), warning_columns(), breaking_columns()] {
        checks.push(run_check(&server, &contract_id, columns).await.1);
    }
    receiver.wait_for("/h", 3, Duration::from_secs(20)).await;
    let hook_id = id_of(&hook);
    let (all_delivered, listed) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &hook_id),
        |list| list.len() == 3 && list.iter().all(|d| d["status"] == "delivered"),
    )
    .await;
    assert!(all_delivered, "{listed:#?}");
    // Deliveries were created in the order of their checks (one each): newest first.
    let created: Vec<String> = checks
        .iter()
        .map(|check| {
            let delivery = listed
                .iter()
                .find(|d| d["check_id"].as_str() == Some(check.as_str()))
                .expect("a delivery per check");
            delivery["id"].as_str().expect("id").to_owned()
        })
        .collect();
    assert_creation_order(&listed, &created, true);
    // Each check has exactly one delivery, and the receiver saw its id.
    let mut listed_checks: Vec<&str> = listed
        .iter()
        .map(|d| d["check_id"].as_str().expect("check_id"))
        .collect();
    listed_checks.sort_unstable();
    let mut want: Vec<&str> = checks.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(listed_checks, want);
    for request in receiver.requests("/h") {
        let delivery = listed
            .iter()
            .find(|d| d["id"] == request.header("x-driftguard-delivery"))
            .expect("the delivery of a received request is listed");
        assert_eq!(delivery["check_id"], request.check_id().as_str());
    }
}

// ---------------------------------------------------------------------------------------
// Who gets what
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_scoped_by_event_and_contract() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |_| {}).await;
    let a = contract(&server, "a").await;
    let b = contract(&server, "b").await;
    let breaking_only = webhook(&server, &receiver.url("/breaking"), &["breaking"], None).await;
    let pass_only = webhook(&server, &receiver.url("/pass"), &["pass"], None).await;
    let on_a = webhook(&server, &receiver.url("/a"), ALL_EVENTS, Some(&a)).await;
    let on_b = webhook(&server, &receiver.url("/b"), ALL_EVENTS, Some(&b)).await;
    let everything = webhook(&server, &receiver.url("/all"), ALL_EVENTS, None).await;
    assert_eq!(on_a["contract_id"], a.as_str());

    // A pass on A: the pass, A and catch-all webhooks only.
    let (_, pass_on_a) = run_check(&server, &a, pass_columns()).await;
    // A warning on B: B and catch-all only.
    let (_, warning_on_b) = run_check(&server, &b, warning_columns()).await;
    // A breaking on B: breaking, B and catch-all.
    let (_, breaking_on_b) = run_check(&server, &b, breaking_columns()).await;

    let wait = Duration::from_secs(10);
    receiver.wait_for("/all", 3, wait).await;
    receiver.wait_for("/pass", 1, wait).await;
    receiver.wait_for("/a", 1, wait).await;
    receiver.wait_for("/b", 2, wait).await;
    receiver.wait_for("/breaking", 1, wait).await;
    // Every queued delivery is finished, so nothing else is on its way.
    for hook in [&breaking_only, &pass_only, &on_a, &on_b, &everything] {
        let id = id_of(hook);
        let finished = wait_until(wait, || async {
            deliveries(&server, &id)
                .await
                .iter()
                .all(|d| d["status"] == "delivered")
        })
        .await;
        assert!(finished, "{id}: {:#?}", deliveries(&server, &id).await);
    }

    let received = |path: &str| -> Vec<String> {
        let mut ids: Vec<String> = receiver
            .requests(path)
            .iter()
            .map(Received::check_id)
            .collect();
        ids.sort();
        ids
    };
    let sorted = |ids: &[&String]| -> Vec<String> {
        let mut ids: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(received("/breaking"), sorted(&[&breaking_on_b]));
    assert_eq!(received("/pass"), sorted(&[&pass_on_a]));
    assert_eq!(received("/a"), sorted(&[&pass_on_a]));
    assert_eq!(received("/b"), sorted(&[&warning_on_b, &breaking_on_b]));
    assert_eq!(
        received("/all"),
        sorted(&[&pass_on_a, &warning_on_b, &breaking_on_b])
    );
    // The history agrees: no delivery was even queued for a non-matching webhook.
    assert_eq!(deliveries(&server, &id_of(&breaking_only)).await.len(), 1);
    assert_eq!(deliveries(&server, &id_of(&pass_only)).await.len(), 1);
    assert_eq!(deliveries(&server, &id_of(&on_a)).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_and_deleted_webhooks_get_nothing() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |_| {}).await;
    let contract_id = contract(&server, "users").await;
    let live = webhook(&server, &receiver.url("/live"), ALL_EVENTS, None).await;
    let paused = webhook(&server, &receiver.url("/paused"), ALL_EVENTS, None).await;
    let deleted = webhook(&server, &receiver.url("/deleted"), ALL_EVENTS, None).await;
    set_active(&server, &id_of(&paused), false).await;
    let gone = server
        .delete(&format!("/api/v1/webhooks/{}", id_of(&deleted)))
        .await
        .assert_status(200);
    assert_eq!(gone["deleted"], true);

    let (_, first) = run_check(&server, &contract_id, pass_columns()).await;
    receiver.wait_for("/live", 1, Duration::from_secs(20)).await;
    wait_delivery(&server, &id_of(&live), "delivered", Duration::from_secs(20)).await;
    assert_eq!(
        receiver.count("/paused"),
        0,
        "a paused webhook gets nothing"
    );
    assert_eq!(
        receiver.count("/deleted"),
        0,
        "a deleted webhook gets nothing"
    );
    assert!(
        deliveries(&server, &id_of(&paused)).await.is_empty(),
        "no delivery is queued for a paused webhook"
    );
    server
        .get(&format!("/api/v1/webhooks/{}/deliveries", id_of(&deleted)))
        .await
        .assert_error(404, "not_found");

    // Resumed, it gets the checks made from then on, not the ones made while paused.
    set_active(&server, &id_of(&paused), true).await;
    let (_, second) = run_check(&server, &contract_id, pass_columns()).await;
    let got = receiver
        .wait_for("/paused", 1, Duration::from_secs(20))
        .await;
    receiver.wait_for("/live", 2, Duration::from_secs(20)).await;
    wait_delivery(
        &server,
        &id_of(&paused),
        "delivered",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].check_id(), second);
    assert_ne!(got[0].check_id(), first);
    assert_eq!(receiver.count("/deleted"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_webhooks_pending_delivery_waits_and_resumes() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[300])).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/p"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    // The first attempt fails slowly; the webhook is paused while it is in flight.
    receiver.script(
        "/p",
        vec![Reply::status(500).delayed(Duration::from_millis(800))],
    );
    let (_, check_id) = run_check(&server, &contract_id, pass_columns()).await;
    receiver.wait_for("/p", 1, Duration::from_secs(20)).await;
    set_active(&server, &hook_id, false).await;

    let (recorded, delivery) = poll(
        Duration::from_secs(20),
        || async { deliveries(&server, &hook_id).await.remove(0) },
        |d| d["attempts"].as_array().map(Vec::len) == Some(1),
    )
    .await;
    assert!(recorded, "the failed attempt is recorded: {delivery}");
    assert_eq!(delivery["status"], "pending", "{delivery}");
    assert_eq!(
        delivery["next_attempt_at"],
        Value::Null,
        "it waits for the webhook: {delivery}"
    );
    assert_eq!(status_codes(&delivery), [json!(500)]);
    // Past when the retry would have been due (twice its delay after the failure), nothing
    // was sent while paused.
    wait_past(last_attempt_end(&delivery) + Duration::from_millis(2 * 300)).await;
    assert_eq!(receiver.count("/p"), 1, "no attempt while paused");

    set_active(&server, &hook_id, true).await;
    let requests = receiver.wait_for("/p", 2, Duration::from_secs(20)).await;
    let delivery = wait_delivery(&server, &hook_id, "delivered", Duration::from_secs(20)).await;
    assert_eq!(requests.len(), 2);
    assert_eq!(attempt_numbers(&requests), ["1", "2"]);
    assert_eq!(
        requests[0].header("x-driftguard-delivery"),
        requests[1].header("x-driftguard-delivery")
    );
    assert_eq!(requests[1].check_id(), check_id);
    assert_eq!(status_codes(&delivery), [json!(500), json!(200)]);
}

/// Scrapes the metrics listener.
async fn metrics(server: &TestServer) -> String {
    let addr = server.metrics_addr().expect("metrics listener");
    let request = Request::builder()
        .uri(format!("http://{addr}/metrics"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = server.client.request(request).await.expect("scrape");
    assert_eq!(response.status(), 200);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(body.to_vec()).expect("UTF-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_are_counted_by_outcome_in_the_metrics() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| {
        cfg.metrics.listen = Some("127.0.0.1:0".parse().expect("addr"));
        cfg.webhooks.retry_delays = delays(&[200]);
    })
    .await;
    let contract_id = contract(&server, "users").await;
    let ok = id_of(&webhook(&server, &receiver.url("/ok"), ALL_EVENTS, None).await);
    let fail = id_of(&webhook(&server, &receiver.url("/fail"), ALL_EVENTS, None).await);
    let gone = id_of(&webhook(&server, &receiver.url("/gone"), ALL_EVENTS, None).await);
    receiver.set_default("/fail", Reply::status(500));
    receiver.set_default("/gone", Reply::status(410));
    run_check(&server, &contract_id, pass_columns()).await;

    wait_delivery(&server, &ok, "delivered", Duration::from_secs(20)).await;
    wait_delivery(&server, &fail, "abandoned", Duration::from_secs(20)).await;
    let (paused, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &gone),
        |list| list.len() == 1 && list[0]["attempts"].as_array().map(Vec::len) == Some(1),
    )
    .await;
    assert!(paused, "{list:#?}");

    // One attempt of each outcome: the failure that is retried, and the last one.
    let want = [
        r#"driftguard_webhook_attempts_total{outcome="delivered"} 1"#,
        r#"driftguard_webhook_attempts_total{outcome="failed"} 1"#,
        r#"driftguard_webhook_attempts_total{outcome="abandoned"} 1"#,
        r#"driftguard_webhook_attempts_total{outcome="gone"} 1"#,
    ];
    let (counted, text) = poll(
        Duration::from_secs(20),
        || metrics(&server),
        |text| want.iter().all(|line| text.lines().any(|l| l == *line)),
    )
    .await;
    assert!(counted, "{want:#?}\n{text}");
    assert!(
        text.lines()
            .any(|l| l == "# TYPE driftguard_webhook_attempts counter"),
        "{text}"
    );
    let series = text
        .lines()
        .filter(|l| l.starts_with("driftguard_webhook_attempts_total{"))
        .count();
    assert_eq!(series, 4, "no other outcome: {text}");
    // Nothing is left due: the paused delivery waits for its webhook, outside the queue.
    assert!(
        text.lines()
            .any(|l| l == "driftguard_delivery_queue_depth 0"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn three_failures_abandon_the_delivery_after_the_configured_delays() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[200, 400])).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/fail"), ALL_EVENTS, None).await;
    receiver.set_default("/fail", Reply::status(500));
    run_check(&server, &contract_id, pass_columns()).await;

    let requests = receiver.wait_for("/fail", 3, Duration::from_secs(20)).await;
    let delivery =
        wait_delivery(&server, &id_of(&hook), "abandoned", Duration::from_secs(20)).await;
    assert_eq!(attempt_numbers(&requests), ["1", "2", "3"]);
    let first = requests[0].header("x-driftguard-delivery");
    assert!(requests
        .iter()
        .all(|r| r.header("x-driftguard-delivery") == first));
    assert_eq!(delivery["id"], first);
    assert!(
        requests[1].at - requests[0].at >= Duration::from_millis(200),
        "{:?}",
        requests[1].at - requests[0].at
    );
    assert!(
        requests[2].at - requests[1].at >= Duration::from_millis(400),
        "{:?}",
        requests[2].at - requests[1].at
    );
    assert_eq!(
        status_codes(&delivery),
        [json!(500), json!(500), json!(500)]
    );
    let attempts = delivery["attempts"].as_array().expect("attempts");
    for (i, attempt) in attempts.iter().enumerate() {
        assert_eq!(attempt["number"], i + 1, "{delivery}");
        assert_eq!(attempt["error"], Value::Null, "{delivery}");
    }
    assert_eq!(delivery["next_attempt_at"], Value::Null);
    // No fourth attempt, well past when one would have been due.
    wait_past(last_attempt_end(&delivery) + Duration::from_millis(2 * 400)).await;
    assert_eq!(receiver.count("/fail"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn success_on_the_second_attempt_stops_retries() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[200, 400])).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/flaky"), ALL_EVENTS, None).await;
    receiver.script("/flaky", vec![Reply::status(500), Reply::status(204)]);
    receiver.set_default("/flaky", Reply::status(500));
    run_check(&server, &contract_id, pass_columns()).await;

    let requests = receiver
        .wait_for("/flaky", 2, Duration::from_secs(20))
        .await;
    let delivery =
        wait_delivery(&server, &id_of(&hook), "delivered", Duration::from_secs(20)).await;
    assert_eq!(attempt_numbers(&requests), ["1", "2"]);
    let id = requests[0].header("x-driftguard-delivery");
    assert!(id.starts_with("dlv_"));
    assert_eq!(requests[1].header("x-driftguard-delivery"), id);
    assert_eq!(requests[1].header("webhook-id"), id);
    assert_eq!(requests[0].body, requests[1].body, "same payload");
    assert_eq!(status_codes(&delivery), [json!(500), json!(204)]);
    assert_eq!(delivery["next_attempt_at"], Value::Null);
    // Past when a third attempt would have been due, no third request.
    wait_past(last_attempt_end(&delivery) + Duration::from_millis(2 * 400)).await;
    assert_eq!(receiver.count("/flaky"), 2, "retries stop after a 2xx");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_deactivates_the_webhook_and_reactivation_delivers() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[200, 400])).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/gone"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    receiver.script("/gone", vec![Reply::status(410)]);
    let (_, check_id) = run_check(&server, &contract_id, pass_columns()).await;
    receiver.wait_for("/gone", 1, Duration::from_secs(20)).await;

    let deactivated = wait_until(Duration::from_secs(20), || async {
        server
            .get(&format!("/api/v1/webhooks/{hook_id}"))
            .await
            .assert_status(200)["active"]
            == false
    })
    .await;
    assert!(deactivated, "a 410 sets the webhook active: false");
    let listed = server.get("/api/v1/webhooks").await.assert_status(200);
    assert_eq!(listed[0]["active"], false, "{listed}");
    let delivery = deliveries(&server, &hook_id).await.remove(0);
    assert_eq!(delivery["status"], "pending", "{delivery}");
    assert_eq!(delivery["next_attempt_at"], Value::Null, "{delivery}");
    assert_eq!(status_codes(&delivery), [json!(410)]);

    // While deactivated: no retries and no new deliveries.
    run_check(&server, &contract_id, pass_columns()).await;
    let checked = OffsetDateTime::now_utc();
    wait_past(last_attempt_end(&delivery).max(checked) + Duration::from_millis(2 * 400)).await;
    assert_eq!(receiver.count("/gone"), 1, "nothing is sent while gone");
    assert_eq!(deliveries(&server, &hook_id).await.len(), 1);

    set_active(&server, &hook_id, true).await;
    let requests = receiver.wait_for("/gone", 2, Duration::from_secs(20)).await;
    let delivery = wait_delivery(&server, &hook_id, "delivered", Duration::from_secs(20)).await;
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].check_id(), check_id);
    assert_eq!(attempt_numbers(&requests), ["1", "2"]);
    assert_eq!(
        requests[1].header("x-driftguard-delivery"),
        requests[0].header("x-driftguard-delivery")
    );
    assert_eq!(status_codes(&delivery), [json!(410), json!(200)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn retry_after_on_429_and_503_delays_the_next_attempt() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[200])).await;
    let contract_id = contract(&server, "users").await;
    let slow_down = webhook(&server, &receiver.url("/429"), ALL_EVENTS, None).await;
    let unavailable = webhook(&server, &receiver.url("/503"), ALL_EVENTS, None).await;
    receiver.script("/429", vec![Reply::status(429).header("retry-after", "1")]);
    // An HTTP date at least 2 s ahead (it has whole-second resolution).
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3));
    receiver.script(
        "/503",
        vec![Reply::status(503).header("retry-after", &date)],
    );
    run_check(&server, &contract_id, pass_columns()).await;

    let r429 = receiver.wait_for("/429", 2, Duration::from_secs(20)).await;
    let r503 = receiver.wait_for("/503", 2, Duration::from_secs(20)).await;
    let gap = r429[1].at - r429[0].at;
    assert!(gap >= Duration::from_secs(1), "Retry-After: 1 → {gap:?}");
    let gap = r503[1].at - r503[0].at;
    assert!(
        gap >= Duration::from_secs(1),
        "Retry-After: <date> → {gap:?}"
    );
    for hook in [&slow_down, &unavailable] {
        let delivery =
            wait_delivery(&server, &id_of(hook), "delivered", Duration::from_secs(20)).await;
        assert_eq!(delivery["attempts"].as_array().map(Vec::len), Some(2));
    }
    assert_eq!(attempt_numbers(&r429), ["1", "2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn retry_after_never_adds_attempts() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[200])).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/busy"), ALL_EVENTS, None).await;
    receiver.set_default("/busy", Reply::status(503).header("retry-after", "1"));
    run_check(&server, &contract_id, pass_columns()).await;
    receiver.wait_for("/busy", 2, Duration::from_secs(20)).await;
    let delivery =
        wait_delivery(&server, &id_of(&hook), "abandoned", Duration::from_secs(20)).await;
    assert_eq!(status_codes(&delivery), [json!(503), json!(503)]);
    // Past when a third attempt would have been due (Retry-After: 1), twice over.
    wait_past(last_attempt_end(&delivery) + Duration::from_secs(2)).await;
    assert_eq!(receiver.count("/busy"), 2, "1 + len(retry_delays) attempts");
}

// ---------------------------------------------------------------------------------------
// Failures without an answer
// ---------------------------------------------------------------------------------------

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
        receiver.state.tls_failures.load(Ordering::SeqCst) >= 1,
        "the receiver was reached and the handshake failed ({} connections)",
        receiver.state.connections.load(Ordering::SeqCst)
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

// ---------------------------------------------------------------------------------------
// Deleting, restarting, retention, fairness
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_webhook_stops_its_pending_retries() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[500, 500])).await;
    let contract_id = contract(&server, "users").await;
    let doomed = webhook(&server, &receiver.url("/doomed"), ALL_EVENTS, None).await;
    let control = webhook(&server, &receiver.url("/control"), ALL_EVENTS, None).await;
    receiver.set_default("/doomed", Reply::status(500));
    run_check(&server, &contract_id, pass_columns()).await;

    receiver
        .wait_for("/doomed", 1, Duration::from_secs(20))
        .await;
    let doomed_id = id_of(&doomed);
    let (retry_queued, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &doomed_id),
        |list| {
            list[0]["attempts"].as_array().map(Vec::len) == Some(1)
                && list[0]["next_attempt_at"].is_string()
        },
    )
    .await;
    assert!(retry_queued, "{list:#?}");
    let retry_due = server_time(&list[0]["next_attempt_at"]);
    let answer = server
        .delete(&format!("/api/v1/webhooks/{doomed_id}"))
        .await
        .assert_status(200);
    assert_eq!(answer, json!({"id": doomed_id, "deleted": true}));
    server
        .get(&format!("/api/v1/webhooks/{doomed_id}/deliveries"))
        .await
        .assert_error(404, "not_found");

    // Once the retry's due time has passed, a new check makes the dispatcher claim
    // everything due: a retry that survived the deletion would go out with the control's
    // delivery.
    wait_past(retry_due).await;
    run_check(&server, &contract_id, pass_columns()).await;
    receiver
        .wait_for("/control", 2, Duration::from_secs(20))
        .await;
    let control_id = id_of(&control);
    let (finished, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &control_id),
        |list| list.len() == 2 && list.iter().all(|d| d["status"] == "delivered"),
    )
    .await;
    assert!(finished, "{list:#?}");
    assert_eq!(
        receiver.count("/doomed"),
        1,
        "no attempt after the webhook was deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_deliveries_survive_a_graceful_restart() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[1500])).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/r"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    receiver.script("/r", vec![Reply::status(500)]);
    let (_, check_id) = run_check(&server, &contract_id, pass_columns()).await;
    receiver.wait_for("/r", 1, Duration::from_secs(20)).await;
    let (recorded, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &hook_id),
        |list| list[0]["attempts"].as_array().map(Vec::len) == Some(1),
    )
    .await;
    assert!(recorded, "{list:#?}");
    assert_eq!(list[0]["status"], "pending");

    let server = server.restart().await;
    let requests = receiver.wait_for("/r", 2, Duration::from_secs(20)).await;
    let delivery = wait_delivery(&server, &hook_id, "delivered", Duration::from_secs(20)).await;
    let gap = requests[1].at - requests[0].at;
    assert!(
        gap >= Duration::from_millis(1500),
        "the retry keeps its time: {gap:?}"
    );
    assert_eq!(attempt_numbers(&requests), ["1", "2"]);
    assert_eq!(
        requests[1].header("x-driftguard-delivery"),
        requests[0].header("x-driftguard-delivery")
    );
    assert_eq!(requests[1].check_id(), check_id);
    assert_eq!(status_codes(&delivery), [json!(500), json!(200)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_deliveries_are_purged_after_the_retention() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |_| {}).await;
    let contract_id = contract(&server, "users").await;
    let done = id_of(&webhook(&server, &receiver.url("/done"), ALL_EVENTS, None).await);
    let waiting = id_of(&webhook(&server, &receiver.url("/waiting"), ALL_EVENTS, None).await);
    receiver.script("/waiting", vec![Reply::status(410)]);
    run_check(&server, &contract_id, pass_columns()).await;
    let delivered = wait_delivery(&server, &done, "delivered", Duration::from_secs(20)).await;
    let (paused, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &waiting),
        |list| list.len() == 1 && list[0]["attempts"].as_array().map(Vec::len) == Some(1),
    )
    .await;
    assert!(paused, "{list:#?}");

    // Restart with a retention the finished delivery has outlived.
    let mut server = server;
    server.config.webhooks.retention = Duration::from_millis(1);
    wait_past(last_attempt_end(&delivered) + server.config.webhooks.retention).await;
    let server = server.restart().await;
    let (purged, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &done),
        Vec::is_empty,
    )
    .await;
    assert!(purged, "the delivered delivery is purged: {list:#?}");
    let pending = deliveries(&server, &waiting).await;
    assert_eq!(pending.len(), 1, "a pending delivery is never purged");
    assert_eq!(pending[0]["status"], "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoint_does_not_hold_up_the_others() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| {
        cfg.webhooks.max_in_flight_per_webhook = 2.try_into().unwrap();
    })
    .await;
    let contract_id = contract(&server, "users").await;
    let slow = id_of(&webhook(&server, &receiver.url("/slow"), ALL_EVENTS, None).await);
    webhook(&server, &receiver.url("/fast"), ALL_EVENTS, None).await;
    receiver.set_default("/slow", Reply::status(200).delayed(Duration::from_secs(2)));
    for _ in 0..6 {
        let checked = Instant::now();
        run_check(&server, &contract_id, pass_columns()).await;
        assert!(
            checked.elapsed() < Duration::from_secs(1),
            "the check answer never waits for a delivery"
        );
    }
    let fast = receiver.wait_for("/fast", 6, Duration::from_secs(20)).await;
    let slow_requests = receiver.wait_for("/slow", 6, Duration::from_secs(20)).await;
    // The slow webhook's third request had to wait for one of its first two answers.
    assert!(
        slow_requests[2].at - slow_requests[0].at >= Duration::from_secs(2),
        "two at a time to the slow webhook"
    );
    assert!(
        fast[5].at < slow_requests[2].at,
        "the fast endpoint got everything while the slow one was busy with its first two"
    );
    let (all, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &slow),
        |list| list.len() == 6 && list.iter().all(|d| d["status"] == "delivered"),
    )
    .await;
    assert!(all, "{list:#?}");
    assert_eq!(
        receiver.max_in_flight("/slow"),
        2,
        "max_in_flight_per_webhook bounds one webhook's attempts"
    );
}

/// Issue 9: behind a backlog of 60 deliveries to a receiver that answers in 3 s (at most
/// 2 in flight to it), another webhook's first delivery still goes out at once — the
/// backlog is 90 s of work, and a scheduler that reads due entries in time order alone
/// would have kept the other webhook waiting behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_on_one_webhook_never_delays_another_webhooks_first_attempt() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| {
        cfg.webhooks.max_in_flight = 8.try_into().unwrap();
        cfg.webhooks.max_in_flight_per_webhook = 2.try_into().unwrap();
    })
    .await;
    let busy_contract = contract(&server, "busy").await;
    let other_contract = contract(&server, "other").await;
    let busy_url = receiver.url("/busy");
    webhook(&server, &busy_url, ALL_EVENTS, Some(&busy_contract)).await;
    receiver.set_default("/busy", Reply::status(200).delayed(Duration::from_secs(3)));
    for _ in 0..60 {
        run_check(&server, &busy_contract, pass_columns()).await;
    }
    receiver.wait_for("/busy", 2, Duration::from_secs(20)).await;

    webhook(
        &server,
        &receiver.url("/other"),
        ALL_EVENTS,
        Some(&other_contract),
    )
    .await;
    let checked = Instant::now();
    run_check(&server, &other_contract, pass_columns()).await;
    let other = receiver
        .wait_for("/other", 1, Duration::from_secs(30))
        .await;
    let waited = other[0].at - checked;
    assert!(
        waited < Duration::from_secs(3),
        "the other webhook's first attempt started {waited:?} after its check"
    );
    assert!(
        receiver.requests("/busy").len() < 20,
        "the busy webhook's backlog was still there"
    );
}

// ---------------------------------------------------------------------------------------
// SIGKILL the real binary with deliveries pending
// ---------------------------------------------------------------------------------------

/// A `driftguard serve` process, killed on drop.
struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(config: &Path, key: &str, log: PathBuf) -> Process {
        let stderr = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_driftguard"))
            .args(["serve", "--config"])
            .arg(config)
            .env("DRIFTGUARD_BOOTSTRAP_KEY", key)
            .env_remove("DRIFTGUARD_LISTEN")
            .env_remove("DRIFTGUARD_DATA_DIR")
            .env_remove("DRIFTGUARD_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn driftguard");
        Process { child, log }
    }

    /// SIGKILL (what `Child::kill` sends on unix), then reap.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Talks plain HTTP to a daemon process; `None` when there is no answer.
#[derive(Clone)]
struct Api {
    base: String,
    key: String,
    client: HttpClient,
}

impl Api {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Option<(u16, Bytes)> {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("x-api-key", &self.key)
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))
            .expect("request");
        let exchange = async {
            let response = self.client.request(request).await.ok()?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.ok()?.to_bytes();
            Some((status, body))
        };
        tokio::time::timeout(Duration::from_secs(30), exchange)
            .await
            .ok()
            .flatten()
    }

    async fn json(&self, method: Method, path: &str, body: Option<Value>, status: u16) -> Value {
        let (got, body) = self
            .send(method, path, body)
            .await
            .unwrap_or_else(|| panic!("{path}: no answer"));
        assert_eq!(got, status, "{path}: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).expect("JSON")
    }

    async fn wait_healthy(&self, process: &Process) {
        let up = wait_until(Duration::from_secs(20), || async {
            matches!(
                self.send(Method::GET, "/api/v1/health", None).await,
                Some((200, _))
            )
        })
        .await;
        assert!(up, "daemon did not come up; log:\n{}", process.log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_a_burst_loses_no_delivery() {
    const BURST: usize = 50;
    /// How long the test may take to get to the kill (the burst answered, an attempt made).
    const UNTIL_KILL: Duration = Duration::from_secs(30);
    // Before the crash every attempt hangs until the 2 s attempt timeout. With 20 retries
    // 1 s apart a delivery needs 21 × 2 s + 20 × 1 s = 62 s to be abandoned, longer than
    // the test can take to reach the kill: none is given up before the crash. After the
    // restart a retry is never more than 1 s away (an attempt the crash cut short left its
    // due entry where it was: it is due at once).
    let retries = vec!["\"1s\""; 20];
    assert!(21 * 2 + 20 > UNTIL_KILL.as_secs());
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = dead_port();
    let config = dir.path().join("driftguard.toml");
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [storage]\ndata_dir = {data:?}\n\n\
         [limits]\nrequests_per_minute = 100000\n\n\
         [webhooks]\nca_file = {ca:?}\nretry_delays = [{retries}]\nattempt_timeout = \"2s\"\n\
         allow_targets = [\"127.0.0.0/8\"]\n",
        data = dir.path().join("data").to_str().expect("UTF-8 path"),
        ca = ca.pem_file.to_str().expect("UTF-8 path"),
        retries = retries.join(", "),
    );
    std::fs::write(&config, toml).expect("write config");
    let key = generate_key(Environment::Live);
    let api = Api {
        base: format!("http://127.0.0.1:{port}"),
        key: key.clone(),
        client: client(None),
    };

    let mut daemon = Process::spawn(&config, &key, dir.path().join("first.log"));
    api.wait_healthy(&daemon).await;
    let contract = api
        .json(
            Method::POST,
            "/api/v1/contracts",
            Some(json!({"name": "users", "schema": {"columns": users_columns()}})),
            201,
        )
        .await;
    let contract_id = id_of(&contract);
    // Every attempt hangs (past the attempt timeout) until the crash: nothing is delivered.
    receiver.set_default(
        "/crash",
        Reply::status(200).delayed(Duration::from_secs(60)),
    );
    let hook = api
        .json(
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({"url": receiver.url("/crash"), "events": ALL_EVENTS})),
            201,
        )
        .await;

    // The burst, concurrently; the daemon dies while (or just after) it is answered. Every
    // answer is a 200; only a request still in flight at the kill may go unanswered.
    let answered: Arc<Mutex<Vec<String>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let killing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut burst = Vec::new();
    for _ in 0..BURST {
        let api = api.clone();
        let (answered, failures, killing) = (answered.clone(), failures.clone(), killing.clone());
        let body =
            json!({"contract_id": contract_id, "incoming_schema": {"columns": users_columns()}});
        burst.push(tokio::spawn(async move {
            let answer = api.send(Method::POST, "/api/v1/check", Some(body)).await;
            let after_kill = killing.load(Ordering::SeqCst);
            match answer {
                Some((200, body)) => {
                    let check: Value = serde_json::from_slice(&body).expect("check JSON");
                    lock(&answered).push(id_of(&check));
                }
                Some((status, body)) => lock(&failures).push(format!(
                    "answered {status}: {}",
                    String::from_utf8_lossy(&body)
                )),
                None if after_kill => {}
                None => lock(&failures).push("no answer, before the kill".to_owned()),
            }
        }));
    }
    let ready = wait_until(UNTIL_KILL, || async {
        lock(&answered).len() >= BURST * 3 / 4 && receiver.count("/crash") > 0
    })
    .await;
    assert!(ready, "burst answered; log:\n{}", daemon.log());
    // Nothing was given up before the crash (so every answered check must be delivered
    // after it).
    let hook_deliveries = api
        .json(
            Method::GET,
            &format!("/api/v1/webhooks/{}/deliveries?limit=1000", id_of(&hook)),
            None,
            200,
        )
        .await;
    for delivery in hook_deliveries.as_array().expect("array") {
        assert_eq!(
            delivery["status"], "pending",
            "before the crash: {delivery:#}"
        );
    }
    let first_log = daemon.log();
    killing.store(true, Ordering::SeqCst);
    daemon.kill();
    let crashed_at = Instant::now();
    for task in burst {
        task.await.expect("burst task");
    }
    let failures = lock(&failures).clone();
    assert!(
        failures.is_empty(),
        "every check answered before the kill is a 200: {failures:#?}\nlog:\n{first_log}"
    );
    let answered = lock(&answered).clone();
    assert!(answered.len() >= BURST * 3 / 4);
    let before_crash = receiver.requests("/crash");
    assert!(!before_crash.is_empty());
    assert!(
        before_crash.len() < answered.len(),
        "deliveries were pending at the crash"
    );

    // The receiver recovers; the daemon restarts on the same configuration.
    receiver.set_default("/crash", Reply::status(200));
    let daemon = Process::spawn(&config, &key, dir.path().join("second.log"));
    api.wait_healthy(&daemon).await;

    let delivered_after = || -> HashMap<String, Received> {
        receiver
            .requests("/crash")
            .into_iter()
            .filter(|r| r.at > crashed_at && r.answered == 200)
            .map(|r| (r.check_id(), r))
            .collect()
    };
    let all = wait_until(Duration::from_secs(60), || async {
        let after = delivered_after();
        answered.iter().all(|id| after.contains_key(id))
    })
    .await;
    let after = delivered_after();
    let missing: Vec<&String> = answered
        .iter()
        .filter(|id| !after.contains_key(*id))
        .collect();
    assert!(
        all,
        "{} of {} answered checks not delivered after the restart: {missing:?}\nfirst log:\n{first_log}\nsecond log:\n{}",
        missing.len(),
        answered.len(),
        daemon.log()
    );

    // Each answered check is stored, and its delivery is recorded as delivered.
    let hook_id = id_of(&hook);
    let path = format!("/api/v1/webhooks/{hook_id}/deliveries?limit=1000");
    let (recorded, listed) = poll(
        Duration::from_secs(20),
        || api.json(Method::GET, &path, None, 200),
        |listed| {
            answered.iter().all(|id| {
                listed
                    .as_array()
                    .expect("array")
                    .iter()
                    .any(|d| d["check_id"] == id.as_str() && d["status"] == "delivered")
            })
        },
    )
    .await;
    assert!(recorded, "every delivery recorded as delivered: {listed:#}");
    let listed = listed.as_array().expect("array").clone();
    for id in &answered {
        api.json(Method::GET, &format!("/api/v1/checks/{id}"), None, 200)
            .await;
        let mine: Vec<&Value> = listed
            .iter()
            .filter(|d| d["check_id"] == id.as_str())
            .collect();
        assert_eq!(mine.len(), 1, "one delivery per check: {mine:#?}");
        let delivery = mine[0];
        // The delivery id is stable: on every request for this check, before and after
        // the crash, and in the history.
        for request in receiver.requests("/crash") {
            if request.check_id() == *id {
                assert_eq!(request.header("x-driftguard-delivery"), delivery["id"]);
                assert_eq!(request.header("webhook-id"), delivery["id"]);
            }
        }
        // The successful request is the last recorded attempt.
        let last = delivery["attempts"]
            .as_array()
            .and_then(|a| a.last())
            .expect("an attempt");
        assert_eq!(last["status_code"], 200, "{delivery:#}");
        assert_eq!(
            after[id].header("x-driftguard-attempt"),
            last["number"].to_string(),
            "{delivery:#}"
        );
    }
    // At least one check was being delivered at the crash and kept its id across it.
    let straddling = before_crash
        .iter()
        .filter(|r| after.contains_key(&r.check_id()))
        .count();
    assert!(straddling > 0, "some deliveries straddled the crash");
}

// ---------------------------------------------------------------------------------------
// SPEC 5.3: webhooks that reach people, and that operators can steer
// ---------------------------------------------------------------------------------------

/// `POST`s `body` with the server's key.
async fn post(server: &TestServer, path: &str, body: Value) -> Answer {
    server.post(path, &body).await
}

async fn patch(server: &TestServer, webhook_id: &str, body: Value) -> Value {
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

async fn get_webhook(server: &TestServer, webhook_id: &str) -> Value {
    server
        .get(&format!("/api/v1/webhooks/{webhook_id}"))
        .await
        .assert_status(200)
}

/// Registers a webhook with `format`.
async fn webhook_as(server: &TestServer, url: &str, format: &str) -> Value {
    post(
        server,
        "/api/v1/webhooks",
        json!({"url": url, "events": ALL_EVENTS, "format": format}),
    )
    .await
    .assert_status(201)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_format_is_a_message_slack_accepts_and_json_is_refused_there() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    receiver.like_slack("/slack");
    receiver.like_slack("/raw");
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = Vec::new()).await;
    let contract_id = contract(&server, "users").await;
    let slack = webhook_as(&server, &receiver.url("/slack"), "slack").await;
    assert_eq!(slack["format"], "slack");
    let secret = slack["secret"].as_str().expect("secret").to_owned();
    // What the hosted guide does: the raw check JSON to a Slack URL.
    let raw = webhook(&server, &receiver.url("/raw"), ALL_EVENTS, None).await;
    assert_eq!(raw["format"], "json");

    let (_, check_id) = run_check(&server, &contract_id, warning_columns()).await;
    let delivered = wait_delivery(
        &server,
        &id_of(&slack),
        "delivered",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(status_codes(&delivered), [json!(200)]);
    let refused = wait_delivery(&server, &id_of(&raw), "abandoned", Duration::from_secs(20)).await;
    assert_eq!(
        status_codes(&refused),
        [json!(400)],
        "Slack answers no_text"
    );

    let request = receiver.requests("/slack").remove(0);
    let message = request.json();
    let text = message["text"].as_str().expect("text");
    for part in [
        "warning",
        "severity 70",
        "users",
        contract_id.as_str(),
        "email",
        "created_at",
    ] {
        assert!(text.contains(part), "{part:?} in {text:?}");
    }
    assert!(!text.contains('\n'), "one line: {text}");
    let blocks = message["blocks"].as_array().expect("blocks");
    assert_eq!(blocks[0]["type"], "header");
    let all = message.to_string();
    assert!(
        all.contains("*Removed (1)*") && all.contains("*Type changed (1)*"),
        "{all}"
    );
    assert!(all.contains(&check_id), "the check id: {all}");
    // Both signatures, whatever the format.
    assert!(verify_driftguard(&secret, &request));
    assert!(verify_standard(&secret, &request));
    assert_eq!(request.header("content-type"), "application/json");

    // PATCH switches the raw webhook to Slack: the next check gets through.
    assert_eq!(
        patch(&server, &id_of(&raw), json!({"format": "slack"})).await["format"],
        "slack"
    );
    run_check(&server, &contract_id, breaking_columns()).await;
    let raw_id = id_of(&raw);
    let (got, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &raw_id),
        |list| list.len() == 2 && list[0]["status"] == "delivered",
    )
    .await;
    assert!(got, "{list:#?}");
    let last = receiver.requests("/raw").pop().expect("a request");
    assert!(last.json()["text"]
        .as_str()
        .expect("text")
        .contains("breaking"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_message_of_a_huge_diff_stays_within_slacks_limits() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    receiver.like_slack("/big");
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = Vec::new()).await;
    let columns: Vec<Value> = (0..400)
        .map(|i| json!({"name": format!("column_with_a_long_name_{i:04}_{}", "x".repeat(40)), "type": "string", "required": true}))
        .collect();
    let contract = server
        .create_contract(&server.key, "wide", json!(columns))
        .await;
    let hook = webhook_as(&server, &receiver.url("/big"), "slack").await;
    // Every column removed, 400 added.
    let incoming: Vec<Value> = (0..400)
        .map(|i| json!({"name": format!("other_{i:04}_{}", "y".repeat(60)), "type": "integer"}))
        .collect();
    run_check(&server, &id_of(&contract), json!(incoming)).await;
    wait_delivery(&server, &id_of(&hook), "delivered", Duration::from_secs(20)).await;
    let message = receiver.requests("/big").remove(0).json();
    let blocks = message["blocks"].as_array().expect("blocks");
    assert!(blocks.len() <= 50);
    for block in blocks {
        if let Some(text) = block["text"]["text"].as_str() {
            assert!(text.chars().count() <= 3000, "{}", text.chars().count());
        }
    }
    let all = message.to_string();
    assert!(
        all.contains("*Removed (400)*") && all.contains("…and 380 more"),
        "{all}"
    );
    assert!(message["text"]
        .as_str()
        .expect("text")
        .contains("and 395 more"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_changes_what_is_delivered_where_and_keeps_the_secret() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |_| {}).await;
    let users = contract(&server, "users").await;
    let orders = contract(&server, "orders").await;
    let hook = webhook(&server, &receiver.url("/old"), &["breaking"], None).await;
    let hook_id = id_of(&hook);
    let secret = hook["secret"].as_str().expect("secret").to_owned();
    let patched = patch(
        &server,
        &hook_id,
        json!({"url": receiver.url("/new"), "events": ["pass"], "contract_id": orders}),
    )
    .await;
    assert!(patched.get("secret").is_none());
    run_check(&server, &users, pass_columns()).await; // another contract: nothing
    run_check(&server, &orders, breaking_columns()).await; // another event: nothing
    let (_, check_id) = run_check(&server, &orders, pass_columns()).await;
    let request = receiver
        .wait_for("/new", 1, Duration::from_secs(20))
        .await
        .remove(0);
    assert_eq!(request.check_id(), check_id);
    assert!(
        verify_driftguard(&secret, &request),
        "the secret did not change"
    );
    let delivery = wait_delivery(&server, &hook_id, "delivered", Duration::from_secs(20)).await;
    assert_eq!(delivery["check_id"], check_id.as_str());
    assert_eq!(receiver.count("/old"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_delivery_is_signed_sent_now_once_and_recorded() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let (server, other_key) = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[200]))
        .await
        .add_account("team-b", 10)
        .await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/t"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    let secret = hook["secret"].as_str().expect("secret").to_owned();
    let usage_before = server.get("/api/v1/usage").await.assert_status(200);
    let test_path = format!("/api/v1/webhooks/{hook_id}/test");

    // Delivered: 200 with the record, once the attempt has ended.
    let record = post(&server, &test_path, json!({}))
        .await
        .assert_status(200);
    assert_eq!(record["status"], "delivered", "{record}");
    assert_eq!(record["check_id"], Value::Null);
    assert_eq!(record["webhook_id"], hook_id.as_str());
    assert_eq!(record["next_attempt_at"], Value::Null);
    assert_eq!(status_codes(&record), [json!(200)]);
    let request = receiver.requests("/t").remove(0);
    let ping = request.json();
    assert_eq!(
        ping,
        json!({"type": "ping", "webhook_id": hook_id, "created_at": record["created_at"]})
    );
    assert!(verify_driftguard(&secret, &request) && verify_standard(&secret, &request));
    assert_eq!(request.header("x-driftguard-delivery"), record["id"]);
    assert_eq!(request.header("x-driftguard-attempt"), "1");
    // In the history, like any delivery; no credits spent.
    let listed = deliveries(&server, &hook_id).await;
    assert_eq!(listed, std::slice::from_ref(&record));
    assert_eq!(
        server.get("/api/v1/usage").await.assert_status(200),
        usage_before
    );

    // A failing test: one attempt, no retries; it does not count toward auto-disable.
    receiver.script("/t", vec![Reply::status(500)]);
    let failed = post(&server, &test_path, json!({}))
        .await
        .assert_status(200);
    assert_eq!(failed["status"], "abandoned");
    assert_eq!(status_codes(&failed), [json!(500)]);
    wait_past(last_attempt_end(&failed) + Duration::from_millis(3 * 200)).await;
    assert_eq!(receiver.count("/t"), 2, "no retry of a test");
    assert_eq!(
        get_webhook(&server, &hook_id).await["consecutive_failures"],
        0
    );

    // A paused webhook gets a test too, and stays paused.
    set_active(&server, &hook_id, false).await;
    let paused = post(&server, &test_path, json!({}))
        .await
        .assert_status(200);
    assert_eq!(paused["status"], "delivered");
    let after = get_webhook(&server, &hook_id).await;
    assert_eq!(
        (after["active"].clone(), after["disabled_reason"].clone()),
        (json!(false), json!("paused"))
    );
    run_check(&server, &contract_id, pass_columns()).await;
    assert_eq!(
        deliveries(&server, &hook_id).await.len(),
        3,
        "a paused webhook gets no check"
    );

    // Another account's key: 404, and nothing is sent.
    let sent = receiver.count("/t");
    server
        .send(Method::POST, &test_path, Some(&other_key), "{}")
        .await
        .assert_error(404, "not_found");
    assert_eq!(receiver.count("/t"), sent);
    // A retry of a test delivery is refused: send a new test.
    let retry = format!(
        "/api/v1/webhooks/{hook_id}/deliveries/{}/retry",
        id_of(&failed)
    );
    post(&server, &retry, json!({}))
        .await
        .assert_error(409, "conflict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_test_delivery_is_a_slack_message() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    receiver.like_slack("/s");
    let server = start(&ca, |_| {}).await;
    let hook = webhook_as(&server, &receiver.url("/s"), "slack").await;
    let record = post(
        &server,
        &format!("/api/v1/webhooks/{}/test", id_of(&hook)),
        json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(status_codes(&record), [json!(200)], "{record}");
    let message = receiver.requests("/s").remove(0).json();
    assert!(message["text"]
        .as_str()
        .expect("text")
        .contains(&id_of(&hook)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_requeues_a_finished_delivery_keeping_its_id_and_counting_on() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let (server, other_key) = start(&ca, |cfg| cfg.webhooks.retry_delays = Vec::new())
        .await
        .add_account("team-b", 10)
        .await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/r"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    receiver.script(
        "/r",
        vec![
            Reply::status(500),
            Reply::status(200).delayed(Duration::from_secs(3)),
        ],
    );
    run_check(&server, &contract_id, pass_columns()).await;
    let abandoned = wait_delivery(&server, &hook_id, "abandoned", Duration::from_secs(20)).await;
    let retry = format!(
        "/api/v1/webhooks/{hook_id}/deliveries/{}/retry",
        id_of(&abandoned)
    );

    // Another account cannot.
    server
        .send(Method::POST, &retry, Some(&other_key), "")
        .await
        .assert_error(404, "not_found");
    let queued = post(&server, &retry, json!({})).await;
    assert_eq!(queued.status.as_u16(), 202);
    let queued = queued.json();
    assert_eq!(queued["id"], abandoned["id"]);
    assert_eq!(queued["status"], "pending");
    assert!(queued["next_attempt_at"].is_string(), "{queued}");
    // While pending (the receiver takes 3 s to answer): 409.
    receiver.wait_for("/r", 2, Duration::from_secs(20)).await;
    post(&server, &retry, json!({}))
        .await
        .assert_error(409, "conflict");
    let delivered = wait_delivery(&server, &hook_id, "delivered", Duration::from_secs(20)).await;
    assert_eq!(status_codes(&delivered), [json!(500), json!(200)]);

    // A delivered one can be sent again too: attempt 3, same id.
    assert_eq!(post(&server, &retry, json!({})).await.status.as_u16(), 202);
    let requests = receiver.wait_for("/r", 3, Duration::from_secs(20)).await;
    assert_eq!(attempt_numbers(&requests), ["1", "2", "3"]);
    assert!(requests
        .iter()
        .all(|r| r.header("x-driftguard-delivery") == abandoned["id"]));
    let again = wait_delivery(&server, &hook_id, "delivered", Duration::from_secs(20)).await;
    assert_eq!(status_codes(&again), [json!(500), json!(200), json!(200)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_requeues_the_abandoned_deliveries_since_a_time() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let (server, other_key) = start(&ca, |cfg| cfg.webhooks.retry_delays = Vec::new())
        .await
        .add_account("team-b", 10)
        .await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/down"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    receiver.script(
        "/down",
        vec![Reply::status(503), Reply::status(502), Reply::status(200)],
    );
    for _ in 0..3 {
        run_check(&server, &contract_id, pass_columns()).await;
    }
    let (done, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &hook_id),
        |list| list.len() == 3 && list.iter().all(|d| d["status"] != "pending"),
    )
    .await;
    assert!(done, "{list:#?}");
    let abandoned = list.iter().filter(|d| d["status"] == "abandoned").count();
    assert_eq!(abandoned, 2, "{list:#?}");
    let recover = format!("/api/v1/webhooks/{hook_id}/recover");
    // Since after they were made: none. As another account: 404.
    let later = json!({"since": "2999-01-01T00:00:00Z"});
    let answer = post(&server, &recover, later.clone()).await;
    assert_eq!(
        (answer.status.as_u16(), answer.json()),
        (202, json!({"requeued": 0}))
    );
    server
        .send(Method::POST, &recover, Some(&other_key), later.to_string())
        .await
        .assert_error(404, "not_found");
    // Since the first one was made (whole seconds, as shown): both abandoned ones.
    let since = list
        .iter()
        .map(|d| server_time(&d["created_at"]))
        .min()
        .expect("min");
    let since = since.format(&Rfc3339).expect("format");
    let answer = post(&server, &recover, json!({"since": since})).await;
    assert_eq!(
        (answer.status.as_u16(), answer.json()),
        (202, json!({"requeued": 2}))
    );
    let (all, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &hook_id),
        |list| list.iter().all(|d| d["status"] == "delivered"),
    )
    .await;
    assert!(all, "{list:#?}");
    assert_eq!(
        receiver.count("/down"),
        5,
        "three first attempts and two recovered"
    );
    let answer = post(&server, &recover, json!({"since": since})).await;
    assert_eq!(
        answer.json(),
        json!({"requeued": 0}),
        "nothing abandoned is left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_signs_beside_the_new_one_during_its_grace() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let (server, other_key) = start(&ca, |_| {}).await.add_account("team-b", 10).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/rot"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    let old = hook["secret"].as_str().expect("secret").to_owned();
    let rotate = format!("/api/v1/webhooks/{hook_id}/rotate-secret");
    server
        .send(Method::POST, &rotate, Some(&other_key), "")
        .await
        .assert_error(404, "not_found");

    let rotated = post(&server, &rotate, json!({"grace_seconds": 3600}))
        .await
        .assert_status(200);
    let new = rotated["secret"].as_str().expect("secret").to_owned();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_expires_at"].is_string());
    run_check(&server, &contract_id, pass_columns()).await;
    let during = receiver
        .wait_for("/rot", 1, Duration::from_secs(20))
        .await
        .remove(0);
    assert!(
        verify_driftguard(&new, &during),
        "X-DriftGuard-Signature: the new secret"
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, old.as_bytes());
    let previous = hex_decode(during.header("x-driftguard-signature-previous"));
    assert!(
        hmac::verify(&key, &during.body, &previous).is_ok(),
        "…-Previous: the old one"
    );
    let signatures: Vec<&str> = during.header("webhook-signature").split(' ').collect();
    assert_eq!(signatures.len(), 2, "{signatures:?}");
    assert!(verify_standard(&new, &during) && verify_standard(&old, &during));

    // A rotation with no grace: the old secrets stop at once.
    let again = post(&server, &rotate, json!({"grace_seconds": 0}))
        .await
        .assert_status(200);
    assert_eq!(again["previous_secret_expires_at"], Value::Null);
    let newest = again["secret"].as_str().expect("secret").to_owned();
    run_check(&server, &contract_id, pass_columns()).await;
    let after = receiver
        .wait_for("/rot", 2, Duration::from_secs(20))
        .await
        .remove(1);
    assert!(after
        .headers
        .get("x-driftguard-signature-previous")
        .is_none());
    assert!(verify_driftguard(&newest, &after));
    assert!(!verify_standard(&new, &after) && !verify_standard(&old, &after));
    assert_eq!(after.header("webhook-signature").split(' ').count(), 1);
    // A test delivery is signed the same way.
    let record = post(
        &server,
        &format!("/api/v1/webhooks/{hook_id}/test"),
        json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(record["status"], "delivered");
    let ping = receiver.requests("/rot").pop().expect("the test");
    assert!(verify_driftguard(&newest, &ping) && verify_standard(&newest, &ping));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consecutive_abandoned_deliveries_disable_a_webhook_until_it_is_resumed() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| {
        cfg.webhooks.retry_delays = Vec::new();
        cfg.webhooks.disable_after = 2;
    })
    .await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/flaky"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    assert_eq!(
        (
            hook["disabled_reason"].clone(),
            hook["consecutive_failures"].clone()
        ),
        (Value::Null, json!(0))
    );
    receiver.set_default("/flaky", Reply::status(500));
    run_check(&server, &contract_id, pass_columns()).await;
    wait_delivery(&server, &hook_id, "abandoned", Duration::from_secs(20)).await;
    let one = get_webhook(&server, &hook_id).await;
    assert_eq!(
        (one["active"].clone(), one["consecutive_failures"].clone()),
        (json!(true), json!(1))
    );
    // A successful test delivery resets the count (and changes nothing else).
    receiver.script("/flaky", vec![Reply::status(200)]);
    post(
        &server,
        &format!("/api/v1/webhooks/{hook_id}/test"),
        json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        get_webhook(&server, &hook_id).await["consecutive_failures"],
        0
    );

    for _ in 0..2 {
        run_check(&server, &contract_id, pass_columns()).await;
    }
    let disabled = wait_until(Duration::from_secs(20), || async {
        get_webhook(&server, &hook_id).await["active"] == false
    })
    .await;
    assert!(disabled, "disabled after 2 abandoned deliveries in a row");
    let hook_now = get_webhook(&server, &hook_id).await;
    assert_eq!(hook_now["disabled_reason"], "failing");
    assert_eq!(hook_now["consecutive_failures"], 2);
    let listed = server.get("/api/v1/webhooks").await.assert_status(200);
    assert_eq!(listed[0]["disabled_reason"], "failing");
    // A test delivery does not re-activate it.
    receiver.script("/flaky", vec![Reply::status(200)]);
    post(
        &server,
        &format!("/api/v1/webhooks/{hook_id}/test"),
        json!({}),
    )
    .await
    .assert_status(200);
    let tested = get_webhook(&server, &hook_id).await;
    assert_eq!(
        (
            tested["active"].clone(),
            tested["consecutive_failures"].clone()
        ),
        (json!(false), json!(0))
    );
    // PATCH active: true resumes it and clears the reason.
    receiver.set_default("/flaky", Reply::status(200));
    let resumed = patch(&server, &hook_id, json!({"active": true})).await;
    assert_eq!(
        (
            resumed["active"].clone(),
            resumed["disabled_reason"].clone(),
            resumed["consecutive_failures"].clone()
        ),
        (json!(true), Value::Null, json!(0))
    );
    let paused = patch(&server, &hook_id, json!({"active": false})).await;
    assert_eq!(paused["disabled_reason"], "paused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_is_the_disabled_reason_after_a_410() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |_| {}).await;
    let contract_id = contract(&server, "users").await;
    let hook_id = id_of(&webhook(&server, &receiver.url("/g"), ALL_EVENTS, None).await);
    receiver.script("/g", vec![Reply::status(410)]);
    run_check(&server, &contract_id, pass_columns()).await;
    let gone = wait_until(Duration::from_secs(20), || async {
        get_webhook(&server, &hook_id).await["disabled_reason"] == "gone"
    })
    .await;
    assert!(gone, "{}", get_webhook(&server, &hook_id).await);
    assert_eq!(get_webhook(&server, &hook_id).await["active"], false);
    assert_eq!(
        patch(&server, &hook_id, json!({"active": true})).await["disabled_reason"],
        Value::Null
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_target_guard_refuses_a_name_that_resolves_to_loopback_unless_allowed() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    // The default guard: `localhost` resolves to loopback, which it denies.
    let ca_file = ca.pem_file.clone();
    let server = TestServer::start_with(move |cfg| {
        cfg.limits.requests_per_minute = 1_000_000.try_into().unwrap();
        cfg.webhooks.ca_file = Some(ca_file);
        cfg.webhooks.retry_delays = Vec::new();
    })
    .await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/guarded"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    run_check(&server, &contract_id, pass_columns()).await;
    let delivery = wait_delivery(&server, &hook_id, "abandoned", Duration::from_secs(20)).await;
    let attempt = &delivery["attempts"][0];
    assert_eq!(attempt["status_code"], Value::Null);
    assert_eq!(
        attempt["error"], "blocked by webhooks.deny_targets",
        "{delivery}"
    );
    // A test delivery is refused the same way.
    let tested = post(
        &server,
        &format!("/api/v1/webhooks/{hook_id}/test"),
        json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        tested["attempts"][0]["error"],
        "blocked by webhooks.deny_targets"
    );
    assert_eq!(
        receiver.state.connections.load(Ordering::SeqCst),
        0,
        "no connection was made"
    );
    drop(server);

    // allow_targets lets it through; of `localhost`'s addresses only the allowed one is
    // used (the receiver listens on 127.0.0.1, and ::1 stays denied).
    let ca_file = ca.pem_file.clone();
    let server = TestServer::start_with(move |cfg| {
        cfg.limits.requests_per_minute = 1_000_000.try_into().unwrap();
        cfg.webhooks.ca_file = Some(ca_file);
        cfg.webhooks.allow_targets = vec!["127.0.0.0/8".parse().expect("a CIDR")];
    })
    .await;
    let contract_id = contract(&server, "users").await;
    let hook_id = id_of(&webhook(&server, &receiver.url("/guarded"), ALL_EVENTS, None).await);
    run_check(&server, &contract_id, pass_columns()).await;
    wait_delivery(&server, &hook_id, "delivered", Duration::from_secs(20)).await;
    assert_eq!(receiver.count("/guarded"), 1);
}
