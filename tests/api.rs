mod common;
use common::*;

// Integration tests of every endpoint of SPEC §3 (and the conventions of §1–2 they rely
// on), against the real daemon over HTTP with a real redb file. Every test starts its own
// server; nothing sleeps.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use hyper::Method;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A server whose per-key request limit is out of the way (for tests that send many
/// requests with one key; the limit itself is tested in `request_rate_limit_per_key`).
async fn roomy_server() -> TestServer {
    TestServer::start_with(|cfg| {
        cfg.limits.requests_per_minute = 100_000.try_into().unwrap();
        cfg.limits.key_creations_per_hour = 1_000.try_into().unwrap();
    })
    .await
}

/// Sends a raw (possibly invalid) body with `key`.
async fn raw(server: &TestServer, method: Method, path: &str, key: &str, body: &str) -> Answer {
    server.send(method, path, Some(key), body.to_owned()).await
}

/// Sends `body` as JSON with `key`.
async fn send_json(
    server: &TestServer,
    method: Method,
    path: &str,
    key: &str,
    body: &Value,
) -> Answer {
    server.send(method, path, Some(key), body.to_string()).await
}

/// `GET` with `key`.
async fn get_as(server: &TestServer, path: &str, key: &str) -> Answer {
    server.send(Method::GET, path, Some(key), "").await
}

/// The string inside a JSON value.
#[track_caller]
fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
        .to_owned()
}

/// An RFC 3339 UTC timestamp with a `Z` suffix, close to now.
#[track_caller]
fn assert_timestamp(value: &Value) {
    let s = text(value);
    assert!(s.ends_with('Z'), "timestamp must end with Z: {s}");
    let t = OffsetDateTime::parse(&s, &Rfc3339)
        .unwrap_or_else(|e| panic!("not an RFC 3339 timestamp ({e}): {s}"));
    assert_eq!(t.offset(), time::UtcOffset::UTC, "{s}");
    let drift = (OffsetDateTime::now_utc() - t).abs();
    assert!(
        drift < time::Duration::minutes(10),
        "timestamp {s} is not close to now"
    );
}

/// An id with the type prefix and an opaque, URL-safe remainder.
#[track_caller]
fn assert_id(value: &Value, prefix: &str) -> String {
    let id = text(value);
    let rest = id
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("id {id} must start with {prefix}"));
    // At least 96 random bits need at least 16 characters of a 64-letter alphabet.
    assert!(rest.len() >= 16, "id {id} is too short to be unguessable");
    assert!(
        rest.bytes().all(|b| b.is_ascii_alphanumeric()),
        "id {id} has unexpected characters"
    );
    id
}

/// `prefix` followed by exactly 32 ASCII alphanumerics.
#[track_caller]
fn assert_prefixed_alnum32(value: &str, prefix: &str) {
    let rest = value
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{value} must start with {prefix}"));
    assert_eq!(rest.len(), 32, "{value}");
    assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()), "{value}");
}

/// A well-formed id of the same kind as `real` that names nothing: the last character is
/// changed.
fn bogus_id(real: &str) -> String {
    let mut id = real.to_owned();
    let last = id.pop().expect("non-empty id");
    id.push(if last == '0' { '1' } else { '0' });
    id
}

/// A JSON array's length.
#[track_caller]
fn len(value: &Value) -> usize {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array, got {value}"))
        .len()
}

/// The `id`s of a JSON array of objects, in order.
fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|item| text(&item["id"]))
        .collect()
}

/// The usage counters, as `(credits_remaining, credits_used, total_checks)`.
async fn usage(server: &TestServer, key: &str) -> (u64, u64, u64) {
    let body = get_as(server, "/api/v1/usage", key)
        .await
        .assert_status(200);
    let object = body.as_object().expect("usage object");
    assert_eq!(object.len(), 3, "usage has exactly three fields: {body}");
    let n = |name: &str| {
        body[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} must be an integer: {body}"))
    };
    (n("credits_remaining"), n("credits_used"), n("total_checks"))
}

fn col(name: &str, column_type: &str, required: bool) -> Value {
    json!({"name": name, "type": column_type, "required": required})
}

fn inc(name: &str, column_type: &str) -> Value {
    json!({"name": name, "type": column_type})
}

/// The exact check document the spec describes, with the server-made fields taken from
/// `got` (after checking their shape).
#[track_caller]
fn expected_check(
    got: &Value,
    contract_id: &str,
    result: &str,
    severity: u64,
    diff: Value,
    credits_used: u64,
) -> Value {
    assert_id(&got["id"], "chk_");
    assert_timestamp(&got["created_at"]);
    json!({
        "id": got["id"],
        "contract_id": contract_id,
        "result": result,
        "severity": severity,
        "diff": diff,
        "credits_used": credits_used,
        "created_at": got["created_at"],
    })
}

/// Runs a check with `key` and returns the 200 body.
async fn check_ok(server: &TestServer, key: &str, contract_id: &str, columns: Value) -> Value {
    server
        .check(key, contract_id, columns)
        .await
        .assert_status(200)
}

/// Runs `futures` concurrently (on this task) and returns their outputs in order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

/// Registers a webhook and returns the 201 body.
async fn create_webhook(server: &TestServer, key: &str, body: Value) -> Value {
    send_json(server, Method::POST, "/api/v1/webhooks", key, &body)
        .await
        .assert_status(201)
}

// ---------------------------------------------------------------------------------------
// Health, authentication and the order of checks (§1, §3 Health)
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn health_needs_no_key() {
    let server = TestServer::start().await;
    let answer = server.send(Method::GET, "/api/v1/health", None, "").await;
    let body = answer.assert_status(200);
    assert_eq!(
        body,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "storage": "ok"})
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/json; charset=utf-8")
    );
}

#[tokio::test]
async fn every_endpoint_requires_a_valid_key() {
    let server = TestServer::start().await;
    let unknown_key = format!("dg_live_{}", "A".repeat(32));
    let bearer = format!("Bearer {}", server.key);
    let endpoints: &[(Method, &str)] = &[
        (Method::GET, "/api/v1/contracts"),
        (Method::POST, "/api/v1/contracts"),
        (Method::POST, "/api/v1/contracts/infer"),
        (Method::GET, "/api/v1/contracts/ctr_x"),
        (Method::POST, "/api/v1/check"),
        (Method::GET, "/api/v1/checks"),
        (Method::GET, "/api/v1/checks/chk_x"),
        (Method::GET, "/api/v1/usage"),
        (Method::GET, "/api/v1/keys"),
        (Method::POST, "/api/v1/keys"),
        (Method::POST, "/api/v1/keys/key_x/revoke"),
        (Method::POST, "/api/v1/keys/key_x/activate"),
        (Method::DELETE, "/api/v1/keys/key_x"),
        (Method::GET, "/api/v1/webhooks"),
        (Method::POST, "/api/v1/webhooks"),
        (Method::GET, "/api/v1/webhooks/wh_x"),
        (Method::PATCH, "/api/v1/webhooks/wh_x"),
        (Method::DELETE, "/api/v1/webhooks/wh_x"),
    ];
    for (method, path) in endpoints {
        // No key at all.
        server
            .send(method.clone(), path, None, "{}")
            .await
            .assert_error(401, "unauthorized");
        // Malformed keys (rejected by shape), and a well-formed key nobody has.
        for key in [
            "",
            "nope",
            "dg_live_short",
            "dg_prod_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "dg_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!",
            unknown_key.as_str(),
        ] {
            server
                .send(method.clone(), path, Some(key), "{}")
                .await
                .assert_error(401, "unauthorized");
        }
        // A valid key in `Authorization: Bearer` is not accepted.
        server
            .send_with(
                method.clone(),
                path,
                None,
                &[("authorization", bearer.as_str())],
                "{}",
            )
            .await
            .assert_error(401, "unauthorized");
    }

    // Unknown route 404 comes before the key; wrong method 405 too, with `Allow`.
    server
        .send(Method::GET, "/api/v1/nope", None, "")
        .await
        .assert_error(404, "not_found");
    let answer = server
        .send(Method::PUT, "/api/v1/contracts", None, "")
        .await;
    answer.assert_error(405, "method_not_allowed");
    let allow = answer.header("allow").expect("Allow header").to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    server
        .send(Method::DELETE, "/api/v1/check", Some(&server.key), "")
        .await
        .assert_error(405, "method_not_allowed");

    // And the real key works.
    server.get("/api/v1/usage").await.assert_status(200);
}

