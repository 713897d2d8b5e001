//! `unbatched`: `POST /check` with group commit off (one fsync per check): what batching
//! buys.

use crate::daemon::{Daemon, Setup};
use crate::load::{post_args, run_oha};
use crate::Bench;

/// Measures a daemon with `max_write_batch = 1`.
pub async fn run(b: &mut Bench) {
    let single = Setup::with(
        b.dir.path(),
        "http-single",
        &b.ca.pem_file,
        None,
        "max_write_batch = 1\n",
    );
    let daemon = Daemon::start(&single, &b.key).await;
    let single_url = format!("http://127.0.0.1:{}/api/v1/check", single.port);
    let unbatched = run_oha(&post_args(&single_url, &b.key, &b.body, &b.seconds));
    b.results.load(
        "POST /check, HTTP, group commit off",
        &unbatched,
        Some(&b.baseline),
    );
    daemon.stop().await;
}
