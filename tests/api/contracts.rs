use hyper::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn contract_create_answers_the_exact_shape() {
    let server = TestServer::start().await;
    let columns = users_columns();
    let body = json!({"name": "users", "schema": {"columns": columns}});
    let answer = send_json(
        &server,
        Method::POST,
        "/api/v1/contracts",
        &server.key,
        &body,
    )
    .await;
    let got = answer.assert_status(201);
    assert_eq!(
        answer.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_id(&got["id"], "ctr_");
    assert_timestamp(&got["created_at"]);
    assert_eq!(got["created_at"], got["updated_at"]);
    assert_eq!(
        got,
        json!({
            "id": got["id"],
            "name": "users",
            "version": 1,
            "schema": {"columns": users_columns()},
            "compatibility": "none",
            "created_at": got["created_at"],
            "updated_at": got["created_at"],
        })
    );
    // Column order is kept as given.
    let names: Vec<String> = got["schema"]["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| text(&c["name"]))
        .collect();
    assert_eq!(names, ["user_id", "email", "created_at"]);

    // Unknown fields are ignored; the Content-Type of a request is not enforced.
    let body = json!({
        "name": "orders",
        "extra": {"x": 1},
        "schema": {"columns": [{"name": "id", "type": "integer", "required": false, "doc": "x"}], "v": 2}
    });
    let answer = server
        .send_with(
            Method::POST,
            "/api/v1/contracts",
            Some(&server.key),
            &[("content-type", "application/x-www-form-urlencoded")],
            body.to_string(),
        )
        .await;
    let got = answer.assert_status(201);
    assert_eq!(
        got["schema"],
        json!({"columns": [col("id", "integer", false)]})
    );

    // Every one of the seven types is accepted.
    let all_types = json!([
        col("s", "string", true),
        col("i", "integer", true),
        col("n", "number", false),
        col("b", "boolean", true),
        col("d", "date", false),
        col("t", "timestamp", true),
        col("j", "json", false),
    ]);
    let got = server
        .create_contract(&server.key, "all-types", all_types.clone())
        .await;
    assert_eq!(got["schema"]["columns"], all_types);
}

#[tokio::test]
async fn contract_duplicate_name_is_409() {
    let server = TestServer::start().await;
    server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let body = json!({"name": "users", "schema": {"columns": []}});
    send_json(
        &server,
        Method::POST,
        "/api/v1/contracts",
        &server.key,
        &body,
    )
    .await
    .assert_error(409, "conflict");
    // A bad body is a 400 even when the name is taken (body validation comes first).
    let body = json!({"name": "users", "schema": {"columns": [{"name": "a", "type": "float", "required": true}]}});
    send_json(
        &server,
        Method::POST,
        "/api/v1/contracts",
        &server.key,
        &body,
    )
    .await
    .assert_error(400, "invalid_request");
    // Names are case-sensitive.
    server
        .create_contract(&server.key, "Users", users_columns())
        .await;
    let list = server.get("/api/v1/contracts").await.assert_status(200);
    assert_eq!(len(&list), 2);
}

#[tokio::test]
async fn concurrent_creations_of_one_name_conflict_all_but_once() {
    let server = TestServer::start().await;
    let body = json!({"name": "users", "schema": {"columns": users_columns()}});
    let answers = join_all(
        (0..12)
            .map(|_| {
                send_json(
                    &server,
                    Method::POST,
                    "/api/v1/contracts",
                    &server.key,
                    &body,
                )
            })
            .collect(),
    )
    .await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    assert_eq!(created, 1, "exactly one creation wins");
    for answer in answers.iter().filter(|a| a.status != 201) {
        answer.assert_error(409, "conflict");
    }
    let list = server.get("/api/v1/contracts").await.assert_status(200);
    assert_eq!(len(&list), 1);
}

#[tokio::test]
async fn contract_body_validation_is_400() {
    let server = roomy_server().await;
    let key = server.key.clone();
    let bad_bodies: Vec<String> = vec![
        // Not JSON / wrong JSON types.
        String::new(),
        "not json".into(),
        "{".into(),
        "[]".into(),
        "null".into(),
        "\"users\"".into(),
        json!({"name": "users"}).to_string(),
        json!({"schema": {"columns": []}}).to_string(),
        json!({"name": 5, "schema": {"columns": []}}).to_string(),
        json!({"name": null, "schema": {"columns": []}}).to_string(),
        json!({"name": "users", "schema": {}}).to_string(),
        json!({"name": "users", "schema": []}).to_string(),
        json!({"name": "users", "schema": {"columns": {}}}).to_string(),
        json!({"name": "users", "schema": {"columns": [5]}}).to_string(),
        // `required` must be given for every column, as a boolean.
        json!({"name": "users", "schema": {"columns": [{"name": "a", "type": "string"}]}})
            .to_string(),
        json!({"name": "users", "schema": {"columns": [col("a", "string", true), {"name": "b", "type": "string"}]}})
            .to_string(),
        json!({"name": "users", "schema": {"columns": [{"name": "a", "type": "string", "required": "yes"}]}})
            .to_string(),
        json!({"name": "users", "schema": {"columns": [{"name": "a", "type": "string", "required": null}]}})
            .to_string(),
        // Missing column name or type.
        json!({"name": "users", "schema": {"columns": [{"type": "string", "required": true}]}})
            .to_string(),
        json!({"name": "users", "schema": {"columns": [{"name": "a", "required": true}]}})
            .to_string(),
    ];
    for body in &bad_bodies {
        raw(&server, Method::POST, "/api/v1/contracts", &key, body)
            .await
            .assert_error(400, "invalid_request");
    }

    // Types outside the seven, including wrong case.
    for bad_type in [
        json!("float"),
        json!("Integer"),
        json!("STRING"),
        json!("uuid"),
        json!("array"),
        json!("unknown"),
        json!("int"),
        json!(""),
        json!(null),
        json!(1),
    ] {
        let body = json!({"name": "users", "schema": {"columns": [{"name": "a", "type": bad_type, "required": true}]}});
        send_json(&server, Method::POST, "/api/v1/contracts", &key, &body)
            .await
            .assert_error(400, "invalid_request");
    }

    // Two columns with the same name.
    let body = json!({"name": "users", "schema": {"columns": [
        col("email", "string", true),
        col("id", "integer", true),
        col("email", "integer", false),
    ]}});
    send_json(&server, Method::POST, "/api/v1/contracts", &key, &body)
        .await
        .assert_error(400, "invalid_request");

    // Contract names: 0 and 257 characters are rejected.
    for name in [String::new(), "n".repeat(257), "é".repeat(257)] {
        let body = json!({"name": name, "schema": {"columns": []}});
        send_json(&server, Method::POST, "/api/v1/contracts", &key, &body)
            .await
            .assert_error(400, "invalid_request");
    }
    // Column names: 0 and 257 characters are rejected.
    for name in [String::new(), "c".repeat(257)] {
        let body = json!({"name": "users", "schema": {"columns": [col(&name, "string", true)]}});
        send_json(&server, Method::POST, "/api/v1/contracts", &key, &body)
            .await
            .assert_error(400, "invalid_request");
    }

    // Nothing was created by any of these.
    let list = server.get("/api/v1/contracts").await.assert_status(200);
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn contract_name_and_column_name_boundaries_are_accepted() {
    let server = TestServer::start().await;
    // 256 characters (counted as characters, not bytes).
    for name in ["n".repeat(256), "é".repeat(256)] {
        let got = server.create_contract(&server.key, &name, json!([])).await;
        assert_eq!(got["name"], json!(name));
    }
    let one = server.create_contract(&server.key, "x", json!([])).await;
    assert_eq!(one["name"], "x");
    // Column names of 1 and 256 characters; names are case-sensitive (`Email` ≠ `email`).
    let columns = json!([
        col("a", "string", true),
        col(&"c".repeat(256), "integer", false),
        col("email", "string", true),
        col("Email", "string", true),
    ]);
    let got = server
        .create_contract(&server.key, "edge-columns", columns.clone())
        .await;
    assert_eq!(got["schema"]["columns"], columns);
}

#[tokio::test]
async fn contract_with_an_empty_column_list_is_allowed() {
    let server = TestServer::start().await;
    let got = server
        .create_contract(&server.key, "empty", json!([]))
        .await;
    assert_eq!(got["schema"], json!({"columns": []}));
    assert_eq!(got["version"], 1);
    let id = text(&got["id"]);
    let fetched = server
        .get(&format!("/api/v1/contracts/{id}"))
        .await
        .assert_status(200);
    assert_eq!(fetched, got);
    // An empty contract against an empty incoming schema: nothing differs.
    let result = check_ok(&server, &server.key, &id, json!([])).await;
    assert_eq!(
        result,
        expected_check(
            &result,
            &id,
            "pass",
            0,
            json!({"removed": [], "type_changes": [], "added": []}),
            1
        )
    );
}

#[tokio::test]
async fn contract_list_and_get() {
    let server = TestServer::start().await;
    assert_eq!(
        server.get("/api/v1/contracts").await.assert_status(200),
        json!([])
    );
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let orders = server
        .create_contract(&server.key, "orders", json!([col("id", "integer", true)]))
        .await;
    let answer = server.get("/api/v1/contracts").await;
    let list = answer.assert_status(200);
    assert_eq!(
        answer.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(len(&list), 2);
    // Same object shape as the create answer (order is tested in
    // `lists_keep_creation_order`).
    for created in [&users, &orders] {
        let found: Vec<&Value> = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["id"] == created["id"])
            .collect();
        assert_eq!(found, [created]);
    }
    for created in [&users, &orders] {
        let id = text(&created["id"]);
        let fetched = server
            .get(&format!("/api/v1/contracts/{id}"))
            .await
            .assert_status(200);
        assert_eq!(&fetched, created);
    }
}

#[tokio::test]
async fn contracts_filter_by_exact_name() {
    let (server, other_key) = TestServer::start().await.add_account("other", 10).await;
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    server
        .create_contract(&server.key, "users-v2", users_columns())
        .await;
    server
        .create_contract(&server.key, "Users", users_columns())
        .await;
    server
        .create_contract(&server.key, "a b&c/ü", users_columns())
        .await;
    // Another account's contract of the same name is not seen.
    server
        .create_contract(&other_key, "users", users_columns())
        .await;

    let found = server
        .get("/api/v1/contracts?name=users")
        .await
        .assert_status(200);
    assert_eq!(found, json!([users]));
    // Exact and case-sensitive; percent-decoded; nothing is an empty array.
    let found = server
        .get("/api/v1/contracts?name=a%20b%26c%2F%C3%BC")
        .await
        .assert_status(200);
    assert_eq!(len(&found), 1);
    assert_eq!(found[0]["name"], "a b&c/ü");
    for missing in ["user", "USERS", "users-v", "nobody"] {
        let found = server
            .get(&format!("/api/v1/contracts?name={missing}"))
            .await
            .assert_status(200);
        assert_eq!(found, json!([]), "{missing}");
    }
    // Other parameters still validate; a name that cannot exist is a 400 naming `name`.
    server
        .get("/api/v1/contracts?name=users&limit=0")
        .await
        .assert_error(400, "invalid_request");
    let message = server
        .get("/api/v1/contracts?name=")
        .await
        .assert_error(400, "invalid_request");
    assert!(message.starts_with("name"), "{message}");
    let long = "x".repeat(257);
    server
        .get(&format!("/api/v1/contracts?name={long}"))
        .await
        .assert_error(400, "invalid_request");
    // The other account sees its own.
    let theirs = get_as(&server, "/api/v1/contracts?name=users", &other_key)
        .await
        .assert_status(200);
    assert_eq!(len(&theirs), 1);
    assert_ne!(theirs[0]["id"], users["id"]);
}

/// Create and update validate a contract's fields with one function: the same bad name or
/// columns get the same `400` message on both routes, and neither stores anything.
#[tokio::test]
async fn create_and_update_refuse_the_same_fields_alike() {
    let server = TestServer::start_with(|cfg| cfg.limits.max_columns = 3.try_into().unwrap()).await;
    let key = server.key.clone();
    let contract = server.create_contract(&key, "users", json!([])).await;
    let path = format!("/api/v1/contracts/{}", text(&contract["id"]));
    let many: Vec<Value> = (0..4)
        .map(|i| col(&format!("c{i}"), "string", true))
        .collect();
    let bad: Vec<(Option<String>, Option<Value>)> = vec![
        (Some(String::new()), None),
        (Some("n".repeat(257)), None),
        (None, Some(json!([col("", "string", true)]))),
        (None, Some(json!([col(&"c".repeat(257), "string", true)]))),
        (
            None,
            Some(json!([
                col("email", "string", true),
                col("email", "integer", false)
            ])),
        ),
        (None, Some(Value::Array(many))),
    ];
    for (name, columns) in bad {
        let create = json!({
            "name": name.clone().unwrap_or_else(|| "fresh".into()),
            "schema": {"columns": columns.clone().unwrap_or_else(|| json!([]))},
        });
        let created = send_json(&server, Method::POST, "/api/v1/contracts", &key, &create)
            .await
            .assert_error(400, "invalid_request");
        let mut update = serde_json::Map::new();
        if let Some(name) = name {
            update.insert("name".into(), json!(name));
        }
        if let Some(columns) = columns {
            update.insert("schema".into(), json!({"columns": columns}));
        }
        let updated = send_json(&server, Method::PUT, &path, &key, &Value::Object(update))
            .await
            .assert_error(400, "invalid_request");
        assert_eq!(created, updated, "one message for one bad field");
    }
    let stored = server.get(&path).await.assert_status(200);
    assert_eq!(stored["version"], 1, "no update was stored: {stored}");
    let list = server.get("/api/v1/contracts").await.assert_status(200);
    assert_eq!(len(&list), 1, "nothing was created: {list}");
}