#[tokio::test]
async fn request_rate_limit_per_key() {
    let server =
        TestServer::start_with(|cfg| cfg.limits.requests_per_minute = 3.try_into().unwrap()).await;
    // Requests rejected before the key is known do not count.
    for _ in 0..5 {
        server
            .send(Method::GET, "/api/v1/usage", None, "")
            .await
            .assert_error(401, "unauthorized");
        server
            .send(Method::GET, "/api/v1/health", None, "")
            .await
            .assert_status(200);
    }
    let other = server.new_key(&server.key, "test").await; // 1
    server.get("/api/v1/usage").await.assert_status(200); // 2
    server.get("/api/v1/contracts").await.assert_status(200); // 3
    let answer = server.get("/api/v1/usage").await;
    answer.assert_error(429, "rate_limited");
    let retry: u64 = answer
        .header("retry-after")
        .expect("Retry-After header")
        .parse()
        .expect("Retry-After in whole seconds");
    // GCRA refills evenly: with 3 per minute, one request is allowed every 20 s.
    assert!((1..=20).contains(&retry), "Retry-After {retry}");
    // Another key has its own bucket; health never counts.
    get_as(&server, "/api/v1/usage", &other)
        .await
        .assert_status(200);
    server
        .send(Method::GET, "/api/v1/health", None, "")
        .await
        .assert_status(200);
}

#[tokio::test]
async fn body_too_large_is_413_before_400_and_after_401() {
    let server =
        TestServer::start_with(|cfg| cfg.server.max_body_bytes = 200.try_into().unwrap()).await;
    let long_name = "n".repeat(300);
    let body = json!({"name": long_name, "schema": {"columns": []}});
    send_json(
        &server,
        Method::POST,
        "/api/v1/contracts",
        &server.key,
        &body,
    )
    .await
    .assert_error(413, "payload_too_large");
    // Not JSON, but too large: 413 comes first.
    raw(
        &server,
        Method::POST,
        "/api/v1/contracts",
        &server.key,
        &"x".repeat(300),
    )
    .await
    .assert_error(413, "payload_too_large");
    // Too large without a key: 401 comes first.
    server
        .send(Method::POST, "/api/v1/contracts", None, "x".repeat(300))
        .await
        .assert_error(401, "unauthorized");
    // A small body is fine.
    server
        .create_contract(&server.key, "small", json!([]))
        .await;
}

// ---------------------------------------------------------------------------------------
// Contracts
// ---------------------------------------------------------------------------------------

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
async fn malformed_bodies_are_400_never_500() {
    let server = TestServer::start().await;
    let paths = [
        "/api/v1/contracts",
        "/api/v1/contracts/infer",
        "/api/v1/check",
        "/api/v1/keys",
        "/api/v1/webhooks",
    ];
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let bodies: Vec<Vec<u8>> = vec![
        b"{\"name\": \"\xff\xfe\", \"schema\": {\"columns\": []}}".to_vec(),
        b"\xff".to_vec(),
        b"{\"sample\": {\"a\": 1}".to_vec(),
        b"{\"sample\": {\"a\": 1}} trailing".to_vec(),
        format!("{{\"sample\": {deep}}}").into_bytes(),
        format!("{{\"name\": \"x\", \"schema\": {deep}}}").into_bytes(),
    ];
    for path in paths {
        for body in &bodies {
            server
                .send(Method::POST, path, Some(&server.key), body.clone())
                .await
                .assert_error(400, "invalid_request");
        }
    }
    // A sample nested a little is fine: one `json` column.
    let nested = format!(
        "{{\"sample\": {{\"a\": {}1{}}}}}",
        "[".repeat(20),
        "]".repeat(20)
    );
    let got = raw(
        &server,
        Method::POST,
        "/api/v1/contracts/infer",
        &server.key,
        &nested,
    )
    .await
    .assert_status(200);
    assert_eq!(got, json!({"columns": [col("a", "json", true)]}));
    // The server is still healthy and nothing was created.
    assert_eq!(
        server.get("/api/v1/contracts").await.assert_status(200),
        json!([])
    );
    assert_eq!(usage(&server, &server.key).await, (1_000_000, 0, 0));
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
async fn contract_unknown_or_malformed_id_is_404() {
    let server = TestServer::start().await;
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let id = text(&users["id"]);
    let unknown = server
        .get(&format!("/api/v1/contracts/{}", bogus_id(&id)))
        .await;
    unknown.assert_error(404, "not_found");
    for malformed in [
        "nope".to_owned(),
        "ctr_".to_owned(),
        id.to_uppercase(),
        format!("{id}0"),
        id.replacen("ctr_", "chk_", 1),
        id.replacen("ctr_", "wh_", 1),
        "ctr_!!!".to_owned(),
    ] {
        let answer = server.get(&format!("/api/v1/contracts/{malformed}")).await;
        answer.assert_error(404, "not_found");
        assert_eq!(answer.body, unknown.body, "malformed {malformed}");
    }
    // The real one is still there.
    server
        .get(&format!("/api/v1/contracts/{id}"))
        .await
        .assert_status(200);
}

// ---------------------------------------------------------------------------------------
// Inference
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn infer_follows_every_rule_of_the_spec() {
    let server = TestServer::start().await;
    // Written by hand so that numbers stay as written and keys stay in this order.
    let body = r#"{"sample": {
        "zeta": 1,
        "negative": -42,
        "huge": 123456789012345678901234567890,
        "zero": 0,
        "one_point_zero": 1.0,
        "exponent": 1e3,
        "upper_exponent": 2E-2,
        "fraction": -0.5,
        "yes": true,
        "no": false,
        "ts": "2026-03-01T19:22:00Z",
        "ts_offset": "2026-03-01T19:22:00.123+02:00",
        "ts_negative_offset": "2026-03-01T19:22:00-05:30",
        "ts_space": "2026-03-01 19:22:00Z",
        "ts_no_offset": "2026-03-01T19:22:00",
        "ts_impossible": "2026-02-30T19:22:00Z",
        "ts_hour_25": "2026-03-01T25:22:00Z",
        "ts_fraction": "2026-03-01T19:22:00.123456789Z",
        "day": "2026-03-01",
        "leap_day": "2024-02-29",
        "impossible_day": "2026-02-29",
        "month_13": "2026-13-01",
        "short_month": "2026-3-01",
        "words": "hello",
        "empty": "",
        "numeric_string": "42",
        "nothing": null,
        "object": {"a": 1},
        "empty_object": {},
        "array": [1, 2],
        "empty_array": [],
        "alpha": "last"
    }}"#;
    let answer = raw(
        &server,
        Method::POST,
        "/api/v1/contracts/infer",
        &server.key,
        body,
    )
    .await;
    let got = answer.assert_status(200);
    let expected: Vec<(&str, &str)> = vec![
        ("zeta", "integer"),
        ("negative", "integer"),
        ("huge", "integer"),
        ("zero", "integer"),
        ("one_point_zero", "number"),
        ("exponent", "number"),
        ("upper_exponent", "number"),
        ("fraction", "number"),
        ("yes", "boolean"),
        ("no", "boolean"),
        ("ts", "timestamp"),
        ("ts_offset", "timestamp"),
        ("ts_negative_offset", "timestamp"),
        ("ts_space", "string"),
        ("ts_no_offset", "string"),
        ("ts_impossible", "string"),
        ("ts_hour_25", "string"),
        ("ts_fraction", "timestamp"),
        ("day", "date"),
        ("leap_day", "date"),
        ("impossible_day", "string"),
        ("month_13", "string"),
        ("short_month", "string"),
        ("words", "string"),
        ("empty", "string"),
        ("numeric_string", "string"),
        ("nothing", "string"),
        ("object", "json"),
        ("empty_object", "json"),
        ("array", "json"),
        ("empty_array", "json"),
        ("alpha", "string"),
    ];
    let expected_columns: Vec<Value> = expected
        .iter()
        .map(|(name, column_type)| col(name, column_type, true))
        .collect();
    // Arrays compare in order, so this also pins the sample's key order.
    assert_eq!(got, json!({"columns": expected_columns}));

    // Ready to paste into a create request.
    let created = server
        .create_contract(&server.key, "inferred", got["columns"].clone())
        .await;
    assert_eq!(created["schema"]["columns"], got["columns"]);

    // An empty record gives an empty column list.
    let got = send_json(
        &server,
        Method::POST,
        "/api/v1/contracts/infer",
        &server.key,
        &json!({"sample": {}}),
    )
    .await
    .assert_status(200);
    assert_eq!(got, json!({"columns": []}));
}

