//! Transport: TLS and ALPN, body framing, slow and silent clients, graceful shutdown, and
//! the `driftguard` binary as a process (CLI, signals, durability). What the API answers
//! is tested in `tests/api/`.
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

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use driftguard::credentials::{generate_key, Environment};
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, Version};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound for anything the server must do "soon" (close, answer, exit): generous, as
/// the suite shares two cores; tests that need "not too late" assert it separately.
const DEADLINE: Duration = Duration::from_secs(20);
const VERSION: &str = env!("CARGO_PKG_VERSION");

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// The loopback address a test server listens on.
fn addr_of(server: &TestServer) -> SocketAddr {
    let port: u16 = server
        .base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port in base URL");
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A response read from a raw socket.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// Reads one response head (status line and headers); `None` on EOF or error first.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(pos) = find(buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..pos]).into_owned();
            buf.drain(..pos + 4);
            return Some(head);
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Reads one complete response (head and `Content-Length` body).
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<RawResponse> {
    let head = read_head(stream, buf).await?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let mut response = RawResponse {
        status,
        head,
        body: Vec::new(),
    };
    let len: usize = response
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < len {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    response.body = buf.drain(..len.min(buf.len())).collect();
    Some(response)
}

/// Reads until the server closes the connection; returns what was read and how long it
/// took. Panics if the connection is still open after `deadline`.
async fn wait_closed(stream: &mut TcpStream, deadline: Duration) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut seen = Vec::new();
    let result = tokio::time::timeout(deadline, async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(
        result.is_ok(),
        "the server kept the connection open for more than {deadline:?}; it sent {:?}",
        String::from_utf8_lossy(&seen)
    );
    (seen, start.elapsed())
}

/// Writes a request with a chunked body, one chunk per element.
async fn send_chunked(stream: &mut TcpStream, key: &str, chunks: &[&[u8]]) {
    let head = format!(
        "POST /api/v1/contracts HTTP/1.1\r\nHost: localhost\r\nX-API-Key: {key}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut wire = head.into_bytes();
    for chunk in chunks {
        wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        wire.extend_from_slice(chunk);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before reading everything; that is its right.
    let _ = stream.write_all(&wire).await;
}

// ---------------------------------------------------------------------------------------
// 1. TLS
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn tls_negotiates_http2_by_alpn() {
    let server = TestServer::start_tls().await;
    assert!(server.base.starts_with("https://localhost:"));
    for _ in 0..3 {
        let request = Request::get(server.url("/api/v1/usage"))
            .header("x-api-key", &server.key)
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = tokio::time::timeout(DEADLINE, server.client.request(request))
            .await
            .expect("answer in time")
            .expect("request succeeds");
        assert_eq!(response.version(), Version::HTTP_2);
        assert_eq!(response.status(), 200);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let usage: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            usage,
            json!({"credits_remaining": 1_000_000, "credits_used": 0, "total_checks": 0})
        );
    }
}

#[tokio::test]
async fn tls_serves_http1_only_clients() {
    use rustls::pki_types::pem::PemObject;
    let server = TestServer::start_tls().await;
    let cert_file = server.config.server.tls_cert.clone().expect("cert file");
    let root = rustls::pki_types::CertificateDer::from_pem_file(&cert_file).expect("cert PEM");
    let http1 = client_with(Some(root.as_ref()), false);
    let body = contract_body("over-http1");
    let request = Request::post(server.url("/api/v1/contracts"))
        .header("x-api-key", &server.key)
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let response = tokio::time::timeout(DEADLINE, http1.request(request))
        .await
        .expect("answer in time")
        .expect("request succeeds");
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(response.status(), 201);
    // The same record is visible over HTTP/2.
    let list = server.get("/api/v1/contracts").await.assert_status(200);
    assert_eq!(list[0]["name"], "over-http1");
}

#[tokio::test]
async fn plain_http_on_the_tls_port_fails_without_hanging() {
    let server = TestServer::start_tls().await;
    let addr = addr_of(&server);
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let (seen, _) = wait_closed(&mut stream, DEADLINE).await;
    assert!(
        !seen.starts_with(b"HTTP/"),
        "a plain HTTP answer on the TLS port: {:?}",
        String::from_utf8_lossy(&seen)
    );

    // A real client speaking http:// to the TLS port gets an error, not a hang.
    let request = Request::get(format!("http://localhost:{}/api/v1/health", addr.port()))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let result = tokio::time::timeout(DEADLINE, server.client.request(request))
        .await
        .expect("the client gives up in time");
    assert!(
        result.is_err(),
        "plain HTTP must not be served on the TLS port"
    );

    // The server is still fine afterwards.
    server.get("/api/v1/health").await.assert_status(200);
}

// ---------------------------------------------------------------------------------------
// 2. Body framing
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn body_size_limit_with_chunked_body() {
    let server =
        TestServer::start_with(|cfg| cfg.server.max_body_bytes = 1024.try_into().unwrap()).await;
    let addr = addr_of(&server);

    // A small chunked body is read normally.
    let body = contract_body("chunked");
    let (a, b) = body.as_bytes().split_at(body.len() / 2);
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    send_chunked(&mut stream, &server.key, &[a, b]).await;
    let mut buf = Vec::new();
    let answer = tokio::time::timeout(DEADLINE, read_response(&mut stream, &mut buf))
        .await
        .expect("answer in time")
        .expect("an answer");
    assert_eq!(
        answer.status,
        201,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );

    // A chunked body over the limit (no Content-Length to go by) is 413.
    let chunk = [b' '; 512];
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    send_chunked(&mut stream, &server.key, &[&chunk, &chunk, &chunk, b"{}"]).await;
    let mut buf = Vec::new();
    let answer = tokio::time::timeout(DEADLINE, read_response(&mut stream, &mut buf))
        .await
        .expect("answer in time")
        .expect("an answer");
    assert_eq!(answer.status, 413, "{answer:?}");
    assert_eq!(answer.json()["error"]["code"], "payload_too_large");
}

// ---------------------------------------------------------------------------------------
// 3. Slow and silent clients
// ---------------------------------------------------------------------------------------

async fn slow_client_server() -> TestServer {
    TestServer::start_with(|cfg| {
        cfg.server.header_timeout = Duration::from_millis(300);
        cfg.server.idle_timeout = Duration::from_millis(500);
        cfg.server.body_timeout = Duration::from_millis(300);
    })
    .await
}

#[tokio::test]
async fn a_silent_client_is_disconnected() {
    let server = slow_client_server().await;
    let mut stream = TcpStream::connect(addr_of(&server)).await.expect("connect");
    let (seen, took) = wait_closed(&mut stream, DEADLINE).await;
    assert!(
        !String::from_utf8_lossy(&seen).contains(" 200 "),
        "{seen:?}"
    );
    assert!(
        took >= Duration::from_millis(250),
        "closed too early: {took:?}"
    );
}

#[tokio::test]
async fn half_a_header_then_silence_is_disconnected() {
    let server = slow_client_server().await;
    let mut stream = TcpStream::connect(addr_of(&server)).await.expect("connect");
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nX-Partial: ")
        .await
        .expect("write");
    let (seen, _) = wait_closed(&mut stream, DEADLINE).await;
    assert!(
        !String::from_utf8_lossy(&seen).contains(" 200 "),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_trickling_header_is_cut_off_by_the_header_timeout() {
    // One byte every 100 ms keeps the idle watchdog (500 ms) quiet; only the header
    // timeout (300 ms) can end this.
    let server = slow_client_server().await;
    let mut stream = TcpStream::connect(addr_of(&server)).await.expect("connect");
    let request = format!(
        "GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(200)
    );
    let start = Instant::now();
    let mut closed_after = None;
    for byte in request.bytes() {
        if stream.write_all(&[byte]).await.is_err() {
            closed_after = Some(start.elapsed());
            break;
        }
        let mut chunk = [0u8; 1024];
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed_after = Some(start.elapsed());
                break;
            }
            Ok(Ok(n)) => assert!(
                !String::from_utf8_lossy(&chunk[..n]).contains(" 200 "),
                "a trickled request was served"
            ),
            Err(_) => {}
        }
        if start.elapsed() > DEADLINE {
            break;
        }
    }
    let took = closed_after.expect("the server closed the trickling connection");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(1500),
        "closed after {took:?} with a 300 ms header timeout"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let server = slow_client_server().await;
    let mut stream = TcpStream::connect(addr_of(&server)).await.expect("connect");
    let mut buf = Vec::new();
    for _ in 0..2 {
        stream
            .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .expect("write");
        let answer = tokio::time::timeout(DEADLINE, read_response(&mut stream, &mut buf))
            .await
            .expect("answer in time")
            .expect("an answer");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.json()["status"], "ok");
    }
    let (seen, took) = wait_closed(&mut stream, DEADLINE).await;
    assert!(seen.is_empty(), "{:?}", String::from_utf8_lossy(&seen));
    assert!(
        took >= Duration::from_millis(250),
        "closed too early: {took:?}"
    );
}

#[tokio::test]
async fn a_body_that_stops_arriving_gets_408() {
    let server = slow_client_server().await;
    let mut stream = TcpStream::connect(addr_of(&server)).await.expect("connect");
    let head = format!(
        "POST /api/v1/contracts HTTP/1.1\r\nHost: localhost\r\nX-API-Key: {}\r\n\
         Content-Length: 100\r\n\r\n{{\"name\": ",
        server.key
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let start = Instant::now();
    let mut buf = Vec::new();
    let answer = tokio::time::timeout(DEADLINE, read_response(&mut stream, &mut buf))
        .await
        .expect("an answer or a close within the deadline")
        .expect("an answer before the close");
    assert_eq!(answer.status, 408, "{answer:?}");
    assert!(start.elapsed() >= Duration::from_millis(250));
    let body = answer.json();
    assert_eq!(body["error"]["code"], "request_timeout");
    assert_eq!(body["error"].as_object().map(|o| o.len()), Some(2));
    assert_eq!(answer.header("connection").as_deref(), Some("close"));
    wait_closed(&mut stream, DEADLINE).await;
    let list = server.get("/api/v1/contracts").await.assert_status(200);
    assert_eq!(list, json!([]));
}

#[tokio::test]
/// Documented: on HTTP/1.1 keep-alive, `header_timeout` runs from the end of the previous
/// response, so it is the idle limit between requests (not shorter, not longer).
async fn a_keep_alive_connection_lives_for_the_header_timeout() {
    let server = TestServer::start_with(|cfg| {
        cfg.server.header_timeout = Duration::from_millis(1500);
        cfg.server.idle_timeout = Duration::from_secs(20);
    })
    .await;
    let mut stream = TcpStream::connect(addr_of(&server)).await.expect("connect");
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let answer = tokio::time::timeout(DEADLINE, read_response(&mut stream, &mut buf))
        .await
        .expect("answer in time")
        .expect("an answer");
    assert_eq!(answer.status, 200);
    let (_, took) = wait_closed(&mut stream, DEADLINE).await;
    assert!(
        took >= Duration::from_millis(1200),
        "an idle keep-alive connection was closed after {took:?}; header_timeout is 1.5 s"
    );
}

// ---- HTTP/2 by hand: the preface, SETTINGS, PING and one HEADERS frame ----

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// One HTTP/2 frame: 9-byte header (length, type, flags, stream id), then the payload.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut frame = len.to_be_bytes()[1..].to_vec();
    frame.extend_from_slice(&[kind, flags]);
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// `GET /api/v1/health` on stream 1, HPACK-encoded with the static table and literals.
fn h2_health_request() -> Vec<u8> {
    let mut block = vec![0x82, 0x86]; // :method GET, :scheme http
    for (index, value) in [(4u8, "/api/v1/health"), (1, "localhost")] {
        block.push(index); // literal without indexing, name from the static table
        block.push(value.len() as u8);
        block.extend_from_slice(value.as_bytes());
    }
    h2_frame(0x1, 0x5, 1, &block) // HEADERS, END_STREAM | END_HEADERS
}

/// Opens a plain-HTTP/2 connection (preface, empty SETTINGS, and the health request if
/// `request`), then sends a PING every 100 ms. Returns how long the server kept it open,
/// or `None` if it was still open after `deadline`.
async fn h2_pinger(addr: SocketAddr, request: bool, deadline: Duration) -> Option<Duration> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let start = Instant::now();
    let (mut read, mut write) = stream.into_split();
    let mut opening = H2_PREFACE.to_vec();
    opening.extend(h2_frame(0x4, 0, 0, &[]));
    if request {
        opening.extend(h2_health_request());
    }
    write.write_all(&opening).await.expect("write the preface");
    let closed = async {
        let mut chunk = [0u8; 4096];
        loop {
            match read.read(&mut chunk).await {
                Ok(0) | Err(_) => return start.elapsed(),
                Ok(_) => {}
            }
        }
    };
    let ping = async {
        let mut n = 0u64;
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            n += 1;
            if write
                .write_all(&h2_frame(0x6, 0, 0, &n.to_be_bytes()))
                .await
                .is_err()
            {
                // Closed: let the reader see it.
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::time::timeout(deadline, async {
        tokio::select! {
            took = closed => took,
            () = ping => unreachable!(),
        }
    })
    .await
    .ok()
}

#[tokio::test]
async fn http2_pings_without_a_request_do_not_hold_connection_slots() {
    // The probe, scaled down: every slot held by a plain-HTTP/2 connection that
    // sends PINGs and never a request.
    let server = TestServer::start_with(|cfg| {
        cfg.server.max_connections = 2.try_into().expect("not zero");
        cfg.server.header_timeout = Duration::from_millis(300);
        cfg.server.idle_timeout = Duration::from_secs(20);
    })
    .await;
    let addr = addr_of(&server);
    let pingers: Vec<_> = (0..2)
        .map(|_| tokio::spawn(h2_pinger(addr, false, DEADLINE)))
        .collect();
    // A real client still gets in.
    server
        .send(Method::GET, "/api/v1/health", None, "")
        .await
        .assert_status(200);
    for pinger in pingers {
        let took = pinger
            .await
            .expect("pinger")
            .expect("a connection without a request was closed");
        assert!(
            took >= Duration::from_millis(250),
            "closed after {took:?}, before the 300 ms header timeout"
        );
    }
}

#[tokio::test]
async fn http2_pings_do_not_keep_an_idle_connection_open() {
    let server = TestServer::start_with(|cfg| {
        cfg.server.header_timeout = Duration::from_secs(20);
        cfg.server.idle_timeout = Duration::from_millis(600);
    })
    .await;
    let took = h2_pinger(addr_of(&server), true, DEADLINE)
        .await
        .expect("an HTTP/2 connection idle since its request was closed");
    assert!(
        took >= Duration::from_millis(500),
        "closed after {took:?}, before the 600 ms idle timeout"
    );
}

#[tokio::test]
async fn one_address_holds_at_most_max_connections_per_ip() {
    let server = TestServer::start_with(|cfg| cfg.server.max_connections_per_ip = 2).await;
    let addr = addr_of(&server);
    let request = b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n";
    // Connects and asks for health; `Some(status)` if answered.
    let ask = || async move {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let mut buf = Vec::new();
        stream.write_all(request).await.ok()?;
        let answer = tokio::time::timeout(DEADLINE, read_response(&mut stream, &mut buf))
            .await
            .expect("an answer or a close in time")?;
        Some((stream, answer.status))
    };
    let (first, status) = ask().await.expect("the first connection is served");
    assert_eq!(status, 200);
    let (_second, status) = ask().await.expect("the second connection is served");
    assert_eq!(status, 200);
    // The third is closed unanswered, while the first two stay open.
    assert!(
        ask().await.is_none(),
        "a third connection from one address was served"
    );
    // Once one closes, the address may connect again.
    drop(first);
    let served = wait_until(DEADLINE, || async { ask().await.is_some() }).await;
    assert!(served, "no connection was served after one of two closed");
}

#[tokio::test]
async fn the_metrics_listener_closes_a_silent_connection() {
    let server = TestServer::start_with(|cfg| {
        cfg.metrics.listen = Some("127.0.0.1:0".parse().expect("addr"));
        cfg.server.header_timeout = Duration::from_millis(300);
        cfg.server.idle_timeout = Duration::from_millis(500);
    })
    .await;
    let addr = server.metrics_addr().expect("metrics listener");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let (seen, took) = wait_closed(&mut stream, DEADLINE).await;
    assert!(seen.is_empty(), "{:?}", String::from_utf8_lossy(&seen));
    assert!(
        took >= Duration::from_millis(250),
        "closed too early: {took:?}"
    );
}

#[tokio::test]
async fn stalled_tls_clients_are_disconnected() {
    use rustls::pki_types::ServerName;
    let certs = tempfile::tempdir().expect("tempdir");
    let cert = TestCert::create(certs.path());
    let server = TestServer::start_with(|cfg| {
        cfg.server.tls_cert = Some(cert.cert_file.clone());
        cfg.server.tls_key = Some(cert.key_file.clone());
        cfg.server.header_timeout = Duration::from_millis(300);
        cfg.server.idle_timeout = Duration::from_millis(500);
    })
    .await;
    let addr = addr_of(&server);

    // Connects and never starts the handshake.
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let (seen, took) = wait_closed(&mut stream, DEADLINE).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert!(
        took >= Duration::from_millis(250),
        "closed too early: {took:?}"
    );

    // Starts the handshake and stalls half-way.
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .expect("write");
    wait_closed(&mut stream, DEADLINE).await;

    // Completes the handshake (for either protocol), then sends nothing.
    for alpn in [b"h2".to_vec(), b"http/1.1".to_vec()] {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from(
                cert.cert_der.clone(),
            ))
            .expect("root");
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = vec![alpn.clone()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let name = ServerName::try_from("localhost").expect("name");
        let mut tls = tokio::time::timeout(DEADLINE, connector.connect(name, tcp))
            .await
            .expect("handshake in time")
            .expect("handshake");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(alpn.as_slice()));
        let start = Instant::now();
        let closed = tokio::time::timeout(DEADLINE, async {
            let mut chunk = [0u8; 1024];
            loop {
                match tls.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    // An HTTP/2 server may greet first (SETTINGS, GOAWAY); keep reading.
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(
            closed.is_ok(),
            "a silent TLS client ({}) was kept for more than {DEADLINE:?}",
            String::from_utf8_lossy(&alpn)
        );
        assert!(start.elapsed() >= Duration::from_millis(250));
    }
}

// ---------------------------------------------------------------------------------------
// 4. Graceful shutdown
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn shutdown_answers_the_request_in_flight_then_refuses_connections() {
    let mut server = TestServer::start().await;
    let addr = addr_of(&server);
    let key = server.key.clone();
    let body = contract_body("in-flight");
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();

    let client = async move {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "POST /api/v1/contracts HTTP/1.1\r\nHost: localhost\r\nX-API-Key: {key}\r\n\
             Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("write head");
        // `100 Continue` means the handler is reading the body: the request is in flight.
        let mut buf = Vec::new();
        let interim = tokio::time::timeout(DEADLINE, read_head(&mut stream, &mut buf))
            .await
            .expect("100 Continue in time")
            .expect("an interim answer");
        assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
        started_tx.send(()).expect("stopper waiting");
        // Shutdown has begun once new connections are refused.
        let refused = wait_until(DEADLINE, || async move {
            TcpStream::connect(addr).await.is_err()
        })
        .await;
        assert!(refused, "new connections are refused during shutdown");
        stream.write_all(body.as_bytes()).await.expect("write body");
        tokio::time::timeout(DEADLINE, read_response(&mut stream, &mut buf))
            .await
            .expect("the in-flight request is answered in time")
            .expect("an answer")
    };
    let stopper = async {
        started_rx.await.expect("client started");
        tokio::time::timeout(Duration::from_secs(10), server.stop())
            .await
            .expect("shutdown completes");
    };
    let (answer, ()) = tokio::join!(client, stopper);
    assert_eq!(
        answer.status,
        201,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["name"], "in-flight");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "connections are refused after shutdown"
    );

    // The answered request was committed.
    let server = server.restart().await;
    let list = server.get("/api/v1/contracts").await.assert_status(200);
    assert_eq!(list[0]["name"], "in-flight");
}

// ---------------------------------------------------------------------------------------
// 5. The binary
// ---------------------------------------------------------------------------------------

fn assert_live_key(key: &str) {
    let rest = key.strip_prefix("dg_live_").expect("dg_live_ prefix");
    assert_eq!(rest.len(), 32, "{key}");
    assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()), "{key}");
}

#[test]
fn version_flag_prints_the_crate_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = driftguard(dir.path());
    cmd.arg("--version");
    let output = run(cmd);
    assert!(output.status.success());
    assert_eq!(stdout(&output), format!("driftguard {VERSION}\n"));
}

#[tokio::test]
async fn first_serve_writes_a_private_bootstrap_key_and_sigterm_stops_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("state");
    let client = client(None);

    let mut cmd = driftguard(dir.path());
    cmd.env("DRIFTGUARD_DATA_DIR", &data);
    let mut daemon = Serving::start(cmd, dir.path().join("first.log"));
    daemon.wait_ready(&client).await;

    let key_file = data.join("bootstrap-key");
    let text = std::fs::read_to_string(&key_file).expect("bootstrap-key written");
    let key = text.trim_end().to_owned();
    assert_eq!(text, format!("{key}\n"));
    assert_live_key(&key);
    let mode = std::fs::metadata(&key_file)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let log = daemon.log();
    assert!(!log.contains(&key), "the full key is in the log: {log}");
    assert!(log.contains(&key[..16]), "the preview is in the log: {log}");
    assert!(
        log.contains("bootstrap-key"),
        "the log names the file: {log}"
    );
    assert!(
        log.contains("plain HTTP"),
        "the log says it is plain HTTP: {log}"
    );

    let (status, usage) = call(
        &client,
        Method::GET,
        &daemon.url("/api/v1/usage"),
        Some(&key),
        "",
    )
    .await
    .expect("usage");
    assert_eq!(status, 200);
    assert_eq!(
        usage,
        json!({"credits_remaining": 1_000_000, "credits_used": 0, "total_checks": 0})
    );

    let exit = daemon.terminate().await;
    assert_eq!(exit.code(), Some(0), "{}", daemon.log());

    // A second start creates nothing and ignores DRIFTGUARD_BOOTSTRAP_KEY.
    std::fs::remove_file(&key_file).expect("remove");
    let ignored = generate_key(Environment::Live);
    let mut cmd = driftguard(dir.path());
    cmd.env("DRIFTGUARD_DATA_DIR", &data)
        .env("DRIFTGUARD_BOOTSTRAP_KEY", &ignored);
    let mut again = Serving::start(cmd, dir.path().join("second.log"));
    again.wait_ready(&client).await;
    assert!(!key_file.exists(), "bootstrap-key was recreated");
    let url = again.url("/api/v1/usage");
    assert_eq!(
        call(&client, Method::GET, &url, Some(&key), "")
            .await
            .expect("usage")
            .0,
        200
    );
    assert_eq!(
        call(&client, Method::GET, &url, Some(&ignored), "")
            .await
            .expect("usage")
            .0,
        401
    );
    let log = again.log();
    assert!(log.contains("DRIFTGUARD_BOOTSTRAP_KEY"), "{log}");
    assert!(log.contains("ignored"), "{log}");
    assert!(!log.contains(&ignored), "{log}");
    assert!(!log.contains(&key), "{log}");
    assert_eq!(again.terminate().await.code(), Some(0));
}

/// `driftguard` run by `sh` under `umask 022` (what a careless service manager gives it).
fn driftguard_under_umask_022(dir: &Path) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "umask 022; exec \"$0\" \"$@\"", BIN])
        .current_dir(dir)
        .stdin(Stdio::null());
    for var in [
        "DRIFTGUARD_LISTEN",
        "DRIFTGUARD_DATA_DIR",
        "DRIFTGUARD_BOOTSTRAP_KEY",
        "DRIFTGUARD_CONFIG",
        "DRIFTGUARD_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The permission bits of every entry of `dir`, by name.
fn modes(dir: &Path) -> Vec<(String, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut modes: Vec<(String, u32)> = std::fs::read_dir(dir)
        .expect("read data dir")
        .map(|entry| {
            let entry = entry.expect("entry");
            let mode = entry.metadata().expect("meta").permissions().mode() & 0o777;
            (entry.file_name().to_string_lossy().into_owned(), mode)
        })
        .collect();
    modes.sort();
    modes
}

#[tokio::test]
async fn files_in_the_data_dir_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // A data directory made beforehand, open to everyone (as `mkdir` under umask 022 makes it).
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let client = client(None);

    let mut cmd = driftguard_under_umask_022(dir.path());
    cmd.env("DRIFTGUARD_DATA_DIR", &data);
    let mut daemon = Serving::start(cmd, dir.path().join("serve.log"));
    daemon.wait_ready(&client).await;
    // A backup through the admin socket writes (and removes) a snapshot in the data dir.
    let backup = dir.path().join("backup.redb");
    let mut cmd = driftguard_under_umask_022(dir.path());
    cmd.env("DRIFTGUARD_DATA_DIR", &data)
        .args(["backup", "--to"])
        .arg(&backup);
    let output = run(cmd);
    assert!(output.status.success(), "backup: {}", stderr(&output));

    let found = modes(&data);
    let names: Vec<&str> = found.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["admin.sock", "bootstrap-key", "driftguard.redb"],
        "{found:?}"
    );
    for (name, mode) in &found {
        assert_eq!(*mode, 0o600, "{name} is {mode:04o}");
    }
    let backup_mode = std::fs::metadata(&backup)
        .expect("backup")
        .permissions()
        .mode();
    assert_eq!(backup_mode & 0o777, 0o600);
    let log = daemon.log();
    assert!(
        log.contains("the data directory is accessible to other users"),
        "{log}"
    );
    assert!(log.contains("0755"), "the warning says the mode: {log}");

    // Another user who gets to the socket anyway (here: it is made world-writable) is
    // refused by its credentials. Needs `setpriv`; that user runs a link to the binary in
    // the temp dir, which it can reach wherever the build is.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let socket = data.join("admin.sock");
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    const HALF: &str =
        "files_in_the_data_dir_are_private_whatever_the_umask (its peer-credential half)";
    if require_tool(HALF, "setpriv", "--version") {
        let bin = dir.path().join("driftguard");
        if std::fs::hard_link(BIN, &bin).is_err() {
            std::fs::copy(BIN, &bin).expect("copy the binary");
        }
        let output = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(["accounts", "list"])
            .env("DRIFTGUARD_DATA_DIR", &data)
            .env_remove("DRIFTGUARD_CONFIG")
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .expect("run setpriv");
        let runs =
            if stderr(&output).contains("Permission denied") || output.status.code() == Some(127) {
                Err(format!(
                    "uid 65534 cannot run {}: {}",
                    bin.display(),
                    stderr(&output)
                ))
            } else {
                Ok(())
            };
        if require(HALF, runs) {
            assert!(
                !output.status.success(),
                "another user listed accounts: {}",
                stdout(&output)
            );
            assert!(
                stderr(&output).contains("uid 65534 may not use the admin socket"),
                "{}",
                stderr(&output)
            );
            assert!(
                daemon.log().contains("admin connection refused"),
                "{}",
                daemon.log()
            );
        }
    }
    assert_eq!(daemon.terminate().await.code(), Some(0), "{}", daemon.log());
    assert!(!socket.exists(), "the socket is removed at shutdown");
}

