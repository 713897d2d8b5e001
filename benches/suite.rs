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
//! - the static musl build (`DG_BENCH_STATIC_BIN`, set by benches/run.sh) against this glibc
//!   build: alternating rounds of `POST /check` on the same store, medians;
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
//! `DG_BENCH_ROUNDS` (5) alternating static/glibc rounds, `DG_BENCH_HALF_RUNS` (5) runs at
//! half peak, `DG_BENCH_DEPTH_SECONDS` (60) for the queue-depth run.
//! Rows: `DG_BENCH_ROWS=check,static` runs only those groups (see `GROUPS`); default all.
//! `DG_BENCH_ALT_BIN` (paths separated by `:`) adds binaries to the static/glibc rounds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "bench code: a failed step fails the run, and the results go to stdout"
)]

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

/// One target of issue 13, as `results.json` reports it.
struct Target {
    key: &'static str,
    what: String,
    value: f64,
    unit: &'static str,
    ratio: Option<f64>,
    holds: bool,
    goal: &'static str,
}

#[derive(Default)]
struct Results(Vec<Row>, Vec<Target>);

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
    }

    /// Records whether a target holds (`results.json` → `targets.<key>`).
    #[allow(clippy::too_many_arguments)]
    fn target(
        &mut self,
        key: &'static str,
        what: &str,
        value: f64,
        unit: &'static str,
        ratio: Option<f64>,
        holds: bool,
        goal: &'static str,
    ) {
        let ratio_text = ratio.map(|r| format!(" ({r:.2}×)")).unwrap_or_default();
        println!(
            "TARGET {key:<26} {value:>10.2} {unit}{ratio_text}  goal {goal}: {}",
            if holds { "holds" } else { "MISSED" }
        );
        self.1.push(Target {
            key,
            what: what.to_owned(),
            value,
            unit,
            ratio,
            holds,
            goal,
        });
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
        let mut targets = serde_json::Map::new();
        let _ = writeln!(
            md,
            "\n| target | measured | value | unit | ratio | goal | holds |\n|---|---|---:|---|---:|---|---|"
        );
        for t in &self.1 {
            targets.insert(
                t.key.to_owned(),
                json!({"what": t.what, "value": t.value, "unit": t.unit, "ratio": t.ratio,
                       "goal": t.goal, "holds": t.holds}),
            );
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {} | {} | {} | {} |",
                t.key,
                t.what,
                t.value,
                t.unit,
                t.ratio.map(|r| format!("{r:.2}×")).unwrap_or_default(),
                t.goal,
                if t.holds { "yes" } else { "**no**" }
            );
        }
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::write(dir.join("results.md"), md);
        let _ = std::fs::write(
            dir.join("results.json"),
            serde_json::to_string_pretty(&json!({"targets": targets, "rows": rows}))
                .unwrap_or_default(),
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
    /// Requests answered (all 200: `oha` refuses any other status).
    ok: f64,
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
    // Answers that are not 200 (a 403 when the credits run out, a 429, a 503) are cheaper
    // than checks: a run with any of them measures the wrong thing.
    assert!(
        ok == total,
        "oha {args:?}: answers other than 200: {codes}; the figures would be meaningless"
    );
    Load {
        rps: report["summary"]["requestsPerSec"].as_f64().unwrap_or(0.0),
        p50_ms: ms("p50"),
        p99_ms: ms("p99"),
        p999_ms: ms("p99.9"),
        ok,
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

/// Which row groups run (`DG_BENCH_ROWS`, comma-separated; default all). The baseline always
/// runs: every ratio needs it.
struct Rows(Option<Vec<String>>);

impl Rows {
    fn from_env() -> Rows {
        Rows(std::env::var("DG_BENCH_ROWS").ok().map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        }))
    }

    fn has(&self, group: &str) -> bool {
        self.0.as_ref().is_none_or(|g| g.iter().any(|s| s == group))
    }
}

/// Row groups, in the order they run.
const GROUPS: &[&str] = &[
    "check",
    "half",
    "unbatched",
    "read",
    "tls",
    "static",
    "webhooks",
    "depth",
    "startup",
    "idle",
];

