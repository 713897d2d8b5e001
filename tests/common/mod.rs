//! The one test harness, shared by every test binary and the benchmarks:
//!
//! - here: the real daemon in-process on an ephemeral port with a real redb file in a temp
//!   dir, a real HTTP(S) client, and the helpers the API tests share;
//! - `daemon`: the `driftguard` binary as a process (free port, log file, readiness with a
//!   deadline, signals, SIGKILL);
//! - `receiver`: an HTTPS webhook receiver with its own test CA (scripted answers,
//!   recorded requests);
//! - `services`: what Slack, Discord and Teams accept of a body (the receiver plays them;
//!   the formats' unit test includes the file);
//! - `tools`: what a test needs from the machine (`strace`, root), failing under CI.
#![allow(dead_code)] // each test binary uses a different part of the harness
#![allow(unused_imports)] // likewise for the re-exports below

pub mod daemon;
pub mod receiver;
pub mod schema_fixtures;
pub mod services;
pub mod tools;

pub use daemon::*;
pub use receiver::*;
pub use tools::*;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use driftguard::config::{BootstrapKey, Config};
use driftguard::credentials::{generate_key, Environment};
use driftguard::daemon::Daemon;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

pub type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A self-signed certificate for `localhost`/`127.0.0.1`, written as PEM files.
pub struct TestCert {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub cert_der: Vec<u8>,
    pub cert_pem: String,
    pub key_der: Vec<u8>,
}

impl TestCert {
    pub fn create(dir: &Path) -> TestCert {
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("generate certificate");
        std::fs::create_dir_all(dir).expect("cert dir");
        let cert_file = dir.join("cert.pem");
        let key_file = dir.join("key.pem");
        std::fs::write(&cert_file, certified.cert.pem()).expect("write cert");
        std::fs::write(&key_file, certified.signing_key.serialize_pem()).expect("write key");
        TestCert {
            cert_file,
            key_file,
            cert_der: certified.cert.der().to_vec(),
            cert_pem: certified.cert.pem(),
            key_der: certified.signing_key.serialize_der(),
        }
    }
}

