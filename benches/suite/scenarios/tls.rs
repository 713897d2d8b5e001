//! `tls`: `POST /check` over HTTPS (HTTP/1.1), on the same store restarted with a
//! certificate.

use std::path::Path;

use crate::common::BIN;
use crate::daemon::{base, contract, load, start, Protocol, Setup};
use crate::load::check_body;
use crate::Bench;

/// Measures the TLS daemon with its own contract.
pub async fn run(b: &mut Bench) {
    let tls = Setup::new(b.dir.path(), "tls", &b.ca.pem_file, Some(&b.cert));
    let bin = Path::new(BIN);
    let contract = contract(b, bin, &tls, Protocol::Https, "bench-tls").await;
    let daemon = start(b, bin, &tls, Protocol::Https).await;
    let url = format!("{}/api/v1/check", base(Protocol::Https, tls.port));
    let tls_run = load(b, Protocol::Https, &url, &b.key, &check_body(&contract));
    b.results
        .load("POST /check, HTTPS (HTTP/1.1)", &tls_run, Some(&b.baseline));
    daemon.stop().await;
}
