//! The benchmark suite (issues 3 and 5). Not a test: it prints figures, with every
//! throughput and latency figure also given as a ratio to a bare hyper baseline measured in
//! the same run on the same machine.
//!
//! ```sh
//! bash benches/run.sh          # installs the load generator (oha) if needed, then runs this
//! ```
//!
//! Scenarios (the load generator is `oha`, 64 keep-alive connections, on loopback):
//! - baseline: a minimal hyper server in this process that parses the same JSON body and
//!   answers a fixed response, without storage;
//! - `POST /api/v1/check` (20-column contract) over HTTP and over TLS: requests/s and
//!   p50/p99/p99.9 latency; then at half of the HTTP peak rate, for p99 under normal load;
//! - the same with 3 matching webhooks per check to a local HTTPS receiver answering 200:
//!   checks/s, and deliveries/s until the receiver has confirmed every delivery;
//! - `GET /api/v1/checks/{id}` (the read path);
//! - start-up time and RSS with 1,000,000 pending deliveries and 1,000,000 stored checks;
//! - idle RSS and binary size.
//!
//! Results: the table on stdout, and `target/bench/results.{md,json}`.
//! Sizes: `DG_BENCH_SECONDS` (default 10) per load run, `DG_BENCH_CHECKS` (20000) checks in
//! the webhook scenario, `DG_BENCH_PENDING` (1000000) queued deliveries for start-up.

use std::collections::HashSet;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use driftguard::credentials::{generate_key, Environment};
use driftguard::drift::{ColumnType, IncomingColumn};
use driftguard::store::Store;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;

// The integration tests' harness: certificates, TLS clients, free ports.
#[path = "../tests/common/mod.rs"]
mod common;
use common::{client_with, free_port, TestCert};

const CONNECTIONS: usize = 64;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One row of the results table.
struct Row {
    scenario: String,
    figure: String,
    value: f64,
    unit: &'static str,
    /// The baseline's value for the same figure, for the ratio column.
    baseline: Option<f64>,
}

#[derive(Default)]
struct Results(Vec<Row>);

impl Results {
    fn add(
        &mut self,
        scenario: &str,
        figure: &str,
        value: f64,
        unit: &'static str,
        baseline: Option<f64>,
    ) {
        let ratio = baseline
            .map(|b| format!("  ({:.2}× baseline)", value / b))
            .unwrap_or_default();
        println!("{scenario:<44} {figure:<26} {value:>12.2} {unit}{ratio}");
        self.0.push(Row {
            scenario: scenario.to_owned(),
            figure: figure.to_owned(),
            value,
            unit,
            baseline,
        });
    }

    fn load(&mut self, scenario: &str, run: &Load, baseline: Option<&Load>) {
        self.add(
            scenario,
            "requests/s",
            run.rps,
            "req/s",
            baseline.map(|b| b.rps),
        );
        self.add(
            scenario,
            "p50",
            run.p50_ms,
            "ms",
            baseline.map(|b| b.p50_ms),
        );
        self.add(
            scenario,
            "p99",
            run.p99_ms,
            "ms",
            baseline.map(|b| b.p99_ms),
        );
        self.add(
            scenario,
            "p99.9",
            run.p999_ms,
            "ms",
            baseline.map(|b| b.p999_ms),
        );
        if run.success < 1.0 {
            self.add(scenario, "success rate", run.success * 100.0, "%", None);
        }
    }

    fn write(&self, dir: &Path) {
        let mut md = String::from(
            "| scenario | figure | value | unit | ratio to baseline |\n|---|---|---:|---|---:|\n",
        );
        let mut rows = Vec::new();
        for r in &self.0 {
            let ratio = r
                .baseline
                .map(|b| format!("{:.2}×", r.value / b))
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {} | {} |",
                r.scenario, r.figure, r.value, r.unit, ratio
            );
            rows.push(
                json!({"scenario": r.scenario, "figure": r.figure, "value": r.value, "unit": r.unit,
                             "baseline": r.baseline, "ratio": r.baseline.map(|b| r.value / b)}),
            );
        }
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::write(dir.join("results.md"), md);
        let _ = std::fs::write(
            dir.join("results.json"),
            serde_json::to_string_pretty(&rows).unwrap_or_default(),
        );
        println!("\nwritten: {}/results.md and results.json", dir.display());
    }
}

