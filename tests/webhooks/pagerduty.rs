//! SPEC 6.4's `pagerduty` format, delivered to a receiver playing PagerDuty's Events API v2
//! (`Receiver::like_pagerduty`: `202` to a valid event, `400 invalid event` to any other
//! body): drift triggers an incident per contract, the contract's next pass resolves it —
//! across a restart too — and deleting the contract or the webhook resolves nothing and
//! leaves nothing behind.

use crate::support::*;

const ROUTING_KEY: &str = "R0FIXTUREFIXTUREFIXTUREFIXTURE01";

/// A `pagerduty` webhook to `url`, firing on drift only (a resolve needs no `pass`).
async fn pagerduty_webhook(server: &TestServer, url: &str) -> Value {
    let hook = post(
        server,
        "/api/v1/webhooks",
        json!({"url": url, "events": ["breaking", "warning"], "format": "pagerduty",
               "routing_key": ROUTING_KEY}),
    )
    .await
    .assert_status(201);
    assert_eq!(hook["format"], "pagerduty");
    assert!(
        !hook.to_string().contains(ROUTING_KEY),
        "never shown: {hook}"
    );
    hook
}

/// Waits until the webhook has `count` deliveries, every one delivered.
async fn wait_delivered(server: &TestServer, webhook_id: &str, count: usize) -> Vec<Value> {
    let (done, list) = poll(
        Duration::from_secs(30),
        || deliveries(server, webhook_id),
        |list| list.len() == count && list.iter().all(|d| d["status"] == "delivered"),
    )
    .await;
    assert!(done, "{count} delivered: {list:#?}");
    list
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_triggers_one_incident_per_contract_and_the_next_pass_resolves_it_after_a_restart() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    receiver.like_pagerduty("/v2/enqueue");
    receiver.like_pagerduty("/raw");
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = Vec::new()).await;
    let contract_id = contract(&server, "users").await;
    let hook = pagerduty_webhook(&server, &receiver.url("/v2/enqueue")).await;
    let hook_id = id_of(&hook);
    let secret = hook["secret"].as_str().expect("secret").to_owned();
    // The raw check document is not an event PagerDuty takes.
    let raw = webhook(&server, &receiver.url("/raw"), &["breaking"], None).await;

    // A pass before any drift opens nothing and resolves nothing.
    run_check(&server, &contract_id, pass_columns()).await;
    assert!(deliveries(&server, &hook_id).await.is_empty());

    let (_, breaking) = run_check(&server, &contract_id, breaking_columns()).await;
    wait_delivered(&server, &hook_id, 1).await;
    let refused = wait_delivery(&server, &id_of(&raw), "abandoned", Duration::from_secs(30)).await;
    assert_eq!(status_codes(&refused), [json!(400)], "PagerDuty refuses it");
    let (_, warning) = run_check(&server, &contract_id, warning_columns()).await;
    wait_delivered(&server, &hook_id, 2).await;

    let events: Vec<Value> = receiver
        .requests("/v2/enqueue")
        .iter()
        .map(|r| {
            assert!(verify_driftguard(&secret, r) && verify_standard(&secret, r));
            r.json()
        })
        .collect();
    for (event, check, severity) in [
        (&events[0], &breaking, "critical"),
        (&events[1], &warning, "warning"),
    ] {
        assert_eq!(event["event_action"], "trigger");
        assert_eq!(event["routing_key"], ROUTING_KEY);
        assert_eq!(
            event["dedup_key"],
            contract_id.as_str(),
            "one incident per contract"
        );
        assert_eq!(event["payload"]["severity"], severity);
        assert_eq!(event["payload"]["source"], "driftguard");
        assert_eq!(event["payload"]["component"], "users");
        assert_eq!(
            event["payload"]["custom_details"]["check_id"],
            check.as_str()
        );
        let summary = event["payload"]["summary"].as_str().expect("summary");
        assert!(
            summary.contains("users")
                && summary.contains(severity.replace("critical", "breaking").as_str()),
            "{summary}"
        );
    }

    // The incident survives a restart; the next pass resolves it.
    let server = server.restart().await;
    run_check(&server, &contract_id, pass_columns()).await;
    wait_delivered(&server, &hook_id, 3).await;
    let resolve = receiver
        .requests("/v2/enqueue")
        .pop()
        .expect("resolve")
        .json();
    assert_eq!(
        resolve,
        json!({"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": contract_id})
    );
    // A second pass: nothing (the check's transaction queues whatever it sends).
    run_check(&server, &contract_id, pass_columns()).await;
    assert_eq!(deliveries(&server, &hook_id).await.len(), 3);
    // Drift again: a new trigger, and its pass a new resolve.
    run_check(&server, &contract_id, breaking_columns()).await;
    run_check(&server, &contract_id, pass_columns()).await;
    let list = wait_delivered(&server, &hook_id, 5).await;
    let actions: Vec<String> = receiver
        .requests("/v2/enqueue")
        .iter()
        .map(|r| {
            r.json()["event_action"]
                .as_str()
                .expect("action")
                .to_owned()
        })
        .collect();
    assert_eq!(
        actions,
        ["trigger", "trigger", "resolve", "trigger", "resolve"],
        "{list:#?}"
    );

    // The test delivery is an `info` trigger of its own, which PagerDuty takes too.
    let test = post(
        &server,
        &format!("/api/v1/webhooks/{hook_id}/test"),
        json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(test["status"], "delivered", "{test}");
    let ping = receiver.requests("/v2/enqueue").pop().expect("ping").json();
    assert_eq!(ping["payload"]["severity"], "info");
    assert_ne!(ping["dedup_key"], contract_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_contract_or_the_webhook_resolves_nothing_and_leaves_nothing() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    receiver.like_pagerduty("/v2/enqueue");
    let mut server = start(&ca, |cfg| cfg.webhooks.retry_delays = Vec::new()).await;
    let users = contract(&server, "users").await;
    let orders = contract(&server, "orders").await;
    let all = pagerduty_webhook(&server, &receiver.url("/v2/enqueue")).await;
    let kept = pagerduty_webhook(&server, &receiver.url("/v2/enqueue")).await;
    let scoped = post(
        &server,
        "/api/v1/webhooks",
        json!({"url": receiver.url("/v2/enqueue"), "events": ["breaking"], "format": "pagerduty",
               "routing_key": ROUTING_KEY, "contract_id": orders}),
    )
    .await
    .assert_status(201);
    run_check(&server, &users, breaking_columns()).await;
    run_check(&server, &orders, breaking_columns()).await;
    wait_delivered(&server, &id_of(&all), 2).await;
    wait_delivered(&server, &id_of(&kept), 2).await;
    wait_delivered(&server, &id_of(&scoped), 1).await;
    let sent = receiver.requests("/v2/enqueue").len();
    assert_eq!(sent, 5);

    // Deleting `orders` deletes the webhook scoped to it and forgets its incidents with
    // the others; deleting a webhook forgets its own. Nothing is sent for either.
    server
        .send(
            Method::DELETE,
            &format!("/api/v1/contracts/{orders}"),
            Some(&server.key),
            Bytes::new(),
        )
        .await
        .assert_status(200);
    server
        .send(
            Method::DELETE,
            &format!("/api/v1/webhooks/{}", id_of(&all)),
            Some(&server.key),
            Bytes::new(),
        )
        .await
        .assert_status(200);
    assert_eq!(
        receiver.requests("/v2/enqueue").len(),
        sent,
        "nothing resolved"
    );
    // `kept`'s incident of users is still open: the next pass resolves it.
    run_check(&server, &users, pass_columns()).await;
    wait_delivered(&server, &id_of(&kept), 3).await;
    assert_eq!(receiver.requests("/v2/enqueue").len(), sent + 1);

    // Switching a webhook to another format forgets its incidents (and its routing key):
    // back on pagerduty, the next pass resolves nothing.
    run_check(&server, &users, breaking_columns()).await;
    wait_delivered(&server, &id_of(&kept), 4).await;
    assert_eq!(
        patch(&server, &id_of(&kept), json!({"format": "json"})).await["format"],
        "json"
    );
    let back = json!({"format": "pagerduty"});
    let refused = post_patch(&server, &id_of(&kept), back).await;
    assert!(refused
        .assert_error(400, "invalid_request")
        .starts_with("routing_key"));
    patch(
        &server,
        &id_of(&kept),
        json!({"format": "pagerduty", "routing_key": ROUTING_KEY}),
    )
    .await;
    run_check(&server, &users, pass_columns()).await;
    assert_eq!(deliveries(&server, &id_of(&kept)).await.len(), 4);

    // No incident row outlived its webhook or contract: the store verifies.
    server.stop().await;
    let path = server.config.storage.data_dir.join("driftguard.redb");
    let report = driftguard::store::maintenance::verify(&path).expect("the store verifies");
    assert_eq!(report.format_version, driftguard::store::FORMAT_VERSION);
}

/// A `PATCH` of a webhook, answered as it is.
async fn post_patch(server: &TestServer, webhook_id: &str, body: Value) -> Answer {
    server
        .send(
            Method::PATCH,
            &format!("/api/v1/webhooks/{webhook_id}"),
            Some(&server.key),
            body.to_string(),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolve_waits_behind_the_trigger_it_resolves_while_that_is_retried() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    receiver.like_pagerduty("/v2/enqueue");
    // PagerDuty is briefly unavailable for the trigger's first attempt.
    receiver.script("/v2/enqueue", vec![Reply::status(503)]);
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = delays(&[300, 300])).await;
    let contract_id = contract(&server, "users").await;
    let hook = pagerduty_webhook(&server, &receiver.url("/v2/enqueue")).await;
    run_check(&server, &contract_id, breaking_columns()).await;
    run_check(&server, &contract_id, pass_columns()).await;
    wait_delivered(&server, &id_of(&hook), 2).await;
    let sent: Vec<(String, u16)> = receiver
        .requests("/v2/enqueue")
        .iter()
        .map(|r| {
            (
                r.json()["event_action"]
                    .as_str()
                    .expect("action")
                    .to_owned(),
                r.answered,
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            ("trigger".to_owned(), 503),
            ("trigger".to_owned(), 202),
            ("resolve".to_owned(), 202)
        ]
    );
}
