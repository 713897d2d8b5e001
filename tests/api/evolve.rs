//! SPEC §5.1, contracts that evolve: `PUT`/`PATCH` (partial, versioned, no-ops, rules,
//! 409/400/404, `?dry_run=true`), the version history, `DELETE` with its cascade, checks
//! that record (and may name) the contract version, and `?name=` on the list.

use hyper::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

async fn update(server: &TestServer, method: Method, id: &str, body: Value) -> Answer {
    send_json(
        server,
        method,
        &format!("/api/v1/contracts/{id}"),
        &server.key,
        &body,
    )
    .await
}

async fn versions(server: &TestServer, id: &str) -> Value {
    server
        .get(&format!("/api/v1/contracts/{id}/versions"))
        .await
        .assert_status(200)
}

async fn users(server: &TestServer) -> (Value, String) {
    let contract = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let id = text(&contract["id"]);
    (contract, id)
}

#[tokio::test]
async fn put_and_patch_update_partially_and_bump_the_version_by_one() {
    let server = roomy_server().await;
    let (created, id) = users(&server).await;

    // Name only (PUT): the schema stays.
    let renamed = update(&server, Method::PUT, &id, json!({"name": "people"}))
        .await
        .assert_status(200);
    assert_eq!(renamed["name"], "people");
    assert_eq!(renamed["version"], 2);
    assert_eq!(renamed["schema"], created["schema"]);
    assert_eq!(renamed["created_at"], created["created_at"]);
    assert_timestamp(&renamed["updated_at"]);
    assert_eq!(renamed["id"], created["id"]);

    // Columns only (PATCH, same meaning): a full replacement; the name stays.
    let columns = json!([
        col("user_id", "integer", true),
        col("plan", "string", false)
    ]);
    let replaced = update(
        &server,
        Method::PATCH,
        &id,
        json!({"schema": {"columns": columns}}),
    )
    .await
    .assert_status(200);
    assert_eq!(replaced["version"], 3);
    assert_eq!(replaced["name"], "people");
    assert_eq!(replaced["schema"], json!({"columns": columns}));

    // What the update answered is what the contract now is.
    let fetched = server
        .get(&format!("/api/v1/contracts/{id}"))
        .await
        .assert_status(200);
    assert_eq!(fetched, replaced);
    let listed = server.get("/api/v1/contracts").await.assert_status(200);
    assert_eq!(listed, json!([replaced]));
}

#[tokio::test]
async fn a_body_that_changes_nothing_answers_the_contract_unchanged() {
    let server = roomy_server().await;
    let (created, id) = users(&server).await;
    let mut reordered = users_columns();
    reordered.as_array_mut().expect("columns").reverse();
    for body in [
        json!({}),
        json!({"name": "users"}),
        json!({"schema": {}}),
        json!({"schema": {"columns": users_columns()}}),
        json!({"schema": {"columns": reordered}}),
        json!({"schema": {"rules": {}}}),
        json!({"schema": {"rules": {"treat_renames_as_breaking": true}}}),
        json!({"name": "users", "schema": {"columns": reordered, "rules": {}}, "other": 1}),
    ] {
        for method in [Method::PUT, Method::PATCH] {
            let answer = update(&server, method, &id, body.clone()).await;
            assert_eq!(answer.assert_status(200), created, "{body}");
        }
    }
    assert_eq!(len(&versions(&server, &id).await), 1);
}