#[tokio::main]
async fn main() {
    let secs = env_usize("DG_BENCH_SECONDS", 10);
    let seconds = format!("{secs}s");
    let webhook_checks = env_usize("DG_BENCH_CHECKS", 20_000);
    let pending = env_usize("DG_BENCH_PENDING", 1_000_000);
    let rounds = env_usize("DG_BENCH_ROUNDS", 5).max(1);
    let half_runs = env_usize("DG_BENCH_HALF_RUNS", 5).max(1);
    let rows = Rows::from_env();
    let static_bin = std::env::var_os("DG_BENCH_STATIC_BIN").map(PathBuf::from);
    let alt_bins: Vec<PathBuf> = std::env::var_os("DG_BENCH_ALT_BIN")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    let glibc_bin = PathBuf::from(env!("CARGO_BIN_EXE_driftguard"));
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let mut results = Results::default();
    println!(
        "# DriftGuard benchmark suite — {} cores, {} per load run, {CONNECTIONS} connections, rows: {}\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        seconds,
        GROUPS.iter().filter(|g| rows.has(g)).copied().collect::<Vec<_>>().join(",")
    );

    let check_body = |contract: &str| {
        json!({"contract_id": contract, "incoming_schema": {"columns": columns_json()}}).to_string()
    };

    // 1. The baseline: same body, no storage; its CPU is this process's (idle otherwise).
    let baseline_addr = baseline::start().await;
    let body = check_body("ctr_00000000000000000000000000");
    let cpu_before = cpu_seconds(std::process::id());
    let baseline = run_oha(&post_args(
        &format!("http://{baseline_addr}/api/v1/check"),
        "",
        &body,
        &seconds,
    ));
    let baseline_cpu_us =
        (cpu_seconds(std::process::id()) - cpu_before) * 1e6 / baseline.ok.max(1.0);
    results.load(
        "baseline (bare hyper, parse JSON, fixed answer)",
        &baseline,
        None,
    );
    results.add(
        "baseline (bare hyper, parse JSON, fixed answer)",
        "CPU per request",
        baseline_cpu_us,
        "µs",
        None,
    );

    // 2. POST /check over HTTP (with the daemon's CPU per check) and over TLS.
    let receiver = Receiver::start(dir.path()).await;
    let key = generate_key(Environment::Live);
    let cert = TestCert::create(dir.path());
    // The HTTP daemon also serves metrics: the half-peak runs read its commit durations.
    let http_metrics = free_port();
    let http = Setup::with(
        dir.path(),
        "http",
        &receiver,
        None,
        &format!("[metrics]\nlisten = \"127.0.0.1:{http_metrics}\"\n"),
    );
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
    let mut peak_rps = None;
    if rows.has("check") {
        let (peak, cpu_us) = daemon.measure(|| run_oha(&post_args(&url, &key, &body, &seconds)));
        results.load("POST /check, HTTP", &peak, Some(&baseline));
        results.add(
            "POST /check, HTTP",
            "daemon CPU per check",
            cpu_us,
            "µs",
            Some(baseline_cpu_us),
        );
        results.target(
            "check_vs_baseline",
            "durable POST /check req/s vs the bare-hyper baseline (glibc build)",
            peak.rps,
            "req/s",
            Some(peak.rps / baseline.rps),
            peak.rps / baseline.rps >= 0.6,
            ">= 0.6x",
        );
        results.target(
            "cpu_per_check",
            "daemon CPU time per POST /check (ratio: to the baseline's per request)",
            cpu_us,
            "µs",
            Some(cpu_us / baseline_cpu_us),
            cpu_us <= 45.0,
            "<= 45 µs",
        );
        peak_rps = Some(peak.rps);
    }

    if rows.has("half") {
        let peak = match peak_rps {
            Some(rps) => rps,
            None => run_oha(&post_args(&url, &key, &body, &seconds)).rps,
        };
        let half = ((peak / 2.0).max(1.0) as u64).to_string();
        let scenario = format!("POST /check, HTTP, at half peak ({half} req/s)");
        let mut worst: f64 = 0.0;
        let mut under = 0;
        for run in 1..=half_runs {
            let slow_before = slow_commits(http_metrics).await;
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
                &scenario,
                &format!("p99, run {run}"),
                at_half.p99_ms,
                "ms",
                None,
            );
            // A commit the disk stalls holds every request of its batch: show them beside
            // the p99 they explain.
            results.add(
                &scenario,
                &format!("commits over 12.8 ms (fsync stalls), run {run}"),
                slow_commits(http_metrics).await - slow_before,
                "commits",
                None,
            );
            if run == 1 {
                results.add(&scenario, "p99.9, run 1", at_half.p999_ms, "ms", None);
            }
            worst = worst.max(at_half.p99_ms);
            if at_half.p99_ms < 10.0 {
                under += 1;
            }
        }
        results.target(
            "p99_at_half_peak",
            &format!("worst p99 at half peak over {half_runs} runs ({under} under 10 ms)"),
            worst,
            "ms",
            None,
            under == half_runs && half_runs >= 5,
            "< 10 ms in 5 runs of 5",
        );
    }

    // 2b. The same with group commit off: one fsync per check (what batching buys).
    daemon.stop();
    if rows.has("unbatched") {
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
    }

    // 3. The read path.
    if rows.has("read") {
        let daemon = Daemon::start(&http, &key);
        api.wait_healthy().await;
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
    }

    // 4. TLS (same store, restarted with a certificate).
    if rows.has("tls") {
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
    }

    // 4b. The static musl build against this (glibc) build: alternating rounds on the same
    // store, median of each. DG_BENCH_ALT_BIN (a PATH-like list) adds binaries to the
    // rounds, named by their file names (e.g. another allocator, or the build before a change).
    if rows.has("static") {
        let mut bins: Vec<(String, PathBuf)> = vec![("glibc build".into(), glibc_bin.clone())];
        if let Some(path) = &static_bin {
            bins.push(("static musl build".into(), path.clone()));
        } else {
            println!("(no DG_BENCH_STATIC_BIN: the static row is skipped; benches/run.sh sets it)");
        }
        for path in &alt_bins {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            bins.push((name, path.clone()));
        }
        let mut rps: Vec<Vec<f64>> = vec![Vec::new(); bins.len()];
        let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); bins.len()];
        for _ in 0..rounds {
            for (i, (_, bin)) in bins.iter().enumerate() {
                let daemon = Daemon::start_bin(bin, &http, &key);
                api.wait_healthy().await;
                let (run, cpu_us) =
                    daemon.measure(|| run_oha(&post_args(&url, &key, &body, &seconds)));
                rps[i].push(run.rps);
                cpu[i].push(cpu_us);
                daemon.stop();
            }
        }
        let medians: Vec<f64> = rps.iter().map(|v| median(v)).collect();
        for (i, (name, _)) in bins.iter().enumerate() {
            let scenario = format!("POST /check, HTTP, {name} ({rounds} alternating rounds)");
            results.add(
                &scenario,
                "requests/s (median)",
                medians[i],
                "req/s",
                Some(baseline.rps),
            );
            results.add(
                &scenario,
                "daemon CPU per check (median)",
                median(&cpu[i]),
                "µs",
                Some(baseline_cpu_us),
            );
            if i > 0 {
                results.add(
                    &scenario,
                    "requests/s vs glibc build",
                    medians[i],
                    "req/s",
                    Some(medians[0]),
                );
            }
        }
        if static_bin.is_some() {
            let ratio = medians[1] / medians[0];
            results.target(
                "static_vs_glibc",
                "static musl build vs glibc build, POST /check req/s (medians, alternating)",
                medians[1],
                "req/s",
                Some(ratio),
                ratio >= 0.95,
                ">= 0.95x",
            );
            let ratio = medians[1] / baseline.rps;
            results.target(
                "check_vs_baseline_static",
                "durable POST /check req/s vs the bare-hyper baseline (static musl build)",
                medians[1],
                "req/s",
                Some(ratio),
                ratio >= 0.6,
                ">= 0.6x",
            );
        }
    }

    // 5. Three webhooks per check, to a local HTTPS receiver answering 200; then the same
    // number of deliveries from a bare hyper-rustls client (the deliveries' baseline).
    let mut hooks = Vec::new();
    if rows.has("webhooks") || rows.has("depth") || rows.has("startup") {
        let daemon = Daemon::start(&http, &key);
        api.wait_healthy().await;
        for path in ["/a", "/b", "/c"] {
            let hook = api
                .post(
                    "/api/v1/webhooks",
                    json!({"url": receiver.url(path), "events": ["pass", "warning", "breaking"]}),
                )
                .await;
            hooks.push(hook["id"].as_str().expect("webhook id").to_owned());
        }
        daemon.stop();
    }
    if rows.has("webhooks") {
        let daemon = Daemon::start(&http, &key);
        api.wait_healthy().await;
        receiver.reset();
        let clock = Instant::now();
        let mut args = post_args(&url, &key, &body, &seconds);
        args.splice(0..2, ["-n".to_owned(), webhook_checks.to_string()]);
        let with_hooks = run_oha(&args);
        let answered = clock.elapsed();
        let expected = 3 * with_hooks.ok as usize;
        let confirmed = receiver.wait_for(expected, Duration::from_secs(600)).await;
        let delivered = clock.elapsed();
        daemon.stop();
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
        let end_to_end = confirmed as f64 / delivered.as_secs_f64();
        results.add(
            &scenario,
            "deliveries/s end to end",
            end_to_end,
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
        // The client baseline: the same bodies, signed per request, same concurrency.
        let sample = receiver
            .sample()
            .unwrap_or_else(|| Bytes::from(body.clone()));
        receiver.reset();
        let client_rate = client_baseline(
            &receiver,
            sample,
            expected.max(3),
            3 * DELIVERY_SLOTS_PER_WEBHOOK,
        )
        .await;
        results.add(
            &format!(
                "baseline: bare hyper-rustls client, {} deliveries, {} in flight",
                expected.max(3),
                3 * DELIVERY_SLOTS_PER_WEBHOOK
            ),
            "deliveries/s",
            client_rate,
            "dlv/s",
            None,
        );
        results.add(
            &scenario,
            "deliveries/s vs client baseline",
            end_to_end,
            "dlv/s",
            Some(client_rate),
        );
        results.target(
            "deliveries_vs_client",
            "deliveries/s end to end (checks + 3 webhooks) vs a bare hyper-rustls client",
            end_to_end,
            "dlv/s",
            Some(end_to_end / client_rate),
            end_to_end / client_rate >= 0.5,
            ">= 0.5x",
        );
    }

    // 5b. Queue depth at half the peak check rate with 3 webhooks: after 10 s and after 60 s.
    if rows.has("depth") {
        let peak = peak_rps.unwrap_or(baseline.rps * 0.35);
        let half = ((peak / 2.0).max(1.0) as u64).to_string();
        let metrics_port = free_port();
        let depth_setup = Setup::with(
            dir.path(),
            "http-metrics",
            &receiver,
            None,
            &format!("[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n"),
        );
        let daemon = Daemon::start(&depth_setup, &key);
        Api::new(depth_setup.port, &key).wait_healthy().await;
        receiver.reset();
        let total = env_usize("DG_BENCH_DEPTH_SECONDS", 60);
        let depth_url = format!("http://127.0.0.1:{}/api/v1/check", depth_setup.port);
        let mut args = post_args(&depth_url, &key, &body, &format!("{total}s"));
        args.splice(0..0, ["-q".to_owned(), half.clone()]);
        let load = std::thread::spawn(move || run_oha(&args));
        tokio::time::sleep(Duration::from_secs(10)).await;
        let at_10 = queue_depth(metrics_port).await;
        tokio::time::sleep(Duration::from_secs(total.saturating_sub(10) as u64)).await;
        let at_end = queue_depth(metrics_port).await;
        let _ = load.join();
        daemon.stop();
        let scenario = format!("POST /check + 3 webhooks at half peak ({half} checks/s)");
        results.add(
            &scenario,
            "queue depth after 10 s",
            at_10,
            "deliveries",
            None,
        );
        results.add(
            &scenario,
            &format!("queue depth after {total} s"),
            at_end,
            "deliveries",
            None,
        );
        results.target(
            "queue_depth_half_peak",
            &format!("queue depth after {total} s at half peak, 3 webhooks (ratio: to after 10 s)"),
            at_end,
            "deliveries",
            Some(at_end / at_10.max(1.0)),
            at_end <= at_10,
            "after 60 s <= after 10 s",
        );
    }

    // 6. Start-up with a large queue and store (one webhook, so one delivery per check).
    if rows.has("startup") {
        let daemon = Daemon::start(&http, &key);
        api.wait_healthy().await;
        for hook in hooks.iter().skip(1) {
            api.request("DELETE", &format!("/api/v1/webhooks/{hook}"), None)
                .await;
        }
        daemon.stop();
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
        let start_ms = ready.as_secs_f64() * 1000.0;
        let rss = rss_kib(daemon.child.id()) as f64 / 1024.0;
        results.add(&scenario, "start to healthy", start_ms, "ms", None);
        results.add(&scenario, "RSS when healthy", rss, "MiB", None);
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
        let full = pending >= 1_000_000;
        results.target(
            "start_pending_time",
            &format!("start to healthy with {pending} pending deliveries"),
            start_ms,
            "ms",
            None,
            full && start_ms < 1000.0,
            "< 1 s with 1,000,000 pending",
        );
        results.target(
            "start_pending_rss",
            &format!("RSS when healthy with {pending} pending deliveries"),
            rss,
            "MiB",
            None,
            full && rss < 100.0,
            "< 100 MB with 1,000,000 pending",
        );
    }

    // 7. Idle.
    if rows.has("idle") {
        let idle = Setup::new(dir.path(), "idle", &receiver, None);
        let daemon = Daemon::start(&idle, &key);
        Api::new(idle.port, &key).wait_healthy().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss = rss_kib(daemon.child.id()) as f64 / 1024.0;
        results.add("idle daemon, empty store", "RSS", rss, "MiB", None);
        results.target(
            "idle_rss",
            "RSS of an idle daemon with an empty store",
            rss,
            "MiB",
            None,
            rss * 1.048_576 < 15.0,
            "< 15 MB",
        );
        daemon.stop();
    }
    results.add("binary", "size", file_mib(&glibc_bin), "MiB", None);
    if let Some(path) = &static_bin {
        results.add("static musl binary", "size", file_mib(path), "MiB", None);
    }

    println!("\nsuite took {:.0} s", started.elapsed().as_secs_f64());
    results.write(&out_dir);
}

