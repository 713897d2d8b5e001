//! Request bodies: size limits, malformed and invalid JSON, `Content-Type`.

use hyper::Method;
use serde_json::json;

use crate::common::*;
use crate::support::*;

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

#[tokio::test]
async fn body_size_limit_with_content_length() {
    let server =
        TestServer::start_with(|cfg| cfg.server.max_body_bytes = 1024.try_into().unwrap()).await;
    // Exactly at the limit is fine; one byte more is 413.
    let mut exact = contract_body("exact").into_bytes();
    exact.resize(1024, b' ');
    server
        .send(Method::POST, "/api/v1/contracts", Some(&server.key), exact)
        .await
        .assert_status(201);
    let mut over = contract_body("over").into_bytes();
    over.resize(1025, b' ');
    let message = server
        .send(Method::POST, "/api/v1/contracts", Some(&server.key), over)
        .await
        .assert_error(413, "payload_too_large");
    assert!(message.contains("1024"), "{message}");
    server
        .send(
            Method::POST,
            "/api/v1/check",
            Some(&server.key),
            "y".repeat(4096),
        )
        .await
        .assert_error(413, "payload_too_large");
    let list = server.get("/api/v1/contracts").await.assert_status(200);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn bad_bodies_are_400_naming_the_field() {
    let server = TestServer::start().await;
    let post = |path: &'static str, body: Vec<u8>| {
        let server = &server;
        async move {
            server
                .send(Method::POST, path, Some(&server.key), body)
                .await
        }
    };
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "/api/v1/contracts",
            br#"{"name": 5, "schema": {"columns": []}}"#.to_vec(),
            vec!["name"],
        ),
        (
            "/api/v1/contracts",
            br#"{"schema": {"columns": []}}"#.to_vec(),
            vec!["name"],
        ),
        (
            "/api/v1/contracts",
            br#"{"name": "x"}"#.to_vec(),
            vec!["schema"],
        ),
        (
            "/api/v1/contracts",
            br#"{"name": "x", "schema": {"columns": {}}}"#.to_vec(),
            vec!["schema.columns"],
        ),
        (
            "/api/v1/contracts",
            br#"{"name": "x", "schema": {"columns": [{"name": "a", "type": "string"}]}}"#
                .to_vec(),
            vec!["schema.columns[0]", "required"],
        ),
        (
            "/api/v1/contracts",
            br#"{"name": "x", "schema": {"columns": [{"name": "a", "type": "string", "required": "yes"}]}}"#
                .to_vec(),
            vec!["schema.columns[0].required"],
        ),
        (
            "/api/v1/contracts",
            br#"{"name": "x", "schema": {"columns": [{"name": "a", "type": "string", "required": true}, {"name": "b", "type": "float", "required": true}]}}"#
                .to_vec(),
            vec!["schema.columns[1].type"],
        ),
        (
            "/api/v1/contracts",
            br#"{"name": "", "schema": {"columns": []}}"#.to_vec(),
            vec!["name"],
        ),
        (
            "/api/v1/check",
            br#"{"contract_id": 5, "incoming_schema": {"columns": []}}"#.to_vec(),
            vec!["contract_id"],
        ),
        (
            "/api/v1/check",
            br#"{"contract_id": "ctr_x", "incoming_schema": {"columns": [{"name": "a"}]}}"#
                .to_vec(),
            vec!["incoming_schema.columns[0]", "type"],
        ),
        (
            "/api/v1/contracts/infer",
            br#"{"sample": 5}"#.to_vec(),
            vec!["sample"],
        ),
        ("/api/v1/contracts/infer", b"{}".to_vec(), vec!["sample"]),
        (
            "/api/v1/webhooks",
            br#"{"url": "https://example.com/h", "events": ["fail"]}"#.to_vec(),
            vec!["events[0]"],
        ),
        (
            "/api/v1/webhooks",
            br#"{"url": "http://example.com/h", "events": ["pass"]}"#.to_vec(),
            vec!["url"],
        ),
        (
            "/api/v1/keys",
            br#"{"environment": "prod"}"#.to_vec(),
            vec!["environment"],
        ),
    ];
    for (path, body, needles) in cases {
        let answer = post(path, body.clone()).await;
        let message = answer.assert_error(400, "invalid_request");
        for needle in needles {
            assert!(
                message.contains(needle),
                "{path} {}: message {message:?} should name {needle:?}",
                String::from_utf8_lossy(&body)
            );
        }
    }
}

