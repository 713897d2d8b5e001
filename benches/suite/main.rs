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
//! - idle RSS and binary size;
//! - the console's reads, `GET /api/v1/overview` and `GET /api/v1/contracts?include=last_check`,
//!   on a store of `DG_BENCH_CONTRACTS` (1,000) contracts and `DG_BENCH_CONSOLE_CHECKS`
//!   (1,000,000) checks: p50 and p99 at one connection.
//!
//! - side by side (`side`): the baseline, this build, the static build
//!   (`DG_BENCH_STATIC_BIN`, set by benches/run.sh) and `DG_BENCH_ALT_BIN`'s builds in
//!   alternating rounds over HTTP and HTTPS, each build on its own stores: medians and
//!   spreads of requests/s, of each round's ratio to its baseline, and of CPU per check;
//! - a bare hyper-rustls client sending the same signed delivery bodies to the same receiver
//!   with the daemon's concurrency (the deliveries' baseline), and the queue depth after 10 s
//!   and 60 s at half the peak check rate with 3 webhooks per check.
//!
//! Daemon CPU per check is the process's user + system time (/proc/<pid>/stat) over a load
//! run ÷ the checks answered; the baseline's is this process's over its run.
//!
//! Results: the table on stdout, and `target/bench/results.{md,json}`; `results.json` is
//! `{"targets": {<key>: {value, unit, ratio, goal, holds}}, "rows": [...]}`, one target per
//! goal of issue 13 that the selected rows measured.
//! Sizes: `DG_BENCH_SECONDS` (default 10) per load run, `DG_BENCH_CHECKS` (20000) checks in
//! the webhook scenario, `DG_BENCH_PENDING` (1000000) queued deliveries for start-up,
//! `DG_BENCH_ROUNDS` (5) alternating side-by-side rounds, `DG_BENCH_HALF_RUNS` (5) runs at
//! half peak, `DG_BENCH_DEPTH_SECONDS` (60) for the queue-depth run.
//! Rows: `DG_BENCH_ROWS=check,side` runs only those groups (see `GROUPS`); default all.
//! `DG_BENCH_ALT_BIN` (paths separated by `:`) adds binaries to the side-by-side rounds.
//!
//! Layout: this file runs the scenarios in order (`scenarios/`, one module per row group,
//! plus the baseline), on the state they share ([`Bench`]); `load` drives `oha`,
//! `daemon` starts and measures the daemon process, `results` prints and writes the
//! figures. Processes, the HTTPS receiver and its CA come from the tests' harness
//! (`tests/common`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "bench code: a failed step fails the run, and the results go to stdout"
)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use hyper::Method;
use serde_json::{json, Value};

// The integration tests' harness: processes, the HTTPS receiver and its CA, certificates,
// TLS clients, free ports.
#[path = "../../tests/common/mod.rs"]
mod common;

mod baseline;
mod daemon;
mod load;
mod results;
mod scenarios;

use common::{client, free_port, Api, Receiver, TestCa, TestCert};
use daemon::{file_mib, Daemon, Setup};
use driftguard::credentials::{generate_key, Environment};
use load::{check_body, columns_json, env_usize, Load, Rows, CONNECTIONS, GROUPS};
use results::Results;

/// What the scenarios share: the sizes, the baseline's figures, the receiver, and the
/// HTTP daemon's configuration, key and contract.
pub struct Bench {
    /// `DG_BENCH_SECONDS` as `oha` takes it (`10s`).
    pub seconds: String,
    /// `DG_BENCH_CHECKS`: checks in the webhook scenario.
    pub webhook_checks: usize,
    /// `DG_BENCH_PENDING`: queued deliveries for start-up.
    pub pending: usize,
    /// `DG_BENCH_ROUNDS`: alternating side-by-side rounds.
    pub rounds: usize,
    /// `DG_BENCH_HALF_RUNS`: runs at half peak.
    pub half_runs: usize,
    /// Which row groups run.
    pub rows: Rows,
    /// `DG_BENCH_STATIC_BIN`: the static build the container runs (static glibc since round three).
    pub static_bin: Option<PathBuf>,
    /// `DG_BENCH_ALT_BIN`: more binaries for the side-by-side rounds.
    pub alt_bins: Vec<PathBuf>,
    /// The binary Cargo built (glibc).
    pub glibc_bin: PathBuf,
    /// Where the configurations and stores live.
    pub dir: tempfile::TempDir,
    /// The figures so far.
    pub results: Results,
    /// The bare-hyper baseline's load run.
    pub baseline: Load,
    /// The baseline's CPU per request, µs.
    pub baseline_cpu_us: f64,
    /// The receiver's CA (kept for its PEM file).
    pub ca: TestCa,
    /// The HTTPS receiver of every delivery.
    pub receiver: Receiver,
    /// The bootstrap key of every daemon.
    pub key: String,
    /// The TLS daemon's certificate.
    pub cert: TestCert,
    /// The HTTP daemon's configuration (with metrics).
    pub http: Setup,
    /// The HTTP daemon's metrics port.
    pub http_metrics: u16,
    /// Talks to the HTTP daemon.
    pub api: Api,
    /// The benchmark contract.
    pub contract_id: String,
    /// A check of the benchmark contract.
    pub body: String,
    /// `POST /api/v1/check` on the HTTP daemon.
    pub url: String,
    /// The peak check rate, if the `check` row measured it.
    pub peak_rps: Option<f64>,
    /// The peak check rate with 3 webhooks per check, if the `webhooks` row measured it.
    pub webhook_peak_rps: Option<f64>,
    /// The three webhooks registered for the webhook rows.
    pub hooks: Vec<String>,
}