#[tokio::test]
async fn serve_with_a_bootstrap_key_and_default_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = client(None);
    let key = generate_key(Environment::Live);
    let mut cmd = driftguard(dir.path());
    cmd.env("DRIFTGUARD_BOOTSTRAP_KEY", &key);
    let mut daemon = Serving::start(cmd, dir.path().join("serve.log"));
    daemon.wait_ready(&client).await;
    let data = dir.path().join("driftguard-data");
    assert!(
        data.join("driftguard.redb").exists(),
        "data in ./driftguard-data"
    );
    assert!(
        !data.join("bootstrap-key").exists(),
        "no file for a given key"
    );
    let (status, _) = call(
        &client,
        Method::GET,
        &daemon.url("/api/v1/usage"),
        Some(&key),
        "",
    )
    .await
    .expect("usage");
    assert_eq!(status, 200);
    let log = daemon.log();
    assert!(!log.contains(&key), "{log}");
    assert!(log.contains(&key[..16]), "{log}");
    // SIGINT (Ctrl-C) stops it cleanly too.
    assert_eq!(
        daemon.signal("-INT").await.code(),
        Some(0),
        "{}",
        daemon.log()
    );
}

#[test]
fn a_bad_bootstrap_key_stops_start_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    for bad in [
        "nope".to_owned(),
        "dg_live_short".to_owned(),
        format!("dg_live_{}!", "a".repeat(30)),
        generate_key(Environment::Test),
        String::new(),
    ] {
        let mut cmd = driftguard(dir.path());
        cmd.arg("serve")
            .env("DRIFTGUARD_LISTEN", format!("127.0.0.1:{}", free_port()))
            .env("DRIFTGUARD_DATA_DIR", dir.path().join("data"))
            .env("DRIFTGUARD_BOOTSTRAP_KEY", &bad);
        let output = run(cmd);
        assert!(!output.status.success(), "started with {bad:?}");
        let err = stderr(&output);
        assert!(err.contains("DRIFTGUARD_BOOTSTRAP_KEY"), "{bad:?}: {err}");
        if bad.len() > 20 {
            assert!(!err.contains(&bad), "the key is echoed: {err}");
        }
        assert!(!dir.path().join("data").exists(), "nothing is created");
    }
}

