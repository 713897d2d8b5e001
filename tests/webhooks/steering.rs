//! SPEC 5.3 what operators steer: `PATCH`, test deliveries, `retry` and `recover`.

use time::format_description::well_known::Rfc3339;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_changes_what_is_delivered_where_and_keeps_the_secret() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |_| {}).await;
    let users = contract(&server, "users").await;
    let orders = contract(&server, "orders").await;
    let hook = webhook(&server, &receiver.url("/old"), &["breaking"], None).await;
    let hook_id = id_of(&hook);
    let secret = hook["secret"].as_str().expect("secret").to_owned();
    let patched = patch(
        &server,
        &hook_id,
        json!({"url": receiver.url("/new"), "events": ["pass"], "contract_id": orders}),
    )
    .await;
    assert!(patched.get("secret").is_none());
    run_check(&server, &users, pass_columns()).await; // another contract: nothing
    run_check(&server, &orders, breaking_columns()).await; // another event: nothing
    let (_, check_id) = run_check(&server, &orders, pass_columns()).await;
    let request = receiver
        .wait_for("/new", 1, Duration::from_secs(20))
        .await
        .remove(0);
    assert_eq!(request.check_id(), check_id);
    assert!(
        verify_driftguard(&secret, &request),
        "the secret did not change"
    );
    let delivery = wait_delivery(&server, &hook_id, "delivered", Duration::from_secs(20)).await;
    assert_eq!(delivery["check_id"], check_id.as_str());
    assert_eq!(receiver.count("/old"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_delivery_is_signed_sent_now_once_and_recorded() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let (server, other_key) = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[200]))
        .await
        .add_account("team-b", 10)
        .await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/t"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    let secret = hook["secret"].as_str().expect("secret").to_owned();
    let usage_before = server.get("/api/v1/usage").await.assert_status(200);
    let test_path = format!("/api/v1/webhooks/{hook_id}/test");

    // Delivered: 200 with the record, once the attempt has ended.
    let record = post(&server, &test_path, json!({}))
        .await
        .assert_status(200);
    assert_eq!(record["status"], "delivered", "{record}");
    assert_eq!(record["check_id"], Value::Null);
    assert_eq!(record["webhook_id"], hook_id.as_str());
    assert_eq!(record["next_attempt_at"], Value::Null);
    assert_eq!(status_codes(&record), [json!(200)]);
    let request = receiver.requests("/t").remove(0);
    let ping = request.json();
    assert_eq!(
        ping,
        json!({"type": "ping", "webhook_id": hook_id, "created_at": record["created_at"]})
    );
    assert!(verify_driftguard(&secret, &request) && verify_standard(&secret, &request));
    assert_eq!(request.header("x-driftguard-delivery"), record["id"]);
    assert_eq!(request.header("x-driftguard-attempt"), "1");
    // In the history, like any delivery; no credits spent.
    let listed = deliveries(&server, &hook_id).await;
    assert_eq!(listed, std::slice::from_ref(&record));
    assert_eq!(
        server.get("/api/v1/usage").await.assert_status(200),
        usage_before
    );

    // A failing test: one attempt, no retries; it does not count toward auto-disable.
    receiver.script("/t", vec![Reply::status(500)]);
    let failed = post(&server, &test_path, json!({}))
        .await
        .assert_status(200);
    assert_eq!(failed["status"], "abandoned");
    assert_eq!(status_codes(&failed), [json!(500)]);
    wait_past(last_attempt_end(&failed) + Duration::from_millis(3 * 200)).await;
    assert_eq!(receiver.count("/t"), 2, "no retry of a test");
    assert_eq!(
        get_webhook(&server, &hook_id).await["consecutive_failures"],
        0
    );

    // A paused webhook gets a test too, and stays paused.
    set_active(&server, &hook_id, false).await;
    let paused = post(&server, &test_path, json!({}))
        .await
        .assert_status(200);
    assert_eq!(paused["status"], "delivered");
    let after = get_webhook(&server, &hook_id).await;
    assert_eq!(
        (after["active"].clone(), after["disabled_reason"].clone()),
        (json!(false), json!("paused"))
    );
    run_check(&server, &contract_id, pass_columns()).await;
    assert_eq!(
        deliveries(&server, &hook_id).await.len(),
        3,
        "a paused webhook gets no check"
    );

    // Another account's key: 404, and nothing is sent.
    let sent = receiver.count("/t");
    server
        .send(Method::POST, &test_path, Some(&other_key), "{}")
        .await
        .assert_error(404, "not_found");
    assert_eq!(receiver.count("/t"), sent);
    // A retry of a test delivery is refused: send a new test.
    let retry = format!(
        "/api/v1/webhooks/{hook_id}/deliveries/{}/retry",
        id_of(&failed)
    );
    post(&server, &retry, json!({}))
        .await
        .assert_error(409, "conflict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_requeues_a_finished_delivery_keeping_its_id_and_counting_on() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let (server, other_key) = start(&ca, |cfg| cfg.webhooks.retry_delays = Vec::new())
        .await
        .add_account("team-b", 10)
        .await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/r"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    receiver.script(
        "/r",
        vec![
            Reply::status(500),
            Reply::status(200).delayed(Duration::from_secs(3)),
        ],
    );
    run_check(&server, &contract_id, pass_columns()).await;
    let abandoned = wait_delivery(&server, &hook_id, "abandoned", Duration::from_secs(20)).await;
    let retry = format!(
        "/api/v1/webhooks/{hook_id}/deliveries/{}/retry",
        id_of(&abandoned)
    );

    // Another account cannot.
    server
        .send(Method::POST, &retry, Some(&other_key), "")
        .await
        .assert_error(404, "not_found");
    let queued = post(&server, &retry, json!({})).await;
    assert_eq!(queued.status.as_u16(), 202);
    let queued = queued.json();
    assert_eq!(queued["id"], abandoned["id"]);
    assert_eq!(queued["status"], "pending");
    assert!(queued["next_attempt_at"].is_string(), "{queued}");
    // While pending (the receiver takes 3 s to answer): 409.
    receiver.wait_for("/r", 2, Duration::from_secs(20)).await;
    post(&server, &retry, json!({}))
        .await
        .assert_error(409, "conflict");
    let delivered = wait_delivery(&server, &hook_id, "delivered", Duration::from_secs(20)).await;
    assert_eq!(status_codes(&delivered), [json!(500), json!(200)]);

    // A delivered one can be sent again too: attempt 3, same id.
    assert_eq!(post(&server, &retry, json!({})).await.status.as_u16(), 202);
    let requests = receiver.wait_for("/r", 3, Duration::from_secs(20)).await;
    assert_eq!(attempt_numbers(&requests), ["1", "2", "3"]);
    assert!(requests
        .iter()
        .all(|r| r.header("x-driftguard-delivery") == abandoned["id"]));
    let again = wait_delivery(&server, &hook_id, "delivered", Duration::from_secs(20)).await;
    assert_eq!(status_codes(&again), [json!(500), json!(200), json!(200)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_requeues_the_abandoned_deliveries_since_a_time() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let (server, other_key) = start(&ca, |cfg| cfg.webhooks.retry_delays = Vec::new())
        .await
        .add_account("team-b", 10)
        .await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/down"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    receiver.script(
        "/down",
        vec![Reply::status(503), Reply::status(502), Reply::status(200)],
    );
    for _ in 0..3 {
        run_check(&server, &contract_id, pass_columns()).await;
    }
    let (done, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &hook_id),
        |list| list.len() == 3 && list.iter().all(|d| d["status"] != "pending"),
    )
    .await;
    assert!(done, "{list:#?}");
    let abandoned = list.iter().filter(|d| d["status"] == "abandoned").count();
    assert_eq!(abandoned, 2, "{list:#?}");
    let recover = format!("/api/v1/webhooks/{hook_id}/recover");
    // Since after they were made: none. As another account: 404.
    let later = json!({"since": "2999-01-01T00:00:00Z"});
    let answer = post(&server, &recover, later.clone()).await;
    assert_eq!(
        (answer.status.as_u16(), answer.json()),
        (202, json!({"requeued": 0}))
    );
    server
        .send(Method::POST, &recover, Some(&other_key), later.to_string())
        .await
        .assert_error(404, "not_found");
    // Since the first one was made (whole seconds, as shown): both abandoned ones.
    let since = list
        .iter()
        .map(|d| server_time(&d["created_at"]))
        .min()
        .expect("min");
    let since = since.format(&Rfc3339).expect("format");
    let answer = post(&server, &recover, json!({"since": since})).await;
    assert_eq!(
        (answer.status.as_u16(), answer.json()),
        (202, json!({"requeued": 2}))
    );
    let (all, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &hook_id),
        |list| list.iter().all(|d| d["status"] == "delivered"),
    )
    .await;
    assert!(all, "{list:#?}");
    assert_eq!(
        receiver.count("/down"),
        5,
        "three first attempts and two recovered"
    );
    let answer = post(&server, &recover, json!({"since": since})).await;
    assert_eq!(
        answer.json(),
        json!({"requeued": 0}),
        "nothing abandoned is left"
    );
}

