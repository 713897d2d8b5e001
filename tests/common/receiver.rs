//! A local HTTPS receiver for webhook deliveries, with its own test CA (trusted by the
//! daemon through `webhooks.ca_file`): answers from a script per path, records every
//! request (or, for the benchmarks, only counts the deliveries it confirmed), and waits
//! for a condition with a deadline.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::wait_until;

/// A certificate authority made for one test, with its PEM written to a file.
pub struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    /// The CA certificate as PEM (what `webhooks.ca_file` names).
    pub pem_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCa {
    /// A new CA (`DriftGuard test CA`), its PEM written to a temp file.
    pub fn new() -> TestCa {
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

    /// The CA certificate, DER (for a client that trusts it).
    pub fn der(&self) -> Vec<u8> {
        self.issuer.der().to_vec()
    }

    /// A server certificate for `localhost` and `127.0.0.1` signed by this CA.
    pub fn leaf(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
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
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Headers to add.
    pub headers: Vec<(&'static str, String)>,
    /// Wait this long before answering.
    pub delay: Duration,
    /// The body.
    pub body: std::borrow::Cow<'static, str>,
}

impl Reply {
    /// `status` at once, with no header and an empty body.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
            body: "".into(),
        }
    }

    /// With this body.
    pub fn body(mut self, body: impl Into<std::borrow::Cow<'static, str>>) -> Reply {
        self.body = body.into();
        self
    }

    /// With this header too.
    pub fn header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_owned()));
        self
    }

    /// Answered after `delay`.
    pub fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    /// The request path.
    pub path: String,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body (empty if cut off).
    pub body: Bytes,
    /// When it arrived.
    pub at: Instant,
    /// The status it was (or is being) answered with; [`CUT_OFF`] if its body never
    /// arrived whole.
    pub answered: u16,
}

/// [`Received::answered`] of a request whose sender went away before its body was whole.
pub const CUT_OFF: u16 = 0;

