//! Webhook delivery benchmark (issue 3). Not a test: it prints figures.
//!
//! ```sh
//! cargo bench --bench delivery                  # defaults: 20000 checks, 1000000 pending
//! DG_BENCH_CHECKS=5000 DG_BENCH_PENDING=100000 cargo bench --bench delivery
//! ```
//!
//! 1. Throughput: the release binary, a local HTTPS receiver answering 200, one matching
//!    webhook; N checks over 64 keep-alive connections; time until the receiver has every
//!    delivery → checks/s and deliveries/s end to end.
//! 2. Start-up with a large queue: P pending deliveries written straight into the store
//!    (the webhook points at the receiver, which is stopped so they stay pending), then
//!    the time from `driftguard serve` to a healthy `/health`, and its RSS then and 2 s
//!    later (while it works through the overdue queue).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use driftguard::credentials::{generate_key, Environment};
use driftguard::drift::{ColumnType, IncomingColumn};
use driftguard::store::Store;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let checks = env_usize("DG_BENCH_CHECKS", 20_000);
    let pending = env_usize("DG_BENCH_PENDING", 1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start(dir.path()).await;
    let key = generate_key(Environment::Live);
    let config_file = write_config(dir.path(), &receiver.ca_file);

    println!("# DriftGuard webhook delivery benchmark");
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // 1. Throughput.
    let port;
    let contract_id;
    {
        let daemon = Daemon::start(&config_file, &key, dir.path());
        port = daemon.port;
        let api = Api::new(port, &key);
        wait_healthy(&api).await;
        let contract = api
            .post(
                "/api/v1/contracts",
                json!({"name": "bench", "schema": {"columns": columns_json()}}),
            )
            .await;
        contract_id = contract["id"].as_str().expect("id").to_owned();
        api.post(
            "/api/v1/webhooks",
            json!({"url": receiver.url(), "events": ["pass", "warning", "breaking"]}),
        )
        .await;
        let started = Instant::now();
        let ids = api.burst_of_checks(&contract_id, checks, 64).await;
        let answered = started.elapsed();
        let all_in = receiver.wait_for(&ids, Duration::from_secs(600)).await;
        let delivered = started.elapsed();
        println!("\n## Throughput ({checks} checks, 1 webhook each, 64 connections)");
        println!("| figure | value |\n|---|---|");
        println!(
            "| checks answered in | {:.2} s ({:.0} checks/s) |",
            answered.as_secs_f64(),
            checks as f64 / answered.as_secs_f64()
        );
        println!(
            "| all deliveries confirmed in | {:.2} s ({:.0} deliveries/s end to end) {} |",
            delivered.as_secs_f64(),
            checks as f64 / delivered.as_secs_f64(),
            if all_in { "" } else { "(INCOMPLETE)" }
        );
        daemon.stop();
    }

    // 2. Start-up with `pending` queued deliveries.
    receiver.stop_answering();
    let seeded = Instant::now();
    seed_pending(&dir.path().join("data"), &contract_id, pending).await;
    println!(
        "\n## Start-up with {pending} pending deliveries (seeded in {:.1} s)",
        seeded.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let daemon = Daemon::start(&config_file, &key, dir.path());
    let api = Api::new(port, &key);
    wait_healthy(&api).await;
    let ready = started.elapsed();
    let rss_ready = rss_kib(daemon.child.id());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_later = rss_kib(daemon.child.id());
    let store_mib = std::fs::metadata(dir.path().join("data/driftguard.redb"))
        .map_or(0, |m| m.len())
        / (1 << 20);
    println!("| figure | value |\n|---|---|");
    println!(
        "| start to healthy | {:.0} ms |",
        ready.as_secs_f64() * 1000.0
    );
    println!(
        "| RSS when healthy | {:.1} MiB |",
        rss_ready as f64 / 1024.0
    );
    println!(
        "| RSS 2 s later (sending the overdue queue) | {:.1} MiB |",
        rss_later as f64 / 1024.0
    );
    println!("| store file | {store_mib} MiB |");
    daemon.stop();
}

fn columns_json() -> Value {
    json!((0..20)
        .map(|i| json!({"name": format!("c{i}"), "type": "string", "required": true}))
        .collect::<Vec<_>>())
}

fn write_config(dir: &Path, ca_file: &Path) -> std::path::PathBuf {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let path = dir.join("driftguard.toml");
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[storage]\ndata_dir = \"{}\"\n[limits]\nrequests_per_minute = 100000000\n[webhooks]\nca_file = \"{}\"\nretry_delays = [\"1s\"]\n",
        dir.join("data").display(),
        ca_file.display()
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// Writes `n` pending deliveries by running checks straight against the store (the
/// daemon is stopped), concurrently so the group commit batches them.
async fn seed_pending(data_dir: &Path, contract: &str, n: usize) {
    let store = Store::open(data_dir).expect("open store");
    let contract_id =
        driftguard::ids::parse_id(driftguard::ids::IdKind::Contract, contract).expect("id");
    let incoming: Vec<IncomingColumn> = (0..20)
        .map(|i| IncomingColumn {
            name: format!("c{i}"),
            column_type: ColumnType::String,
        })
        .collect();
    let mut remaining = n;
    while remaining > 0 {
        let batch = remaining.min(2000);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..batch {
            let store = store.clone();
            let incoming = incoming.clone();
            tasks.spawn(async move {
                store
                    .run_check(
                        1,
                        contract_id,
                        incoming,
                        Environment::Test,
                        driftguard::clock::now_ms(),
                    )
                    .await
                    .expect("check")
            });
        }
        while tasks.join_next().await.is_some() {}
        remaining -= batch;
    }
    tokio::task::spawn_blocking(move || store.close())
        .await
        .expect("close");
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

struct Daemon {
    child: Child,
    port: u16,
}

impl Daemon {
    fn start(config: &Path, key: &str, dir: &Path) -> Daemon {
        let text = std::fs::read_to_string(config).expect("config");
        let port = text
            .split("127.0.0.1:")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .and_then(|p| p.parse().ok())
            .expect("port");
        let child = Command::new(env!("CARGO_BIN_EXE_driftguard"))
            .args(["serve", "--config"])
            .arg(config)
            .env("DRIFTGUARD_BOOTSTRAP_KEY", key)
            .env("DRIFTGUARD_LOG", "warn")
            .current_dir(dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("start driftguard");
        Daemon { child, port }
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

struct Api {
    base: String,
    key: String,
    client: HttpClient,
}

impl Api {
    fn new(port: u16, key: &str) -> Api {
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        Api {
            base: format!("http://127.0.0.1:{port}"),
            key: key.to_owned(),
            client: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(128)
                .build(connector),
        }
    }

    async fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Option<Value> {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("x-api-key", &self.key)
            .body(Full::new(Bytes::from(
                body.map(Value::to_string).unwrap_or_default(),
            )))
            .ok()?;
        let response = self.client.request(request).await.ok()?;
        let bytes = response.into_body().collect().await.ok()?.to_bytes();
        serde_json::from_slice(&bytes).ok()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.request("POST", path, Some(&body))
            .await
            .expect("answer")
    }

    async fn burst_of_checks(&self, contract: &str, n: usize, connections: usize) -> Vec<String> {
        let body = json!({"contract_id": contract, "incoming_schema": {"columns": columns_json()}});
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..connections {
            let (next, body) = (next.clone(), body.clone());
            let api = Api {
                base: self.base.clone(),
                key: self.key.clone(),
                client: self.client.clone(),
            };
            tasks.spawn(async move {
                let mut ids = Vec::new();
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                    let answer = api
                        .request("POST", "/api/v1/check", Some(&body))
                        .await
                        .expect("check");
                    ids.push(answer["id"].as_str().expect("check id").to_owned());
                }
                ids
            });
        }
        let mut ids = Vec::with_capacity(n);
        while let Some(chunk) = tasks.join_next().await {
            ids.extend(chunk.expect("task"));
        }
        ids
    }
}

async fn wait_healthy(api: &Api) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Some(health) = api.request("GET", "/api/v1/health", None).await {
            if health["status"] == "ok" {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the daemon did not become healthy");
}

/// A local HTTPS receiver that records the `id` of every payload and answers 200 (or,
/// once told to stop answering, 503).
struct Receiver {
    addr: SocketAddr,
    ca_file: std::path::PathBuf,
    received: Arc<Mutex<HashSet<String>>>,
    answering: Arc<std::sync::atomic::AtomicBool>,
}

impl Receiver {
    async fn start(dir: &Path) -> Receiver {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
        let ca_file = dir.join("receiver.pem");
        std::fs::write(&ca_file, certified.cert.pem()).expect("write cert");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![certified.cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der())
                    .expect("key"),
            )
            .expect("tls config");
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let received = Arc::new(Mutex::new(HashSet::new()));
        let answering = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (seen, on) = (received.clone(), answering.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, seen, on) = (acceptor.clone(), seen.clone(), on.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let (seen, on) = (seen.clone(), on.clone());
                            async move {
                                let body = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let ok = on.load(std::sync::atomic::Ordering::Relaxed);
                                if ok {
                                    if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                                        if let Some(id) = v["id"].as_str() {
                                            seen.lock().expect("lock").insert(id.to_owned());
                                        }
                                    }
                                }
                                let mut response = Response::new(Full::new(Bytes::new()));
                                *response.status_mut() = if ok {
                                    hyper::StatusCode::OK
                                } else {
                                    hyper::StatusCode::SERVICE_UNAVAILABLE
                                };
                                Ok::<_, std::convert::Infallible>(response)
                            }
                        });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Receiver {
            addr,
            ca_file,
            received,
            answering,
        }
    }

    fn url(&self) -> String {
        format!("https://localhost:{}/hook", self.addr.port())
    }

    fn stop_answering(&self) {
        self.answering
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    async fn wait_for(&self, ids: &[String], limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let done = {
                let seen = self.received.lock().expect("lock");
                ids.iter().all(|id| seen.contains(id))
            };
            if done {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}