#[tokio::test]
async fn infer_without_an_object_sample_is_400() {
    let server = TestServer::start().await;
    for body in [
        "",
        "not json",
        "[]",
        "{}",
        r#"{"sample": null}"#,
        r#"{"sample": [{"a": 1}]}"#,
        r#"{"sample": "a=1"}"#,
        r#"{"sample": 1}"#,
        r#"{"sample": true}"#,
        r#"{"record": {"a": 1}}"#,
    ] {
        raw(
            &server,
            Method::POST,
            "/api/v1/contracts/infer",
            &server.key,
            body,
        )
        .await
        .assert_error(400, "invalid_request");
    }
}

#[tokio::test]
async fn infer_creates_nothing_and_costs_nothing() {
    let server = TestServer::start().await;
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    check_ok(&server, &server.key, &text(&users["id"]), users_columns()).await;
    let contracts_before = server.get("/api/v1/contracts").await.body;
    let checks_before = server.get("/api/v1/checks").await.body;
    let usage_before = usage(&server, &server.key).await;
    assert_eq!(usage_before, (999_999, 1, 1));
    for _ in 0..3 {
        send_json(
            &server,
            Method::POST,
            "/api/v1/contracts/infer",
            &server.key,
            &json!({"sample": {"id": 1, "email": "a@b.c"}}),
        )
        .await
        .assert_status(200);
    }
    assert_eq!(server.get("/api/v1/contracts").await.body, contracts_before);
    assert_eq!(server.get("/api/v1/checks").await.body, checks_before);
    assert_eq!(usage(&server, &server.key).await, usage_before);
}

// ---------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn check_worked_examples_of_the_spec() {
    let server = TestServer::start().await;
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let cid = text(&users["id"]);

    // Required `email` removed + `created_at` timestamp→string: 40+30 = 70 → warning.
    let got = check_ok(
        &server,
        &server.key,
        &cid,
        json!([inc("user_id", "integer"), inc("created_at", "string")]),
    )
    .await;
    assert_eq!(
        got,
        expected_check(
            &got,
            &cid,
            "warning",
            70,
            json!({
                "removed": ["email"],
                "type_changes": [{"column": "created_at", "from": "timestamp", "to": "string"}],
                "added": []
            }),
            1
        )
    );

    // Plus required `user_id` removed: 40+40+30 = 110 → capped 100 → breaking.
    let got = check_ok(
        &server,
        &server.key,
        &cid,
        json!([inc("created_at", "string")]),
    )
    .await;
    assert_eq!(
        got,
        expected_check(
            &got,
            &cid,
            "breaking",
            100,
            json!({
                "removed": ["user_id", "email"],
                "type_changes": [{"column": "created_at", "from": "timestamp", "to": "string"}],
                "added": []
            }),
            1
        )
    );

    // Only one new column `updated_at` added: 5 → pass.
    let got = check_ok(
        &server,
        &server.key,
        &cid,
        json!([
            inc("user_id", "integer"),
            inc("email", "string"),
            inc("created_at", "timestamp"),
            inc("updated_at", "timestamp"),
        ]),
    )
    .await;
    assert_eq!(
        got,
        expected_check(
            &got,
            &cid,
            "pass",
            5,
            json!({"removed": [], "type_changes": [], "added": ["updated_at"]}),
            1
        )
    );

    // Identical schema: 0 → pass with three empty lists.
    let got = check_ok(
        &server,
        &server.key,
        &cid,
        json!([
            inc("user_id", "integer"),
            inc("email", "string"),
            inc("created_at", "timestamp"),
        ]),
    )
    .await;
    assert_eq!(
        got,
        expected_check(
            &got,
            &cid,
            "pass",
            0,
            json!({"removed": [], "type_changes": [], "added": []}),
            1
        )
    );
    // Exact field order of the document, as the spec writes it.
    let answer = server
        .check(
            &server.key,
            &cid,
            json!([
                inc("created_at", "timestamp"),
                inc("email", "string"),
                inc("user_id", "integer"),
            ]),
        )
        .await;
    let keys: Vec<String> = answer
        .assert_status(200)
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "contract_id",
            "result",
            "severity",
            "diff",
            "credits_used",
            "created_at"
        ]
    );
}

#[tokio::test]
async fn check_diff_lists_keep_schema_order() {
    let server = TestServer::start().await;
    let contract = server
        .create_contract(
            &server.key,
            "ordered",
            json!([
                col("d", "integer", true),
                col("b", "string", false),
                col("c", "integer", true),
                col("a", "string", true),
                col("f", "date", false),
                col("e", "boolean", true),
            ]),
        )
        .await;
    let cid = text(&contract["id"]);
    // Incoming order differs from contract order on purpose.
    let got = check_ok(
        &server,
        &server.key,
        &cid,
        json!([
            inc("z", "string"),
            inc("a", "number"),
            inc("y", "json"),
            inc("c", "string"),
            inc("d", "integer"),
            inc("x", "date"),
        ]),
    )
    .await;
    // removed b (20) + f (20) + e (40), type changes c, a (60), added z, y, x (15) = 155.
    assert_eq!(
        got,
        expected_check(
            &got,
            &cid,
            "breaking",
            100,
            json!({
                "removed": ["b", "f", "e"],
                "type_changes": [
                    {"column": "c", "from": "integer", "to": "string"},
                    {"column": "a", "from": "string", "to": "number"}
                ],
                "added": ["z", "y", "x"]
            }),
            1
        )
    );
    // Names are compared exactly (case-sensitive): `A` is new, `a` is removed.
    let got = check_ok(
        &server,
        &server.key,
        &cid,
        json!([
            inc("d", "integer"),
            inc("b", "string"),
            inc("c", "integer"),
            inc("A", "string"),
            inc("f", "date"),
            inc("e", "boolean"),
        ]),
    )
    .await;
    assert_eq!(
        got,
        expected_check(
            &got,
            &cid,
            "warning",
            45,
            json!({"removed": ["a"], "type_changes": [], "added": ["A"]}),
            1
        )
    );
}