/// Issue 26: a delivery keeps its last 20 attempts, so retrying it again and again cannot
/// grow it without end; the numbers keep counting (the receiver sees 1 to 25) and
/// `attempts_dropped` says how many are no longer listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_keeps_its_last_20_attempts_and_counts_the_rest() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| {
        cfg.webhooks.retry_delays = Vec::new();
        cfg.webhooks.disable_after = 0; // 25 abandoned in a row must not pause it
    })
    .await;
    let contract_id = contract(&server, "users").await;
    let hook_id = id_of(&webhook(&server, &receiver.url("/r"), ALL_EVENTS, None).await);
    receiver.set_default("/r", Reply::status(500));
    run_check(&server, &contract_id, pass_columns()).await;
    let abandoned = wait_delivery(&server, &hook_id, "abandoned", Duration::from_secs(20)).await;
    let retry = format!(
        "/api/v1/webhooks/{hook_id}/deliveries/{}/retry",
        id_of(&abandoned)
    );
    for made in 2..=25 {
        assert_eq!(post(&server, &retry, json!({})).await.status.as_u16(), 202);
        let (finished, list) = poll(
            Duration::from_secs(20),
            || deliveries(&server, &hook_id),
            |list| {
                list[0]["status"] == "abandoned"
                    && list[0]["attempts"].as_array().unwrap().last().unwrap()["number"] == made
            },
        )
        .await;
        assert!(finished, "attempt {made}: {list:#?}");
    }
    let delivery = &deliveries(&server, &hook_id).await[0];
    let numbers: Vec<u64> = delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (6..=25).collect::<Vec<u64>>());
    assert_eq!(delivery["attempts_dropped"], 5);
    let requests = receiver.wait_for("/r", 25, Duration::from_secs(20)).await;
    let sent: Vec<String> = (1..=25).map(|n| n.to_string()).collect();
    assert_eq!(attempt_numbers(&requests), sent);
}
