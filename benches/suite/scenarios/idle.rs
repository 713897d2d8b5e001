//! `idle`: the RSS of an idle daemon with an empty store.

use std::time::Duration;

use crate::daemon::{rss_kib, Daemon, Setup};
use crate::Bench;

/// Starts a daemon on its own store and reads its RSS 2 s later.
pub async fn run(b: &mut Bench) {
    let idle = Setup::new(b.dir.path(), "idle", &b.ca.pem_file, None);
    let daemon = Daemon::start(&idle, &b.key).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = rss_kib(daemon.pid()) as f64 / 1024.0;
    b.results
        .add("idle daemon, empty store", "RSS", rss, "MiB", None);
    b.results.target(
        "idle_rss",
        "RSS of an idle daemon with an empty store",
        rss,
        "MiB",
        None,
        rss * 1.048_576 < 15.0,
        "< 15 MB",
    );
    daemon.stop().await;
}