#[tokio::test]
async fn check_verdict_boundaries() {
    let server = TestServer::start().await;
    let contract = server
        .create_contract(
            &server.key,
            "bounds",
            json!([
                col("r1", "integer", true),
                col("r2", "string", true),
                col("o1", "string", false),
                col("t1", "integer", true),
                col("t2", "boolean", false),
                col("t3", "date", true),
            ]),
        )
        .await;
    let cid = text(&contract["id"]);
    let base = || -> Vec<Value> {
        vec![
            inc("r1", "integer"),
            inc("r2", "string"),
            inc("o1", "string"),
            inc("t1", "integer"),
            inc("t2", "boolean"),
            inc("t3", "date"),
        ]
    };
    let without = |names: &[&str]| -> Vec<Value> {
        base()
            .into_iter()
            .filter(|c| !names.contains(&c["name"].as_str().unwrap()))
            .collect()
    };
    let added =
        |n: usize| -> Vec<Value> { (0..n).map(|i| inc(&format!("new{i}"), "string")).collect() };
    let cases: Vec<(Vec<Value>, u64, &str)> = vec![
        // 3 added = 15 → pass; 4 added = 20 → warning.
        ([base(), added(3)].concat(), 15, "pass"),
        ([base(), added(4)].concat(), 20, "warning"),
        // An optional column removed = 20 → warning; a required one = 40.
        (without(&["o1"]), 20, "warning"),
        (without(&["r1"]), 40, "warning"),
        // 40+40+5 = 85 → warning; 40+40+5+5 = 90 → breaking.
        ([without(&["r1", "r2"]), added(1)].concat(), 85, "warning"),
        ([without(&["r1", "r2"]), added(2)].concat(), 90, "breaking"),
        // 3 type changes = 90 → breaking; 2 = 60 → warning.
        (
            vec![
                inc("r1", "integer"),
                inc("r2", "string"),
                inc("o1", "string"),
                inc("t1", "number"),
                inc("t2", "string"),
                inc("t3", "timestamp"),
            ],
            90,
            "breaking",
        ),
        (
            vec![
                inc("r1", "integer"),
                inc("r2", "string"),
                inc("o1", "string"),
                inc("t1", "number"),
                inc("t2", "json"),
                inc("t3", "date"),
            ],
            60,
            "warning",
        ),
        // Everything removed: 40*4 + 20*2 = 200 → 100.
        (vec![], 100, "breaking"),
    ];
    for (incoming, severity, result) in cases {
        let got = check_ok(&server, &server.key, &cid, json!(incoming)).await;
        assert_eq!(got["severity"], severity, "{incoming:?} → {got}");
        assert_eq!(got["result"], result, "{incoming:?} → {got}");
    }
}

#[tokio::test]
async fn check_accepts_and_ignores_required_on_incoming_columns() {
    let server = TestServer::start().await;
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let cid = text(&users["id"]);
    let plain = check_ok(
        &server,
        &server.key,
        &cid,
        json!([inc("user_id", "integer"), inc("created_at", "string")]),
    )
    .await;
    for required in [json!(true), json!(false), json!("yes"), json!(null)] {
        let got = check_ok(
            &server,
            &server.key,
            &cid,
            json!([
                {"name": "user_id", "type": "integer", "required": required},
                {"name": "created_at", "type": "string", "required": required},
            ]),
        )
        .await;
        assert_eq!(got["result"], plain["result"]);
        assert_eq!(got["severity"], plain["severity"]);
        assert_eq!(got["diff"], plain["diff"]);
    }
    // An optional (required: false) incoming column that is absent from the contract is
    // still just an addition.
    let got = check_ok(
        &server,
        &server.key,
        &cid,
        json!([
            {"name": "user_id", "type": "integer", "required": false},
            {"name": "email", "type": "string", "required": false},
            {"name": "created_at", "type": "timestamp", "required": false},
            {"name": "extra", "type": "string", "required": false},
        ]),
    )
    .await;
    assert_eq!(got["severity"], 5);
    assert_eq!(
        got["diff"],
        json!({"removed": [], "type_changes": [], "added": ["extra"]})
    );
}

#[tokio::test]
async fn check_is_stored_and_get_is_byte_identical() {
    let server = TestServer::start().await;
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let cid = text(&users["id"]);
    let answers = [
        server
            .check(
                &server.key,
                &cid,
                json!([inc("user_id", "integer"), inc("created_at", "string")]),
            )
            .await,
        server
            .check(&server.key, &cid, json!([inc("created_at", "string")]))
            .await,
        server.check(&server.key, &cid, json!([])).await,
    ];
    let mut posted = Vec::new();
    for answer in &answers {
        let body = answer.assert_status(200);
        let id = text(&body["id"]);
        let fetched = server.get(&format!("/api/v1/checks/{id}")).await;
        fetched.assert_status(200);
        assert_eq!(
            fetched.body, answer.body,
            "GET /checks/{{id}} must be byte-identical to the POST answer"
        );
        assert_eq!(
            fetched.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        posted.push(body);
    }
    // The list holds the same documents.
    let list = server.get("/api/v1/checks").await.assert_status(200);
    assert_eq!(len(&list), 3);
    for body in &posted {
        let found: Vec<&Value> = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["id"] == body["id"])
            .collect();
        assert_eq!(found, [body]);
    }

    // Unknown and malformed check ids are 404.
    let id = text(&posted[0]["id"]);
    let unknown = server
        .get(&format!("/api/v1/checks/{}", bogus_id(&id)))
        .await;
    unknown.assert_error(404, "not_found");
    for malformed in [
        "nope".to_owned(),
        "chk_".to_owned(),
        id.to_uppercase(),
        id.replacen("chk_", "ctr_", 1),
        cid.clone(),
    ] {
        let answer = server.get(&format!("/api/v1/checks/{malformed}")).await;
        answer.assert_error(404, "not_found");
        assert_eq!(answer.body, unknown.body, "malformed {malformed}");
    }
}

#[tokio::test]
async fn check_against_an_unknown_or_malformed_contract_is_404() {
    let server = TestServer::start().await;
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let cid = text(&users["id"]);
    let unknown = server
        .check(&server.key, &bogus_id(&cid), users_columns())
        .await;
    unknown.assert_error(404, "not_found");
    for malformed in [
        "nope".to_owned(),
        String::new(),
        "ctr_".to_owned(),
        cid.to_uppercase(),
        cid.replacen("ctr_", "chk_", 1),
        format!("{cid}0"),
    ] {
        let answer = server
            .check(&server.key, &malformed, json!([inc("user_id", "integer")]))
            .await;
        answer.assert_error(404, "not_found");
        assert_eq!(answer.body, unknown.body, "malformed {malformed:?}");
    }
    // None of these was stored or paid for.
    assert_eq!(
        server.get("/api/v1/checks").await.assert_status(200),
        json!([])
    );
    assert_eq!(usage(&server, &server.key).await, (1_000_000, 0, 0));
}

#[tokio::test]
async fn check_bad_body_is_400_before_404() {
    let server = roomy_server().await;
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let cid = text(&users["id"]);
    let unknown = bogus_id(&cid);
    let bad_incoming: Vec<Value> = vec![
        json!([{"name": "a", "type": "float"}]),
        json!([{"name": "a", "type": "Integer"}]),
        json!([{"name": "a", "type": "uuid"}]),
        json!([{"name": "a"}]),
        json!([{"type": "string"}]),
        json!([inc("a", "string"), inc("a", "integer")]),
        json!([inc("", "string")]),
        json!([inc(&"c".repeat(257), "string")]),
        json!({"a": "string"}),
        json!(null),
    ];
    for contract_id in [cid.as_str(), unknown.as_str(), "nope"] {
        for columns in &bad_incoming {
            server
                .check(&server.key, contract_id, columns.clone())
                .await
                .assert_error(400, "invalid_request");
        }
        for body in [
            json!({"contract_id": contract_id}),
            json!({"contract_id": contract_id, "incoming_schema": {}}),
            json!({"contract_id": contract_id, "incoming_schema": []}),
        ] {
            send_json(&server, Method::POST, "/api/v1/check", &server.key, &body)
                .await
                .assert_error(400, "invalid_request");
        }
    }
    for body in [
        String::new(),
        "not json".to_owned(),
        "[]".to_owned(),
        json!({"incoming_schema": {"columns": []}}).to_string(),
        json!({"contract_id": 5, "incoming_schema": {"columns": []}}).to_string(),
        json!({"contract_id": null, "incoming_schema": {"columns": []}}).to_string(),
    ] {
        raw(&server, Method::POST, "/api/v1/check", &server.key, &body)
            .await
            .assert_error(400, "invalid_request");
    }
    // A name of 256 characters is fine.
    check_ok(
        &server,
        &server.key,
        &cid,
        json!([inc(&"c".repeat(256), "string")]),
    )
    .await;
    // Only that last one was stored.
    let list = server.get("/api/v1/checks").await.assert_status(200);
    assert_eq!(len(&list), 1);
    assert_eq!(usage(&server, &server.key).await, (999_999, 1, 1));
}

