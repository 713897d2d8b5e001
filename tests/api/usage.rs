use hyper::Method;
use serde_json::json;

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn usage_live_checks_cost_one_test_checks_cost_nothing() {
    let server = TestServer::start().await;
    assert_eq!(usage(&server, &server.key).await, (1_000_000, 0, 0));
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let cid = text(&users["id"]);

    let live = check_ok(&server, &server.key, &cid, users_columns()).await;
    assert_eq!(live["credits_used"], 1);
    assert_eq!(usage(&server, &server.key).await, (999_999, 1, 1));

    let test_key = server.new_key(&server.key, "test").await;
    let test = check_ok(&server, &test_key, &cid, users_columns()).await;
    assert_eq!(test["credits_used"], 0);
    assert_eq!(
        test,
        expected_check(
            &test,
            &cid,
            "pass",
            0,
            json!({"removed": [], "type_changes": [], "added": []}),
            0
        )
    );
    // Both keys see the same account counters.
    assert_eq!(usage(&server, &server.key).await, (999_999, 1, 2));
    assert_eq!(usage(&server, &test_key).await, (999_999, 1, 2));

    // The stored test check keeps credits_used 0.
    let id = text(&test["id"]);
    let stored = server
        .get(&format!("/api/v1/checks/{id}"))
        .await
        .assert_status(200);
    assert_eq!(stored["credits_used"], 0);

    // A second live key spends from the same balance.
    let live2 = server.new_key(&server.key, "live").await;
    let got = check_ok(&server, &live2, &cid, users_columns()).await;
    assert_eq!(got["credits_used"], 1);
    assert_eq!(usage(&server, &server.key).await, (999_998, 2, 3));
}

#[tokio::test]
async fn no_credits_is_403_and_stores_nothing() {
    let server = TestServer::start_with(|cfg| cfg.credits.default_quota = 2).await;
    assert_eq!(usage(&server, &server.key).await, (2, 0, 0));
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let cid = text(&users["id"]);
    let test_key = server.new_key(&server.key, "test").await;

    check_ok(&server, &server.key, &cid, users_columns()).await;
    check_ok(&server, &test_key, &cid, users_columns()).await;
    check_ok(&server, &server.key, &cid, users_columns()).await;
    assert_eq!(usage(&server, &server.key).await, (0, 2, 3));
    let checks_before = server.get("/api/v1/checks").await.body;

    // Out of credits: a live check is refused and nothing is stored or counted.
    server
        .check(&server.key, &cid, users_columns())
        .await
        .assert_error(403, "no_credits");
    server
        .check(&server.key, &cid, json!([inc("x", "string")]))
        .await
        .assert_error(403, "no_credits");
    assert_eq!(usage(&server, &server.key).await, (0, 2, 3));
    assert_eq!(server.get("/api/v1/checks").await.body, checks_before);

    // Order of checks: a bad body (400) and an unknown contract (404) come before 403.
    server
        .check(&server.key, &cid, json!([{"name": "a", "type": "float"}]))
        .await
        .assert_error(400, "invalid_request");
    server
        .check(&server.key, &bogus_id(&cid), users_columns())
        .await
        .assert_error(404, "not_found");
    server
        .check(&server.key, "nope", users_columns())
        .await
        .assert_error(404, "not_found");

    // A test-key check still works, and still counts.
    let got = check_ok(&server, &test_key, &cid, users_columns()).await;
    assert_eq!(got["credits_used"], 0);
    assert_eq!(usage(&server, &server.key).await, (0, 2, 4));
    let list = server.get("/api/v1/checks").await.assert_status(200);
    assert_eq!(len(&list), 4);

    // Other endpoints do not need credits.
    server.create_contract(&server.key, "more", json!([])).await;
    send_json(
        &server,
        Method::POST,
        "/api/v1/contracts/infer",
        &server.key,
        &json!({"sample": {"a": 1}}),
    )
    .await
    .assert_status(200);
}

#[tokio::test]
async fn concurrent_live_checks_never_overspend() {
    let server = TestServer::start_with(|cfg| cfg.credits.default_quota = 5).await;
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let cid = text(&users["id"]);
    let answers = join_all(
        (0..12)
            .map(|_| server.check(&server.key, &cid, users_columns()))
            .collect(),
    )
    .await;
    let passed = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(passed, 5, "exactly the 5 credits are spent");
    for answer in answers.iter().filter(|a| a.status != 200) {
        answer.assert_error(403, "no_credits");
    }
    assert_eq!(usage(&server, &server.key).await, (0, 5, 5));
    let list = server.get("/api/v1/checks").await.assert_status(200);
    assert_eq!(len(&list), 5);
}
