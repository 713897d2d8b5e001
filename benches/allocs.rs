//! Heap allocations per request (issue 25): the daemon runs in this process under dhat's
//! counting allocator, and clients that allocate nothing per request send the suite's
//! `POST /check` (20 columns) and `GET /checks/{id}` on 64 keep-alive connections at once
//! (as the load runs do, so checks share group commits as they do there) and on one
//! (every check its own commit). Prints blocks and bytes allocated per request; `target/bench/dhat-heap.json` says where they
//! come from (open it in dhat's viewer, <https://nnethercote.github.io/dh_view/dh_view.html>).
//!
//! ```sh
//! cargo bench --locked --bench allocs      # DG_ALLOC_REQUESTS (10000) per figure
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    reason = "bench code: a failed step fails the run, and the results go to stdout"
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use driftguard::config::{BootstrapKey, Config};
use driftguard::credentials::{generate_key, Environment};
use driftguard::daemon::Daemon;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// A blocking HTTP/1.1 client on one keep-alive connection that reuses its buffers.
struct Client {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            stream,
            buffer: Vec::with_capacity(64 * 1024),
        }
    }

    /// Sends a whole request; returns the status and the body's range in the buffer.
    fn send(&mut self, request: &[u8]) -> (u16, std::ops::Range<usize>) {
        self.stream.write_all(request).expect("write");
        self.buffer.clear();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = self.stream.read(&mut chunk).expect("read");
            assert!(n > 0, "the daemon closed the connection");
            self.buffer.extend_from_slice(&chunk[..n]);
            if let Some(answer) = complete(&self.buffer) {
                return answer;
            }
        }
    }
}

/// The status and body range of a whole response in `buffer`, once it is all there.
fn complete(buffer: &[u8]) -> Option<(u16, std::ops::Range<usize>)> {
    let end = buffer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buffer[..end]).ok()?;
    let status = head.get(9..12)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    (buffer.len() >= end + length).then_some((status, end..end + length))
}

fn request(method: &str, path: &str, key: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Blocks and bytes allocated per request over `n` requests of `request`, spread over
/// `clients` at once (after `n / 10` to warm up).
fn per_request(clients: &mut [Client], n: u64, request: &[u8]) -> (f64, f64) {
    let each = (n / clients.len() as u64).max(1);
    let run = |clients: &mut [Client], times: u64| {
        std::thread::scope(|scope| {
            for client in clients.iter_mut() {
                scope.spawn(move || {
                    for _ in 0..times {
                        assert_eq!(client.send(request).0, 200);
                    }
                });
            }
        });
    };
    run(clients, (each / 10).max(1));
    let before = dhat::HeapStats::get();
    run(clients, each);
    let after = dhat::HeapStats::get();
    let sent = (each * clients.len() as u64) as f64;
    let blocks = (after.total_blocks - before.total_blocks) as f64 / sent;
    let bytes = (after.total_bytes - before.total_bytes) as f64 / sent;
    (blocks, bytes)
}

fn main() {
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out).expect("target/bench");
    let _profiler = dhat::Profiler::builder()
        .file_name(out.join("dhat-heap.json"))
        .build();
    let n: u64 = std::env::var("DG_ALLOC_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let key = generate_key(Environment::Live);
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.storage.data_dir = dir.path().join("data");
    config.bootstrap_key = Some(BootstrapKey(key.clone()));
    config.limits.requests_per_minute = std::num::NonZeroU32::new(1_000_000_000).unwrap();
    config.credits.default_quota = 1_000_000_000_000;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let daemon = runtime
        .block_on(Daemon::start(config))
        .expect("daemon starts");
    let mut client = Client::connect(daemon.local_addr());

    let columns: Vec<String> = (0..20)
        .map(|i| format!(r#"{{"name":"c{i}","type":"string","required":true}}"#))
        .collect();
    let columns = columns.join(",");
    let contract = format!(r#"{{"name":"bench","schema":{{"columns":[{columns}]}}}}"#);
    let (status, body) = client.send(&request("POST", "/api/v1/contracts", &key, &contract));
    assert_eq!(status, 201);
    let created: serde_json::Value =
        serde_json::from_slice(&client.buffer[body]).expect("contract JSON");
    let contract_id = created["id"].as_str().expect("id").to_owned();
    let check = request(
        "POST",
        "/api/v1/check",
        &key,
        &format!(
            r#"{{"contract_id":"{contract_id}","incoming_schema":{{"columns":[{columns}]}}}}"#
        ),
    );
    let (status, body) = client.send(&check);
    assert_eq!(status, 200);
    let answered: serde_json::Value =
        serde_json::from_slice(&client.buffer[body]).expect("check JSON");
    let read = request(
        "GET",
        &format!("/api/v1/checks/{}", answered["id"].as_str().expect("id")),
        &key,
        "",
    );

    drop(client);
    println!("heap allocations per request, {n} requests each (the whole daemon, dhat):");
    for (what, request) in [
        ("POST /api/v1/check (20 columns)", &check),
        ("GET /api/v1/checks/{id}", &read),
    ] {
        for connections in [64, 1] {
            // Fresh connections: the daemon closes idle ones.
            let mut clients: Vec<Client> = (0..connections)
                .map(|_| Client::connect(daemon.local_addr()))
                .collect();
            let (blocks, bytes) = per_request(&mut clients, n, request);
            println!(
                "  {what:<34} {connections:>2} connections {blocks:>8.1} allocations {bytes:>10.0} bytes"
            );
        }
    }
    runtime.block_on(daemon.shutdown());
    println!(
        "where: {} (dhat's viewer)",
        out.join("dhat-heap.json").display()
    );
}