/// What one `oha` run measured.
struct Load {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    success: f64,
}

/// Runs `oha` and reads its JSON summary.
fn oha(args: &[&str]) -> Load {
    let output = Command::new("oha")
        .args(["--no-tui", "--output-format", "json"])
        .args(args)
        .output()
        .expect("oha is installed (bash benches/run.sh installs it)");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "oha output ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let ms = |key: &str| {
        report["latencyPercentiles"][key]
            .as_f64()
            .unwrap_or(f64::NAN)
            * 1000.0
    };
    let codes = &report["statusCodeDistribution"];
    let ok = codes["200"].as_f64().unwrap_or(0.0);
    let total: f64 = codes
        .as_object()
        .map_or(0.0, |m| m.values().filter_map(Value::as_f64).sum());
    Load {
        rps: report["summary"]["requestsPerSec"].as_f64().unwrap_or(0.0),
        p50_ms: ms("p50"),
        p99_ms: ms("p99"),
        p999_ms: ms("p99.9"),
        success: if total > 0.0 { ok / total } else { 0.0 },
    }
}

fn post_args<'a>(url: &'a str, key: &'a str, body: &'a str, seconds: &'a str) -> Vec<String> {
    let mut args: Vec<String> = [
        "-z",
        seconds,
        "-c",
        &CONNECTIONS.to_string(),
        "-m",
        "POST",
        "-T",
        "application/json",
        "-d",
        body,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if !key.is_empty() {
        args.extend(["-H".into(), format!("X-API-Key: {key}")]);
    }
    args.push(url.to_owned());
    args
}

fn run_oha(args: &[String]) -> Load {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    oha(&refs)
}

fn columns_json() -> Value {
    json!((0..20)
        .map(|i| json!({"name": format!("c{i}"), "type": "string", "required": true}))
        .collect::<Vec<_>>())
}