#[test]
fn config_errors_name_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let start = |setup: &dyn Fn(&mut Command)| {
        let mut cmd = driftguard(dir.path());
        cmd.arg("serve")
            .env("DRIFTGUARD_LISTEN", format!("127.0.0.1:{}", free_port()))
            .env("DRIFTGUARD_DATA_DIR", dir.path().join("data"));
        setup(&mut cmd);
        run(cmd)
    };

    // ./driftguard.toml is found on its own; an unknown key is named.
    std::fs::write(
        dir.path().join("driftguard.toml"),
        "[server]\nlisten_adr = \"x\"\n",
    )
    .expect("write");
    let output = start(&|_| {});
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("server.listen_adr"),
        "{}",
        stderr(&output)
    );
    std::fs::remove_file(dir.path().join("driftguard.toml")).expect("remove");

    // --config PATH: a bad duration is named.
    let file = dir.path().join("custom.toml");
    std::fs::write(&file, "[server]\nidle_timeout = \"soon\"\n").expect("write");
    let output = start(&|cmd| {
        cmd.arg("--config").arg(&file);
    });
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("server.idle_timeout"),
        "{}",
        stderr(&output)
    );

    // DRIFTGUARD_CONFIG: a bad value in a list is named.
    std::fs::write(&file, "[webhooks]\nretry_delays = [\"5s\", \"later\"]\n").expect("write");
    let output = start(&|cmd| {
        cmd.env("DRIFTGUARD_CONFIG", &file);
    });
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("webhooks.retry_delays"),
        "{}",
        stderr(&output)
    );

    // An unknown section is named too.
    std::fs::write(&file, "[servr]\nlisten = \"127.0.0.1:1\"\n").expect("write");
    let output = start(&|cmd| {
        cmd.arg("--config").arg(&file);
    });
    assert!(!output.status.success());
    assert!(stderr(&output).contains("servr"), "{}", stderr(&output));
    assert!(!dir.path().join("data").exists(), "nothing is created");
}