// ---------------------------------------------------------------------------------------
// Usage and credits
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn keys_list_shape_never_shows_the_full_key() {
    let server = TestServer::start().await;
    let new = send_json(
        &server,
        Method::POST,
        "/api/v1/keys",
        &server.key,
        &json!({"environment": "test"}),
    )
    .await
    .assert_status(201);
    let test_key = text(&new["key"]);

    let answer = server.get("/api/v1/keys").await;
    let list = answer.assert_status(200);
    let body_text = String::from_utf8_lossy(&answer.body).into_owned();
    assert!(!body_text.contains(&server.key), "full key in list output");
    assert!(!body_text.contains(&test_key), "full key in list output");
    assert!(!body_text.contains(&server.key[16..]), "key tail in list");
    assert!(!body_text.contains(&test_key[16..]), "key tail in list");
    assert_eq!(len(&list), 2);

    let bootstrap = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["environment"] == "live")
        .expect("the bootstrap key")
        .clone();
    assert_id(&bootstrap["id"], "key_");
    assert_timestamp(&bootstrap["created_at"]);
    // It has been used (by this very request, at least).
    assert_timestamp(&bootstrap["last_used_at"]);
    assert_eq!(
        bootstrap,
        json!({
            "id": bootstrap["id"],
            "key_preview": &server.key[..16],
            "environment": "live",
            "is_active": true,
            "created_at": bootstrap["created_at"],
            "last_used_at": bootstrap["last_used_at"],
        })
    );

    let listed_test = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == new["id"])
        .expect("the new key is listed")
        .clone();
    assert_eq!(
        listed_test,
        json!({
            "id": new["id"],
            "key_preview": &test_key[..16],
            "environment": "test",
            "is_active": true,
            "created_at": new["created_at"],
            "last_used_at": null,
        })
    );
    assert_eq!(text(&listed_test["key_preview"]).chars().count(), 16);
}

#[tokio::test]
async fn keys_create_live_and_test() {
    let server = TestServer::start().await;
    for environment in ["live", "test"] {
        let answer = send_json(
            &server,
            Method::POST,
            "/api/v1/keys",
            &server.key,
            &json!({"environment": environment, "unknown_field": 1}),
        )
        .await;
        let got = answer.assert_status(201);
        assert_id(&got["id"], "key_");
        assert_timestamp(&got["created_at"]);
        let key = text(&got["key"]);
        assert_prefixed_alnum32(&key, &format!("dg_{environment}_"));
        assert_eq!(
            got,
            json!({
                "id": got["id"],
                "key": key,
                "key_preview": &key[..16],
                "environment": environment,
                "is_active": true,
                "created_at": got["created_at"],
            })
        );
        // The new key works and belongs to the caller's account.
        let contract = server
            .create_contract(&key, &format!("made-with-{environment}"), json!([]))
            .await;
        let id = text(&contract["id"]);
        server
            .get(&format!("/api/v1/contracts/{id}"))
            .await
            .assert_status(200);
        assert_eq!(
            usage(&server, &key).await,
            usage(&server, &server.key).await
        );
        // The full key is never shown again.
        let keys = server.get("/api/v1/keys").await;
        assert!(!String::from_utf8_lossy(&keys.body).contains(&key));
    }
    let list = server.get("/api/v1/keys").await.assert_status(200);
    assert_eq!(len(&list), 3);
}

#[tokio::test]
async fn keys_environment_must_be_live_or_test() {
    let server = TestServer::start().await;
    for body in [
        "",
        "not json",
        "{}",
        "[]",
        r#"{"environment": "prod"}"#,
        r#"{"environment": "Live"}"#,
        r#"{"environment": "TEST"}"#,
        r#"{"environment": ""}"#,
        r#"{"environment": null}"#,
        r#"{"environment": 1}"#,
        r#"{"environment": ["live"]}"#,
    ] {
        raw(&server, Method::POST, "/api/v1/keys", &server.key, body)
            .await
            .assert_error(400, "invalid_request");
    }
    let list = server.get("/api/v1/keys").await.assert_status(200);
    assert_eq!(len(&list), 1, "no key was created");
}

#[tokio::test]
async fn keys_revoke_activate_delete_lifecycle() {
    let server = TestServer::start().await;
    let created = send_json(
        &server,
        Method::POST,
        "/api/v1/keys",
        &server.key,
        &json!({"environment": "test"}),
    )
    .await
    .assert_status(201);
    let id = text(&created["id"]);
    let key = text(&created["key"]);
    get_as(&server, "/api/v1/usage", &key)
        .await
        .assert_status(200);

    // An active key cannot be deleted.
    server
        .delete(&format!("/api/v1/keys/{id}"))
        .await
        .assert_error(400, "invalid_request");
    get_as(&server, "/api/v1/usage", &key)
        .await
        .assert_status(200);

    // Revoke: the key answers 401 from then on.
    let revoked = server
        .post(&format!("/api/v1/keys/{id}/revoke"), &json!({}))
        .await
        .assert_status(200);
    assert_eq!(
        revoked,
        json!({"id": id, "is_active": false, "environment": "test", "key_preview": &key[..16]})
    );
    get_as(&server, "/api/v1/usage", &key)
        .await
        .assert_error(401, "unauthorized");
    server
        .check(&key, "ctr_x", json!([]))
        .await
        .assert_error(401, "unauthorized");
    let list = server.get("/api/v1/keys").await.assert_status(200);
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == json!(id))
        .expect("a revoked key is still listed")
        .clone();
    assert_eq!(listed["is_active"], false);

    // Activate: it works again.
    let activated = send_json(
        &server,
        Method::POST,
        &format!("/api/v1/keys/{id}/activate"),
        &server.key,
        &json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        activated,
        json!({"id": id, "is_active": true, "environment": "test", "key_preview": &key[..16]})
    );
    get_as(&server, "/api/v1/usage", &key)
        .await
        .assert_status(200);

    // Revoke again, then delete.
    server
        .post(&format!("/api/v1/keys/{id}/revoke"), &json!({}))
        .await
        .assert_status(200);
    let deleted = server
        .delete(&format!("/api/v1/keys/{id}"))
        .await
        .assert_status(200);
    assert_eq!(deleted, json!({"id": id, "deleted": true}));
    get_as(&server, "/api/v1/usage", &key)
        .await
        .assert_error(401, "unauthorized");

    // Gone for good.
    for path in [
        format!("/api/v1/keys/{id}/revoke"),
        format!("/api/v1/keys/{id}/activate"),
    ] {
        server
            .post(&path, &json!({}))
            .await
            .assert_error(404, "not_found");
    }
    server
        .delete(&format!("/api/v1/keys/{id}"))
        .await
        .assert_error(404, "not_found");
    get_as(&server, "/api/v1/usage", &key)
        .await
        .assert_error(401, "unauthorized");
    let list = server.get("/api/v1/keys").await.assert_status(200);
    assert_eq!(len(&list), 1);
    assert!(!ids(&list).contains(&id));

    // Unknown and malformed key ids are 404 everywhere.
    for other in [bogus_id(&id), "nope".to_owned(), id.to_uppercase()] {
        server
            .post(&format!("/api/v1/keys/{other}/revoke"), &json!({}))
            .await
            .assert_error(404, "not_found");
        server
            .post(&format!("/api/v1/keys/{other}/activate"), &json!({}))
            .await
            .assert_error(404, "not_found");
        server
            .delete(&format!("/api/v1/keys/{other}"))
            .await
            .assert_error(404, "not_found");
    }

    // Revoking the key one is calling with works, and locks that key out.
    let own_id = ids(&server.get("/api/v1/keys").await.assert_status(200))[0].clone();
    server
        .post(&format!("/api/v1/keys/{own_id}/revoke"), &json!({}))
        .await
        .assert_status(200);
    server
        .get("/api/v1/usage")
        .await
        .assert_error(401, "unauthorized");
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn keys_are_stored_only_as_hashes() {
    let mut server = TestServer::start().await;
    let live = server.new_key(&server.key, "live").await;
    let test = server.new_key(&server.key, "test").await;
    get_as(&server, "/api/v1/usage", &test)
        .await
        .assert_status(200);
    server.stop().await;
    let files = files_under(server.dir.path());
    assert!(!files.is_empty());
    for file in files {
        let bytes = std::fs::read(&file).expect("read file");
        for key in [&server.key, &live, &test] {
            // The part after the 16-character preview must appear nowhere.
            let secret = &key.as_bytes()[16..];
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{} holds a full API key",
                file.display()
            );
        }
    }
}