#[tokio::main]
async fn main() {
    let seconds = format!("{}s", env_usize("DG_BENCH_SECONDS", 10));
    let webhook_checks = env_usize("DG_BENCH_CHECKS", 20_000);
    let pending = env_usize("DG_BENCH_PENDING", 1_000_000);
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let mut results = Results::default();
    println!(
        "# DriftGuard benchmark suite — {} cores, {} per load run, {CONNECTIONS} connections\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        seconds
    );

    let check_body = |contract: &str| {
        json!({"contract_id": contract, "incoming_schema": {"columns": columns_json()}}).to_string()
    };

    // 1. The baseline: same body, no storage.
    let baseline_addr = baseline::start().await;
    let body = check_body("ctr_00000000000000000000000000");
    let baseline = run_oha(&post_args(
        &format!("http://{baseline_addr}/api/v1/check"),
        "",
        &body,
        &seconds,
    ));
    results.load(
        "baseline (bare hyper, parse JSON, fixed answer)",
        &baseline,
        None,
    );

    // 2. POST /check over HTTP and over TLS.
    let receiver = Receiver::start(dir.path()).await;
    let key = generate_key(Environment::Live);
    let cert = TestCert::create(dir.path());
    let http = Setup::new(dir.path(), "http", &receiver, None);
    let daemon = Daemon::start(&http, &key);
    let api = Api::new(http.port, &key);
    api.wait_healthy().await;
    let contract = api
        .post(
            "/api/v1/contracts",
            json!({"name": "bench", "schema": {"columns": columns_json()}}),
        )
        .await;
    let contract_id = contract["id"].as_str().expect("contract id").to_owned();
    let body = check_body(&contract_id);
    let url = format!("http://127.0.0.1:{}/api/v1/check", http.port);
    let peak = run_oha(&post_args(&url, &key, &body, &seconds));
    results.load("POST /check, HTTP", &peak, Some(&baseline));

    let half = ((peak.rps / 2.0).max(1.0) as u64).to_string();
    let mut args = post_args(&url, &key, &body, &seconds);
    args.splice(
        0..0,
        [
            "-q".to_owned(),
            half.clone(),
            "--latency-correction".to_owned(),
        ],
    );
    let at_half = run_oha(&args);
    results.add(
        &format!("POST /check, HTTP, at half peak ({half} req/s)"),
        "p99",
        at_half.p99_ms,
        "ms",
        None,
    );
    results.add(
        &format!("POST /check, HTTP, at half peak ({half} req/s)"),
        "p99.9",
        at_half.p999_ms,
        "ms",
        None,
    );

    // 2b. The same with group commit off: one fsync per check (what batching buys).
    daemon.stop();
    let single = Setup::with(
        dir.path(),
        "http-single",
        &receiver,
        None,
        "max_write_batch = 1\n",
    );
    let daemon = Daemon::start(&single, &key);
    Api::new(single.port, &key).wait_healthy().await;
    let single_url = format!("http://127.0.0.1:{}/api/v1/check", single.port);
    let unbatched = run_oha(&post_args(&single_url, &key, &body, &seconds));
    results.load(
        "POST /check, HTTP, group commit off",
        &unbatched,
        Some(&baseline),
    );
    daemon.stop();
    let daemon = Daemon::start(&http, &key);
    api.wait_healthy().await;

    // 3. The read path.
    let check = api
        .post("/api/v1/check", serde_json::from_str(&body).expect("json"))
        .await;
    let read_url = format!(
        "http://127.0.0.1:{}/api/v1/checks/{}",
        http.port,
        check["id"].as_str().expect("id")
    );
    let mut args: Vec<String> = ["-z", &seconds, "-c", &CONNECTIONS.to_string(), "-H"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(format!("X-API-Key: {key}"));
    args.push(read_url);
    let read = run_oha(&args);
    results.load("GET /checks/{id}", &read, Some(&baseline));
    daemon.stop();

    // 4. TLS (same store, restarted with a certificate).
    let tls = Setup::new(dir.path(), "tls", &receiver, Some(&cert));
    let daemon = Daemon::start(&tls, &key);
    let tls_api = Api::new(tls.port, &key);
    tls_api.wait_healthy_tls(&cert).await;
    let contract = tls_api_create(&tls, &key, &cert).await;
    let tls_url = format!("https://localhost:{}/api/v1/check", tls.port);
    let mut args = post_args(&tls_url, &key, &check_body(&contract), &seconds);
    args.splice(
        0..0,
        ["--cacert".to_owned(), cert.cert_file.display().to_string()],
    );
    let tls_run = run_oha(&args);
    results.load("POST /check, HTTPS (HTTP/1.1)", &tls_run, Some(&baseline));
    daemon.stop();

    // 5. Three webhooks per check, to a local HTTPS receiver answering 200.
    let daemon = Daemon::start(&http, &key);
    api.wait_healthy().await;
    let mut hooks = Vec::new();
    for path in ["/a", "/b", "/c"] {
        let hook = api
            .post(
                "/api/v1/webhooks",
                json!({"url": receiver.url(path), "events": ["pass", "warning", "breaking"]}),
            )
            .await;
        hooks.push(hook["id"].as_str().expect("webhook id").to_owned());
    }
    receiver.reset();
    let clock = Instant::now();
    let mut args = post_args(&url, &key, &body, &seconds);
    args.splice(0..2, ["-n".to_owned(), webhook_checks.to_string()]);
    let with_hooks = run_oha(&args);
    let answered = clock.elapsed();
    let expected = 3 * (with_hooks.success * webhook_checks as f64).round() as usize;
    let confirmed = receiver.wait_for(expected, Duration::from_secs(600)).await;
    let delivered = clock.elapsed();
    let scenario = format!("POST /check + 3 webhooks ({webhook_checks} checks)");
    results.add(
        &scenario,
        "checks/s",
        webhook_checks as f64 / answered.as_secs_f64(),
        "req/s",
        Some(baseline.rps),
    );
    results.add(
        &scenario,
        "p99",
        with_hooks.p99_ms,
        "ms",
        Some(baseline.p99_ms),
    );
    results.add(
        &scenario,
        "deliveries/s end to end",
        confirmed as f64 / delivered.as_secs_f64(),
        "dlv/s",
        None,
    );
    results.add(
        &scenario,
        "deliveries confirmed",
        confirmed as f64 / expected.max(1) as f64 * 100.0,
        "%",
        None,
    );
    results.add(
        &scenario,
        "last delivery after last answer",
        (delivered - answered).as_secs_f64(),
        "s",
        None,
    );
    // One webhook stays, so each seeded check below queues exactly one delivery.
    for hook in &hooks[1..] {
        api.request("DELETE", &format!("/api/v1/webhooks/{hook}"), None)
            .await;
    }
    daemon.stop();

    // 6. Start-up with a large queue and store.
    receiver.refuse();
    let seeding = Instant::now();
    seed(&http.data_dir, &contract_id, pending).await;
    println!(
        "(seeded {pending} checks and pending deliveries in {:.0} s)",
        seeding.elapsed().as_secs_f64()
    );
    let clock = Instant::now();
    let daemon = Daemon::start(&http, &key);
    api.wait_healthy().await;
    let ready = clock.elapsed();
    let scenario = format!("start-up, {pending} pending deliveries + checks");
    results.add(
        &scenario,
        "start to healthy",
        ready.as_secs_f64() * 1000.0,
        "ms",
        None,
    );
    results.add(
        &scenario,
        "RSS when healthy",
        rss_kib(daemon.child.id()) as f64 / 1024.0,
        "MiB",
        None,
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    results.add(
        &scenario,
        "RSS 3 s later (sending)",
        rss_kib(daemon.child.id()) as f64 / 1024.0,
        "MiB",
        None,
    );
    results.add(
        &scenario,
        "store file",
        file_mib(&http.data_dir.join("driftguard.redb")),
        "MiB",
        None,
    );
    daemon.stop();

    // 7. Idle.
    let idle = Setup::new(dir.path(), "idle", &receiver, None);
    let daemon = Daemon::start(&idle, &key);
    Api::new(idle.port, &key).wait_healthy().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    results.add(
        "idle daemon, empty store",
        "RSS",
        rss_kib(daemon.child.id()) as f64 / 1024.0,
        "MiB",
        None,
    );
    results.add(
        "binary",
        "size",
        file_mib(Path::new(env!("CARGO_BIN_EXE_driftguard"))),
        "MiB",
        None,
    );
    daemon.stop();

    println!("\nsuite took {:.0} s", started.elapsed().as_secs_f64());
    results.write(&out_dir);
}

async fn tls_api_create(setup: &Setup, key: &str, cert: &TestCert) -> String {
    let client = client_with(Some(&cert.cert_der), false);
    let request = Request::builder()
        .method("POST")
        .uri(format!("https://localhost:{}/api/v1/contracts", setup.port))
        .header("x-api-key", key)
        .body(Full::new(Bytes::from(
            json!({"name": "bench-tls", "schema": {"columns": columns_json()}}).to_string(),
        )))
        .expect("request");
    let response = client
        .request(request)
        .await
        .expect("create contract over TLS");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let value: Value = serde_json::from_slice(&body).expect("json");
    value["id"].as_str().expect("id").to_owned()
}

/// Writes `n` checks (each queueing a delivery to the webhooks registered then) straight into
/// the stopped daemon's store, concurrently so the group commit batches them.
async fn seed(data_dir: &Path, contract: &str, n: usize) {
    let store = Store::open(data_dir).expect("open store");
    let contract_id: driftguard::ids::ContractId = contract.parse().expect("id");
    let incoming: Vec<IncomingColumn> = (0..20)
        .map(|i| IncomingColumn {
            name: format!("c{i}"),
            column_type: ColumnType::String,
        })
        .collect();
    let mut remaining = n;
    while remaining > 0 {
        let batch = remaining.min(4000);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..batch {
            let (store, incoming) = (store.clone(), incoming.clone());
            tasks.spawn(async move {
                store
                    .run_check(
                        driftguard::ids::AccountId(1),
                        contract_id,
                        None,
                        incoming,
                        Environment::Test,
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

fn file_mib(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / (1024.0 * 1024.0))
}

/// One daemon configuration: its port, data directory and config file.
struct Setup {
    port: u16,
    data_dir: PathBuf,
    config_file: PathBuf,
    dir: PathBuf,
}

impl Setup {
    fn new(dir: &Path, name: &str, receiver: &Receiver, tls: Option<&TestCert>) -> Setup {
        Setup::with(dir, name, receiver, tls, "")
    }

    /// `storage` is extra `[storage]` lines (e.g. `max_write_batch = 1`).
    fn with(
        dir: &Path,
        name: &str,
        receiver: &Receiver,
        tls: Option<&TestCert>,
        storage: &str,
    ) -> Setup {
        let port = free_port();
        // The HTTP and TLS runs share one store; the idle run has its own.
        let data_dir = dir.join(if name == "idle" { "idle-data" } else { "data" });
        let tls_lines = tls
            .map(|c| {
                format!(
                    "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
                    c.cert_file.display(),
                    c.key_file.display()
                )
            })
            .unwrap_or_default();
        let config_file = dir.join(format!("{name}.toml"));
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n{tls_lines}[storage]\ndata_dir = \"{}\"\n{storage}[limits]\nrequests_per_minute = 1000000000\n[webhooks]\nca_file = \"{}\"\nretry_delays = [\"1s\"]\nallow_targets = [\"127.0.0.0/8\"]\n",
            data_dir.display(),
            receiver.ca_file.display()
        );
        std::fs::write(&config_file, text).expect("write config");
        Setup {
            port,
            data_dir,
            config_file,
            dir: dir.to_path_buf(),
        }
    }
}

struct Daemon {
    child: Child,
}

impl Daemon {
    fn start(setup: &Setup, key: &str) -> Daemon {
        let child = Command::new(env!("CARGO_BIN_EXE_driftguard"))
            .args(["serve", "--config"])
            .arg(&setup.config_file)
            .env("DRIFTGUARD_BOOTSTRAP_KEY", key)
            .env("DRIFTGUARD_LOG", "error")
            .current_dir(&setup.dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("start driftguard");
        Daemon { child }
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

struct Api {
    base: String,
    key: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl Api {
    fn new(port: u16, key: &str) -> Api {
        Api {
            base: format!("http://127.0.0.1:{port}"),
            key: key.to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
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

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Some(health) = self.request("GET", "/api/v1/health", None).await {
                if health["status"] == "ok" {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("the daemon did not become healthy");
    }

    async fn wait_healthy_tls(&self, cert: &TestCert) {
        let client = client_with(Some(&cert.cert_der), false);
        let url = self.base.replace("http://127.0.0.1", "https://localhost");
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            let request = Request::builder()
                .uri(format!("{url}/api/v1/health"))
                .body(Full::new(Bytes::new()))
                .expect("request");
            if let Ok(response) = client.request(request).await {
                if response.status() == StatusCode::OK {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the TLS daemon did not become healthy");
    }
}

/// A local HTTPS receiver: counts distinct deliveries it answered 200 (or answers 503 once
/// told to refuse).
struct Receiver {
    addr: SocketAddr,
    ca_file: PathBuf,
    confirmed: Arc<Mutex<HashSet<String>>>,
    refusing: Arc<std::sync::atomic::AtomicBool>,
}

impl Receiver {
    async fn start(dir: &Path) -> Receiver {
        let cert = TestCert::create(&dir.join("receiver"));
        let ca_file = dir.join("receiver-ca.pem");
        std::fs::write(&ca_file, &cert.cert_pem).expect("write ca");
        let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.cert_der.clone().into()],
            rustls::pki_types::PrivateKeyDer::try_from(cert.key_der.clone()).expect("key"),
        )
        .expect("tls");
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let confirmed = Arc::new(Mutex::new(HashSet::new()));
        let refusing = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen, refuse) = (confirmed.clone(), refusing.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, seen, refuse) = (acceptor.clone(), seen.clone(), refuse.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let (seen, refuse) = (seen.clone(), refuse.clone());
                            async move {
                                let delivery = req
                                    .headers()
                                    .get("x-driftguard-delivery")
                                    .and_then(|v| v.to_str().ok())
                                    .map(str::to_owned);
                                let _ = req.into_body().collect().await;
                                let refused = refuse.load(std::sync::atomic::Ordering::Relaxed);
                                if let (false, Some(id)) = (refused, delivery) {
                                    seen.lock().expect("lock").insert(id);
                                }
                                let mut response = Response::new(Full::new(Bytes::new()));
                                *response.status_mut() = if refused {
                                    StatusCode::SERVICE_UNAVAILABLE
                                } else {
                                    StatusCode::OK
                                };
                                Ok::<_, Infallible>(response)
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
            confirmed,
            refusing,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    fn reset(&self) {
        self.confirmed.lock().expect("lock").clear();
    }

    fn refuse(&self) {
        self.refusing
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Waits until `expected` distinct deliveries are confirmed; returns how many were.
    async fn wait_for(&self, expected: usize, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let count = self.confirmed.lock().expect("lock").len();
            if count >= expected || Instant::now() >= deadline {
                return count;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The baseline: hyper alone, parsing the same body as `POST /check` and answering a fixed
/// check-shaped document — what the API would cost with free storage and scoring.
mod baseline {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct CheckRequest {
        contract_id: String,
        incoming_schema: Schema,
    }
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Schema {
        columns: Vec<Column>,
    }
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Column {
        name: String,
        #[serde(rename = "type")]
        column_type: String,
    }

    const ANSWER: &str = r#"{"id":"chk_00000000000000000000000000","contract_id":"ctr_00000000000000000000000000","result":"pass","severity":0,"diff":{"removed":[],"type_changes":[],"added":[]},"credits_used":1,"created_at":"2026-01-01T00:00:00Z"}"#;

    /// Starts the baseline on its own 2-thread runtime (like the daemon's) and returns its address.
    pub async fn start() -> SocketAddr {
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let _ = tx.send(listener.local_addr().expect("addr"));
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(
                            |req: Request<hyper::body::Incoming>| async move {
                                let body = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let parsed = serde_json::from_slice::<CheckRequest>(&body);
                                let mut response =
                                    Response::new(Full::new(Bytes::from_static(ANSWER.as_bytes())));
                                if parsed.is_err() {
                                    *response.status_mut() = StatusCode::BAD_REQUEST;
                                }
                                response.headers_mut().insert(
                                    hyper::header::CONTENT_TYPE,
                                    hyper::header::HeaderValue::from_static(
                                        "application/json; charset=utf-8",
                                    ),
                                );
                                Ok::<_, Infallible>(response)
                            },
                        );
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        rx.await.expect("baseline started")
    }
}
