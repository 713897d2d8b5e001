//! Retries: the configured delays, success stopping them, `410 Gone`, and `Retry-After`
//! on 429 and 503.

use std::time::SystemTime;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn three_failures_abandon_the_delivery_after_the_configured_delays() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[200, 400])).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/fail"), ALL_EVENTS, None).await;
    receiver.set_default("/fail", Reply::status(500));
    run_check(&server, &contract_id, pass_columns()).await;

    let requests = receiver.wait_for("/fail", 3, Duration::from_secs(20)).await;
    let delivery =
        wait_delivery(&server, &id_of(&hook), "abandoned", Duration::from_secs(20)).await;
    assert_eq!(attempt_numbers(&requests), ["1", "2", "3"]);
    let first = requests[0].header("x-driftguard-delivery");
    assert!(requests
        .iter()
        .all(|r| r.header("x-driftguard-delivery") == first));
    assert_eq!(delivery["id"], first);
    assert!(
        requests[1].at - requests[0].at >= Duration::from_millis(200),
        "{:?}",
        requests[1].at - requests[0].at
    );
    assert!(
        requests[2].at - requests[1].at >= Duration::from_millis(400),
        "{:?}",
        requests[2].at - requests[1].at
    );
    assert_eq!(
        status_codes(&delivery),
        [json!(500), json!(500), json!(500)]
    );
    let attempts = delivery["attempts"].as_array().expect("attempts");
    for (i, attempt) in attempts.iter().enumerate() {
        assert_eq!(attempt["number"], i + 1, "{delivery}");
        assert_eq!(attempt["error"], Value::Null, "{delivery}");
    }
    assert_eq!(delivery["next_attempt_at"], Value::Null);
    // No fourth attempt, well past when one would have been due.
    wait_past(last_attempt_end(&delivery) + Duration::from_millis(2 * 400)).await;
    assert_eq!(receiver.count("/fail"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn success_on_the_second_attempt_stops_retries() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[200, 400])).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/flaky"), ALL_EVENTS, None).await;
    receiver.script("/flaky", vec![Reply::status(500), Reply::status(204)]);
    receiver.set_default("/flaky", Reply::status(500));
    run_check(&server, &contract_id, pass_columns()).await;

    let requests = receiver
        .wait_for("/flaky", 2, Duration::from_secs(20))
        .await;
    let delivery =
        wait_delivery(&server, &id_of(&hook), "delivered", Duration::from_secs(20)).await;
    assert_eq!(attempt_numbers(&requests), ["1", "2"]);
    let id = requests[0].header("x-driftguard-delivery");
    assert!(id.starts_with("dlv_"));
    assert_eq!(requests[1].header("x-driftguard-delivery"), id);
    assert_eq!(requests[1].header("webhook-id"), id);
    assert_eq!(requests[0].body, requests[1].body, "same payload");
    assert_eq!(status_codes(&delivery), [json!(500), json!(204)]);
    assert_eq!(delivery["next_attempt_at"], Value::Null);
    // Past when a third attempt would have been due, no third request.
    wait_past(last_attempt_end(&delivery) + Duration::from_millis(2 * 400)).await;
    assert_eq!(receiver.count("/flaky"), 2, "retries stop after a 2xx");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_deactivates_the_webhook_and_reactivation_delivers() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[200, 400])).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/gone"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    receiver.script("/gone", vec![Reply::status(410)]);
    let (_, check_id) = run_check(&server, &contract_id, pass_columns()).await;
    receiver.wait_for("/gone", 1, Duration::from_secs(20)).await;

    let deactivated = wait_until(Duration::from_secs(20), || async {
        server
            .get(&format!("/api/v1/webhooks/{hook_id}"))
            .await
            .assert_status(200)["active"]
            == false
    })
    .await;
    assert!(deactivated, "a 410 sets the webhook active: false");
    let listed = server.get("/api/v1/webhooks").await.assert_status(200);
    assert_eq!(listed[0]["active"], false, "{listed}");
    let delivery = deliveries(&server, &hook_id).await.remove(0);
    assert_eq!(delivery["status"], "pending", "{delivery}");
    assert_eq!(delivery["next_attempt_at"], Value::Null, "{delivery}");
    assert_eq!(status_codes(&delivery), [json!(410)]);

    // While deactivated: no retries and no new deliveries.
    run_check(&server, &contract_id, pass_columns()).await;
    let checked = OffsetDateTime::now_utc();
    wait_past(last_attempt_end(&delivery).max(checked) + Duration::from_millis(2 * 400)).await;
    assert_eq!(receiver.count("/gone"), 1, "nothing is sent while gone");
    assert_eq!(deliveries(&server, &hook_id).await.len(), 1);

    set_active(&server, &hook_id, true).await;
    let requests = receiver.wait_for("/gone", 2, Duration::from_secs(20)).await;
    let delivery = wait_delivery(&server, &hook_id, "delivered", Duration::from_secs(20)).await;
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].check_id(), check_id);
    assert_eq!(attempt_numbers(&requests), ["1", "2"]);
    assert_eq!(
        requests[1].header("x-driftguard-delivery"),
        requests[0].header("x-driftguard-delivery")
    );
    assert_eq!(status_codes(&delivery), [json!(410), json!(200)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn retry_after_on_429_and_503_delays_the_next_attempt() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[200])).await;
    let contract_id = contract(&server, "users").await;
    let slow_down = webhook(&server, &receiver.url("/429"), ALL_EVENTS, None).await;
    let unavailable = webhook(&server, &receiver.url("/503"), ALL_EVENTS, None).await;
    receiver.script("/429", vec![Reply::status(429).header("retry-after", "1")]);
    // An HTTP date at least 2 s ahead (it has whole-second resolution).
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3));
    receiver.script(
        "/503",
        vec![Reply::status(503).header("retry-after", &date)],
    );
    run_check(&server, &contract_id, pass_columns()).await;

    let r429 = receiver.wait_for("/429", 2, Duration::from_secs(20)).await;
    let r503 = receiver.wait_for("/503", 2, Duration::from_secs(20)).await;
    let gap = r429[1].at - r429[0].at;
    assert!(gap >= Duration::from_secs(1), "Retry-After: 1 → {gap:?}");
    let gap = r503[1].at - r503[0].at;
    assert!(
        gap >= Duration::from_secs(1),
        "Retry-After: <date> → {gap:?}"
    );
    for hook in [&slow_down, &unavailable] {
        let delivery =
            wait_delivery(&server, &id_of(hook), "delivered", Duration::from_secs(20)).await;
        assert_eq!(delivery["attempts"].as_array().map(Vec::len), Some(2));
    }
    assert_eq!(attempt_numbers(&r429), ["1", "2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn retry_after_never_adds_attempts() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[200])).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/busy"), ALL_EVENTS, None).await;
    receiver.set_default("/busy", Reply::status(503).header("retry-after", "1"));
    run_check(&server, &contract_id, pass_columns()).await;
    receiver.wait_for("/busy", 2, Duration::from_secs(20)).await;
    let delivery =
        wait_delivery(&server, &id_of(&hook), "abandoned", Duration::from_secs(20)).await;
    assert_eq!(status_codes(&delivery), [json!(503), json!(503)]);
    // Past when a third attempt would have been due (Retry-After: 1), twice over.
    wait_past(last_attempt_end(&delivery) + Duration::from_secs(2)).await;
    assert_eq!(receiver.count("/busy"), 2, "1 + len(retry_delays) attempts");
}
