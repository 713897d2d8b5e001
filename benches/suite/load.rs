//! The load generator (`oha`) and the bench's sizes and row groups from the environment.

use std::process::Command;

use serde_json::{json, Value};

/// Keep-alive connections of every load run.
pub const CONNECTIONS: usize = 64;

/// A size from the environment, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one `oha` run measured.
pub struct Load {
    /// Requests per second.
    pub rps: f64,
    /// Latency percentiles, in ms.
    pub p50_ms: f64,
    /// p99, ms.
    pub p99_ms: f64,
    /// p99.9, ms.
    pub p999_ms: f64,
    /// Requests answered (all 200: `oha` refuses any other status).
    pub ok: f64,
}

/// Runs `oha` and reads its JSON summary.
pub fn oha(args: &[&str]) -> Load {
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

/// `oha` arguments for a `POST` of `body` to `url` for `seconds` with `key` (if any).
pub fn post_args<'a>(url: &'a str, key: &'a str, body: &'a str, seconds: &'a str) -> Vec<String> {
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

/// [`oha`] with owned arguments.
pub fn run_oha(args: &[String]) -> Load {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    oha(&refs)
}

/// The 20 columns of the benchmark contract.
pub fn columns_json() -> Value {
    json!((0..20)
        .map(|i| json!({"name": format!("c{i}"), "type": "string", "required": true}))
        .collect::<Vec<_>>())
}

/// Which row groups run (`DG_BENCH_ROWS`, comma-separated; default all). The baseline always
/// runs: every ratio needs it.
pub struct Rows(Option<Vec<String>>);

impl Rows {
    /// From `DG_BENCH_ROWS`.
    pub fn from_env() -> Rows {
        Rows(std::env::var("DG_BENCH_ROWS").ok().map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        }))
    }

    /// Whether `group` runs.
    pub fn has(&self, group: &str) -> bool {
        self.0.as_ref().is_none_or(|g| g.iter().any(|s| s == group))
    }
}

/// Row groups, in the order they run.
pub const GROUPS: &[&str] = &[
    "check",
    "half",
    "batch",
    "unbatched",
    "read",
    "tls",
    "side",
    "webhooks",
    "depth",
    "startup",
    "idle",
    "console",
];

/// A `POST /check` body for `contract` with the 20 columns.
pub fn check_body(contract: &str) -> String {
    json!({"contract_id": contract, "incoming_schema": {"columns": columns_json()}}).to_string()
}
