//! `tls`: `POST /check` over HTTPS (HTTP/1.1), on the same store restarted with a
//! certificate.

use std::path::Path;

use hyper::Method;
use serde_json::json;

use crate::common::{client_with, Api, BIN};
use crate::daemon::{Daemon, Setup};
use crate::load::{check_body, columns_json, post_args, run_oha};
use crate::Bench;

/// Measures the TLS daemon with its own contract.
pub async fn run(b: &mut Bench) {
    let tls = Setup::new(b.dir.path(), "tls", &b.ca.pem_file, Some(&b.cert));
    let base = format!("https://localhost:{}", tls.port);
    let client = client_with(Some(&b.cert.cert_der), false);
    let daemon = Daemon::spawn(Path::new(BIN), &tls, &b.key)
        .ready(&client, &base)
        .await;
    let tls_api = Api::new(base, &b.key, client);
    let contract = tls_api
        .json(
            Method::POST,
            "/api/v1/contracts",
            Some(json!({"name": "bench-tls", "schema": {"columns": columns_json()}})),
            201,
        )
        .await;
    let contract = contract["id"].as_str().expect("id").to_owned();
    let tls_url = format!("https://localhost:{}/api/v1/check", tls.port);
    let mut args = post_args(&tls_url, &b.key, &check_body(&contract), &b.seconds);
    args.splice(
        0..0,
        [
            "--cacert".to_owned(),
            b.cert.cert_file.display().to_string(),
        ],
    );
    let tls_run = run_oha(&args);
    b.results
        .load("POST /check, HTTPS (HTTP/1.1)", &tls_run, Some(&b.baseline));
    daemon.stop().await;
}
