//! Issue 9: one tenant's size is not everyone's problem, and a test key stays in the test
//! world — `limits.max_columns`, `limits.max_webhooks`, list pages bounded by bytes,
//! `storage.check_retention`, `403 forbidden` for test keys touching live keys, and a
//! webhook's `contract_id` that must name a contract.

use std::time::Duration;

use hyper::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

fn columns(n: usize, name_len: usize) -> Value {
    let names = (0..n).map(|i| format!("{i:0>width$}", width = name_len));
    Value::Array(names.map(|name| col(&name, "string", true)).collect())
}

#[tokio::test]
async fn schemas_larger_than_max_columns_are_400_naming_the_setting() {
    let server = TestServer::start_with(|cfg| cfg.limits.max_columns = 5.try_into().unwrap()).await;
    let key = server.key.clone();
    let contract = server.create_contract(&key, "five", columns(5, 4)).await;
    let id = text(&contract["id"]);

    let body = json!({"name": "six", "schema": {"columns": columns(6, 4)}});
    let message = send_json(&server, Method::POST, "/api/v1/contracts", &key, &body)
        .await
        .assert_error(400, "invalid_request");
    assert!(
        message.contains("limits.max_columns")
            && message.contains('5')
            && message.contains("schema.columns"),
        "{message}"
    );

    let incoming: Vec<Value> = (0..6).map(|i| inc(&format!("c{i}"), "string")).collect();
    let message = server
        .check(&key, &id, Value::Array(incoming))
        .await
        .assert_error(400, "invalid_request");
    assert!(
        message.contains("incoming_schema.columns") && message.contains("limits.max_columns"),
        "{message}"
    );

    let sample: serde_json::Map<String, Value> =
        (0..6).map(|i| (format!("k{i}"), json!(i))).collect();
    let body = json!({"sample": sample});
    let message = send_json(
        &server,
        Method::POST,
        "/api/v1/contracts/infer",
        &key,
        &body,
    )
    .await
    .assert_error(400, "invalid_request");
    assert!(message.contains("limits.max_columns"), "{message}");
    // Nothing was stored but the first contract.
    assert_eq!(
        len(&server.get("/api/v1/contracts").await.assert_status(200)),
        1
    );
}

#[tokio::test]
async fn webhooks_beyond_max_webhooks_are_409_until_one_is_deleted() {
    let server =
        TestServer::start_with(|cfg| cfg.limits.max_webhooks = 2.try_into().unwrap()).await;
    let key = server.key.clone();
    let body = json!({"url": "https://hooks.example.com/x", "events": ["breaking"]});
    let first = create_webhook(&server, &key, body.clone()).await;
    create_webhook(&server, &key, body.clone()).await;
    let message = send_json(&server, Method::POST, "/api/v1/webhooks", &key, &body)
        .await
        .assert_error(409, "conflict");
    assert!(message.contains("limits.max_webhooks"), "{message}");
    server
        .delete(&format!("/api/v1/webhooks/{}", text(&first["id"])))
        .await
        .assert_status(200);
    create_webhook(&server, &key, body).await;
}

#[tokio::test]
async fn a_page_of_large_checks_ends_at_its_byte_budget_and_links_the_rest() {
    let server = roomy_server().await;
    let key = server.key.clone();
    // 1000 columns of 200-character names: each check removing them all stores ~200 KB.
    let contract = server
        .create_contract(&key, "wide", columns(1000, 200))
        .await;
    let id = text(&contract["id"]);
    let mut made = Vec::new();
    for _ in 0..25 {
        let check = check_ok(&server, &key, &id, json!([])).await;
        made.push(text(&check["id"]));
    }
    let first = server.get("/api/v1/checks?limit=1000").await;
    let page = first.assert_status(200);
    assert!(
        len(&page) < 25,
        "the page stopped at its byte budget: {} checks",
        len(&page)
    );
    assert!(
        first.body.len() < 8 * 1024 * 1024,
        "{} bytes",
        first.body.len()
    );
    assert!(
        next_page(&first, &server.base).is_some(),
        "and announced the next page"
    );
    let all = concat(&all_pages(&server, "/api/v1/checks?limit=1000").await);
    made.reverse(); // newest first
    assert_eq!(ids(&all), made);
}

