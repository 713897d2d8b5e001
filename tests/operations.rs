//! Operating the daemon: started the way the systemd unit starts it (readiness on
//! `NOTIFY_SOCKET`, SIGHUP reload, SIGTERM stop), and its Prometheus metrics.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "test code: a failed step fails the test"
)]

mod common;
use common::*;

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use driftguard::credentials::{generate_key, Environment};
use hyper::Method;

const DEADLINE: Duration = Duration::from_secs(30);

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
    let mut cmd = driftguard_bin(&daemon_binary(), root.path());
    cmd.args(["serve", "--config"])
        .arg(&config_file)
        .env("DRIFTGUARD_DATA_DIR", &state_dir)
        .env("DRIFTGUARD_BOOTSTRAP_KEY", &key)
        .env("NOTIFY_SOCKET", &notify_path);
    let mut daemon = Serving::spawn(cmd, port, root.path().join("serve.log"));

    // READY=1 comes once the listener is bound and the store is open: it answers at once.
    expect_notification(&notify, "READY=1");
    let client = client(None);
    assert_eq!(usage_status(&client, port, &key).await, 200);
    assert!(state_dir.join("driftguard.redb").exists());

    // SIGHUP applies a lower rate limit without a restart.
    write_config(&config_file, port, 2);
    send_signal(daemon.pid(), "-HUP");
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
    send_signal(daemon.pid(), "-HUP");
    expect_notification(&notify, "READY=1");
    assert_eq!(
        usage_status(&client, port, &key).await,
        429,
        "still up, same limits"
    );

    // A reload that leaves the limit as it is keeps each key's bucket: a SIGHUP is no way
    // around a rate limit (issue 26).
    write_config(&config_file, port, 2);
    send_signal(daemon.pid(), "-HUP");
    expect_notification(&notify, "RELOADING=1");
    expect_notification(&notify, "READY=1");
    assert_eq!(
        usage_status(&client, port, &key).await,
        429,
        "the spent bucket stays spent"
    );

    // SIGTERM: STOPPING=1 and a clean exit.
    send_signal(daemon.pid(), "-TERM");
    expect_notification(&notify, "STOPPING=1");
    let status = daemon.wait_exit(DEADLINE).await;
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
        ("driftguard_store_commit_duration_seconds", "histogram"),
    ] {
        assert_eq!(
            types.get(name).map(String::as_str),
            Some(kind),
            "{name}\n{text}"
        );
    }
    // No webhook attempt yet: the family has no series, so it is left out (its values are
    // checked, with attempts, in tests/webhooks.rs).
    assert_eq!(types.get("driftguard_webhook_attempts"), None, "{text}");
    assert!(
        !text.contains("driftguard_webhook_attempts_total"),
        "no attempt was made: {text}"
    );
    assert!(text.contains("driftguard_delivery_queue_depth 0"), "{text}");
    assert!(
        text.contains(r#"driftguard_http_requests_total{route="/api/v1/check",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"driftguard_checks_total{result="pass"} 1"#),
        "{text}"
    );
    assert!(text.contains("driftguard_rate_limited_total 1"), "{text}");
    // Every write so far (bootstrap, the contract, the check, key uses) was a durable
    // commit, and the last bucket counts them all.
    let value = |series: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(series)).expect(series);
        line.rsplit_once(' ')
            .expect("value")
            .1
            .parse()
            .expect("number")
    };
    let commits = value("driftguard_store_commit_duration_seconds_count");
    assert!(commits >= 2.0, "{text}");
    assert_eq!(
        value(r#"driftguard_store_commit_duration_seconds_bucket{le="+Inf"}"#),
        commits,
        "{text}"
    );
    assert!(
        value("driftguard_store_commit_duration_seconds_sum") > 0.0,
        "{text}"
    );
    assert!(
        text.contains(r#"driftguard_http_requests_total{route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(!text.contains(&key), "no key in metrics");
}

/// Runs an operator command on `data_dir` to its end.
fn cli(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    driftguard(data_dir.parent().expect("parent"))
        .args(args)
        .env("DRIFTGUARD_DATA_DIR", data_dir)
        .output()
        .expect("run driftguard")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_everything_acknowledged_before_it() {
    use std::collections::HashSet;
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
    // Every acknowledged check: its id and when its answer arrived.
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, Instant)>::new()));
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
                if answer.status != 200 {
                    return Err(format!(
                        "a check during the backup failed: {} {}",
                        answer.status,
                        String::from_utf8_lossy(&answer.body)
                    ));
                }
                let id = answer.json()["id"].as_str().expect("id").to_owned();
                acknowledged
                    .lock()
                    .expect("lock")
                    .push((id, Instant::now()));
            }
            Ok(())
        });
    }
    let acknowledged_count = || acknowledged.lock().expect("lock").len();
    let writing = wait_until(DEADLINE, || async { acknowledged_count() >= 50 }).await;
    assert!(writing, "the writers made progress");

    // Everything acknowledged before the backup begins must be in it.
    let before: Vec<String> = acknowledged
        .lock()
        .expect("lock")
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    let data_dir = server.config.storage.data_dir.clone();
    let backup = server.dir.path().join("backup.redb");
    let backup_started = Instant::now();
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
    let backup_ended = Instant::now();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Writes went on while the backup ran: answers arrived strictly between its start
    // and its end.
    let writes_during_backup = acknowledged
        .lock()
        .expect("lock")
        .iter()
        .filter(|(_, at)| *at > backup_started && *at < backup_ended)
        .count();
    stop.store(true, Ordering::Relaxed);
    while let Some(writer) = writers.join_next().await {
        writer
            .expect("writer task")
            .expect("every check is answered 200");
    }
    assert!(
        writes_during_backup > 0,
        "no write was answered while the backup ran ({:?}): the backup blocked the writers",
        backup_ended - backup_started
    );
    let all_acknowledged: HashSet<String> = acknowledged
        .lock()
        .expect("lock")
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    // The live store counted exactly the acknowledged checks (writers stop only after
    // their request is answered, so none was in flight).
    let live_usage = server.get("/api/v1/usage").await.assert_status(200);
    assert_eq!(
        live_usage["total_checks"],
        all_acknowledged.len() as u64,
        "{live_usage}"
    );
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
            .checks()
            .get(driftguard::ids::AccountId(1), check_id)
            .await
            .expect("a check acknowledged before the backup");
    }
    // Every check in the backup, page by page.
    let mut in_backup = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .checks()
            .list(
                driftguard::ids::AccountId(1),
                driftguard::store::PageRequest {
                    cursor,
                    limit: 1000,
                },
            )
            .await
            .expect("list checks");
        in_backup.extend(page.items.iter().map(|c| c.id.to_string()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let usage = store
        .accounts()
        .get(driftguard::ids::AccountId(1))
        .await
        .expect("default account");
    tokio::task::spawn_blocking(move || store.close())
        .await
        .expect("close");
    // The snapshot is consistent: its counter and its records agree exactly, and it holds
    // only acknowledged checks.
    assert_eq!(
        usage.total_checks,
        in_backup.len() as u64,
        "counter = records"
    );
    assert_eq!(
        usage.credits_used,
        in_backup.len() as u64,
        "all live checks"
    );
    let in_backup_set: HashSet<&String> = in_backup.iter().collect();
    assert_eq!(in_backup_set.len(), in_backup.len(), "no duplicates");
    for id in &in_backup {
        assert!(
            all_acknowledged.contains(id),
            "{id} in the backup was never answered"
        );
    }
    assert!(
        in_backup.len() >= before.len(),
        "{} in the backup; {} acknowledged before it began",
        in_backup.len(),
        before.len()
    );
    eprintln!(
        "{} checks acknowledged before the backup, {writes_during_backup} while it ran, {} in it",
        before.len(),
        in_backup.len()
    );
}

/// A store with records in it: a contract, `checks` checks (their answers, returned) and
/// webhooks created and deleted again (free space for `compact`); the daemon stopped.
async fn stopped_store(checks: usize) -> (TestServer, Vec<Answer>) {
    let mut server = TestServer::start_with(|cfg| {
        cfg.limits.requests_per_minute = 1_000_000.try_into().unwrap()
    })
    .await;
    let key = server.key.clone();
    let contract = server.create_contract(&key, "users", users_columns()).await;
    let id = contract["id"].as_str().expect("id").to_owned();
    let mut answers = Vec::new();
    for _ in 0..checks {
        let answer = server.check(&key, &id, users_columns()).await;
        answer.assert_status(200);
        answers.push(answer);
    }
    for i in 0..20 {
        let hook = server
            .post(
                "/api/v1/webhooks",
                &serde_json::json!({"url": format!("https://hooks.example.com/{i}"), "events": ["breaking"]}),
            )
            .await
            .assert_status(201);
        let path = format!("/api/v1/webhooks/{}", hook["id"].as_str().expect("id"));
        server.delete(&path).await.assert_status(200);
    }
    server.stop().await;
    (server, answers)
}

#[tokio::test]
async fn compact_on_a_stopped_store_keeps_every_record() {
    let (server, checks) = stopped_store(100).await;
    let data_dir = server.config.storage.data_dir.clone();
    let db = data_dir.join(driftguard::store::DB_FILE);
    let size_before = std::fs::metadata(&db).expect("store file").len();

    let mut cmd = driftguard(server.dir.path());
    cmd.arg("compact")
        .env("DRIFTGUARD_DATA_DIR", &data_dir)
        .env_remove("DRIFTGUARD_CONFIG")
        .current_dir(server.dir.path());
    let output = run_within(cmd, DEADLINE);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "compact failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // `<file>: <before> bytes → <after> bytes`, and the numbers are the file's sizes.
    let size_after = std::fs::metadata(&db).expect("store file").len();
    assert_eq!(
        stdout,
        format!(
            "{}: {size_before} bytes → {size_after} bytes\n",
            db.display()
        )
    );
    assert!(size_after <= size_before, "{size_before} → {size_after}");
    let output = cli(&data_dir, &["check-store"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Every record reads back, byte for byte.
    let server = server.restart().await;
    for answer in &checks {
        let id = answer.json()["id"].as_str().expect("id").to_owned();
        let fetched = server.get(&format!("/api/v1/checks/{id}")).await;
        fetched.assert_status(200);
        assert_eq!(fetched.body, answer.body, "check {id} after compact");
    }
    let listed = server
        .get("/api/v1/checks?limit=1000")
        .await
        .assert_status(200);
    assert_eq!(listed.as_array().map(Vec::len), Some(checks.len()));
    let usage = server.get("/api/v1/usage").await.assert_status(200);
    let n = checks.len() as u64;
    assert_eq!(
        usage,
        serde_json::json!({"credits_remaining": 1_000_000 - n, "credits_used": n, "total_checks": n})
    );
    let contracts = server.get("/api/v1/contracts").await.assert_status(200);
    assert_eq!(contracts[0]["name"], "users");
    assert_eq!(
        server.get("/api/v1/webhooks").await.assert_status(200),
        serde_json::json!([])
    );
}

#[tokio::test]
async fn a_store_with_a_newer_format_version_is_refused_at_start() {
    use redb::{ReadableDatabase, TableDefinition};
    const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

    let (server, _) = stopped_store(1).await;
    let data_dir = server.config.storage.data_dir.clone();
    let db_path = data_dir.join(driftguard::store::DB_FILE);
    // What a newer DriftGuard would have written.
    let newer = {
        let db = redb::Database::open(&db_path).expect("open the stopped store");
        let current = {
            let txn = db.begin_read().expect("read");
            let meta = txn.open_table(META).expect("meta table");
            meta.get("format_version")
                .expect("read")
                .expect("a format version")
                .value()
        };
        let txn = db.begin_write().expect("write");
        txn.open_table(META)
            .expect("meta table")
            .insert("format_version", current + 1)
            .expect("insert");
        txn.commit().expect("commit");
        current + 1
    };
    let expected = format!(
        "the store has format version {newer}, newer than this build supports ({}); upgrade DriftGuard",
        newer - 1
    );

    // In process: the daemon does not start.
    match driftguard::daemon::Daemon::start(server.config.clone()).await {
        Ok(daemon) => {
            daemon.shutdown().await;
            panic!("the daemon started on a store of format version {newer}");
        }
        Err(e) => assert!(e.to_string().contains(&expected), "{e}"),
    }
    // The binary: `serve` exits non-zero at once, saying why, and serves nothing.
    let mut cmd = driftguard(server.dir.path());
    cmd.arg("serve")
        .env("DRIFTGUARD_DATA_DIR", &data_dir)
        .env("DRIFTGUARD_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env_remove("DRIFTGUARD_CONFIG")
        .env_remove("DRIFTGUARD_BOOTSTRAP_KEY")
        .current_dir(server.dir.path());
    let output = run_within(cmd, DEADLINE);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "serve started: {stderr}");
    assert!(stderr.contains(&expected), "{stderr}");
    // `check-store` says the same.
    let output = cli(&data_dir, &["check-store"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "check-store passed: {stderr}");
    assert!(stderr.contains(&expected), "{stderr}");
    // The file is left alone: still the newer version.
    let db = redb::Database::open(&db_path).expect("open");
    let txn = db.begin_read().expect("read");
    let meta = txn.open_table(META).expect("meta table");
    let version = meta
        .get("format_version")
        .expect("read")
        .expect("a version");
    assert_eq!(version.value(), newer);
}

#[tokio::test]
async fn check_store_names_a_corrupt_file() {
    let (server, _) = stopped_store(200).await;
    let data_dir = server.config.storage.data_dir.clone();
    let db_path = data_dir.join(driftguard::store::DB_FILE);
    // The intact store passes.
    let output = cli(&data_dir, &["check-store"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Overwrite the middle of the file (past redb's header, across the pages written).
    let mut bytes = std::fs::read(&db_path).expect("read store");
    let len = bytes.len();
    assert!(
        len > 64 * 1024,
        "the store has pages to corrupt: {len} bytes"
    );
    for byte in &mut bytes[len / 4..len * 3 / 4] {
        *byte ^= 0x5a;
    }
    std::fs::write(&db_path, &bytes).expect("corrupt the store");

    let output = cli(&data_dir, &["check-store"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "check-store passed a corrupt file: {stdout}"
    );
    assert_ne!(output.status.code(), Some(0));
    assert!(!stdout.contains(": ok"), "{stdout}");
    assert!(
        stderr.contains(&db_path.display().to_string()),
        "the message names the file: {stderr}"
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

// ---------------------------------------------------------------------------------------
// Faults: a full disk
// ---------------------------------------------------------------------------------------

/// A tmpfs mounted for one test; unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `4m`) at `dir`, or says why it cannot (not root, no
    /// `mount`, a container without the capability).
    fn mount(dir: &std::path::Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes `path` until the filesystem is full; returns the bytes written.
fn fill(path: &std::path::Path) -> u64 {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("filler file");
    let chunk = vec![0xa5u8; 16 * 1024];
    let mut written = 0;
    while file.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    let _ = file.sync_all();
    written
}

/// An incoming schema of 300 long column names: each check stores a diff of ~30 KB, so
/// a few fill what is left of a small disk.
fn wide_schema() -> serde_json::Value {
    serde_json::Value::Array(
        (0..300)
            .map(|i| serde_json::json!({"name": format!("{i:04}_{}", "c".repeat(90)), "type": "string"}))
            .collect(),
    )
}

#[tokio::test]
async fn a_full_disk_answers_503_and_writes_resume_once_space_is_freed() {
    let outer = tempfile::tempdir().expect("tempdir");
    let small = outer.path().join("small");
    let mount = match Tmpfs::mount(&small, "4m") {
        Ok(mount) => mount,
        Err(why) => {
            let why = format!("cannot mount a 4 MiB tmpfs ({why}); run the tests as root");
            require(
                "a_full_disk_answers_503_and_writes_resume_once_space_is_freed",
                Err(why),
            );
            return;
        }
    };
    let data_dir = small.join("data");
    let server = TestServer::start_with(|cfg| {
        cfg.storage.data_dir = data_dir.clone();
        cfg.limits.requests_per_minute = 1_000_000.try_into().expect("not zero");
    })
    .await;
    let key = server.key.clone();
    let contract = server.create_contract(&key, "users", users_columns()).await;
    let contract_id = text(&contract["id"]);
    let mut acknowledged = Vec::new();
    for _ in 0..3 {
        let answer = server.check(&key, &contract_id, wide_schema()).await;
        acknowledged.push(text(&answer.assert_status(200)["id"]));
    }

    // Fill the disk, then write until the store runs out of room: each answer is a stored
    // check or a 503 saying the disk is full — never a 500.
    let filler = small.join("filler");
    assert!(fill(&filler) > 0, "the filler took some space");
    let mut refused = None;
    for _ in 0..500 {
        let answer = server.check(&key, &contract_id, wide_schema()).await;
        if answer.status == 200 {
            acknowledged.push(text(&answer.json()["id"]));
            continue;
        }
        refused = Some(answer.assert_error(503, "storage_unavailable"));
        break;
    }
    let message = refused.expect("a write failed on the full disk");
    assert!(message.contains("disk is full"), "{message}");

    // The health endpoint says so, and goes on saying so while the disk stays full.
    let health = server
        .send(Method::GET, "/api/v1/health", None, "")
        .await
        .assert_status(503);
    assert_eq!(health["status"], "unavailable", "{health}");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"), "{health}");
    let reason = text(&health["storage"]);
    assert!(reason.contains("disk full"), "{reason}");
    for _ in 0..3 {
        let message = server
            .send(
                Method::POST,
                "/api/v1/contracts",
                Some(&key),
                contract_body("later"),
            )
            .await
            .assert_error(503, "storage_unavailable");
        assert!(message.contains("disk is full"), "{message}");
    }
    // Reads still work.
    let first = &acknowledged[0];
    server
        .get(&format!("/api/v1/checks/{first}"))
        .await
        .assert_status(200);

    // Free the space: writes resume on their own, without a restart.
    std::fs::remove_file(&filler).expect("remove the filler");
    let end = Instant::now() + DEADLINE;
    let resumed = loop {
        let answer = server.check(&key, &contract_id, users_columns()).await;
        if answer.status == 200 {
            acknowledged.push(text(&answer.json()["id"]));
            break true;
        }
        answer.assert_error(503, "storage_unavailable");
        if Instant::now() > end {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(resumed, "writes did not resume after space was freed");
    server
        .send(Method::GET, "/api/v1/health", None, "")
        .await
        .assert_status(200);
    let later = server
        .send(
            Method::POST,
            "/api/v1/contracts",
            Some(&key),
            contract_body("later"),
        )
        .await
        .assert_status(201);

    // After a restart every acknowledged record is there, and only those were counted.
    let server = server.restart().await;
    for id in &acknowledged {
        server
            .get(&format!("/api/v1/checks/{id}"))
            .await
            .assert_status(200);
    }
    server
        .get(&format!("/api/v1/contracts/{}", text(&later["id"])))
        .await
        .assert_status(200);
    let usage = server.get("/api/v1/usage").await.assert_status(200);
    assert_eq!(usage["total_checks"], acknowledged.len() as u64, "{usage}");
    drop(server);
    drop(mount);
}

#[tokio::test]
async fn a_corrupt_store_stops_start_up_naming_the_file_and_the_way_out() {
    let (server, _) = stopped_store(200).await;
    let data_dir = server.config.storage.data_dir.clone();
    let db_path = data_dir.join(driftguard::store::DB_FILE);
    // Overwrite the middle of the file (past redb's header, across the pages written).
    let mut bytes = std::fs::read(&db_path).expect("read store");
    let len = bytes.len();
    assert!(
        len > 64 * 1024,
        "the store has pages to corrupt: {len} bytes"
    );
    for byte in &mut bytes[len / 4..len * 3 / 4] {
        *byte ^= 0x5a;
    }
    std::fs::write(&db_path, &bytes).expect("corrupt the store");

    let mut cmd = driftguard(server.dir.path());
    cmd.arg("serve")
        .env("DRIFTGUARD_DATA_DIR", &data_dir)
        .env("DRIFTGUARD_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env_remove("DRIFTGUARD_CONFIG")
        .env_remove("DRIFTGUARD_BOOTSTRAP_KEY")
        .current_dir(server.dir.path());
    let output = run_within(cmd, DEADLINE);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "serve started on a corrupt store: {stderr}"
    );
    let last = stderr.lines().last().unwrap_or_default();
    for part in [
        &format!("driftguard: the store {} is corrupt", db_path.display()),
        "driftguard check-store",
        "driftguard restore --from",
    ] {
        assert!(
            last.contains(part),
            "the last line names `{part}`: {stderr}"
        );
    }
}
