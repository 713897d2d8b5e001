use hyper::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

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

#[tokio::test]
async fn infer_from_many_samples_follows_spec_5_2() {
    let server = TestServer::start().await;
    // By hand, so numbers stay as written and keys stay in this order.
    let body = r#"{"samples": [
        {"id": 1, "price": 1, "day": "2026-03-01", "note": null, "flag": true, "mixed": 1},
        {"id": 2, "price": 2.5, "day": "2026-03-01T10:00:00Z", "flag": false, "mixed": "x", "late": 3},
        {"id": 3, "price": 3, "day": null, "note": null, "flag": true, "mixed": true, "late": null}
    ]}"#;
    let got = raw(
        &server,
        Method::POST,
        "/api/v1/contracts/infer",
        &server.key,
        body,
    )
    .await
    .assert_status(200);
    assert_eq!(
        got,
        json!({"columns": [
            col("id", "integer", true),
            col("price", "number", true),
            col("day", "timestamp", false),
            col("note", "string", false),
            col("flag", "boolean", true),
            col("mixed", "string", true),
            col("late", "integer", false),
        ]})
    );
    // Ready to paste into a create request.
    server
        .create_contract(&server.key, "from-samples", got["columns"].clone())
        .await;

    // One record in `samples`: the `sample` types, but a null value is not required.
    let one = send_json(
        &server,
        Method::POST,
        "/api/v1/contracts/infer",
        &server.key,
        &json!({"samples": [{"a": 1, "b": null}]}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        one,
        json!({"columns": [col("a", "integer", true), col("b", "string", false)]})
    );

    // 1000 records are accepted.
    let many: Vec<Value> = (0..1000).map(|i| json!({"n": i})).collect();
    send_json(
        &server,
        Method::POST,
        "/api/v1/contracts/infer",
        &server.key,
        &json!({"samples": many}),
    )
    .await
    .assert_status(200);
}

#[tokio::test]
async fn bad_samples_are_400_naming_the_field() {
    let server = TestServer::start().await;
    let too_many: Vec<Value> = (0..1001).map(|i| json!({"n": i})).collect();
    for (body, field) in [
        (json!({"samples": []}), "samples"),
        (json!({"samples": too_many}), "samples"),
        (json!({"samples": [{"a": 1}, 2]}), "samples[1]"),
        (json!({"samples": [{"a": 1}, null]}), "samples[1]"),
        (json!({"samples": {"a": 1}}), "samples"),
        (json!({"samples": [{"": 1}]}), "samples"),
        (json!({"sample": {"a": 1}, "samples": [{"a": 1}]}), "sample"),
        (json!({"samples": null}), "samples"),
        (json!({"sample": {}, "samples": null}), "sample"),
        (json!({"sample": null}), "sample"),
    ] {
        let message = send_json(
            &server,
            Method::POST,
            "/api/v1/contracts/infer",
            &server.key,
            &body,
        )
        .await
        .assert_error(400, "invalid_request");
        assert!(message.starts_with(field), "{body}: {message}");
    }
}