/// The sync calls `strace -f -c` counts.
const SYNC_CALLS: [&str; 3] = ["fsync", "fdatasync", "sync_file_range"];

/// Runs `driftguard serve` under `strace -f -c` for the sync calls: creates a contract,
/// answers `checks` sequential checks, stops on SIGTERM. Returns the sync calls of the
/// whole run.
async fn sync_calls_of_a_run(dir: &Path, checks: usize) -> u64 {
    std::fs::create_dir_all(dir).expect("dir");
    let summary = dir.join("strace.txt");
    let key = generate_key(Environment::Live);
    let mut cmd = Command::new("strace");
    cmd.current_dir(dir).stdin(Stdio::null());
    for var in ["DRIFTGUARD_CONFIG", "DRIFTGUARD_LOG"] {
        cmd.env_remove(var);
    }
    cmd.args(["-f", "-c", "-e"])
        .arg(format!("trace={}", SYNC_CALLS.join(",")))
        .arg("-o")
        .arg(&summary)
        .arg(BIN)
        .env("DRIFTGUARD_DATA_DIR", dir.join("data"))
        .env("DRIFTGUARD_BOOTSTRAP_KEY", &key);
    let mut daemon = Serving::start(cmd, dir.join("serve.log"));
    let client = client(None);
    daemon.wait_ready(&client).await;
    let (status, contract) = call(
        &client,
        Method::POST,
        &daemon.url("/api/v1/contracts"),
        Some(&key),
        &contract_body("users"),
    )
    .await
    .expect("create contract");
    assert_eq!(status, 201, "{contract}");
    let body = json!({"contract_id": contract["id"], "incoming_schema": {"columns": []}});
    for _ in 0..checks {
        let (status, check) = call(
            &client,
            Method::POST,
            &daemon.url("/api/v1/check"),
            Some(&key),
            &body.to_string(),
        )
        .await
        .expect("check");
        assert_eq!(status, 200, "{check}");
    }
    // SIGTERM to the daemon itself (strace's child); strace writes its summary as it ends.
    let strace_pid = daemon.pid();
    let children =
        std::fs::read_to_string(format!("/proc/{strace_pid}/task/{strace_pid}/children"))
            .expect("strace's children");
    let pid = children
        .split_whitespace()
        .next()
        .expect("the daemon runs under strace")
        .to_owned();
    send_signal(pid.parse().expect("a pid"), "-TERM");
    let status = daemon.wait_exit(DEADLINE).await;
    assert_eq!(status.code(), Some(0), "{}", daemon.log());
    // `% time  seconds  usecs/call  calls  errors  syscall`: add up the calls column.
    let table = std::fs::read_to_string(&summary).expect("strace summary");
    table
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let name = fields.last()?;
            SYNC_CALLS
                .contains(name)
                .then(|| fields[3].parse::<u64>().expect("calls"))
        })
        .sum()
}

