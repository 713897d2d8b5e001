//! SPEC 6.4's webhook `filter`: a check fires a webhook only when its severity is at least
//! `min_severity` and its contract's name matches one of `contract_names`. Evaluated in
//! the check's transaction, before anything is queued: a filtered-out check writes no
//! delivery (so the deliveries are counted right after each check, without waiting).

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_lets_through_only_severe_enough_checks_of_matching_contracts() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = Vec::new()).await;
    let orders = contract(&server, "orders_eu").await;
    let users = contract(&server, "users").await;
    let create = |filter: Value| {
        let server = &server;
        let url = receiver.url("/hook");
        async move {
            post(
                server,
                "/api/v1/webhooks",
                json!({"url": url, "events": ALL_EVENTS, "filter": filter}),
            )
            .await
            .assert_status(201)
        }
    };
    let severe_orders = create(json!({"min_severity": 50, "contract_names": ["orders_*"]})).await;
    assert_eq!(
        severe_orders["filter"],
        json!({"min_severity": 50, "contract_names": ["orders_*"]})
    );
    let nothing = create(json!({"contract_names": []})).await;
    let severe = create(json!({"min_severity": 90})).await;
    let everything = create(Value::Null).await;
    assert_eq!(everything["filter"], Value::Null);
    let count = |hook: &Value| {
        let (server, id) = (&server, id_of(hook));
        async move { deliveries(server, &id).await.len() }
    };

    // (contract, columns, severity): warning 70, pass 0, breaking 100.
    for (contract_id, columns) in [
        (&orders, warning_columns()),
        (&orders, pass_columns()),
        (&users, breaking_columns()),
        (&orders, breaking_columns()),
    ] {
        run_check(&server, contract_id, columns).await;
    }
    assert_eq!(count(&severe_orders).await, 2, "orders_eu at 70 and 100");
    assert_eq!(count(&nothing).await, 0, "[] matches nothing");
    assert_eq!(count(&severe).await, 2, "the two checks at 100");
    assert_eq!(count(&everything).await, 4);

    // Names are matched at check time: users renamed into the pattern now fires.
    server
        .send(
            Method::PATCH,
            &format!("/api/v1/contracts/{users}"),
            Some(&server.key),
            r#"{"name": "orders_us"}"#,
        )
        .await
        .assert_status(200);
    run_check(&server, &users, warning_columns()).await;
    assert_eq!(count(&severe_orders).await, 3);
    // PATCH `filter: null` removes the filter.
    let cleared = patch(&server, &id_of(&nothing), json!({"filter": null})).await;
    assert_eq!(cleared["filter"], Value::Null);
    run_check(&server, &orders, pass_columns()).await;
    assert_eq!(count(&nothing).await, 1);

    // What was queued is delivered as usual.
    let total = 3 + 1 + 2 + 6;
    let (done, got) = poll(
        Duration::from_secs(30),
        || async { receiver.requests("/hook").len() },
        |n| *n == total,
    )
    .await;
    assert!(done, "{got} of {total} delivered");
}

/// The overview's `deliveries_24h` follows each delivery as it moves: queued (pending),
/// abandoned, queued again by a retry, delivered; a test delivery counts; a deleted
/// webhook's deliveries leave the counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_counts_deliveries_where_they_stand() {
    let ca = TestCa::new();
    let receiver = Receiver::start(&ca).await;
    receiver.script("/hook", vec![Reply::status(500)]);
    let server = start(&ca, |cfg| cfg.webhooks.retry_delays = Vec::new()).await;
    let contract_id = contract(&server, "users").await;
    let hook = webhook(&server, &receiver.url("/hook"), ALL_EVENTS, None).await;
    let hook_id = id_of(&hook);
    let counts = || async {
        server.get("/api/v1/overview").await.assert_status(200)["deliveries_24h"].clone()
    };
    run_check(&server, &contract_id, pass_columns()).await;
    let abandoned = wait_delivery(&server, &hook_id, "abandoned", Duration::from_secs(30)).await;
    assert_eq!(
        counts().await,
        json!({"delivered": 0, "abandoned": 1, "pending": 0})
    );
    let path = format!(
        "/api/v1/webhooks/{hook_id}/deliveries/{}/retry",
        id_of(&abandoned)
    );
    post(&server, &path, json!({})).await.assert_status(202);
    wait_delivery(&server, &hook_id, "delivered", Duration::from_secs(30)).await;
    assert_eq!(
        counts().await,
        json!({"delivered": 1, "abandoned": 0, "pending": 0})
    );
    post(
        &server,
        &format!("/api/v1/webhooks/{hook_id}/test"),
        json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        counts().await,
        json!({"delivered": 2, "abandoned": 0, "pending": 0})
    );
    server
        .send(
            Method::DELETE,
            &format!("/api/v1/webhooks/{hook_id}"),
            Some(&server.key),
            Bytes::new(),
        )
        .await
        .assert_status(200);
    assert_eq!(
        counts().await,
        json!({"delivered": 0, "abandoned": 0, "pending": 0})
    );
}
