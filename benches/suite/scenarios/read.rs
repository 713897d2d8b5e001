//! `read`: `GET /api/v1/checks/{id}`, the read path.

use crate::daemon::Daemon;
use crate::load::{run_oha, CONNECTIONS};
use crate::Bench;

/// Reads one stored check at full load.
pub async fn run(b: &mut Bench) {
    let daemon = Daemon::start(&b.http, &b.key).await;
    let check = b
        .post(
            "/api/v1/check",
            serde_json::from_str(&b.body).expect("json"),
        )
        .await;
    let read_url = format!(
        "http://127.0.0.1:{}/api/v1/checks/{}",
        b.http.port,
        check["id"].as_str().expect("id")
    );
    let mut args: Vec<String> = ["-z", &b.seconds, "-c", &CONNECTIONS.to_string(), "-H"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(format!("X-API-Key: {}", b.key));
    args.push(read_url);
    let read = run_oha(&args);
    b.results.load("GET /checks/{id}", &read, Some(&b.baseline));
    daemon.stop().await;
}
