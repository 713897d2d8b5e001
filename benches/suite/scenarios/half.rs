//! `half`: `POST /check` at half the HTTP peak rate, for p99 under normal load, with the
//! commits the disk stalled beside each run's p99.

use crate::daemon::slow_commits;
use crate::load::{post_args, run_oha};
use crate::Bench;

/// Runs `half_runs` runs at half the peak on the running HTTP daemon.
pub async fn run(b: &mut Bench) {
    let peak = match b.peak_rps {
        Some(rps) => rps,
        None => run_oha(&post_args(&b.url, &b.key, &b.body, &b.seconds)).rps,
    };
    let half = ((peak / 2.0).max(1.0) as u64).to_string();
    let scenario = format!("POST /check, HTTP, at half peak ({half} req/s)");
    let mut worst: f64 = 0.0;
    let mut under = 0;
    for run in 1..=b.half_runs {
        let slow_before = slow_commits(b.http_metrics).await;
        let mut args = post_args(&b.url, &b.key, &b.body, &b.seconds);
        args.splice(
            0..0,
            [
                "-q".to_owned(),
                half.clone(),
                "--latency-correction".to_owned(),
            ],
        );
        let at_half = run_oha(&args);
        b.results.add(
            &scenario,
            &format!("p99, run {run}"),
            at_half.p99_ms,
            "ms",
            None,
        );
        // A commit the disk stalls holds every request of its batch: show them beside
        // the p99 they explain.
        b.results.add(
            &scenario,
            &format!("commits over 12.8 ms (fsync stalls), run {run}"),
            slow_commits(b.http_metrics).await - slow_before,
            "commits",
            None,
        );
        if run == 1 {
            b.results
                .add(&scenario, "p99.9, run 1", at_half.p999_ms, "ms", None);
        }
        worst = worst.max(at_half.p99_ms);
        if at_half.p99_ms < 10.0 {
            under += 1;
        }
    }
    let half_runs = b.half_runs;
    b.results.target(
        "p99_at_half_peak",
        &format!("worst p99 at half peak over {half_runs} runs ({under} under 10 ms)"),
        worst,
        "ms",
        None,
        under == half_runs && half_runs >= 5,
        "< 10 ms in 5 runs of 5",
    );
}
