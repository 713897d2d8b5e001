//! A delivery's life beside its webhook and the daemon: deleting a webhook stops its
//! retries, pending deliveries survive a graceful restart, finished ones are purged after
//! the retention.

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_webhook_stops_its_pending_retries() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[500, 500])).await;
    let contract_id = contract(&server, "users").await;
    let doomed = webhook(&server, &receiver.url("/doomed"), ALL_EVENTS, None).await;
    let control = webhook(&server, &receiver.url("/control"), ALL_EVENTS, None).await;
    receiver.set_default("/doomed", Reply::status(500));
    run_check(&server, &contract_id, pass_columns()).await;

    receiver
        .wait_for("/doomed", 1, Duration::from_secs(20))
        .await;
    let doomed_id = id_of(&doomed);
    let (retry_queued, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &doomed_id),
        |list| {
            list[0]["attempts"].as_array().map(Vec::len) == Some(1)
                && list[0]["next_attempt_at"].is_string()
        },
    )
    .await;
    assert!(retry_queued, "{list:#?}");
    let retry_due = server_time(&list[0]["next_attempt_at"]);
    let answer = server
        .delete(&format!("/api/v1/webhooks/{doomed_id}"))
        .await
        .assert_status(200);
    assert_eq!(answer, json!({"id": doomed_id, "deleted": true}));
    server
        .get(&format!("/api/v1/webhooks/{doomed_id}/deliveries"))
        .await
        .assert_error(404, "not_found");

    // Once the retry's due time has passed, a new check makes the dispatcher claim
    // everything due: a retry that survived the deletion would go out with the control's
    // delivery.
    wait_past(retry_due).await;
    run_check(&server, &contract_id, pass_columns()).await;
    receiver
        .wait_for("/control", 2, Duration::from_secs(20))
        .await;
    let control_id = id_of(&control);
    let (finished, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &control_id),
        |list| list.len() == 2 && list.iter().all(|d| d["status"] == "delivered"),
    )
    .await;
    assert!(finished, "{list:#?}");
    assert_eq!(
        receiver.count("/doomed"),
        1,
        "no attempt after the webhook was deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_deliveries_survive_a_graceful_restart() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[1500])).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/r"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    receiver.script("/r", vec![Reply::status(500)]);
    let (_, check_id) = run_check(&server, &contract_id, pass_columns()).await;
    receiver.wait_for("/r", 1, Duration::from_secs(20)).await;
    let (recorded, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &hook_id),
        |list| list[0]["attempts"].as_array().map(Vec::len) == Some(1),
    )
    .await;
    assert!(recorded, "{list:#?}");
    assert_eq!(list[0]["status"], "pending");

    let server = server.restart().await;
    let requests = receiver.wait_for("/r", 2, Duration::from_secs(20)).await;
    let delivery = wait_delivery(&server, &hook_id, "delivered", Duration::from_secs(20)).await;
    let gap = requests[1].at - requests[0].at;
    assert!(
        gap >= Duration::from_millis(1500),
        "the retry keeps its time: {gap:?}"
    );
    assert_eq!(attempt_numbers(&requests), ["1", "2"]);
    assert_eq!(
        requests[1].header("x-driftguard-delivery"),
        requests[0].header("x-driftguard-delivery")
    );
    assert_eq!(requests[1].check_id(), check_id);
    assert_eq!(status_codes(&delivery), [json!(500), json!(200)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_deliveries_are_purged_after_the_retention() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |_| {}).await;
    let contract_id = contract(&server, "users").await;
    let done = id_of(&webhook(&server, &receiver.url("/done"), ALL_EVENTS, None).await);
    let waiting = id_of(&webhook(&server, &receiver.url("/waiting"), ALL_EVENTS, None).await);
    receiver.script("/waiting", vec![Reply::status(410)]);
    run_check(&server, &contract_id, pass_columns()).await;
    let delivered = wait_delivery(&server, &done, "delivered", Duration::from_secs(20)).await;
    let (paused, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &waiting),
        |list| list.len() == 1 && list[0]["attempts"].as_array().map(Vec::len) == Some(1),
    )
    .await;
    assert!(paused, "{list:#?}");

    // Restart with a retention the finished delivery has outlived.
    let mut server = server;
    server.config.webhooks.retention = Duration::from_millis(1);
    wait_past(last_attempt_end(&delivered) + server.config.webhooks.retention).await;
    let server = server.restart().await;
    let (purged, list) = poll(
        Duration::from_secs(20),
        || deliveries(&server, &done),
        Vec::is_empty,
    )
    .await;
    assert!(purged, "the delivered delivery is purged: {list:#?}");
    let pending = deliveries(&server, &waiting).await;
    assert_eq!(pending.len(), 1, "a pending delivery is never purged");
    assert_eq!(pending[0]["status"], "pending");
}