#[tokio::test]
async fn keys_creation_is_rate_limited_per_account() {
    let server =
        TestServer::start_with(|cfg| cfg.limits.key_creations_per_hour = 2.try_into().unwrap())
            .await;
    server.new_key(&server.key, "test").await;
    server.new_key(&server.key, "live").await;
    let answer = send_json(
        &server,
        Method::POST,
        "/api/v1/keys",
        &server.key,
        &json!({"environment": "test"}),
    )
    .await;
    answer.assert_error(429, "rate_limited");
    let retry: u64 = answer
        .header("retry-after")
        .expect("Retry-After header")
        .parse()
        .expect("Retry-After in whole seconds");
    // Two per hour: the next one within 30 minutes.
    assert!((1..=1800).contains(&retry), "Retry-After {retry}");
    // No key was made, and other endpoints are not affected.
    let list = server.get("/api/v1/keys").await.assert_status(200);
    assert_eq!(len(&list), 3);
    server.get("/api/v1/usage").await.assert_status(200);
}

// ---------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn webhook_create_answers_the_exact_shape_with_the_secret_once() {
    let server = TestServer::start().await;
    let answer = send_json(
        &server,
        Method::POST,
        "/api/v1/webhooks",
        &server.key,
        &json!({"url": "https://hooks.example.com/drift?team=data", "events": ["breaking", "warning"]}),
    )
    .await;
    let got = answer.assert_status(201);
    assert_id(&got["id"], "wh_");
    assert_timestamp(&got["created_at"]);
    let secret = text(&got["secret"]);
    assert_prefixed_alnum32(&secret, "whsec_");
    assert_eq!(
        got,
        json!({
            "id": got["id"],
            "url": "https://hooks.example.com/drift?team=data",
            "events": ["breaking", "warning"],
            "contract_id": null,
            "active": true,
            "secret": secret,
            "created_at": got["created_at"],
        })
    );
    // Secrets differ between webhooks.
    let other = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/b", "events": ["pass"], "contract_id": null}),
    )
    .await;
    assert_ne!(other["secret"], got["secret"]);
    assert_prefixed_alnum32(&text(&other["secret"]), "whsec_");
}

#[tokio::test]
async fn webhook_list_and_get_never_show_the_secret() {
    let server = TestServer::start().await;
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let first = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/a", "events": ["pass"]}),
    )
    .await;
    let second = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/b", "events": ["warning", "breaking"], "contract_id": users["id"]}),
    )
    .await;
    let without_secret = |w: &Value| -> Value {
        json!({
            "id": w["id"],
            "url": w["url"],
            "events": w["events"],
            "contract_id": w["contract_id"],
            "active": w["active"],
            "created_at": w["created_at"],
        })
    };
    let answer = server.get("/api/v1/webhooks").await;
    let list = answer.assert_status(200);
    let body_text = String::from_utf8_lossy(&answer.body).into_owned();
    for created in [&first, &second] {
        assert!(!body_text.contains(&text(&created["secret"])));
        let found: Vec<&Value> = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["id"] == created["id"])
            .collect();
        assert_eq!(found, [&without_secret(created)]);
        // `GET /webhooks/{id}` (ours) answers the same object.
        let id = text(&created["id"]);
        let one = server.get(&format!("/api/v1/webhooks/{id}")).await;
        assert!(!String::from_utf8_lossy(&one.body).contains("whsec_"));
        assert_eq!(one.assert_status(200), without_secret(created));
    }
    assert_eq!(len(&list), 2);
    assert!(!body_text.contains("whsec_"));
    assert!(!body_text.contains("secret"));
}

#[tokio::test]
async fn webhook_url_must_be_absolute_https_with_a_host() {
    let server = TestServer::start().await;
    for url in [
        json!("http://hooks.example.com/drift"),
        json!("ftp://hooks.example.com/drift"),
        json!("/relative/path"),
        json!("hooks.example.com/drift"),
        json!("https://"),
        json!("https:///x"),
        json!(""),
        json!("not a url"),
        json!(null),
        json!(5),
    ] {
        send_json(
            &server,
            Method::POST,
            "/api/v1/webhooks",
            &server.key,
            &json!({"url": url, "events": ["breaking"]}),
        )
        .await
        .assert_error(400, "invalid_request");
    }
    // Missing url.
    send_json(
        &server,
        Method::POST,
        "/api/v1/webhooks",
        &server.key,
        &json!({"events": ["breaking"]}),
    )
    .await
    .assert_error(400, "invalid_request");
    // Bodies that are not JSON objects.
    for body in ["", "not json", "[]"] {
        raw(&server, Method::POST, "/api/v1/webhooks", &server.key, body)
            .await
            .assert_error(400, "invalid_request");
    }
    assert_eq!(
        server.get("/api/v1/webhooks").await.assert_status(200),
        json!([])
    );
    // Good ones: with a port, an IP host, a path and a query.
    for url in [
        "https://hooks.example.com",
        "https://127.0.0.1:8443/hook",
        "https://hooks.example.com/a/b?c=d",
    ] {
        let got = create_webhook(
            &server,
            &server.key,
            json!({"url": url, "events": ["pass"]}),
        )
        .await;
        assert_eq!(got["url"], url);
    }
}

#[tokio::test]
async fn webhook_events_are_validated_and_deduplicated() {
    let server = TestServer::start().await;
    for events in [
        json!([]),
        json!(["fail"]),
        json!(["Breaking"]),
        json!(["pass", "error"]),
        json!(["pass", 1]),
        json!("pass"),
        json!(null),
        json!({"pass": true}),
    ] {
        send_json(
            &server,
            Method::POST,
            "/api/v1/webhooks",
            &server.key,
            &json!({"url": "https://hooks.example.com/x", "events": events}),
        )
        .await
        .assert_error(400, "invalid_request");
    }
    // Missing events.
    send_json(
        &server,
        Method::POST,
        "/api/v1/webhooks",
        &server.key,
        &json!({"url": "https://hooks.example.com/x"}),
    )
    .await
    .assert_error(400, "invalid_request");

    // Duplicates are dropped (first occurrence kept).
    let got = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/x", "events": ["pass", "warning", "pass", "breaking", "warning"]}),
    )
    .await;
    assert_eq!(got["events"], json!(["pass", "warning", "breaking"]));
    let got = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/y", "events": ["breaking", "breaking"]}),
    )
    .await;
    assert_eq!(got["events"], json!(["breaking"]));
    let list = server.get("/api/v1/webhooks").await.assert_status(200);
    assert_eq!(len(&list), 2);
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == got["id"])
        .unwrap()
        .clone();
    assert_eq!(listed["events"], json!(["breaking"]));
}

#[tokio::test]
async fn webhook_contract_id_rules() {
    let server = TestServer::start().await;
    let users = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let cid = text(&users["id"]);
    let check = check_ok(&server, &server.key, &cid, users_columns()).await;
    for contract_id in [
        json!(bogus_id(&cid)),
        json!("nope"),
        json!(""),
        json!(cid.to_uppercase()),
        check["id"].clone(),
        json!(5),
        json!(["x"]),
    ] {
        send_json(
            &server,
            Method::POST,
            "/api/v1/webhooks",
            &server.key,
            &json!({"url": "https://hooks.example.com/x", "events": ["pass"], "contract_id": contract_id}),
        )
        .await
        .assert_error(400, "invalid_request");
    }
    // Null or absent: all contracts.
    let got = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/a", "events": ["pass"], "contract_id": null}),
    )
    .await;
    assert_eq!(got["contract_id"], Value::Null);
    let got = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/b", "events": ["pass"]}),
    )
    .await;
    assert_eq!(got["contract_id"], Value::Null);
    assert!(got.as_object().unwrap().contains_key("contract_id"));
    // One of the account's contracts.
    let got = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/c", "events": ["pass"], "contract_id": cid}),
    )
    .await;
    assert_eq!(got["contract_id"], json!(cid));
    let list = server.get("/api/v1/webhooks").await.assert_status(200);
    assert_eq!(len(&list), 3);
}

