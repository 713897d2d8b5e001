//! The baseline: the same `POST /check` body to a bare hyper server that parses it and
//! answers a fixed document, without storage; its CPU is this process's (idle otherwise).

use crate::daemon::cpu_seconds;
use crate::load::{check_body, post_args, run_oha, Load};
use crate::results::Results;

/// Runs the baseline; its load run and its CPU per request (µs).
pub async fn run(results: &mut Results, seconds: &str) -> (Load, f64) {
    let baseline_addr = crate::baseline::start(None).await;
    let body = check_body("ctr_00000000000000000000000000");
    let cpu_before = cpu_seconds(std::process::id());
    let baseline = run_oha(&post_args(
        &format!("http://{baseline_addr}/api/v1/check"),
        "",
        &body,
        seconds,
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
    (baseline, baseline_cpu_us)
}