impl Received {
    /// The value of header `name`, which must be there.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("header {name} missing: {:?}", self.headers))
            .to_str()
            .expect("ASCII header")
    }

    /// The body as JSON, which it must be.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    /// The `id` of the check the body is about.
    pub fn check_id(&self) -> String {
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
    /// Paths that answer like a chat service (`services`): its success status to a body
    /// it accepts, its error to one that breaks its rules.
    services: Mutex<HashMap<String, Service>>,
    /// The reply on every path, before any script (a receiver that refuses everything).
    overriding: Mutex<Option<Reply>>,
    /// Off: requests are not kept in `requests` (a benchmark's million deliveries).
    counting_only: AtomicBool,
    /// The distinct `X-DriftGuard-Delivery` ids answered 2xx.
    confirmed: Mutex<HashSet<String>>,
    /// The first whole body received.
    sample: Mutex<Option<Bytes>>,
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

/// Locks `m`, whether or not a panicking test poisoned it.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A local HTTPS server (HTTP/2 and HTTP/1.1) that records every request and answers from
/// a script.
pub struct Receiver {
    /// The loopback port it listens on.
    pub port: u16,
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
    pub async fn start(ca: &TestCa) -> Receiver {
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

    /// `https://localhost:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    /// Answers the next requests to `path` with `replies`, in order.
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        lock(&self.state.scripts)
            .entry(path.to_owned())
            .or_default()
            .extend(replies);
    }

    /// Answers `path` like Slack: `400 no_text` to a body that is not a Slack message.
    pub fn like_slack(&self, path: &str) {
        lock(&self.state.services).insert(path.to_owned(), Service::Slack);
    }

    /// Answers `path` like a Discord webhook: `204` to a message within Discord's
    /// limits, `400 {"code": 50035, …}` ("Invalid Form Body") to any other body.
    pub fn like_discord(&self, path: &str) {
        lock(&self.state.services).insert(path.to_owned(), Service::Discord);
    }

    /// Answers `path` like a Teams workflow trigger: `202` to a message carrying a valid
    /// Adaptive Card 1.4, `400` to any other body.
    pub fn like_teams(&self, path: &str) {
        lock(&self.state.services).insert(path.to_owned(), Service::Teams);
    }

    /// Answers `path` like PagerDuty's Events API v2: `202 {"status": "success",
    /// "dedup_key": …}` to a valid event, `400 {"status": "invalid event", …}` to any other
    /// body.
    pub fn like_pagerduty(&self, path: &str) {
        lock(&self.state.services).insert(path.to_owned(), Service::PagerDuty);
    }

    /// Answers `path` with `reply` once its script is used up.
    pub fn set_default(&self, path: &str, reply: Reply) {
        lock(&self.state.defaults).insert(path.to_owned(), reply);
    }

    /// The requests to `path` so far, in arrival order.
    pub fn requests(&self, path: &str) -> Vec<Received> {
        lock(&self.state.requests)
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// How many requests `path` got so far.
    pub fn count(&self, path: &str) -> usize {
        lock(&self.state.requests)
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    /// The most requests to `path` answered at once.
    pub fn max_in_flight(&self, path: &str) -> usize {
        lock(&self.state.in_flight)
            .get(path)
            .map_or(0, |gauge| gauge.1)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// TLS handshakes that failed so far.
    pub fn tls_failures(&self) -> usize {
        self.state.tls_failures.load(Ordering::SeqCst)
    }

    /// Keeps no request from now on, only the confirmed deliveries and the first body (a
    /// benchmark's deliveries would fill the memory).
    pub fn count_only(&self) {
        self.state.counting_only.store(true, Ordering::SeqCst);
    }

    /// Answers every request with `reply` from now on, whatever the scripts say.
    pub fn answer_all(&self, reply: Reply) {
        *lock(&self.state.overriding) = Some(reply);
    }

    /// The first whole body received, if any.
    pub fn sample(&self) -> Option<Bytes> {
        lock(&self.state.sample).clone()
    }

    /// How many distinct deliveries (`X-DriftGuard-Delivery`) were answered 2xx.
    pub fn confirmed(&self) -> usize {
        lock(&self.state.confirmed).len()
    }

    /// Forgets the confirmed deliveries.
    pub fn reset_confirmed(&self) {
        lock(&self.state.confirmed).clear();
    }

    /// Waits until `expected` distinct deliveries are confirmed or `deadline` passes;
    /// returns how many were.
    pub async fn wait_confirmed(&self, expected: usize, deadline: Duration) -> usize {
        wait_until(deadline, || async { self.confirmed() >= expected }).await;
        self.confirmed()
    }

    /// How many requests it got so far, on every path.
    pub fn total(&self) -> usize {
        lock(&self.state.requests).len()
    }

    /// Waits until `path` got at least `n` requests.
    pub async fn wait_for(&self, path: &str, n: usize, deadline: Duration) -> Vec<Received> {
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
    {
        let mut sample = lock(&state.sample);
        if sample.is_none() {
            *sample = Some(body.clone());
        }
    }
    let overriding = lock(&state.overriding).clone();
    let reply = overriding.unwrap_or_else(|| {
        let scripted = lock(&state.scripts)
            .get_mut(&path)
            .and_then(VecDeque::pop_front);
        scripted
            .or_else(|| lock(&state.defaults).get(&path).cloned())
            .unwrap_or_else(|| Reply::status(200))
    });
    let service = lock(&state.services).get(&path).copied();
    // A scripted failure stands for the service being down; otherwise the service judges
    // the body.
    let reply = match service {
        Some(service) if (200..300).contains(&reply.status) => {
            service.answer(&body).unwrap_or(reply)
        }
        _ => reply,
    };
    let _in_flight = InFlight::new(state.clone(), path.clone());
    if (200..300).contains(&reply.status) {
        if let Some(id) = parts.headers.get("x-driftguard-delivery") {
            let id = String::from_utf8_lossy(id.as_bytes()).into_owned();
            lock(&state.confirmed).insert(id);
        }
    }
    if !state.counting_only.load(Ordering::SeqCst) {
        lock(&state.requests).push(Received {
            path,
            headers: parts.headers,
            body,
            at,
            answered: reply.status,
        });
    }
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        response = response.header(*name, value);
    }
    Ok(response
        .body(Full::new(Bytes::from(reply.body.into_owned())))
        .expect("valid response"))
}

/// A service a path plays.
#[derive(Clone, Copy, Debug)]
enum Service {
    Slack,
    Discord,
    Teams,
    PagerDuty,
}

impl Service {
    /// The service's refusal of `body` if it breaks its rules, else its success answer
    /// (`None` for Slack: the path's script decides, 200 by default).
    fn answer(self, body: &[u8]) -> Option<Reply> {
        let broken = match self {
            Service::Slack => super::services::slack_violations(body),
            Service::Discord => super::services::discord_violations(body),
            Service::Teams => super::services::teams_violations(body),
            Service::PagerDuty => super::services::pagerduty_violations(body),
        };
        match (self, broken.is_empty()) {
            (Service::Slack, true) => None,
            (Service::Slack, false) => Some(Reply::status(400).body("no_text")),
            (Service::Discord, true) => Some(Reply::status(204)),
            (Service::Discord, false) => Some(
                Reply::status(400)
                    .header("content-type", "application/json")
                    .body(r#"{"message": "Invalid Form Body", "code": 50035}"#),
            ),
            (Service::Teams, true) => Some(Reply::status(202)),
            (Service::Teams, false) => Some(
                Reply::status(400)
                    .header("content-type", "application/json")
                    .body(r#"{"error": {"code": "InvalidRequestContent", "message": "The card is not a valid Adaptive Card."}}"#),
            ),
            (Service::PagerDuty, true) => {
                let event: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
                let answer = serde_json::json!({
                    "status": "success",
                    "message": "Event processed",
                    "dedup_key": event["dedup_key"],
                });
                Some(
                    Reply::status(202)
                        .header("content-type", "application/json")
                        .body(answer.to_string()),
                )
            }
            (Service::PagerDuty, false) => Some(
                Reply::status(400)
                    .header("content-type", "application/json")
                    .body(
                        serde_json::json!({
                            "status": "invalid event",
                            "message": "Event object is invalid",
                            "errors": broken,
                        })
                        .to_string(),
                    ),
            ),
        }
    }
}