#[tokio::test]
async fn checks_past_check_retention_are_purged_and_counters_stay() {
    let server = TestServer::start_with(|cfg| {
        cfg.limits.requests_per_minute = 100_000.try_into().unwrap();
        cfg.storage.check_retention = Duration::from_secs(2);
    })
    .await;
    let key = server.key.clone();
    let contract = server.create_contract(&key, "users", users_columns()).await;
    let old = check_ok(&server, &key, &text(&contract["id"]), users_columns()).await;
    let path = format!("/api/v1/checks/{}", text(&old["id"]));
    let purged = wait_until(Duration::from_secs(30), || async {
        server.get(&path).await.status == 404
    })
    .await;
    assert!(purged, "the old check was purged");
    assert_eq!(
        len(&server.get("/api/v1/checks").await.assert_status(200)),
        0
    );
    assert_eq!(
        usage(&server, &key).await.2,
        1,
        "total_checks still counts it"
    );
    let fresh = check_ok(&server, &key, &text(&contract["id"]), users_columns()).await;
    get_as(
        &server,
        &format!("/api/v1/checks/{}", text(&fresh["id"])),
        &key,
    )
    .await
    .assert_status(200);
}

#[tokio::test]
async fn a_test_key_manages_test_keys_only() {
    let server = TestServer::start_with(|cfg| {
        cfg.limits.key_creations_per_hour = 2.try_into().unwrap();
    })
    .await;
    let live = server.key.clone();
    let test = server.new_key(&live, "test").await;
    let keys = server.get("/api/v1/keys").await.assert_status(200);
    let live_id = text(&keys[0]["id"]);

    // Creating a live key: 403, and it does not use up the account's one creation left.
    let message = send_json(
        &server,
        Method::POST,
        "/api/v1/keys",
        &test,
        &json!({"environment": "live"}),
    )
    .await
    .assert_error(403, "forbidden");
    assert!(message.contains("live"), "{message}");
    // Revoking, activating or deleting a live key: 403 before anything else is looked at.
    for (method, action) in [
        (Method::POST, "/revoke"),
        (Method::POST, "/activate"),
        (Method::DELETE, ""),
    ] {
        let path = format!("/api/v1/keys/{live_id}{action}");
        raw(&server, method, &path, &test, "")
            .await
            .assert_error(403, "forbidden");
    }
    // An unknown key is still a 404, not a 403.
    let path = format!("/api/v1/keys/{}/revoke", dummy_id("key_"));
    raw(&server, Method::POST, &path, &test, "")
        .await
        .assert_error(404, "not_found");
    // The live key still works; the test key manages test keys.
    get_as(&server, "/api/v1/keys", &live)
        .await
        .assert_status(200);
    let other = send_json(
        &server,
        Method::POST,
        "/api/v1/keys",
        &test,
        &json!({"environment": "test"}),
    )
    .await
    .assert_status(201);
    let other_id = text(&other["id"]);
    raw(
        &server,
        Method::POST,
        &format!("/api/v1/keys/{other_id}/revoke"),
        &test,
        "",
    )
    .await
    .assert_status(200);
    raw(
        &server,
        Method::DELETE,
        &format!("/api/v1/keys/{other_id}"),
        &test,
        "",
    )
    .await
    .assert_status(200);
}

/// `ctr_` + the body of another record's id (a check's, a key's, a webhook's) is found in
/// the id index but is no contract: create and PATCH refuse it alike, and nothing changes.
#[tokio::test]
async fn a_webhook_contract_id_made_of_another_records_id_is_400() {
    let server = roomy_server().await;
    let key = server.key.clone();
    let contract = server.create_contract(&key, "users", users_columns()).await;
    let check = check_ok(&server, &key, &text(&contract["id"]), users_columns()).await;
    let keys = server.get("/api/v1/keys").await.assert_status(200);
    let webhook = send_json(
        &server,
        Method::POST,
        "/api/v1/webhooks",
        &key,
        &json!({"url": "https://hooks.example.com/x", "events": ["pass"]}),
    )
    .await
    .assert_status(201);
    let webhook_path = format!("/api/v1/webhooks/{}", text(&webhook["id"]));
    for other in [
        text(&check["id"]),
        text(&keys[0]["id"]),
        text(&webhook["id"]),
    ] {
        let body = other.split_once('_').expect("prefixed").1;
        let forged = format!("ctr_{body}");
        let request = json!({"url": "https://hooks.example.com/x", "events": ["pass"], "contract_id": forged});
        let message = send_json(&server, Method::POST, "/api/v1/webhooks", &key, &request)
            .await
            .assert_error(400, "invalid_request");
        assert!(message.contains("contract_id"), "{message}");
        let patch = json!({"contract_id": forged});
        let message = send_json(&server, Method::PATCH, &webhook_path, &key, &patch)
            .await
            .assert_error(400, "invalid_request");
        assert!(
            message.contains("contract_id"),
            "PATCH with {forged}: {message}"
        );
    }
    let listed = server.get("/api/v1/webhooks").await.assert_status(200);
    assert_eq!(len(&listed), 1, "only the valid webhook: {listed}");
    let stored = server.get(&webhook_path).await.assert_status(200);
    assert_eq!(
        stored["contract_id"],
        Value::Null,
        "the PATCHes changed nothing"
    );
}

