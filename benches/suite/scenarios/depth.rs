//! `depth`: the delivery queue's depth over `DG_BENCH_DEPTH_SECONDS` (300) at half the
//! peak check rate with 3 webhooks per check (that peak is the `webhooks` row's checks/s;
//! without that row, half the `check` row's peak), sampled 20 times and drawn as a chart.
//! The queue keeps pace if it ends with less than a second of deliveries queued (what is in
//! flight and just queued wavers; a backlog grows every second).

use std::time::{Duration, Instant};

use crate::common::free_port;
use crate::daemon::{queue_depth, Daemon, Setup};
use crate::load::{env_usize, post_args, run_oha};
use crate::Bench;

/// Samples of the queue depth over the run.
const SAMPLES: u64 = 20;

/// Loads a daemon with metrics at half the peak for `DG_BENCH_DEPTH_SECONDS`.
pub async fn run(b: &mut Bench) {
    let (peak, of) = match (b.webhook_peak_rps, b.peak_rps) {
        (Some(peak), _) => (peak, "the peak with 3 webhooks"),
        (None, Some(peak)) => (peak, "the peak without webhooks"),
        (None, None) => (b.baseline.rps * 0.1, "a tenth of the baseline"),
    };
    let half = ((peak / 2.0).max(1.0) as u64).to_string();
    let metrics_port = free_port();
    let depth_setup = Setup::with(
        b.dir.path(),
        "http-metrics",
        &b.ca.pem_file,
        None,
        &format!("[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n"),
    );
    let daemon = Daemon::start(&depth_setup, &b.key).await;
    b.receiver.reset_confirmed();
    let total = env_usize("DG_BENCH_DEPTH_SECONDS", 300).max(SAMPLES as usize) as u64;
    let depth_url = format!("http://127.0.0.1:{}/api/v1/check", depth_setup.port);
    let mut args = post_args(&depth_url, &b.key, &b.body, &format!("{total}s"));
    args.splice(0..0, ["-q".to_owned(), half.clone()]);
    let load = std::thread::spawn(move || run_oha(&args));
    let started = Instant::now();
    let mut samples = Vec::new();
    for i in 1..=SAMPLES {
        let at = Duration::from_secs(total * i / SAMPLES);
        tokio::time::sleep(at.saturating_sub(started.elapsed())).await;
        samples.push((at.as_secs(), queue_depth(metrics_port).await));
    }
    let load = load.join().expect("load run");
    daemon.stop().await;

    let scenario = format!("POST /check + 3 webhooks at half {of} ({half} checks/s)");
    println!(
        "{scenario}: queue depth over {total} s (checks answered: {:.0})",
        load.ok
    );
    print!("{}", chart(&samples));
    let (first_at, first) = samples[0];
    let (last_at, last) = samples[samples.len() - 1];
    let peak_depth = samples.iter().map(|&(_, d)| d).fold(0.0, f64::max);
    b.results.add(
        &scenario,
        &format!("queue depth after {first_at} s"),
        first,
        "deliveries",
        None,
    );
    b.results.add(
        &scenario,
        "queue depth, most sampled",
        peak_depth,
        "deliveries",
        None,
    );
    b.results.add(
        &scenario,
        &format!("queue depth after {last_at} s"),
        last,
        "deliveries",
        None,
    );
    // Flat: no backlog builds up. What is queued at any moment is the deliveries in flight
    // and those of the last few milliseconds, so the depth wavers; a queue that does not
    // keep pace grows by the shortfall every second and ends above a second's worth.
    let second = 3.0 * (peak / 2.0).max(1.0);
    b.results.target(
        "queue_depth_half_peak",
        &format!("queue depth after {last_at} s at half {of}, 3 webhooks (ratio: to one second of deliveries, {second:.0})"),
        last,
        "deliveries",
        Some(last / second),
        last <= first.max(second),
        "flat: at the end <= a second of deliveries",
    );
}

/// The samples as a bar chart of text lines, 50 columns at the deepest.
fn chart(samples: &[(u64, f64)]) -> String {
    let deepest = samples.iter().map(|&(_, d)| d).fold(1.0, f64::max);
    samples
        .iter()
        .map(|&(at, depth)| {
            let bar = "#".repeat((depth / deepest * 50.0).round() as usize);
            format!("{at:>5} s | {bar:<50} | {depth:>9.0}\n")
        })
        .collect()
}
