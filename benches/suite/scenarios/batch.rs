//! `batch`: the group commit's bound (`storage.max_write_batch`, the most jobs one commit
//! takes) swept. For each size, `POST /check` at full load (requests/s and p99) and at
//! half the `check` row's peak (p99): the default should be the size with the best
//! throughput whose p99 at half peak stays under 10 ms.

use crate::daemon::{Daemon, Setup};
use crate::load::{post_args, run_oha, CONNECTIONS};
use crate::Bench;

/// The bounds tried; with 64 connections no batch can be larger than 64, so 512 (the
/// default) stands for "unbounded".
const SIZES: [usize; 5] = [4, 8, 16, 32, 512];

/// Runs the sweep on the HTTP store.
pub async fn run(b: &mut Bench) {
    let peak = b.peak_rps.unwrap_or(b.baseline.rps * 0.25);
    let half = ((peak / 2.0).max(1.0) as u64).to_string();
    for size in SIZES {
        let setup = Setup::with(
            b.dir.path(),
            &format!("batch-{size}"),
            &b.ca.pem_file,
            None,
            &format!("max_write_batch = {size}\n"),
        );
        let daemon = Daemon::start(&setup, &b.key).await;
        let url = format!("http://127.0.0.1:{}/api/v1/check", setup.port);
        let full = run_oha(&post_args(&url, &b.key, &b.body, &b.seconds));
        let mut args = post_args(&url, &b.key, &b.body, &b.seconds);
        args.splice(0..0, ["-q".to_owned(), half.clone()]);
        let at_half = run_oha(&args);
        daemon.stop().await;
        let scenario = format!("POST /check, max_write_batch = {size} ({CONNECTIONS} connections)");
        let results = &mut b.results;
        results.add(
            &scenario,
            "requests/s",
            full.rps,
            "req/s",
            Some(b.baseline.rps),
        );
        results.add(&scenario, "p99 at full load", full.p99_ms, "ms", None);
        results.add(
            &scenario,
            &format!("p99 at {half} checks/s"),
            at_half.p99_ms,
            "ms",
            None,
        );
    }
}
