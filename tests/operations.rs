//! Operating the daemon: started the way the systemd unit starts it (readiness on
//! `NOTIFY_SOCKET`, SIGHUP reload, SIGTERM stop), and its Prometheus metrics.

mod common;
use common::*;

use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use driftguard::credentials::{generate_key, Environment};
use hyper::Method;

const DEADLINE: Duration = Duration::from_secs(30);

/// Kills the daemon if a test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Waits for a datagram on the notify socket that contains `want`.
fn expect_notification(socket: &UnixDatagram, want: &str) -> String {
    let deadline = Instant::now() + DEADLINE;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.lines().any(|l| l == want) {
                return text;
            }
        }
    }
    panic!("no {want} notification within {DEADLINE:?}");
}

fn write_config(path: &std::path::Path, port: u16, requests_per_minute: u32) {
    std::fs::write(
        path,
        format!("[server]\nlisten = \"127.0.0.1:{port}\"\n[limits]\nrequests_per_minute = {requests_per_minute}\n"),
    )
    .expect("write config");
}

async fn usage_status(client: &HttpClient, port: u16, key: &str) -> u16 {
    let request = hyper::Request::builder()
        .uri(format!("http://127.0.0.1:{port}/api/v1/usage"))
        .header("x-api-key", key)
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    match tokio::time::timeout(Duration::from_secs(10), client.request(request)).await {
        Ok(Ok(response)) => response.status().as_u16(),
        _ => 0,
    }
}

#[tokio::test]
async fn runs_under_a_systemd_like_supervisor() {
    // The unit's layout: a state directory, a configuration directory, env for the data.
    let root = tempfile::tempdir().expect("tempdir");
    let state_dir = root.path().join("state");
    let config_dir = root.path().join("etc");
    std::fs::create_dir_all(&config_dir).expect("config dir");
    let config_file = config_dir.join("driftguard.toml");
    let port = free_port();
    write_config(&config_file, port, 1000);
    let notify_path = root.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("notify socket");
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let key = generate_key(Environment::Live);

    // CI points DRIFTGUARD_BIN at the static release binary the packaging builds.
    let binary = std::env::var("DRIFTGUARD_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_driftguard").to_owned());
    let child = Command::new(binary)
        .args(["serve", "--config"])
        .arg(&config_file)
        .env("DRIFTGUARD_DATA_DIR", &state_dir)
        .env("DRIFTGUARD_BOOTSTRAP_KEY", &key)
        .env("NOTIFY_SOCKET", &notify_path)
        .current_dir(root.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start driftguard");
    let mut daemon = Running(child);

    // READY=1 comes once the listener is bound and the store is open: it answers at once.
    expect_notification(&notify, "READY=1");
    let client = client(None);
    assert_eq!(usage_status(&client, port, &key).await, 200);
    assert!(state_dir.join("driftguard.redb").exists());

    // SIGHUP applies a lower rate limit without a restart.
    write_config(&config_file, port, 2);
    signal(&daemon.0, "-HUP");
    expect_notification(&notify, "RELOADING=1");
    expect_notification(&notify, "READY=1");
    let statuses = [
        usage_status(&client, port, &key).await,
        usage_status(&client, port, &key).await,
        usage_status(&client, port, &key).await,
    ];
    assert_eq!(statuses, [200, 200, 429], "the reloaded limit applies");

    // A bad configuration on reload keeps the running one (the daemon stays up).
    std::fs::write(&config_file, "[server]\nlisten_typo = 1\n").expect("write");
    signal(&daemon.0, "-HUP");
    expect_notification(&notify, "READY=1");
    assert_eq!(
        usage_status(&client, port, &key).await,
        429,
        "still up, same limits"
    );

    // SIGTERM: STOPPING=1 and a clean exit.
    signal(&daemon.0, "-TERM");
    expect_notification(&notify, "STOPPING=1");
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = daemon.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status:?}");
}

/// One sample or comment line of the OpenMetrics text format, checked loosely but for real:
/// metric names, label syntax and numeric values.
fn check_exposition(text: &str) -> std::collections::HashMap<String, String> {
    let mut types = std::collections::HashMap::new();
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !n.starts_with(|c: char| c.is_ascii_digit())
    };
    assert_eq!(text.lines().last(), Some("# EOF"), "ends with # EOF");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(valid_name(name), "{line}");
            assert!(
                [
                    "counter",
                    "gauge",
                    "histogram",
                    "summary",
                    "info",
                    "unknown",
                    "stateset",
                    "gaugehistogram"
                ]
                .contains(&kind),
                "{line}"
            );
            types.insert(name.to_owned(), kind.to_owned());
        } else if line.starts_with("# HELP ") || line.starts_with("# UNIT ") || line == "# EOF" {
        } else {
            let (series, value) = line.rsplit_once(' ').expect("sample value");
            let name = series.split('{').next().expect("name");
            assert!(valid_name(name), "{line}");
            if let Some(labels) = series.strip_prefix(name) {
                if !labels.is_empty() {
                    assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                }
            }
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
    types
}

