//! SIGKILL the real binary with deliveries pending: after a restart every answered
//! check is delivered, once, under the same delivery id.

use std::path::{Path, PathBuf};

use crate::support::*;

/// `driftguard serve --config CONFIG` with `key` as its bootstrap key; `config` has it
/// listen on `port`.
fn serve(config: &Path, key: &str, port: u16, log: PathBuf) -> Serving {
    let mut cmd = driftguard(config.parent().expect("config dir"));
    cmd.args(["serve", "--config"])
        .arg(config)
        .env("DRIFTGUARD_BOOTSTRAP_KEY", key);
    Serving::spawn(cmd, port, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_a_burst_loses_no_delivery() {
    const BURST: usize = 50;
    /// How long the test may take to get to the kill (the burst answered, an attempt made).
    const UNTIL_KILL: Duration = Duration::from_secs(30);
    // Before the crash every attempt hangs until the 2 s attempt timeout. With 20 retries
    // 1 s apart a delivery needs 21 × 2 s + 20 × 1 s = 62 s to be abandoned, longer than
    // the test can take to reach the kill: none is given up before the crash. After the
    // restart a retry is never more than 1 s away (an attempt the crash cut short left its
    // due entry where it was: it is due at once).
    let retries = vec!["\"1s\""; 20];
    assert!(21 * 2 + 20 > UNTIL_KILL.as_secs());
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = dead_port();
    let config = dir.path().join("driftguard.toml");
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [storage]\ndata_dir = {data:?}\n\n\
         [limits]\nrequests_per_minute = 100000\n\n\
         [webhooks]\nca_file = {ca:?}\nretry_delays = [{retries}]\nattempt_timeout = \"2s\"\n\
         allow_targets = [\"127.0.0.0/8\"]\n",
        data = dir.path().join("data").to_str().expect("UTF-8 path"),
        ca = ca.pem_file.to_str().expect("UTF-8 path"),
        retries = retries.join(", "),
    );
    std::fs::write(&config, toml).expect("write config");
    let key = generate_key(Environment::Live);
    let api = Api::new(format!("http://127.0.0.1:{port}"), &key, client(None));

    let mut daemon = serve(&config, &key, port, dir.path().join("first.log"));
    daemon.wait_ready(&api.client).await;
    let contract = api
        .json(
            Method::POST,
            "/api/v1/contracts",
            Some(json!({"name": "users", "schema": {"columns": users_columns()}})),
            201,
        )
        .await;
    let contract_id = id_of(&contract);
    // Every attempt hangs (past the attempt timeout) until the crash: nothing is delivered.
    receiver.set_default(
        "/crash",
        Reply::status(200).delayed(Duration::from_secs(60)),
    );
    let hook = api
        .json(
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({"url": receiver.url("/crash"), "events": ALL_EVENTS})),
            201,
        )
        .await;

    // The burst, concurrently; the daemon dies while (or just after) it is answered. Every
    // answer is a 200; only a request still in flight at the kill may go unanswered.
    let answered: Arc<Mutex<Vec<String>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let killing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut burst = Vec::new();
    for _ in 0..BURST {
        let api = api.clone();
        let (answered, failures, killing) = (answered.clone(), failures.clone(), killing.clone());
        let body =
            json!({"contract_id": contract_id, "incoming_schema": {"columns": users_columns()}});
        burst.push(tokio::spawn(async move {
            let answer = api.send(Method::POST, "/api/v1/check", Some(body)).await;
            let after_kill = killing.load(Ordering::SeqCst);
            match answer {
                Some((200, body)) => {
                    let check: Value = serde_json::from_slice(&body).expect("check JSON");
                    lock(&answered).push(id_of(&check));
                }
                Some((status, body)) => lock(&failures).push(format!(
                    "answered {status}: {}",
                    String::from_utf8_lossy(&body)
                )),
                None if after_kill => {}
                None => lock(&failures).push("no answer, before the kill".to_owned()),
            }
        }));
    }
    let ready = wait_until(UNTIL_KILL, || async {
        lock(&answered).len() >= BURST * 3 / 4 && receiver.count("/crash") > 0
    })
    .await;
    assert!(ready, "burst answered; log:\n{}", daemon.log());
    // Nothing was given up before the crash (so every answered check must be delivered
    // after it).
    let hook_deliveries = api
        .json(
            Method::GET,
            &format!("/api/v1/webhooks/{}/deliveries?limit=1000", id_of(&hook)),
            None,
            200,
        )
        .await;
    for delivery in hook_deliveries.as_array().expect("array") {
        assert_eq!(
            delivery["status"], "pending",
            "before the crash: {delivery:#}"
        );
    }
    let first_log = daemon.log();
    killing.store(true, Ordering::SeqCst);
    daemon.kill();
    let crashed_at = Instant::now();
    for task in burst {
        task.await.expect("burst task");
    }
    let failures = lock(&failures).clone();
    assert!(
        failures.is_empty(),
        "every check answered before the kill is a 200: {failures:#?}\nlog:\n{first_log}"
    );
    let answered = lock(&answered).clone();
    assert!(answered.len() >= BURST * 3 / 4);
    let before_crash = receiver.requests("/crash");
    assert!(!before_crash.is_empty());
    assert!(
        before_crash.len() < answered.len(),
        "deliveries were pending at the crash"
    );

    // The receiver recovers; the daemon restarts on the same configuration.
    receiver.set_default("/crash", Reply::status(200));
    let mut daemon = serve(&config, &key, port, dir.path().join("second.log"));
    daemon.wait_ready(&api.client).await;

    let delivered_after = || -> HashMap<String, Received> {
        receiver
            .requests("/crash")
            .into_iter()
            .filter(|r| r.at > crashed_at && r.answered == 200)
            .map(|r| (r.check_id(), r))
            .collect()
    };
    let all = wait_until(Duration::from_secs(60), || async {
        let after = delivered_after();
        answered.iter().all(|id| after.contains_key(id))
    })
    .await;
    let after = delivered_after();
    let missing: Vec<&String> = answered
        .iter()
        .filter(|id| !after.contains_key(*id))
        .collect();
    assert!(
        all,
        "{} of {} answered checks not delivered after the restart: {missing:?}\nfirst log:\n{first_log}\nsecond log:\n{}",
        missing.len(),
        answered.len(),
        daemon.log()
    );

    // Each answered check is stored, and its delivery is recorded as delivered.
    let hook_id = id_of(&hook);
    let path = format!("/api/v1/webhooks/{hook_id}/deliveries?limit=1000");
    let (recorded, listed) = poll(
        Duration::from_secs(20),
        || api.json(Method::GET, &path, None, 200),
        |listed| {
            answered.iter().all(|id| {
                listed
                    .as_array()
                    .expect("array")
                    .iter()
                    .any(|d| d["check_id"] == id.as_str() && d["status"] == "delivered")
            })
        },
    )
    .await;
    assert!(recorded, "every delivery recorded as delivered: {listed:#}");
    let listed = listed.as_array().expect("array").clone();
    for id in &answered {
        api.json(Method::GET, &format!("/api/v1/checks/{id}"), None, 200)
            .await;
        let mine: Vec<&Value> = listed
            .iter()
            .filter(|d| d["check_id"] == id.as_str())
            .collect();
        assert_eq!(mine.len(), 1, "one delivery per check: {mine:#?}");
        let delivery = mine[0];
        // The delivery id is stable: on every request for this check, before and after
        // the crash, and in the history.
        for request in receiver.requests("/crash") {
            // A request the kill cut off mid-body has no body to name its check.
            if request.answered != CUT_OFF && request.check_id() == *id {
                assert_eq!(request.header("x-driftguard-delivery"), delivery["id"]);
                assert_eq!(request.header("webhook-id"), delivery["id"]);
            }
        }
        // The successful request is the last recorded attempt.
        let last = delivery["attempts"]
            .as_array()
            .and_then(|a| a.last())
            .expect("an attempt");
        assert_eq!(last["status_code"], 200, "{delivery:#}");
        assert_eq!(
            after[id].header("x-driftguard-attempt"),
            last["number"].to_string(),
            "{delivery:#}"
        );
    }
    // A request the kill cut off still named one of the recorded deliveries.
    for request in receiver.requests("/crash") {
        if request.answered == CUT_OFF {
            let id = request.header("x-driftguard-delivery");
            assert!(
                listed.iter().any(|d| d["id"] == id),
                "cut-off request for an unknown delivery {id}"
            );
        }
    }
    // At least one check was being delivered at the crash and kept its id across it.
    let straddling = before_crash
        .iter()
        .filter(|r| r.answered != CUT_OFF && after.contains_key(&r.check_id()))
        .count();
    assert!(straddling > 0, "some deliveries straddled the crash");
}