#[tokio::test]
async fn webhook_patch_pauses_and_resumes() {
    let server = TestServer::start().await;
    let created = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/x", "events": ["breaking"]}),
    )
    .await;
    let id = text(&created["id"]);
    let path = format!("/api/v1/webhooks/{id}");
    let expect = |active: bool| {
        json!({
            "id": created["id"],
            "url": created["url"],
            "events": created["events"],
            "contract_id": null,
            "active": active,
            "created_at": created["created_at"],
        })
    };

    let paused = send_json(
        &server,
        Method::PATCH,
        &path,
        &server.key,
        &json!({"active": false}),
    )
    .await;
    assert!(!String::from_utf8_lossy(&paused.body).contains("whsec_"));
    assert_eq!(paused.assert_status(200), expect(false));
    assert_eq!(
        server.get("/api/v1/webhooks").await.assert_status(200),
        json!([expect(false)])
    );
    assert_eq!(server.get(&path).await.assert_status(200), expect(false));

    let resumed = send_json(
        &server,
        Method::PATCH,
        &path,
        &server.key,
        &json!({"active": true, "ignored": 1}),
    )
    .await
    .assert_status(200);
    assert_eq!(resumed, expect(true));
    assert_eq!(
        server.get("/api/v1/webhooks").await.assert_status(200),
        json!([expect(true)])
    );

    // Bad bodies are 400 and change nothing.
    for body in [
        "",
        "not json",
        "{}",
        "[]",
        r#"{"active": "false"}"#,
        r#"{"active": 0}"#,
        r#"{"active": null}"#,
    ] {
        raw(&server, Method::PATCH, &path, &server.key, body)
            .await
            .assert_error(400, "invalid_request");
    }
    assert_eq!(server.get(&path).await.assert_status(200), expect(true));

    // Unknown or malformed ids: 404; but a bad body comes first (400).
    for other in [bogus_id(&id), "nope".to_owned()] {
        let other_path = format!("/api/v1/webhooks/{other}");
        send_json(
            &server,
            Method::PATCH,
            &other_path,
            &server.key,
            &json!({"active": false}),
        )
        .await
        .assert_error(404, "not_found");
        raw(&server, Method::PATCH, &other_path, &server.key, "{}")
            .await
            .assert_error(400, "invalid_request");
    }
}

#[tokio::test]
async fn webhook_delete() {
    let server = TestServer::start().await;
    let kept = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/kept", "events": ["pass"]}),
    )
    .await;
    let created = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/x", "events": ["breaking"]}),
    )
    .await;
    let id = text(&created["id"]);
    let path = format!("/api/v1/webhooks/{id}");
    let deleted = server.delete(&path).await.assert_status(200);
    assert_eq!(deleted, json!({"id": id, "deleted": true}));

    server.get(&path).await.assert_error(404, "not_found");
    server.delete(&path).await.assert_error(404, "not_found");
    send_json(
        &server,
        Method::PATCH,
        &path,
        &server.key,
        &json!({"active": true}),
    )
    .await
    .assert_error(404, "not_found");
    let list = server.get("/api/v1/webhooks").await.assert_status(200);
    assert_eq!(ids(&list), [text(&kept["id"])]);

    for other in [bogus_id(&id), "nope".to_owned(), "wh_".to_owned()] {
        server
            .delete(&format!("/api/v1/webhooks/{other}"))
            .await
            .assert_error(404, "not_found");
        server
            .get(&format!("/api/v1/webhooks/{other}"))
            .await
            .assert_error(404, "not_found");
    }
}

#[tokio::test]
async fn webhook_deliveries_endpoint_exists() {
    let server = TestServer::start().await;
    let created = create_webhook(
        &server,
        &server.key,
        json!({"url": "https://hooks.example.com/x", "events": ["breaking"]}),
    )
    .await;
    let id = text(&created["id"]);
    let list = server
        .get(&format!("/api/v1/webhooks/{id}/deliveries"))
        .await
        .assert_status(200);
    assert_eq!(list, json!([]));
    server
        .get(&format!("/api/v1/webhooks/{}/deliveries", bogus_id(&id)))
        .await
        .assert_error(404, "not_found");
    server
        .send(
            Method::GET,
            &format!("/api/v1/webhooks/{id}/deliveries"),
            None,
            "",
        )
        .await
        .assert_error(401, "unauthorized");
}

