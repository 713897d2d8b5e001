use hyper::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

/// Every list of the default account, with the calling key's `last_used_at` blanked
/// (it moves with every request).
async fn snapshot(server: &TestServer) -> (Value, Value, Value, Value) {
    let contracts = server.get("/api/v1/contracts").await.assert_status(200);
    let checks = server.get("/api/v1/checks").await.assert_status(200);
    let webhooks = server.get("/api/v1/webhooks").await.assert_status(200);
    let mut keys = server.get("/api/v1/keys").await.assert_status(200);
    for k in keys.as_array_mut().expect("keys array") {
        if k["key_preview"] == json!(&server.key[..16]) {
            k["last_used_at"] = Value::Null;
        }
    }
    (contracts, checks, webhooks, keys)
}

#[tokio::test]
async fn restart_keeps_every_record() {
    let server = TestServer::start().await;
    let key = server.key.clone();
    let users = server.create_contract(&key, "users", users_columns()).await;
    let cid = text(&users["id"]);
    let empty = server.create_contract(&key, "empty", json!([])).await;
    let test_key = server.new_key(&key, "test").await;
    let live_check = server
        .check(
            &key,
            &cid,
            json!([inc("user_id", "integer"), inc("created_at", "string")]),
        )
        .await;
    live_check.assert_status(200);
    let test_check = server.check(&test_key, &cid, users_columns()).await;
    test_check.assert_status(200);
    let revoked = send_json(
        &server,
        Method::POST,
        "/api/v1/keys",
        &key,
        &json!({"environment": "live"}),
    )
    .await
    .assert_status(201);
    let revoked_key = text(&revoked["key"]);
    server
        .post(
            &format!("/api/v1/keys/{}/revoke", text(&revoked["id"])),
            &json!({}),
        )
        .await
        .assert_status(200);
    let hook_all = create_webhook(
        &server,
        &key,
        json!({"url": "https://hooks.example.com/all", "events": ["pass", "breaking"]}),
    )
    .await;
    let hook_paused = create_webhook(
        &server,
        &key,
        json!({"url": "https://hooks.example.com/users", "events": ["warning"], "contract_id": cid}),
    )
    .await;
    send_json(
        &server,
        Method::PATCH,
        &format!("/api/v1/webhooks/{}", text(&hook_paused["id"])),
        &key,
        &json!({"active": false}),
    )
    .await
    .assert_status(200);

    let before = snapshot(&server).await;
    let usage_before = usage(&server, &key).await;
    assert_eq!(usage_before, (999_999, 1, 2));
    assert_eq!(len(&before.0), 2);
    assert_eq!(len(&before.1), 2);
    assert_eq!(len(&before.2), 2);
    assert_eq!(len(&before.3), 3);

    let server = server.restart().await;

    let after = snapshot(&server).await;
    assert_eq!(after.0, before.0, "contracts");
    assert_eq!(after.1, before.1, "checks");
    assert_eq!(after.2, before.2, "webhooks");
    assert_eq!(after.3, before.3, "keys");
    assert_eq!(usage(&server, &key).await, usage_before);
    for contract in [&users, &empty] {
        let id = text(&contract["id"]);
        assert_eq!(
            &server
                .get(&format!("/api/v1/contracts/{id}"))
                .await
                .assert_status(200),
            contract
        );
    }
    for answer in [&live_check, &test_check] {
        let id = text(&answer.json()["id"]);
        let fetched = server.get(&format!("/api/v1/checks/{id}")).await;
        fetched.assert_status(200);
        assert_eq!(fetched.body, answer.body, "check {id} after restart");
    }
    let paused = server
        .get(&format!("/api/v1/webhooks/{}", text(&hook_paused["id"])))
        .await
        .assert_status(200);
    assert_eq!(paused["active"], false);
    assert_eq!(paused["contract_id"], json!(cid));
    let all = server
        .get(&format!("/api/v1/webhooks/{}", text(&hook_all["id"])))
        .await
        .assert_status(200);
    assert_eq!(all["active"], true);

    // Keys keep working (or not) as before; the contract name is still taken.
    get_as(&server, "/api/v1/usage", &revoked_key)
        .await
        .assert_error(401, "unauthorized");
    let got = check_ok(&server, &test_key, &cid, users_columns()).await;
    assert_eq!(got["credits_used"], 0);
    assert_eq!(usage(&server, &key).await, (999_999, 1, 3));
    send_json(
        &server,
        Method::POST,
        "/api/v1/contracts",
        &key,
        &json!({"name": "users", "schema": {"columns": []}}),
    )
    .await
    .assert_error(409, "conflict");
}