impl Bench {
    /// `POST`s `body` to the HTTP daemon; the answer's JSON.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.api
            .send(Method::POST, path, Some(body))
            .await
            .and_then(|(_, body)| serde_json::from_slice(&body).ok())
            .expect("answer")
    }
}

#[tokio::main]
async fn main() {
    let secs = env_usize("DG_BENCH_SECONDS", 10);
    let seconds = format!("{secs}s");
    let rows = Rows::from_env();
    let started = Instant::now();
    let mut results = Results::default();
    println!(
        "# DriftGuard benchmark suite — {} cores, {} per load run, {CONNECTIONS} connections, rows: {}\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        seconds,
        GROUPS.iter().filter(|g| rows.has(g)).copied().collect::<Vec<_>>().join(",")
    );

    // 1. The baseline: same body, no storage; its CPU is this process's (idle otherwise).
    let (baseline, baseline_cpu_us) = scenarios::baseline::run(&mut results, &seconds).await;

    // 2. The HTTP daemon (it also serves metrics: the half-peak runs read its commit
    // durations), the receiver every delivery goes to, and the benchmark contract.
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    receiver.count_only();
    let key = generate_key(Environment::Live);
    let cert = TestCert::create(dir.path());
    let http_metrics = free_port();
    let http = Setup::with(
        dir.path(),
        "http",
        &ca.pem_file,
        None,
        &format!("[metrics]\nlisten = \"127.0.0.1:{http_metrics}\"\n"),
    );
    let api = Api::new(http.base(), &key, client(None));
    let url = format!("http://127.0.0.1:{}/api/v1/check", http.port);
    let mut bench = Bench {
        seconds,
        webhook_checks: env_usize("DG_BENCH_CHECKS", 20_000),
        pending: env_usize("DG_BENCH_PENDING", 1_000_000),
        rounds: env_usize("DG_BENCH_ROUNDS", 5).max(1),
        half_runs: env_usize("DG_BENCH_HALF_RUNS", 5).max(1),
        rows,
        static_bin: std::env::var_os("DG_BENCH_STATIC_BIN").map(PathBuf::from),
        alt_bins: std::env::var_os("DG_BENCH_ALT_BIN")
            .map(|v| std::env::split_paths(&v).collect())
            .unwrap_or_default(),
        glibc_bin: PathBuf::from(env!("CARGO_BIN_EXE_driftguard")),
        dir,
        results,
        baseline,
        baseline_cpu_us,
        ca,
        receiver,
        key,
        cert,
        http,
        http_metrics,
        api,
        contract_id: String::new(),
        body: String::new(),
        url,
        peak_rps: None,
        webhook_peak_rps: None,
        hooks: Vec::new(),
    };
    let daemon = Daemon::start(&bench.http, &bench.key).await;
    let contract = bench
        .post(
            "/api/v1/contracts",
            json!({"name": "bench", "schema": {"columns": columns_json()}}),
        )
        .await;
    bench.contract_id = contract["id"].as_str().expect("contract id").to_owned();
    bench.body = check_body(&bench.contract_id);

    // POST /check over HTTP (with the daemon's CPU per check), then at half its peak.
    if bench.rows.has("check") {
        scenarios::check::run(&mut bench, &daemon);
    }
    if bench.rows.has("half") {
        scenarios::half::run(&mut bench).await;
    }
    daemon.stop().await;
    if bench.rows.has("batch") {
        scenarios::batch::run(&mut bench).await;
    }
    if bench.rows.has("unbatched") {
        scenarios::unbatched::run(&mut bench).await;
    }
    if bench.rows.has("read") {
        scenarios::read::run(&mut bench).await;
    }
    if bench.rows.has("tls") {
        scenarios::tls::run(&mut bench).await;
    }
    if bench.rows.has("side") {
        scenarios::side::run(&mut bench).await;
    }
    if bench.rows.has("webhooks") || bench.rows.has("depth") || bench.rows.has("startup") {
        scenarios::webhooks::register(&mut bench).await;
    }
    if bench.rows.has("webhooks") {
        scenarios::webhooks::run(&mut bench).await;
    }
    if bench.rows.has("depth") {
        scenarios::depth::run(&mut bench).await;
    }
    if bench.rows.has("startup") {
        scenarios::startup::run(&mut bench).await;
    }
    if bench.rows.has("idle") {
        scenarios::idle::run(&mut bench).await;
    }
    if bench.rows.has("console") {
        scenarios::console::run(&mut bench).await;
    }
    let results = &mut bench.results;
    results.add("binary", "size", file_mib(&bench.glibc_bin), "MiB", None);
    if let Some(path) = &bench.static_bin {
        results.add(
            "static binary (the container's)",
            "size",
            file_mib(path),
            "MiB",
            None,
        );
    }

    println!("\nsuite took {:.0} s", started.elapsed().as_secs_f64());
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    results.write(&out_dir);
}
