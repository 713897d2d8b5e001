//! The target guard: a webhook URL whose name resolves to loopback is refused unless
//! `webhooks.allow_targets` lets it through.

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_target_guard_refuses_a_name_that_resolves_to_loopback_unless_allowed() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    // The default guard: `localhost` resolves to loopback, which it denies.
    let ca_file = ca.pem_file.clone();
    let server = TestServer::start_with(move |cfg| {
        cfg.limits.requests_per_minute = 1_000_000.try_into().unwrap();
        cfg.webhooks.ca_file = Some(ca_file);
        cfg.webhooks.retry_delays = Vec::new();
    })
    .await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/guarded"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    run_check(&server, &contract_id, pass_columns()).await;
    let delivery = wait_delivery(&server, &hook_id, "abandoned", Duration::from_secs(20)).await;
    let attempt = &delivery["attempts"][0];
    assert_eq!(attempt["status_code"], Value::Null);
    assert_eq!(
        attempt["error"], "blocked by webhooks.deny_targets",
        "{delivery}"
    );
    // A test delivery is refused the same way.
    let tested = post(
        &server,
        &format!("/api/v1/webhooks/{hook_id}/test"),
        json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        tested["attempts"][0]["error"],
        "blocked by webhooks.deny_targets"
    );
    assert_eq!(receiver.connections(), 0, "no connection was made");
    drop(server);

    // allow_targets lets it through; of `localhost`'s addresses only the allowed one is
    // used (the receiver listens on 127.0.0.1, and ::1 stays denied).
    let ca_file = ca.pem_file.clone();
    let server = TestServer::start_with(move |cfg| {
        cfg.limits.requests_per_minute = 1_000_000.try_into().unwrap();
        cfg.webhooks.ca_file = Some(ca_file);
        cfg.webhooks.allow_targets = vec!["127.0.0.0/8".parse().expect("a CIDR")];
    })
    .await;
    let contract_id = contract(&server, "users").await;
    let hook_id = id_of(&webhook(&server, &receiver.url("/guarded"), ALL_EVENTS, None).await);
    run_check(&server, &contract_id, pass_columns()).await;
    wait_delivery(&server, &hook_id, "delivered", Duration::from_secs(20)).await;
    assert_eq!(receiver.count("/guarded"), 1);
}
