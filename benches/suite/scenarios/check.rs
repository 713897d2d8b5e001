//! `check`: `POST /api/v1/check` (20-column contract) over HTTP at full load: requests/s,
//! latency and the daemon's CPU per check.

use crate::daemon::Daemon;
use crate::load::{post_args, run_oha};
use crate::Bench;

/// Measures the peak on the running HTTP `daemon`; keeps it in `peak_rps`.
pub fn run(b: &mut Bench, daemon: &Daemon) {
    let (peak, cpu_us) =
        daemon.measure(|| run_oha(&post_args(&b.url, &b.key, &b.body, &b.seconds)));
    b.results
        .load("POST /check, HTTP", &peak, Some(&b.baseline));
    b.results.add(
        "POST /check, HTTP",
        "daemon CPU per check",
        cpu_us,
        "µs",
        Some(b.baseline_cpu_us),
    );
    b.results.target(
        "check_vs_baseline",
        "durable POST /check req/s vs the bare-hyper baseline (glibc build)",
        peak.rps,
        "req/s",
        Some(peak.rps / b.baseline.rps),
        peak.rps / b.baseline.rps >= 0.6,
        ">= 0.6x",
    );
    b.results.target(
        "cpu_per_check",
        "daemon CPU time per POST /check (ratio: to the baseline's per request)",
        cpu_us,
        "µs",
        Some(cpu_us / b.baseline_cpu_us),
        cpu_us <= 45.0,
        "<= 45 µs",
    );
    b.peak_rps = Some(peak.rps);
}