#[tokio::test]
async fn content_type_is_not_enforced() {
    let server = TestServer::start().await;
    for (i, content_type) in [
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/json",
    ]
    .into_iter()
    .enumerate()
    {
        let answer = server
            .send_with(
                Method::POST,
                "/api/v1/contracts",
                Some(&server.key),
                &[("content-type", content_type)],
                contract_body(&format!("c{i}")),
            )
            .await;
        answer.assert_status(201);
        assert_eq!(
            answer.header("content-type"),
            Some("application/json; charset=utf-8")
        );
    }
}

/// Bodies that are not JSON, not UTF-8, truncated, nested too deep or of the wrong JSON
/// type: `400 invalid_request` on every endpoint that reads a body, never a `500`.
#[tokio::test]
async fn malformed_bodies_are_400_never_500() {
    let server = roomy_server().await;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"   \n".to_vec(),
        b"not json".to_vec(),
        b"{".to_vec(),
        b"{\"name\": \"x\",}".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        b"1".to_vec(),
        b"\"text\"".to_vec(),
        b"{} {}".to_vec(),
        b"\xef\xbb\xbf{}".to_vec(),
        b"{\"name\": \"caf\xe9\", \"schema\": {\"columns\": []}}".to_vec(),
        b"{\"name\": \"\\ud800\", \"schema\": {\"columns\": []}}".to_vec(),
        b"{\"name\": \"a\xff\xfe\", \"sample\": {}, \"environment\": \"live\"}".to_vec(),
        b"{\"name\": \"\xff\xfe\", \"schema\": {\"columns\": []}}".to_vec(),
        b"\x00\x01\x02".to_vec(),
        b"\xff".to_vec(),
        b"{\"sample\": {\"a\": 1}".to_vec(),
        b"{\"sample\": {\"a\": 1}} trailing".to_vec(),
        deep.clone().into_bytes(),
        format!("{{\"sample\": {deep}}}").into_bytes(),
        format!("{{\"name\": \"x\", \"schema\": {deep}}}").into_bytes(),
    ];
    let wh = dummy_id("wh_");
    let endpoints: Vec<(Method, String)> = vec![
        (Method::POST, "/api/v1/contracts".into()),
        (Method::POST, "/api/v1/contracts/infer".into()),
        (Method::POST, "/api/v1/check".into()),
        (Method::POST, "/api/v1/webhooks".into()),
        (Method::POST, "/api/v1/keys".into()),
        (Method::PATCH, format!("/api/v1/webhooks/{wh}")),
    ];
    for (method, path) in &endpoints {
        for body in &bodies {
            let answer = server
                .send(method.clone(), path, Some(&server.key), body.clone())
                .await;
            assert_eq!(
                answer.status.as_u16(),
                400,
                "{method} {path} with {:?}: {}",
                String::from_utf8_lossy(body),
                String::from_utf8_lossy(&answer.body)
            );
            answer.assert_error(400, "invalid_request");
        }
    }
    // The empty body says so.
    let message = server
        .send(Method::POST, "/api/v1/contracts", Some(&server.key), "")
        .await
        .assert_error(400, "invalid_request");
    assert!(message.contains("empty"), "{message}");
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
    // The server is still healthy and nothing was created by any of that.
    assert_eq!(
        server.get("/api/v1/contracts").await.assert_status(200),
        json!([])
    );
    assert_eq!(
        server
            .get("/api/v1/keys")
            .await
            .assert_status(200)
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        server.get("/api/v1/webhooks").await.assert_status(200),
        json!([])
    );
    assert_eq!(usage(&server, &server.key).await, (1_000_000, 0, 0));
}