#[tokio::test]
async fn rules_replace_all_rules_and_missing_ones_take_their_defaults() {
    let server = roomy_server().await;
    let (_, id) = users(&server).await;
    let v2 = update(
        &server,
        Method::PUT,
        &id,
        json!({"schema": {"rules": {"allow_additional_columns": true, "allow_type_widening": true}}}),
    )
    .await
    .assert_status(200);
    assert_eq!(v2["version"], 2);
    let all = json!({"allow_additional_columns": true, "treat_renames_as_breaking": true,
                     "allow_type_widening": true});
    assert_eq!(v2["schema"]["rules"], all);
    // Columns replaced, rules untouched.
    let v3 = update(
        &server,
        Method::PUT,
        &id,
        json!({"schema": {"columns": users_columns().as_array().expect("columns")[..2]}}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        (v3["version"].clone(), v3["schema"]["rules"].clone()),
        (json!(3), all)
    );
    // Given again, they replace all: the missing ones are back to their defaults.
    let v4 = update(
        &server,
        Method::PUT,
        &id,
        json!({"schema": {"rules": {"allow_type_widening": true}}}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        v4["schema"]["rules"],
        json!({"allow_additional_columns": false, "treat_renames_as_breaking": true,
               "allow_type_widening": true})
    );
    // `{}` is every default: the contract reads like a v1 contract again.
    let v5 = update(&server, Method::PUT, &id, json!({"schema": {"rules": {}}}))
        .await
        .assert_status(200);
    assert_eq!(v5["version"], 5);
    assert!(v5["schema"].get("rules").is_none(), "{v5}");
    assert_eq!(
        versions(&server, &id).await[0]["changes"]["rules_changed"],
        true
    );
}

#[tokio::test]
async fn update_errors_409_400_and_404() {
    let server = roomy_server().await;
    let (created, id) = users(&server).await;
    server
        .create_contract(&server.key, "orders", json!([]))
        .await;

    let message = update(&server, Method::PUT, &id, json!({"name": "orders"}))
        .await
        .assert_error(409, "conflict");
    assert!(message.starts_with("name"), "{message}");

    let path = format!("/api/v1/contracts/{id}");
    for (body, field) in [
        (r#"{"name": ""}"#.to_owned(), "name"),
        (json!({"name": "x".repeat(257)}).to_string(), "name"),
        (r#"{"name": 5}"#.to_owned(), "name"),
        (r#"{"schema": {"columns": [{"name": "a", "type": "float", "required": true}]}}"#.to_owned(), "schema.columns[0]"),
        (r#"{"schema": {"columns": [{"name": "a", "type": "string"}]}}"#.to_owned(), "schema.columns[0]"),
        (json!({"schema": {"columns": [col("a", "string", true), col("a", "json", true)]}}).to_string(), "schema.columns[1].name"),
        (r#"{"schema": {"columns": [{"name": "a", "type": "string", "required": true, "severity_override": "fatal"}]}}"#.to_owned(), "schema.columns[0].severity_override"),
        (r#"{"schema": {"rules": {"allow_additional_columns": "yes"}}}"#.to_owned(), "schema.rules.allow_additional_columns"),
        (r#"{"schema": []}"#.to_owned(), "schema"),
        ("[]".to_owned(), "request body"),
        (String::new(), "empty"),
    ] {
        for method in [Method::PUT, Method::PATCH] {
            let message = raw(&server, method, &path, &server.key, &body)
                .await
                .assert_error(400, "invalid_request");
            assert!(message.contains(field), "{body}: {message}");
        }
    }
    let message = raw(
        &server,
        Method::PUT,
        &format!("{path}?dry_run=maybe"),
        &server.key,
        "{}",
    )
    .await
    .assert_error(400, "invalid_request");
    assert!(message.starts_with("dry_run"), "{message}");
    // An invalid body is a 400 even for an unknown contract (400 before 404).
    raw(
        &server,
        Method::PUT,
        &format!("/api/v1/contracts/{}", bogus_id(&id)),
        &server.key,
        "[]",
    )
    .await
    .assert_error(400, "invalid_request");
    update(&server, Method::PUT, &bogus_id(&id), json!({"name": "n"}))
        .await
        .assert_error(404, "not_found");
    // Nothing changed.
    let fetched = server.get(&path).await.assert_status(200);
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn a_dry_run_answers_what_the_contract_would_become_and_stores_nothing() {
    let server = roomy_server().await;
    let (created, id) = users(&server).await;
    let columns = json!([
        col("user_id", "number", true),
        col("email", "string", false),
        col("plan", "string", true),
    ]);
    let body = json!({"name": "people", "schema": {"columns": columns}});
    let path = format!("/api/v1/contracts/{id}?dry_run=true");
    let answer = send_json(&server, Method::PUT, &path, &server.key, &body)
        .await
        .assert_status(200);
    assert_eq!(answer["version"], 2);
    assert_eq!(answer["name"], "people");
    assert_eq!(answer["schema"], json!({"columns": columns}));
    assert_eq!(
        answer["changes"],
        json!({
            "added": ["plan"],
            "removed": ["created_at"],
            "type_changes": [{"column": "user_id", "from": "integer", "to": "number", "kind": "widening"}],
            "required_changes": [{"column": "email", "from": true, "to": false}],
            "name_changed": {"from": "users", "to": "people"},
            "rules_changed": false,
            "compatibility_changed": null
        })
    );
    // Nothing stored: the contract, its history, and its name.
    let fetched = server
        .get(&format!("/api/v1/contracts/{id}"))
        .await
        .assert_status(200);
    assert_eq!(fetched, created);
    assert_eq!(len(&versions(&server, &id).await), 1);
    server
        .create_contract(&server.key, "people", json!([]))
        .await;
    // A dry run that changes nothing: the contract as it is, `changes: null`.
    let unchanged = send_json(&server, Method::PATCH, &path, &server.key, &json!({}))
        .await
        .assert_status(200);
    let mut expected = created.clone();
    expected["changes"] = Value::Null;
    assert_eq!(unchanged, expected);
    // A dry run reports the same errors.
    send_json(
        &server,
        Method::PUT,
        &path,
        &server.key,
        &json!({"name": "people"}),
    )
    .await
    .assert_error(409, "conflict");
    // `?dry_run=false` is a real update.
    let real = send_json(
        &server,
        Method::PUT,
        &format!("/api/v1/contracts/{id}?dry_run=false"),
        &server.key,
        &json!({"name": "renamed"}),
    )
    .await
    .assert_status(200);
    assert_eq!(real["version"], 2);
    assert!(real.get("changes").is_none());
}

#[tokio::test]
async fn the_version_history_is_newest_first_with_its_changes() {
    let server = roomy_server().await;
    let (created, id) = users(&server).await;
    update(&server, Method::PUT, &id, json!({"name": "people"}))
        .await
        .assert_status(200);
    let v3_columns = json!([
        col("user_id", "integer", true),
        {"name": "email", "type": "string", "required": true, "severity_override": "warning"},
        col("created_at", "date", true),
    ]);
    let v3 = update(
        &server,
        Method::PATCH,
        &id,
        json!({"schema": {"columns": v3_columns}}),
    )
    .await
    .assert_status(200);

    let history = versions(&server, &id).await;
    let numbers: Vec<u64> = history
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v["version"].as_u64().expect("version"))
        .collect();
    assert_eq!(numbers, [3, 2, 1]);
    let keys: Vec<&String> = history[0].as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        [
            "version",
            "name",
            "schema",
            "compatibility",
            "created_at",
            "changes"
        ]
    );
    assert_eq!(history[0]["schema"], v3["schema"]);
    assert_eq!(history[0]["created_at"], v3["updated_at"]);
    assert_eq!(
        history[0]["changes"],
        json!({
            "added": [], "removed": [],
            "type_changes": [{"column": "created_at", "from": "timestamp", "to": "date", "kind": "narrowing"}],
            "required_changes": [],
            "name_changed": null,
            "rules_changed": true,
            "compatibility_changed": null
        })
    );
    assert_eq!(history[1]["name"], "people");
    assert_eq!(
        history[1]["changes"]["name_changed"],
        json!({"from": "users", "to": "people"})
    );
    assert_eq!(history[1]["changes"]["rules_changed"], false);
    assert_eq!(
        history[2],
        json!({"version": 1, "name": "users", "schema": created["schema"],
               "compatibility": "none", "created_at": created["created_at"], "changes": null})
    );
    for (n, expected) in [(3, &history[0]), (2, &history[1]), (1, &history[2])] {
        let one = server
            .get(&format!("/api/v1/contracts/{id}/versions/{n}"))
            .await
            .assert_status(200);
        assert_eq!(&one, expected, "version {n}");
    }
    for n in ["4", "0", "-1", "x", "99999999999"] {
        server
            .get(&format!("/api/v1/contracts/{id}/versions/{n}"))
            .await
            .assert_error(404, "not_found");
    }
    // Paged like every list.
    let pages = all_pages(&server, &format!("/api/v1/contracts/{id}/versions?limit=2")).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(concat(&pages), history);
    server
        .get(&format!("/api/v1/contracts/{id}/versions?limit=0"))
        .await
        .assert_error(400, "invalid_request");
}

#[tokio::test]
async fn checks_record_their_version_and_may_name_an_older_one() {
    let server = roomy_server().await;
    let (_, id) = users(&server).await;
    let before = check_ok(
        &server,
        &server.key,
        &id,
        json!([inc("user_id", "integer")]),
    )
    .await;
    assert_eq!(
        (
            before["contract_version"].clone(),
            before["severity"].clone()
        ),
        (json!(1), json!(80))
    );

    update(
        &server,
        Method::PUT,
        &id,
        json!({"schema": {"columns": [col("user_id", "integer", true)]}}),
    )
    .await
    .assert_status(200);
    let after = check_ok(
        &server,
        &server.key,
        &id,
        json!([inc("user_id", "integer")]),
    )
    .await;
    assert_eq!(
        (after["contract_version"].clone(), after["severity"].clone()),
        (json!(2), json!(0))
    );

    // The stored check never changes.
    let stored = server
        .get(&format!("/api/v1/checks/{}", text(&before["id"])))
        .await
        .assert_status(200);
    assert_eq!(stored, before);

    // Naming version 1 scores against it (and records it).
    let body = json!({"contract_id": id, "contract_version": 1,
                      "incoming_schema": {"columns": [inc("user_id", "integer")]}});
    let old = send_json(&server, Method::POST, "/api/v1/check", &server.key, &body)
        .await
        .assert_status(200);
    assert_eq!(
        (old["contract_version"].clone(), old["severity"].clone()),
        (json!(1), json!(80))
    );
    for version in [json!(3), json!(0)] {
        let body = json!({"contract_id": id, "contract_version": version,
                          "incoming_schema": {"columns": []}});
        send_json(&server, Method::POST, "/api/v1/check", &server.key, &body)
            .await
            .assert_error(404, "not_found");
    }
    for version in [json!("1"), json!(-1), json!(1.5)] {
        let body = json!({"contract_id": id, "contract_version": version,
                          "incoming_schema": {"columns": []}});
        let message = send_json(&server, Method::POST, "/api/v1/check", &server.key, &body)
            .await
            .assert_error(400, "invalid_request");
        assert!(message.starts_with("contract_version"), "{message}");
    }
    // 404s cost nothing: three checks were stored.
    assert_eq!(usage(&server, &server.key).await.2, 3);
}

#[tokio::test]
async fn a_check_racing_an_update_sees_one_whole_version() {
    let server = roomy_server().await;
    let (_, id) = users(&server).await;
    // Version 1 (users) scores 80 for this schema; version 2 (just user_id) scores 0.
    let incoming = json!([inc("user_id", "integer")]);
    let mut checks = Vec::new();
    for _ in 0..40 {
        checks.push(check_ok(&server, &server.key, &id, incoming.clone()));
    }
    let body = json!({"schema": {"columns": [col("user_id", "integer", true)]}});
    let (results, updated) =
        tokio::join!(join_all(checks), update(&server, Method::PUT, &id, body));
    updated.assert_status(200);
    for check in &results {
        let expected = match check["contract_version"].as_u64() {
            Some(1) => 80,
            Some(2) => 0,
            other => panic!("version {other:?}"),
        };
        assert_eq!(check["severity"], expected, "{check}");
    }
    let after = check_ok(&server, &server.key, &id, incoming).await;
    assert_eq!(
        after["contract_version"], 2,
        "checks after the update use it"
    );
}

#[tokio::test]
async fn delete_removes_the_contract_its_versions_name_and_scoped_webhooks() {
    let server = roomy_server().await;
    let (_, id) = users(&server).await;
    update(&server, Method::PUT, &id, json!({"name": "people"}))
        .await
        .assert_status(200);
    let hook = |contract_id: Value| {
        json!({"url": "https://hooks.invalid/x", "events": ["pass", "warning", "breaking"],
               "contract_id": contract_id})
    };
    let scoped = create_webhook(&server, &server.key, hook(json!(id))).await;
    let global = create_webhook(&server, &server.key, hook(Value::Null)).await;
    let (_, other) = {
        let c = server
            .create_contract(&server.key, "other", json!([]))
            .await;
        let id = text(&c["id"]);
        (c, id)
    };
    let other_hook = create_webhook(&server, &server.key, hook(json!(other))).await;
    let check = check_ok(&server, &server.key, &id, users_columns()).await;
    // The check queued a delivery to the scoped webhook.
    let deliveries = format!("/api/v1/webhooks/{}/deliveries", text(&scoped["id"]));
    assert_eq!(len(&server.get(&deliveries).await.assert_status(200)), 1);

    let deleted = server
        .delete(&format!("/api/v1/contracts/{id}"))
        .await
        .assert_status(200);
    assert_eq!(
        deleted,
        json!({"id": id, "deleted": true, "deleted_webhooks": [scoped["id"]]})
    );

    for path in [
        format!("/api/v1/contracts/{id}"),
        format!("/api/v1/contracts/{id}/versions"),
        format!("/api/v1/contracts/{id}/versions/1"),
        format!("/api/v1/webhooks/{}", text(&scoped["id"])),
        deliveries,
    ] {
        server.get(&path).await.assert_error(404, "not_found");
    }
    update(&server, Method::PATCH, &id, json!({"name": "again"}))
        .await
        .assert_error(404, "not_found");
    server
        .check(&server.key, &id, json!([]))
        .await
        .assert_error(404, "not_found");
    server
        .delete(&format!("/api/v1/contracts/{id}"))
        .await
        .assert_error(404, "not_found");
    let message = send_json(
        &server,
        Method::POST,
        "/api/v1/webhooks",
        &server.key,
        &hook(json!(id)),
    )
    .await
    .assert_error(400, "invalid_request");
    assert!(message.starts_with("contract_id"), "{message}");

    // The check stays; the other webhooks stay; the name is free again.
    let stored = server
        .get(&format!("/api/v1/checks/{}", text(&check["id"])))
        .await
        .assert_status(200);
    assert_eq!(stored, check);
    let hooks = ids(&server.get("/api/v1/webhooks").await.assert_status(200));
    assert_eq!(hooks, [text(&global["id"]), text(&other_hook["id"])]);
    let again = server
        .create_contract(&server.key, "people", json!([]))
        .await;
    assert_eq!(again["version"], 1);
    assert_eq!(len(&versions(&server, &text(&again["id"])).await), 1);
}

#[tokio::test]
async fn the_list_finds_a_contract_by_its_exact_name() {
    let accounts = two_accounts().await;
    let server = &accounts.server;
    server
        .create_contract(&accounts.key_a, "Users", json!([]))
        .await;
    let find = |name: &str, key: &str| {
        let path = format!(
            "/api/v1/contracts?name={}",
            form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
        );
        let key = key.to_owned();
        async move { get_as(server, &path, &key).await.assert_status(200) }
    };
    assert_eq!(
        find("users", &accounts.key_a).await,
        json!([accounts.contract])
    );
    assert_eq!(len(&find("Users", &accounts.key_a).await), 1);
    assert_eq!(find("user", &accounts.key_a).await, json!([]));
    // An empty name is not a name (400, like a 257-character one).
    get_as(server, "/api/v1/contracts?name=", &accounts.key_a)
        .await
        .assert_error(400, "invalid_request");
    assert_eq!(
        find("users", &accounts.key_b).await,
        json!([]),
        "another account's"
    );
    // After a rename, the index follows.
    let id = text(&accounts.contract["id"]);
    let path = format!("/api/v1/contracts/{id}");
    send_json(
        server,
        Method::PUT,
        &path,
        &accounts.key_a,
        &json!({"name": "ünï côde"}),
    )
    .await
    .assert_status(200);
    assert_eq!(find("users", &accounts.key_a).await, json!([]));
    assert_eq!(find("ünï côde", &accounts.key_a).await[0]["id"], json!(id));
}