/// `webhooks.max_in_flight_per_webhook`'s default: the daemon's concurrency per webhook.
const DELIVERY_SLOTS_PER_WEBHOOK: usize = 32;

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n.is_multiple_of(2) => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        n => v[n / 2],
    }
}

/// User + system CPU time of a process so far, in seconds (from /proc/<pid>/stat).
fn cpu_seconds(pid: u32) -> f64 {
    let ticks = clock_ticks();
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces) start at field 3.
            let rest = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
            let utime: f64 = rest.get(11)?.parse().ok()?;
            let stime: f64 = rest.get(12)?.parse().ok()?;
            Some((utime + stime) / ticks)
        })
        .unwrap_or(f64::NAN)
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// `delivery_queue_depth` from the daemon's metrics listener.
async fn queue_depth(port: u16) -> f64 {
    metric(port, "driftguard_delivery_queue_depth").await
}

/// Commits so far that took over 12.8 ms (a histogram bucket bound), from the metrics.
async fn slow_commits(port: u16) -> f64 {
    let all = metric(port, "driftguard_store_commit_duration_seconds_count").await;
    let fast = metric(
        port,
        r#"driftguard_store_commit_duration_seconds_bucket{le="0.0128"}"#,
    )
    .await;
    all - fast
}

/// One series' value from the daemon's metrics listener (NaN if it cannot be read).
async fn metric(port: u16, series: &str) -> f64 {
    let client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let Ok(uri) = format!("http://127.0.0.1:{port}/metrics").parse::<hyper::Uri>() else {
        return f64::NAN;
    };
    let Ok(response) = client.get(uri).await else {
        return f64::NAN;
    };
    let Ok(body) = response.into_body().collect().await else {
        return f64::NAN;
    };
    let prefix = format!("{series} ");
    String::from_utf8_lossy(&body.to_bytes())
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

/// The deliveries' baseline: a bare hyper-rustls client (HTTP/1.1 and HTTP/2, like the
/// daemon's) POSTing `n` copies of a delivery body, each signed like the daemon signs it,
/// `in_flight` at once, to the same receiver. Returns deliveries/s until all are confirmed.
async fn client_baseline(receiver: &Receiver, body: Bytes, n: usize, in_flight: usize) -> f64 {
    use driftguard::webhooks::signature::{driftguard_signature, standard_signature};
    let client = client_with(Some(&receiver.cert_der), true);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let clock = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..in_flight {
        let (client, next, body) = (client.clone(), next.clone(), body.clone());
        let url = receiver.url(["/a", "/b", "/c"][tasks.len() % 3]);
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let id = format!("dlv_baseline{i:016}");
                let timestamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let mut request = Request::builder()
                    .method("POST")
                    .uri(&url)
                    .header("content-type", "application/json")
                    .header(
                        "x-driftguard-signature",
                        driftguard_signature(secret, &body),
                    )
                    .header("x-driftguard-delivery", &id)
                    .header("x-driftguard-attempt", "1")
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", timestamp.to_string());
                if let Some(sig) = standard_signature(secret, &id, timestamp, &body) {
                    request = request.header("webhook-signature", sig);
                }
                let request = request.body(Full::new(body.clone())).expect("request");
                if let Ok(response) = client.request(request).await {
                    let _ = response.into_body().collect().await;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let confirmed = receiver.wait_for(n, Duration::from_secs(60)).await;
    confirmed as f64 / clock.elapsed().as_secs_f64()
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
            "[server]\nlisten = \"127.0.0.1:{port}\"\n{tls_lines}[storage]\ndata_dir = \"{}\"\n{storage}[limits]\nrequests_per_minute = 1000000000\n[credits]\ndefault_quota = 1000000000000\n[webhooks]\nca_file = \"{}\"\nretry_delays = [\"1s\"]\nallow_targets = [\"127.0.0.0/8\"]\n",
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
        Daemon::start_bin(Path::new(env!("CARGO_BIN_EXE_driftguard")), setup, key)
    }

    fn start_bin(bin: &Path, setup: &Setup, key: &str) -> Daemon {
        let child = Command::new(bin)
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

    /// Runs a load and returns it with the daemon's CPU time per answered request, in µs.
    fn measure(&self, load: impl FnOnce() -> Load) -> (Load, f64) {
        let before = cpu_seconds(self.child.id());
        let run = load();
        let cpu_us = (cpu_seconds(self.child.id()) - before) * 1e6 / run.ok.max(1.0);
        (run, cpu_us)
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
    cert_der: Vec<u8>,
    /// The first delivery body seen (the deliveries' baseline replays it).
    sample: Arc<Mutex<Option<Bytes>>>,
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
        let sample = Arc::new(Mutex::new(None));
        let (seen, refuse, first) = (confirmed.clone(), refusing.clone(), sample.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, seen, refuse, first) = (
                    acceptor.clone(),
                    seen.clone(),
                    refuse.clone(),
                    first.clone(),
                );
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let (seen, refuse, first) =
                                (seen.clone(), refuse.clone(), first.clone());
                            async move {
                                let delivery = req
                                    .headers()
                                    .get("x-driftguard-delivery")
                                    .and_then(|v| v.to_str().ok())
                                    .map(str::to_owned);
                                let body = req.into_body().collect().await;
                                if let Ok(body) = body {
                                    let mut first = first.lock().expect("lock");
                                    if first.is_none() {
                                        *first = Some(body.to_bytes());
                                    }
                                }
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
            cert_der: cert.cert_der.clone(),
            sample,
            confirmed,
            refusing,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    fn sample(&self) -> Option<Bytes> {
        self.sample.lock().expect("lock").clone()
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
