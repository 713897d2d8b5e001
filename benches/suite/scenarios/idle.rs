//! `idle`: the RSS of an idle daemon with an empty store — this build and, if given, the
//! static build (what the container runs). Most of it is the binary's own pages
//! (file-backed), not heap.

use std::time::Duration;

use crate::daemon::{rss_kib, Daemon, Setup};
use crate::Bench;

/// Starts each build on its own empty store and reads its RSS 2 s later.
pub async fn run(b: &mut Bench) {
    let mut builds = vec![("this build", b.glibc_bin.clone())];
    if let Some(path) = &b.static_bin {
        builds.push(("the static build (the container's)", path.clone()));
    }
    for (i, (name, bin)) in builds.into_iter().enumerate() {
        let idle = Setup::new(b.dir.path(), &format!("idle-{i}"), &b.ca.pem_file, None);
        let daemon = Daemon::start_bin(&bin, &idle, &b.key).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss = rss_kib(daemon.pid()) as f64 / 1024.0;
        daemon.stop().await;
        let scenario = format!("idle daemon, empty store, {name}");
        b.results.add(&scenario, "RSS", rss, "MiB", None);
        b.results.target(
            if i == 0 {
                "idle_rss"
            } else {
                "idle_rss_static"
            },
            &format!("RSS of an idle daemon with an empty store, {name}"),
            rss,
            "MiB",
            None,
            rss < 15.0,
            "< 15 MiB",
        );
    }
}