// ---------------------------------------------------------------------------------------
// Ownership across accounts
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn other_accounts_ids_answer_like_nonexistent_ids() {
    let server = TestServer::start().await;
    let key_a = server.key.clone();
    let users = server
        .create_contract(&key_a, "users", users_columns())
        .await;
    let cid = text(&users["id"]);
    let check = check_ok(&server, &key_a, &cid, users_columns()).await;
    let chk = text(&check["id"]);
    let spare = send_json(
        &server,
        Method::POST,
        "/api/v1/keys",
        &key_a,
        &json!({"environment": "test"}),
    )
    .await
    .assert_status(201);
    let kid = text(&spare["id"]);
    let spare_key = text(&spare["key"]);
    // A revoked key too, so that DELETE would otherwise be allowed.
    let doomed = send_json(
        &server,
        Method::POST,
        "/api/v1/keys",
        &key_a,
        &json!({"environment": "live"}),
    )
    .await
    .assert_status(201);
    let doomed_id = text(&doomed["id"]);
    server
        .post(&format!("/api/v1/keys/{doomed_id}/revoke"), &json!({}))
        .await
        .assert_status(200);
    let webhook = create_webhook(
        &server,
        &key_a,
        json!({"url": "https://hooks.example.com/a", "events": ["breaking"], "contract_id": cid}),
    )
    .await;
    let wid = text(&webhook["id"]);

    let (server, key_b) = server.add_account("team-b", 10).await;

    // Answers `key_b` gets for a foreign id and for a nonexistent id of the same kind
    // must be identical (status and body).
    let same = |foreign: Answer, missing: Answer, what: &str| {
        assert_eq!(
            foreign.status,
            missing.status,
            "{what}: {}",
            String::from_utf8_lossy(&foreign.body)
        );
        assert_eq!(foreign.body, missing.body, "{what}");
    };

    // Contracts.
    let a = get_as(&server, &format!("/api/v1/contracts/{cid}"), &key_b).await;
    a.assert_error(404, "not_found");
    let b = get_as(
        &server,
        &format!("/api/v1/contracts/{}", bogus_id(&cid)),
        &key_b,
    )
    .await;
    same(a, b, "GET contract");
    // A check against another account's contract.
    let a = server.check(&key_b, &cid, users_columns()).await;
    a.assert_error(404, "not_found");
    let b = server.check(&key_b, &bogus_id(&cid), users_columns()).await;
    same(a, b, "POST check");
    // Checks.
    let a = get_as(&server, &format!("/api/v1/checks/{chk}"), &key_b).await;
    a.assert_error(404, "not_found");
    let b = get_as(
        &server,
        &format!("/api/v1/checks/{}", bogus_id(&chk)),
        &key_b,
    )
    .await;
    same(a, b, "GET check");
    // Keys.
    for (method, suffix) in [
        (Method::POST, "/revoke"),
        (Method::POST, "/activate"),
        (Method::DELETE, ""),
    ] {
        for target in [&kid, &doomed_id] {
            let a = raw(
                &server,
                method.clone(),
                &format!("/api/v1/keys/{target}{suffix}"),
                &key_b,
                "{}",
            )
            .await;
            a.assert_error(404, "not_found");
            let b = raw(
                &server,
                method.clone(),
                &format!("/api/v1/keys/{}{suffix}", bogus_id(target)),
                &key_b,
                "{}",
            )
            .await;
            same(a, b, &format!("{method} key{suffix}"));
        }
    }
    // Webhooks.
    for (method, body) in [
        (Method::GET, ""),
        (Method::PATCH, r#"{"active": false}"#),
        (Method::DELETE, ""),
    ] {
        let a = raw(
            &server,
            method.clone(),
            &format!("/api/v1/webhooks/{wid}"),
            &key_b,
            body,
        )
        .await;
        a.assert_error(404, "not_found");
        let b = raw(
            &server,
            method.clone(),
            &format!("/api/v1/webhooks/{}", bogus_id(&wid)),
            &key_b,
            body,
        )
        .await;
        same(a, b, &format!("{method} webhook"));
    }
    // A webhook naming another account's contract is a 400, like an unknown contract.
    let body = |contract_id: &str| json!({"url": "https://hooks.example.com/b", "events": ["pass"], "contract_id": contract_id});
    let a = send_json(
        &server,
        Method::POST,
        "/api/v1/webhooks",
        &key_b,
        &body(&cid),
    )
    .await;
    a.assert_error(400, "invalid_request");
    let b = send_json(
        &server,
        Method::POST,
        "/api/v1/webhooks",
        &key_b,
        &body(&bogus_id(&cid)),
    )
    .await;
    same(a, b, "POST webhook with a foreign contract_id");

    // Account B sees none of A's records, and may reuse A's contract name.
    assert_eq!(
        get_as(&server, "/api/v1/contracts", &key_b)
            .await
            .assert_status(200),
        json!([])
    );
    assert_eq!(
        get_as(&server, "/api/v1/checks", &key_b)
            .await
            .assert_status(200),
        json!([])
    );
    assert_eq!(
        get_as(&server, "/api/v1/webhooks", &key_b)
            .await
            .assert_status(200),
        json!([])
    );
    let b_keys = get_as(&server, "/api/v1/keys", &key_b)
        .await
        .assert_status(200);
    assert_eq!(len(&b_keys), 1);
    assert_eq!(b_keys[0]["key_preview"], json!(&key_b[..16]));
    assert_eq!(usage(&server, &key_b).await, (10, 0, 0));
    server.create_contract(&key_b, "users", json!([])).await;

    // Nothing of A's changed.
    server
        .get(&format!("/api/v1/contracts/{cid}"))
        .await
        .assert_status(200);
    server
        .get(&format!("/api/v1/checks/{chk}"))
        .await
        .assert_status(200);
    get_as(&server, "/api/v1/usage", &spare_key)
        .await
        .assert_status(200);
    let a_keys = server.get("/api/v1/keys").await.assert_status(200);
    assert_eq!(len(&a_keys), 3);
    let doomed_listed = a_keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == json!(doomed_id))
        .expect("A's revoked key still exists")
        .clone();
    assert_eq!(doomed_listed["is_active"], false);
    let wh = server
        .get(&format!("/api/v1/webhooks/{wid}"))
        .await
        .assert_status(200);
    assert_eq!(wh["active"], true);
    assert_eq!(usage(&server, &key_a).await, (999_999, 1, 1));
    let a_contracts = server.get("/api/v1/contracts").await.assert_status(200);
    assert_eq!(ids(&a_contracts), [cid]);
}

// ---------------------------------------------------------------------------------------
// Restart
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Lists: order and paging (§1)
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn lists_keep_creation_order() {
    let server = roomy_server().await;
    let key = server.key.clone();
    let mut contracts = Vec::new();
    for i in 0..8 {
        let c = server
            .create_contract(&key, &format!("c{i}"), json!([]))
            .await;
        contracts.push(text(&c["id"]));
    }
    let list = server.get("/api/v1/contracts").await.assert_status(200);
    assert_creation_order(list.as_array().expect("array"), &contracts, false);

    let first_key = ids(&server.get("/api/v1/keys").await.assert_status(200));
    let mut keys = first_key;
    for i in 0..8 {
        let environment = if i % 2 == 0 { "live" } else { "test" };
        let k = send_json(
            &server,
            Method::POST,
            "/api/v1/keys",
            &key,
            &json!({"environment": environment}),
        )
        .await
        .assert_status(201);
        keys.push(text(&k["id"]));
    }
    let list = server.get("/api/v1/keys").await.assert_status(200);
    assert_creation_order(list.as_array().expect("array"), &keys, false);

    let mut webhooks = Vec::new();
    for i in 0..8 {
        let w = create_webhook(
            &server,
            &key,
            json!({"url": format!("https://hooks.example.com/{i}"), "events": ["pass"]}),
        )
        .await;
        webhooks.push(text(&w["id"]));
    }
    let list = server.get("/api/v1/webhooks").await.assert_status(200);
    assert_creation_order(list.as_array().expect("array"), &webhooks, false);

    let mut checks = Vec::new();
    for _ in 0..8 {
        let c = check_ok(&server, &key, &contracts[0], json!([])).await;
        checks.push(text(&c["id"]));
    }
    let list = server.get("/api/v1/checks").await.assert_status(200);
    assert_creation_order(list.as_array().expect("array"), &checks, true);
}

#[tokio::test]
async fn lists_are_paged_with_a_link_header() {
    let server = roomy_server().await;
    let key = server.key.clone();
    for i in 0..3 {
        server
            .create_contract(&key, &format!("c{i}"), json!([]))
            .await;
    }
    let contract = server.create_contract(&key, "target", json!([])).await;
    let cid = text(&contract["id"]);
    for _ in 0..3 {
        check_ok(&server, &key, &cid, json!([])).await;
    }

    for (path, total) in [("/api/v1/contracts", 4), ("/api/v1/checks", 3)] {
        let full = server.get(path).await;
        let full_list = full.assert_status(200);
        assert_eq!(len(&full_list), total);
        assert_eq!(full.header("link"), None, "{path}: one page only");

        let mut seen = Vec::new();
        let mut next = Some(format!("{path}?limit=2"));
        let mut pages = 0;
        while let Some(page_path) = next.take() {
            let answer = server.get(&page_path).await;
            let page = answer.assert_status(200);
            assert!(len(&page) <= 2, "{page_path}");
            seen.extend(ids(&page));
            pages += 1;
            if let Some(link) = answer.header("link") {
                let url = link
                    .strip_prefix('<')
                    .and_then(|l| l.strip_suffix(">; rel=\"next\""))
                    .unwrap_or_else(|| panic!("Link header shape: {link}"));
                let rest = url
                    .strip_prefix(&server.base)
                    .unwrap_or_else(|| panic!("Link must be absolute: {url}"));
                assert!(rest.starts_with(path), "{url}");
                next = Some(rest.to_owned());
            }
            assert!(pages <= 3, "paging does not end");
        }
        assert_eq!(pages, 2, "{path}");
        assert_eq!(seen, ids(&full_list), "{path}: pages join to the list");

        for bad in [
            "limit=0",
            "limit=1001",
            "limit=-1",
            "limit=abc",
            "limit=",
            "cursor=nope",
            "cursor=ctr_!",
        ] {
            server
                .get(&format!("{path}?{bad}"))
                .await
                .assert_error(400, "invalid_request");
        }
        let answer = server.get(&format!("{path}?limit=1000")).await;
        assert_eq!(len(&answer.assert_status(200)), total);
        let answer = server.get(&format!("{path}?limit=1")).await;
        assert_eq!(len(&answer.assert_status(200)), 1);
        assert!(answer.header("link").is_some());
    }
    // Keys and webhooks lists accept the same parameters.
    for path in ["/api/v1/keys", "/api/v1/webhooks"] {
        server
            .get(&format!("{path}?limit=0"))
            .await
            .assert_error(400, "invalid_request");
        server
            .get(&format!("{path}?limit=5"))
            .await
            .assert_status(200);
    }
}