/// "Every answered check is durable before its answer" (SPEC): the daemon must reach the
/// disk, not just the page cache, for each check it answers. Counted with strace against
/// the built binary: the run with N sequential checks makes at least N more sync calls
/// than the same run without them.
#[tokio::test]
async fn every_answered_check_is_synced_to_disk() {
    const CHECKS: usize = 30;
    if !require_tool("every_answered_check_is_synced_to_disk", "strace", "-V") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let without = sync_calls_of_a_run(&dir.path().join("without"), 0).await;
    let with = sync_calls_of_a_run(&dir.path().join("with"), CHECKS).await;
    eprintln!("sync calls: {without} without checks, {with} with {CHECKS} sequential checks");
    assert!(
        with >= without + CHECKS as u64,
        "{CHECKS} answered checks made only {} sync calls ({without} → {with})",
        with.saturating_sub(without)
    );
}

#[tokio::test]
async fn operator_commands_manage_accounts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let client = client(None);
    let cli = |args: &[&str]| {
        let mut cmd = driftguard(dir.path());
        cmd.args(args).env("DRIFTGUARD_DATA_DIR", &data);
        run(cmd)
    };

    let output = cli(&["accounts", "create", "team-a", "--credits", "5"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let live = stdout(&output);
    let live = live.strip_suffix('\n').expect("one line").to_owned();
    assert_live_key(&live);

    let output = cli(&["accounts", "add-key", "team-a", "--environment", "test"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let test = stdout(&output).trim_end().to_owned();
    let rest = test.strip_prefix("dg_test_").expect("a test key");
    assert_eq!(rest.len(), 32);

    let output = cli(&["accounts", "list"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let listing = stdout(&output);
    let row: Vec<&str> = listing
        .lines()
        .find(|l| l.starts_with("team-a "))
        .unwrap_or_else(|| panic!("team-a listed: {listing}"))
        .split_whitespace()
        .collect();
    assert_eq!(row[..4], ["team-a", "5", "0", "0"], "{listing}");

    for args in [
        &["accounts", "set-credits", "nosuch", "1"][..],
        &["accounts", "add-key", "nosuch"][..],
    ] {
        let output = cli(args);
        assert!(!output.status.success(), "{args:?}");
        assert!(stderr(&output).contains("nosuch"), "{}", stderr(&output));
        assert_eq!(stdout(&output), "");
    }

    // Serve: the printed keys work.
    let mut cmd = driftguard(dir.path());
    cmd.env("DRIFTGUARD_DATA_DIR", &data);
    let mut daemon = Serving::start(cmd, dir.path().join("serve1.log"));
    daemon.wait_ready(&client).await;
    let (status, usage) = call(
        &client,
        Method::GET,
        &daemon.url("/api/v1/usage"),
        Some(&live),
        "",
    )
    .await
    .expect("usage");
    assert_eq!(status, 200);
    assert_eq!(
        usage,
        json!({"credits_remaining": 5, "credits_used": 0, "total_checks": 0})
    );
    let (status, contract) = call(
        &client,
        Method::POST,
        &daemon.url("/api/v1/contracts"),
        Some(&live),
        &contract_body("users"),
    )
    .await
    .expect("create contract");
    assert_eq!(status, 201);
    let check_body =
        json!({"contract_id": contract["id"], "incoming_schema": {"columns": []}}).to_string();
    let (status, check) = call(
        &client,
        Method::POST,
        &daemon.url("/api/v1/check"),
        Some(&live),
        &check_body,
    )
    .await
    .expect("check");
    assert_eq!(status, 200);
    assert_eq!(check["credits_used"], 1);

    // While serve holds the store, the accounts commands go through its admin socket…
    let output = cli(&["accounts", "list"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("team-a"), "{}", stdout(&output));
    // …and the commands that need the store to themselves refuse clearly.
    let output = cli(&["check-store"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("in use"), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");

    assert_eq!(daemon.terminate().await.code(), Some(0));
    drop(daemon);

    let output = cli(&["accounts", "set-credits", "team-a", "0"]);
    assert!(output.status.success(), "{}", stderr(&output));

    let mut cmd = driftguard(dir.path());
    cmd.env("DRIFTGUARD_DATA_DIR", &data);
    let mut daemon = Serving::start(cmd, dir.path().join("serve2.log"));
    daemon.wait_ready(&client).await;
    let (status, error) = call(
        &client,
        Method::POST,
        &daemon.url("/api/v1/check"),
        Some(&live),
        &check_body,
    )
    .await
    .expect("check");
    assert_eq!(status, 403);
    assert_eq!(error["error"]["code"], "no_credits");
    let (status, check) = call(
        &client,
        Method::POST,
        &daemon.url("/api/v1/check"),
        Some(&test),
        &check_body,
    )
    .await
    .expect("check");
    assert_eq!(status, 200, "{check}");
    assert_eq!(check["credits_used"], 0);
    let (_, usage) = call(
        &client,
        Method::GET,
        &daemon.url("/api/v1/usage"),
        Some(&live),
        "",
    )
    .await
    .expect("usage");
    assert_eq!(
        usage,
        json!({"credits_remaining": 0, "credits_used": 1, "total_checks": 2})
    );
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

// ---------------------------------------------------------------------------------------
// Structured shutdown and reload (issue 8)
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_request_still_in_flight_when_the_grace_period_ends_is_cut_off() {
    let grace = Duration::from_secs(1);
    let mut server = TestServer::start_with(|cfg| {
        cfg.server.shutdown_grace = grace;
        // Far longer than the test: only the shutdown can end this request.
        cfg.server.body_timeout = Duration::from_secs(300);
    })
    .await;
    let mut stream = TcpStream::connect(addr_of(&server)).await.expect("connect");
    let body = contract_body("never-finished");
    let head = format!(
        "POST /api/v1/contracts HTTP/1.1\r\nHost: localhost\r\nX-API-Key: {}\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        server.key,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    // `100 Continue` means the handler is reading the body: the request is in flight.
    let mut buf = Vec::new();
    let interim = tokio::time::timeout(DEADLINE, read_head(&mut stream, &mut buf))
        .await
        .expect("100 Continue in time")
        .expect("an interim answer");
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
    // Half the body; the rest never comes.
    let half = &body.as_bytes()[..body.len() / 2];
    stream.write_all(half).await.expect("write half the body");

    let started = Instant::now();
    tokio::time::timeout(grace + Duration::from_secs(30), server.stop())
        .await
        .expect("shutdown completes");
    let took = started.elapsed();
    assert!(took >= grace, "the request got the grace period: {took:?}");
    assert!(
        took < grace + DEADLINE,
        "shutdown took {took:?}, more than the grace period ({grace:?}) and a margin"
    );
    // The connection is gone with the daemon, unanswered: nothing was written for it.
    let (seen, _) = wait_closed(&mut stream, DEADLINE).await;
    assert!(seen.is_empty(), "{}", String::from_utf8_lossy(&seen));
}

#[tokio::test]
async fn a_write_that_meets_a_closed_store_answers_503_storage_unavailable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(dir.path());
    let key = config.bootstrap_key.as_ref().expect("key").0.clone();
    let store = driftguard::store::Store::open(&config.storage.data_dir).expect("open store");
    let daemon = driftguard::daemon::Daemon::start_with_store(config, store.clone())
        .await
        .expect("daemon starts");
    let url = format!(
        "http://127.0.0.1:{}/api/v1/contracts",
        daemon.local_addr().port()
    );
    let client = client(None);
    let create = |name: &str| {
        let body = contract_body(name);
        let (client, url, key) = (&client, &url, &key);
        async move { call(client, Method::POST, url, Some(key), &body).await }
    };
    assert_eq!(create("before").await.expect("answer").0, 201);

    // The store closes under the running router, as it would under a request that
    // outlived the shutdown.
    tokio::task::spawn_blocking(move || store.close())
        .await
        .expect("close the store");
    let (status, body) = create("after").await.expect("answer");
    assert_eq!(status, 503, "{body}");
    let error = body["error"].as_object().expect("the spec's error shape");
    assert_eq!(error.len(), 2, "{body}");
    assert_eq!(error["code"], "storage_unavailable", "{body}");
    let message = error["message"].as_str().expect("message");
    assert!(message.contains("shutting down"), "{message}");

    tokio::time::timeout(Duration::from_secs(30), daemon.shutdown())
        .await
        .expect("shutdown completes");
}

#[tokio::test]
async fn after_shutdown_no_listener_or_connection_is_left() {
    let mut server = TestServer::start_with(|cfg| {
        cfg.metrics.listen = Some("127.0.0.1:0".parse().expect("addr"));
        cfg.server.shutdown_grace = Duration::from_secs(1);
    })
    .await;
    let api = addr_of(&server);
    let metrics = server.metrics_addr().expect("a metrics listener");
    let admin_path = server
        .config
        .storage
        .data_dir
        .join(driftguard::admin::ADMIN_SOCKET);

    // Held open across the shutdown: a metrics client between two scrapes (keep-alive)…
    let mut scraper = TcpStream::connect(metrics).await.expect("connect metrics");
    scraper
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("scrape");
    let mut buf = Vec::new();
    let scrape = tokio::time::timeout(DEADLINE, read_response(&mut scraper, &mut buf))
        .await
        .expect("a scrape in time")
        .expect("an answer");
    assert_eq!(scrape.status, 200);
    // …and an admin client that has not sent its command yet.
    let mut admin = tokio::net::UnixStream::connect(&admin_path)
        .await
        .expect("the admin socket accepts");

    tokio::time::timeout(Duration::from_secs(30), server.stop())
        .await
        .expect("shutdown completes");

    assert!(
        TcpStream::connect(api).await.is_err(),
        "the API port is closed"
    );
    assert!(
        TcpStream::connect(metrics).await.is_err(),
        "the metrics port is closed"
    );
    assert!(
        tokio::net::UnixStream::connect(&admin_path).await.is_err(),
        "the admin socket no longer accepts"
    );
    assert!(!admin_path.exists(), "the admin socket file is removed");
    // The connections' tasks are gone too: both streams are closed.
    let (seen, _) = wait_closed(&mut scraper, DEADLINE).await;
    assert!(seen.is_empty(), "{}", String::from_utf8_lossy(&seen));
    let mut rest = Vec::new();
    let admin_closed = tokio::time::timeout(DEADLINE, admin.read_to_end(&mut rest)).await;
    assert!(
        admin_closed.is_ok(),
        "the admin connection is still open after shutdown"
    );
}

/// The certificate a new TLS connection to `addr` is served (trusting `roots`).
async fn served_certificate(addr: SocketAddr, roots: &[&[u8]]) -> Vec<u8> {
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut trusted = rustls::RootCertStore::empty();
    for der in roots {
        trusted
            .add(CertificateDer::from(der.to_vec()))
            .expect("add root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(trusted)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("server name");
    let tls = tokio::time::timeout(DEADLINE, connector.connect(name, tcp))
        .await
        .expect("handshake in time")
        .expect("handshake");
    let (_, connection) = tls.get_ref();
    connection
        .peer_certificates()
        .and_then(|chain| chain.first())
        .expect("a server certificate")
        .to_vec()
}

#[tokio::test]
async fn reload_serves_new_certificate_files_and_keeps_the_old_on_a_bad_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = TestCert::create(&dir.path().join("tls"));
    let mut config = test_config(dir.path());
    config.server.tls_cert = Some(first.cert_file.clone());
    config.server.tls_key = Some(first.key_file.clone());
    let daemon = driftguard::daemon::Daemon::start(config.clone())
        .await
        .expect("daemon starts");
    let addr = SocketAddr::from(([127, 0, 0, 1], daemon.local_addr().port()));
    let second = TestCert::create(&dir.path().join("rotated"));
    let roots = [first.cert_der.as_slice(), second.cert_der.as_slice()];
    assert_eq!(served_certificate(addr, &roots).await, first.cert_der);

    // Rotation: new files at the configured paths, then a reload.
    std::fs::copy(&second.cert_file, &first.cert_file).expect("replace the certificate");
    std::fs::copy(&second.key_file, &first.key_file).expect("replace the key");
    assert_eq!(
        daemon.reload(&config),
        Vec::<&str>::new(),
        "nothing to restart"
    );
    assert_eq!(
        served_certificate(addr, &roots).await,
        second.cert_der,
        "a new connection gets the new certificate"
    );

    // A certificate file that does not parse is refused; the current one stays.
    std::fs::write(
        &first.cert_file,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    )
    .expect("write garbage");
    assert_eq!(daemon.reload(&config), Vec::<&str>::new());
    assert_eq!(
        served_certificate(addr, &roots).await,
        second.cert_der,
        "a bad certificate keeps the one in use"
    );

    tokio::time::timeout(Duration::from_secs(30), daemon.shutdown())
        .await
        .expect("shutdown completes");
}

#[tokio::test]
async fn sighup_applies_the_log_level_and_names_the_sections_needing_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = client(None);
    let file = dir.path().join("reload.toml");
    std::fs::write(&file, "[log]\nlevel = \"info\"\n").expect("write config");
    let mut cmd = driftguard(dir.path());
    cmd.arg("--config")
        .arg(&file)
        .env("DRIFTGUARD_DATA_DIR", dir.path().join("data"));
    let mut daemon = Serving::start(cmd, dir.path().join("serve.log"));
    daemon.wait_ready(&client).await;

    // A connection that sends no HTTP ends with an error the server logs at DEBUG.
    let port = daemon.port();
    let not_http = || async move {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        stream
            .write_all(b"NOT HTTP AT ALL\r\n\r\n")
            .await
            .expect("write");
        wait_closed(&mut stream, DEADLINE).await;
    };
    not_http().await;
    assert!(!daemon.log().contains(" DEBUG "), "{}", daemon.log());

    // Debug level, and a setting only a restart applies.
    std::fs::write(
        &file,
        "[log]\nlevel = \"debug\"\n[server]\nidle_timeout = \"61s\"\n",
    )
    .expect("rewrite config");
    send_signal(daemon.pid(), "-HUP");
    let reloaded = wait_until(Duration::from_secs(15), || async {
        daemon.log().contains("configuration reloaded")
    })
    .await;
    assert!(reloaded, "no reload logged: {}", daemon.log());
    let log = daemon.log();
    let warning = log
        .lines()
        .find(|line| line.contains("configuration reloaded"))
        .expect("the reload line");
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("keys=server.*"), "{warning}");
    assert!(
        !warning.contains("log."),
        "the log level was applied: {warning}"
    );

    not_http().await;
    let debug_logged = wait_until(Duration::from_secs(15), || async {
        daemon
            .log()
            .lines()
            .any(|line| line.contains(" DEBUG ") && line.contains("connection ended"))
    })
    .await;
    assert!(
        debug_logged,
        "no DEBUG line after the reload: {}",
        daemon.log()
    );
    assert_eq!(daemon.terminate().await.code(), Some(0), "{}", daemon.log());
}

/// The daemon's peak resident memory (`VmHWM`), in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number of kB");
    kib / 1024
}

/// Issue 26: memory per request is bounded whatever `limit` says. A contract with 100
/// versions of 1,000 columns (≈25 MB of history), and 16 clients asking at once for a
/// page of 1,000 versions: each page ends at its byte budget, so the daemon's peak stays
/// under a fixed ceiling (without the budget each request held the whole history,
/// decoded and rendered: 829 MiB here, against 199 MiB with it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_large_pages_at_once_stay_under_a_memory_ceiling() {
    const CEILING_MIB: u64 = 400;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("driftguard.toml");
    std::fs::write(
        &config,
        "[limits]\nrequests_per_minute = 100000\n[server]\nmax_body_bytes = 4194304\n",
    )
    .expect("config");
    let key = generate_key(Environment::Live);
    let mut cmd = driftguard_bin(&daemon_binary(), dir.path());
    cmd.env("DRIFTGUARD_DATA_DIR", dir.path().join("data"))
        .env("DRIFTGUARD_CONFIG", &config)
        .env("DRIFTGUARD_BOOTSTRAP_KEY", &key);
    let mut daemon = Serving::start(cmd, dir.path().join("serve.log"));
    let client = client(None);
    daemon.wait_ready(&client).await;
    let api = Api::new(daemon.base(), &key, client.clone());

    let mut columns: Vec<Value> = (0..1000)
        .map(|i| json!({"name": format!("{i:0>200}"), "type": "string", "required": true}))
        .collect();
    let body = json!({"name": "wide", "schema": {"columns": columns}});
    let contract = api
        .json(Method::POST, "/api/v1/contracts", Some(body), 201)
        .await;
    let id = contract["id"].as_str().expect("id").to_owned();
    for i in 0..99 {
        columns[i]["required"] = json!(false);
        let body = json!({"schema": {"columns": columns}});
        api.json(
            Method::PUT,
            &format!("/api/v1/contracts/{id}"),
            Some(body),
            200,
        )
        .await;
    }
    let before = peak_rss_mib(daemon.pid());

    let path = format!("/api/v1/contracts/{id}/versions?limit=1000");
    let pages = (0..16)
        .map(|_| api.send(Method::GET, &path, None))
        .collect();
    let answers = join_all(pages).await;
    let peak = peak_rss_mib(daemon.pid());
    println!("peak RSS: {before} MiB after seeding, {peak} MiB after 16 pages at once");
    for answer in answers {
        let (status, body) = answer.expect("an answer");
        assert_eq!(status, 200);
        assert!(body.len() < 8 << 20, "a page of {} bytes", body.len());
    }
    assert!(
        peak < CEILING_MIB,
        "peak RSS {peak} MiB (was {before} MiB before the 16 pages)"
    );
    daemon.terminate().await;
}