#[tokio::test]
async fn metrics_are_exported_in_prometheus_format() {
    let server = TestServer::start_with(|cfg| {
        cfg.metrics.listen = Some("127.0.0.1:0".parse().expect("addr"));
        cfg.limits.requests_per_minute = 3.try_into().unwrap();
    })
    .await;
    let key = server.key.clone();
    let contract = server.create_contract(&key, "users", users_columns()).await;
    let id = contract["id"].as_str().expect("id").to_owned();
    server
        .check(&key, &id, users_columns())
        .await
        .assert_status(200);
    server.get("/api/v1/usage").await.assert_status(200);
    server
        .get("/api/v1/usage")
        .await
        .assert_error(429, "rate_limited");
    server
        .send(Method::GET, "/api/v1/nope", None, bytes::Bytes::new())
        .await
        .assert_error(404, "not_found");

    let addr = server.metrics_addr().expect("metrics listener");
    let request = hyper::Request::builder()
        .uri(format!("http://{addr}/metrics"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    let response = server.client.request(request).await.expect("scrape");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    use http_body_util::BodyExt;
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let text = String::from_utf8(body.to_vec()).expect("utf-8");
    let types = check_exposition(&text);

    for (name, kind) in [
        ("driftguard_http_requests", "counter"),
        ("driftguard_http_request_duration_seconds", "histogram"),
        ("driftguard_checks", "counter"),
        ("driftguard_rate_limited", "counter"),
        ("driftguard_delivery_queue_depth", "gauge"),
        ("driftguard_delivery_queue_overdue_seconds", "gauge"),
        ("driftguard_store_size_bytes", "gauge"),
    ] {
        assert_eq!(
            types.get(name).map(String::as_str),
            Some(kind),
            "{name}\n{text}"
        );
    }
    // A family without series yet (no webhook attempts here) may be left out.
    if let Some(kind) = types.get("driftguard_webhook_attempts") {
        assert_eq!(kind, "counter");
    }
    assert!(
        text.contains(r#"driftguard_http_requests_total{route="/api/v1/check",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"driftguard_checks_total{result="pass"} 1"#),
        "{text}"
    );
    assert!(text.contains("driftguard_rate_limited_total 1"), "{text}");
    assert!(
        text.contains(r#"driftguard_http_requests_total{route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(!text.contains(&key), "no key in metrics");
}

fn cli(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_driftguard"))
        .args(args)
        .env("DRIFTGUARD_DATA_DIR", data_dir)
        .env_remove("DRIFTGUARD_CONFIG")
        .current_dir(data_dir.parent().expect("parent"))
        .output()
        .expect("run driftguard")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_everything_acknowledged_before_it() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let server = TestServer::start_with(|cfg| {
        cfg.limits.requests_per_minute = 1_000_000.try_into().unwrap()
    })
    .await;
    let key = server.key.clone();
    let contract = server.create_contract(&key, "users", users_columns()).await;
    let contract_id = contract["id"].as_str().expect("id").to_owned();
    let server = Arc::new(server);
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (server, acknowledged, stop) = (server.clone(), acknowledged.clone(), stop.clone());
        let (key, contract_id) = (key.clone(), contract_id.clone());
        writers.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let answer = server
                    .check(&key, &contract_id, serde_json::json!([]))
                    .await;
                let id = answer.assert_status(200)["id"]
                    .as_str()
                    .expect("id")
                    .to_owned();
                acknowledged.lock().expect("lock").push(id);
            }
        });
    }
    let writing = wait_until(DEADLINE, || async {
        acknowledged.lock().expect("lock").len() >= 50
    })
    .await;
    assert!(writing, "the writers made progress");

    // Everything acknowledged before the backup begins must be in it.
    let before: Vec<String> = acknowledged.lock().expect("lock").clone();
    let data_dir = server.config.storage.data_dir.clone();
    let backup = server.dir.path().join("backup.redb");
    let output = {
        let (data_dir, backup) = (data_dir.clone(), backup.clone());
        tokio::task::spawn_blocking(move || {
            cli(
                &data_dir,
                &["backup", "--to", backup.to_str().expect("utf-8")],
            )
        })
        .await
        .expect("join")
    };
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let writes_during_backup = acknowledged.lock().expect("lock").len() - before.len();
    stop.store(true, Ordering::Relaxed);
    while writers.join_next().await.is_some() {}
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&backup).expect("backup").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "backups are owner-only");

    // Restore into a fresh data directory, check it, and find every record.
    let restored = server.dir.path().join("restored");
    let output = cli(
        &restored,
        &["restore", "--from", backup.to_str().expect("utf-8")],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = cli(&restored, &["check-store"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains(": ok"));

    let store = driftguard::store::Store::open(&restored).expect("open restored store");
    for id in &before {
        let check_id: driftguard::ids::CheckId = id.parse().expect("check id");
        store
            .check(driftguard::ids::AccountId(1), check_id)
            .await
            .expect("a check acknowledged before the backup");
    }
    let usage = store
        .account(driftguard::ids::AccountId(1))
        .await
        .expect("default account");
    assert!(usage.total_checks >= before.len() as u64);
    tokio::task::spawn_blocking(move || store.close())
        .await
        .expect("close");
    eprintln!(
        "{} checks acknowledged before the backup, {writes_during_backup} while it ran",
        before.len()
    );
}

#[tokio::test]
async fn restore_refuses_a_running_daemon_and_a_bad_backup() {
    let server = TestServer::start().await;
    let data_dir = server.config.storage.data_dir.clone();
    let junk = server.dir.path().join("junk.redb");
    std::fs::write(&junk, b"not a database").expect("write");
    let output = cli(
        &data_dir,
        &["restore", "--from", junk.to_str().expect("utf-8")],
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("in use"));
    let output = cli(&data_dir, &["compact"]);
    assert!(!output.status.success());

    let other = server.dir.path().join("other");
    let output = cli(
        &other,
        &["restore", "--from", junk.to_str().expect("utf-8")],
    );
    assert!(!output.status.success(), "a junk file is not restored");
    assert!(!other.join("driftguard.redb").exists());
}