/// A client that trusts `extra_root` (if any) and speaks HTTP/1.1 and HTTP/2.
pub fn client(extra_root: Option<&[u8]>) -> HttpClient {
    client_with(extra_root, true)
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// [`client`], offering HTTP/2 by ALPN only if `http2`.
pub fn client_with(extra_root: Option<&[u8]>, http2: bool) -> HttpClient {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    if let Some(der) = extra_root {
        roots
            .add(rustls::pki_types::CertificateDer::from(der.to_vec()))
            .expect("add root");
    }
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1();
    let connector = if http2 {
        builder.enable_http2().build()
    } else {
        builder.build()
    };
    Client::builder(TokioExecutor::new()).build(connector)
}

/// A running daemon with its data directory and the `default` account's live key.
pub struct TestServer {
    daemon: Option<Daemon>,
    pub config: Config,
    pub base: String,
    /// The bootstrap (live) key of the `default` account.
    pub key: String,
    pub client: HttpClient,
    /// Kept alive for the test's duration; removed on drop.
    pub dir: Arc<tempfile::TempDir>,
    root_der: Option<Vec<u8>>,
}

/// An answer, fully read.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts the status and the spec's error shape with this code; returns the message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        let body = self.json();
        let error = body["error"].as_object().expect("error object");
        assert_eq!(error.len(), 2, "error has exactly code and message: {body}");
        assert_eq!(error["code"], code, "{body}");
        let message = error["message"].as_str().expect("message string");
        assert!(!message.is_empty());
        message.to_owned()
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self.json()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The configuration tests start from: ephemeral port, temp data dir, a known key.
pub fn test_config(dir: &Path) -> Config {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.storage.data_dir = dir.join("data");
    config.bootstrap_key = Some(BootstrapKey(generate_key(Environment::Live)));
    config
}

impl TestServer {
    /// Plain HTTP with default limits.
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Plain HTTP, with `adjust` applied to the test configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let mut config = test_config(dir.path());
        adjust(&mut config);
        TestServer::launch(config, dir, None).await
    }

    /// HTTPS with a certificate made now.
    pub async fn start_tls() -> TestServer {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let cert = TestCert::create(dir.path());
        let mut config = test_config(dir.path());
        config.server.tls_cert = Some(cert.cert_file.clone());
        config.server.tls_key = Some(cert.key_file.clone());
        TestServer::launch(config, dir, Some(cert.cert_der)).await
    }

    async fn launch(
        config: Config,
        dir: Arc<tempfile::TempDir>,
        root_der: Option<Vec<u8>>,
    ) -> TestServer {
        let key = config
            .bootstrap_key
            .as_ref()
            .map(|k| k.0.clone())
            .expect("tests set a bootstrap key");
        let daemon = Daemon::start(config.clone()).await.expect("daemon starts");
        let base = format!(
            "{}://localhost:{}",
            daemon.scheme(),
            daemon.local_addr().port()
        );
        TestServer {
            daemon: Some(daemon),
            config,
            base,
            key,
            client: client(root_der.as_deref()),
            dir,
            root_der,
        }
    }

    /// Stops the daemon cleanly and starts a new one on the same data directory.
    pub async fn restart(mut self) -> TestServer {
        self.stop().await;
        let mut config = self.config.clone();
        config.server.listen = "127.0.0.1:0".parse().expect("addr");
        TestServer::launch(config, self.dir.clone(), self.root_der.clone()).await
    }

    /// Reloads the running daemon with `adjust` applied to its configuration (as a
    /// SIGHUP would).
    pub fn reload(&mut self, adjust: impl FnOnce(&mut Config)) {
        adjust(&mut self.config);
        self.daemon
            .as_ref()
            .expect("the daemon runs")
            .reload(&self.config);
    }

    /// Stops the daemon (graceful shutdown) and waits for it.
    pub async fn stop(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            daemon.shutdown().await;
        }
    }

    /// Creates another account with the operator commands (stopping the daemon while the
    /// store is opened directly, as an operator would) and returns its live key.
    pub async fn add_account(self, name: &str, credits: u64) -> (TestServer, String) {
        let mut server = self;
        server.stop().await;
        let store = driftguard::operator::open_store(&server.config).expect("open store");
        let key = driftguard::operator::create_account(&store, name, credits)
            .await
            .expect("create account");
        tokio::task::spawn_blocking(move || store.close())
            .await
            .expect("close store");
        let mut config = server.config.clone();
        config.server.listen = "127.0.0.1:0".parse().expect("addr");
        let server = TestServer::launch(config, server.dir.clone(), server.root_der.clone()).await;
        (server, key)
    }

    /// The metrics listener's address, if configured.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.daemon.as_ref().and_then(Daemon::metrics_addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request; `key` goes into `X-API-Key`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: impl Into<Bytes>,
    ) -> Answer {
        self.send_with(method, path, key, &[], body).await
    }

    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(self.url(path));
        if let Some(key) = key {
            builder = builder.header("x-api-key", key);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(body.into())).expect("request");
        let response = tokio::time::timeout(Duration::from_secs(30), self.client.request(request))
            .await
            .expect("answer within 30 s")
            .expect("request succeeds");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, Some(&self.key), Bytes::new())
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(Method::POST, path, Some(&self.key), body.to_string())
            .await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, Some(&self.key), Bytes::new())
            .await
    }

    /// Creates a contract and returns its JSON.
    pub async fn create_contract(&self, key: &str, name: &str, columns: Value) -> Value {
        let body = json!({"name": name, "schema": {"columns": columns}});
        self.send(
            Method::POST,
            "/api/v1/contracts",
            Some(key),
            body.to_string(),
        )
        .await
        .assert_status(201)
    }

    /// Runs a check and returns the answer.
    pub async fn check(&self, key: &str, contract_id: &str, columns: Value) -> Answer {
        let body = json!({"contract_id": contract_id, "incoming_schema": {"columns": columns}});
        self.send(Method::POST, "/api/v1/check", Some(key), body.to_string())
            .await
    }

    /// Creates a key of `environment` with `key` and returns the new full key.
    pub async fn new_key(&self, key: &str, environment: &str) -> String {
        let body = json!({"environment": environment});
        let answer = self
            .send(Method::POST, "/api/v1/keys", Some(key), body.to_string())
            .await
            .assert_status(201);
        answer["key"].as_str().expect("key").to_owned()
    }
}

