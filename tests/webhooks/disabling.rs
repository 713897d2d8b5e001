//! SPEC 5.3 automatic disabling: consecutive abandoned deliveries disable a webhook until
//! it is resumed; `gone` after a 410.

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consecutive_abandoned_deliveries_disable_a_webhook_until_it_is_resumed() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| {
        cfg.webhooks.retry_delays = Vec::new();
        cfg.webhooks.disable_after = 2;
    })
    .await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/flaky"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    assert_eq!(
        (
            hook["disabled_reason"].clone(),
            hook["consecutive_failures"].clone()
        ),
        (Value::Null, json!(0))
    );
    receiver.set_default("/flaky", Reply::status(500));
    run_check(&server, &contract_id, pass_columns()).await;
    wait_delivery(&server, &hook_id, "abandoned", Duration::from_secs(20)).await;
    let one = get_webhook(&server, &hook_id).await;
    assert_eq!(
        (one["active"].clone(), one["consecutive_failures"].clone()),
        (json!(true), json!(1))
    );
    // A successful test delivery resets the count (and changes nothing else).
    receiver.script("/flaky", vec![Reply::status(200)]);
    post(
        &server,
        &format!("/api/v1/webhooks/{hook_id}/test"),
        json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        get_webhook(&server, &hook_id).await["consecutive_failures"],
        0
    );

    for _ in 0..2 {
        run_check(&server, &contract_id, pass_columns()).await;
    }
    let disabled = wait_until(Duration::from_secs(20), || async {
        get_webhook(&server, &hook_id).await["active"] == false
    })
    .await;
    assert!(disabled, "disabled after 2 abandoned deliveries in a row");
    let hook_now = get_webhook(&server, &hook_id).await;
    assert_eq!(hook_now["disabled_reason"], "failing");
    assert_eq!(hook_now["consecutive_failures"], 2);
    let listed = server.get("/api/v1/webhooks").await.assert_status(200);
    assert_eq!(listed[0]["disabled_reason"], "failing");
    // A test delivery does not re-activate it.
    receiver.script("/flaky", vec![Reply::status(200)]);
    post(
        &server,
        &format!("/api/v1/webhooks/{hook_id}/test"),
        json!({}),
    )
    .await
    .assert_status(200);
    let tested = get_webhook(&server, &hook_id).await;
    assert_eq!(
        (
            tested["active"].clone(),
            tested["consecutive_failures"].clone()
        ),
        (json!(false), json!(0))
    );
    // PATCH active: true resumes it and clears the reason.
    receiver.set_default("/flaky", Reply::status(200));
    let resumed = patch(&server, &hook_id, json!({"active": true})).await;
    assert_eq!(
        (
            resumed["active"].clone(),
            resumed["disabled_reason"].clone(),
            resumed["consecutive_failures"].clone()
        ),
        (json!(true), Value::Null, json!(0))
    );
    let paused = patch(&server, &hook_id, json!({"active": false})).await;
    assert_eq!(paused["disabled_reason"], "paused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_is_the_disabled_reason_after_a_410() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |_| {}).await;
    let contract_id = contract(&server, "users").await;
    let hook_id = id_of(&webhook(&server, &receiver.url("/g"), ALL_EVENTS, None).await);
    receiver.script("/g", vec![Reply::status(410)]);
    run_check(&server, &contract_id, pass_columns()).await;
    let gone = wait_until(Duration::from_secs(20), || async {
        get_webhook(&server, &hook_id).await["disabled_reason"] == "gone"
    })
    .await;
    assert!(gone, "{}", get_webhook(&server, &hook_id).await);
    assert_eq!(get_webhook(&server, &hook_id).await["active"], false);
    assert_eq!(
        patch(&server, &hook_id, json!({"active": true})).await["disabled_reason"],
        Value::Null
    );
}