/// A contract `wide` of 1,000 columns with 200-character names (≈250 KB a version), and
/// `updates` more versions (each makes one more column optional).
async fn wide_history(server: &TestServer, updates: usize) -> String {
    let key = server.key.clone();
    let contract = server
        .create_contract(&key, "wide", columns(1000, 200))
        .await;
    let id = text(&contract["id"]);
    let mut schema = columns(1000, 200);
    for i in 0..updates {
        schema[i]["required"] = json!(false);
        send_json(
            server,
            Method::PUT,
            &format!("/api/v1/contracts/{id}"),
            &key,
            &json!({"schema": {"columns": schema}}),
        )
        .await
        .assert_status(200);
    }
    id
}

/// Issue 26: a page of versions ends at its byte budget too (it read `limit` whole
/// versions, 85 MB a page at 300 versions of 1,000 columns), and the pages still add up
/// to the whole history.
#[tokio::test]
async fn a_page_of_large_versions_ends_at_its_byte_budget_and_links_the_rest() {
    let server = roomy_server().await;
    let id = wide_history(&server, 24).await;
    let path = format!("/api/v1/contracts/{id}/versions?limit=1000");
    let first = server.get(&path).await;
    let page = first.assert_status(200);
    assert!(len(&page) < 25, "{} versions in one page", len(&page));
    assert!(
        first.body.len() < 8 * 1024 * 1024,
        "{} bytes",
        first.body.len()
    );
    assert!(next_page(&first, &server.base).is_some());
    let all = concat(&all_pages(&server, &path).await);
    let numbers: Vec<u64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=25).rev().collect::<Vec<u64>>());
    // Each version is compared with the one before it, across page ends too.
    for version in all.as_array().unwrap().iter().filter(|v| v["version"] != 1) {
        assert_ne!(version["changes"], Value::Null, "{}", version["version"]);
    }
}

/// Issue 26: `limits.max_versions` bounds a contract's history: the oldest versions are
/// pruned (numbers keep counting), a pruned version is a 404 to read or to check against.
#[tokio::test]
async fn a_contract_keeps_at_most_max_versions_and_numbers_keep_counting() {
    let server = TestServer::start_with(|cfg| {
        cfg.limits.max_versions = 3.try_into().unwrap();
    })
    .await;
    let key = server.key.clone();
    let id = text(&server.create_contract(&key, "c", users_columns()).await["id"]);
    let put = |n: usize| {
        let mut columns = users_columns();
        columns
            .as_array_mut()
            .unwrap()
            .push(col(&format!("extra_{n}"), "string", false));
        json!({"schema": {"columns": columns}})
    };
    for n in 0..4 {
        let path = format!("/api/v1/contracts/{id}");
        let updated = send_json(&server, Method::PUT, &path, &key, &put(n))
            .await
            .assert_status(200);
        assert_eq!(updated["version"], n + 2);
    }
    let versions = server
        .get(&format!("/api/v1/contracts/{id}/versions"))
        .await
        .assert_status(200);
    let numbers: Vec<&Value> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["version"])
        .collect();
    assert_eq!(numbers, [5, 4, 3]);
    for pruned in [1, 2] {
        server
            .get(&format!("/api/v1/contracts/{id}/versions/{pruned}"))
            .await
            .assert_error(404, "not_found");
        let body = json!({"contract_id": id, "contract_version": pruned, "incoming_schema": {"columns": []}});
        server
            .post("/api/v1/check", &body)
            .await
            .assert_error(404, "not_found");
    }
    server
        .get(&format!("/api/v1/contracts/{id}/versions/3"))
        .await
        .assert_status(200);
    let body =
        json!({"contract_id": id, "contract_version": 3, "incoming_schema": {"columns": []}});
    server.post("/api/v1/check", &body).await.assert_status(200);
    // The next update is version 6, and version 3 goes.
    let path = format!("/api/v1/contracts/{id}");
    let updated = send_json(&server, Method::PUT, &path, &key, &put(9))
        .await
        .assert_status(200);
    assert_eq!(updated["version"], 6);
    server
        .get(&format!("/api/v1/contracts/{id}/versions/3"))
        .await
        .assert_error(404, "not_found");
    // Checked against before, so cached: the cache forgets it with the store.
    server
        .post("/api/v1/check", &body)
        .await
        .assert_error(404, "not_found");
}