/// The users contract of the spec's worked examples.
pub fn users_columns() -> Value {
    json!([
        {"name": "user_id", "type": "integer", "required": true},
        {"name": "email", "type": "string", "required": true},
        {"name": "created_at", "type": "timestamp", "required": true}
    ])
}

/// Polls `condition` until it holds or `deadline` passes.
pub async fn wait_until<F, Fut>(deadline: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Lists are in creation order: asserts `listed` holds exactly `created` (given oldest
/// first) in that order, or reversed for newest-first lists, with `created_at` agreeing.
#[track_caller]
pub fn assert_creation_order(listed: &[Value], created: &[String], newest_first: bool) {
    let listed_ids: Vec<&str> = listed
        .iter()
        .map(|v| v["id"].as_str().expect("id"))
        .collect();
    let mut want: Vec<&str> = created.iter().map(String::as_str).collect();
    if newest_first {
        want.reverse();
    }
    assert_eq!(listed_ids, want, "list order");
    let times: Vec<&str> = listed
        .iter()
        .map(|v| v["created_at"].as_str().expect("created_at"))
        .collect();
    for pair in times.windows(2) {
        let in_order = if newest_first {
            pair[0] >= pair[1]
        } else {
            pair[0] <= pair[1]
        };
        assert!(in_order, "created_at out of order: {times:?}");
    }
}

/// The string inside a JSON value.
#[track_caller]
pub fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
        .to_owned()
}

/// A JSON array's length.
#[track_caller]
pub fn len(value: &Value) -> usize {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array, got {value}"))
        .len()
}

/// The `id`s of a JSON array of objects, in order.
#[track_caller]
pub fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {list}"))
        .iter()
        .map(|item| text(&item["id"]))
        .collect()
}

/// A well-formed id of the same kind as `real` that names nothing: the last character is
/// changed.
pub fn bogus_id(real: &str) -> String {
    let mut id = real.to_owned();
    let last = id.pop().expect("non-empty id");
    id.push(if last == '0' { '1' } else { '0' });
    id
}

/// A well-formed id with `prefix` (e.g. `ctr_`) that names nothing.
pub fn dummy_id(prefix: &str) -> String {
    format!("{prefix}{}", "0".repeat(26))
}

/// The path of `Link: <url>; rel="next"`, checked to be an absolute URL on `base` whose
/// query carries a cursor; `None` without a `Link` header.
#[track_caller]
pub fn next_page(answer: &Answer, base: &str) -> Option<String> {
    let link = answer.header("link")?;
    let url = link
        .strip_prefix('<')
        .and_then(|l| l.strip_suffix(">; rel=\"next\""))
        .unwrap_or_else(|| panic!("Link header has the shape <url>; rel=\"next\": {link}"));
    let relative = url
        .strip_prefix(base)
        .unwrap_or_else(|| panic!("Link is an absolute URL on {base}: {url}"));
    assert!(
        relative.contains("cursor="),
        "next page has a cursor: {url}"
    );
    Some(relative.to_owned())
}

/// Follows `Link: <url>; rel="next"` from `first` (a path), returning every page as a
/// JSON array; each next page stays on the same list.
pub async fn all_pages(server: &TestServer, first: &str) -> Vec<Value> {
    let list_path = first.split('?').next().expect("path").to_owned();
    let mut pages = Vec::new();
    let mut path = first.to_owned();
    loop {
        let answer = server.get(&path).await;
        let body = answer.assert_status(200);
        assert!(body.is_array(), "a bare JSON array: {body}");
        pages.push(body);
        let Some(next) = next_page(&answer, &server.base) else {
            break;
        };
        assert!(
            next.starts_with(&format!("{list_path}?")),
            "{next} continues {list_path}"
        );
        path = next;
        assert!(pages.len() < 50, "paging does not end");
    }
    pages
}

/// The items of `pages`, in order, as one JSON array.
pub fn concat(pages: &[Value]) -> Value {
    Value::Array(
        pages
            .iter()
            .flat_map(|p| p.as_array().expect("array").iter().cloned())
            .collect(),
    )
}

/// A contract-creation body (the users contract under `name`).
pub fn contract_body(name: &str) -> String {
    json!({"name": name, "schema": {"columns": users_columns()}}).to_string()
}

/// Runs `futures` concurrently (on this task) and returns their outputs in order.
pub async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}
