//! `depth`: the delivery queue's depth after 10 s and after 60 s at half the peak check
//! rate with 3 webhooks per check (it must not grow).

use std::time::Duration;

use crate::common::free_port;
use crate::daemon::{queue_depth, Daemon, Setup};
use crate::load::{env_usize, post_args, run_oha};
use crate::Bench;

/// Loads a daemon with metrics at half the peak for `DG_BENCH_DEPTH_SECONDS`.
pub async fn run(b: &mut Bench) {
    let peak = b.peak_rps.unwrap_or(b.baseline.rps * 0.35);
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
    let total = env_usize("DG_BENCH_DEPTH_SECONDS", 60);
    let depth_url = format!("http://127.0.0.1:{}/api/v1/check", depth_setup.port);
    let mut args = post_args(&depth_url, &b.key, &b.body, &format!("{total}s"));
    args.splice(0..0, ["-q".to_owned(), half.clone()]);
    let load = std::thread::spawn(move || run_oha(&args));
    tokio::time::sleep(Duration::from_secs(10)).await;
    let at_10 = queue_depth(metrics_port).await;
    tokio::time::sleep(Duration::from_secs(total.saturating_sub(10) as u64)).await;
    let at_end = queue_depth(metrics_port).await;
    let _ = load.join();
    daemon.stop().await;
    let scenario = format!("POST /check + 3 webhooks at half peak ({half} checks/s)");
    b.results.add(
        &scenario,
        "queue depth after 10 s",
        at_10,
        "deliveries",
        None,
    );
    b.results.add(
        &scenario,
        &format!("queue depth after {total} s"),
        at_end,
        "deliveries",
        None,
    );
    b.results.target(
        "queue_depth_half_peak",
        &format!("queue depth after {total} s at half peak, 3 webhooks (ratio: to after 10 s)"),
        at_end,
        "deliveries",
        Some(at_end / at_10.max(1.0)),
        at_end <= at_10,
        "after 60 s <= after 10 s",
    );
}
