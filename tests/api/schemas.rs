//! `POST /api/v1/schemas/convert` (SPEC 6.1) end to end: every committed fixture answers
//! its golden file (Parquet by base64 of the whole file and of only its tail), every bad
//! input its error with the field and the place, and every error shape of the body. It
//! stores nothing, so there is nothing another tenant could see: a second account's key
//! converts the same document to the same answer, and the first account's usage is
//! untouched (no credits).

use base64::Engine;
use hyper::Method;
use serde_json::{json, Map, Value};

use crate::common::schema_fixtures::*;
use crate::common::*;
use crate::support::*;

const PATH: &str = "/api/v1/schemas/convert";

/// The body for `fixture`: its text, or for Parquet `bytes` in base64.
fn body(fixture: &Fixture, bytes: &[u8]) -> Option<Value> {
    let source = if fixture.format == "parquet" {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    } else {
        // A JSON string holds text only: a non-UTF-8 file is the CLI's to test.
        String::from_utf8(bytes.to_vec()).ok()?
    };
    let mut body = Map::new();
    body.insert("format".into(), fixture.format.into());
    body.insert("source".into(), source.into());
    for (name, value) in fixture.options.body_fields() {
        body.insert(name.into(), value);
    }
    Some(Value::Object(body))
}

async fn convert(server: &TestServer, key: &str, body: &Value) -> Answer {
    send_json(server, Method::POST, PATH, key, body).await
}

#[tokio::test]
async fn every_fixture_converts_to_its_golden_answer() {
    let server = TestServer::start().await;
    let fixtures = good_fixtures();
    for format in ["avro", "json_schema", "sql", "parquet"] {
        assert!(
            fixtures.iter().any(|f| f.format == format),
            "{format} has fixtures"
        );
    }
    for fixture in &fixtures {
        let bytes = std::fs::read(&fixture.file).unwrap();
        let Some(body) = body(fixture, &bytes) else {
            continue;
        };
        let answer = convert(&server, &server.key, &body).await;
        assert_eq!(
            answer.assert_status(200),
            fixture.expected(),
            "{} with {:?}",
            fixture.file.display(),
            fixture.options
        );
    }
}

#[tokio::test]
async fn a_parquet_file_converts_from_only_its_tail() {
    let server = TestServer::start().await;
    for fixture in good_fixtures().iter().filter(|f| f.format == "parquet") {
        let bytes = std::fs::read(&fixture.file).unwrap();
        let trailer = &bytes[bytes.len() - driftguard::schemas::parquet::TRAILER_LEN..];
        let tail = driftguard::schemas::parquet::tail_len(trailer).unwrap() as usize;
        assert!(tail <= bytes.len());
        let answer = convert(
            &server,
            &server.key,
            &body(fixture, &bytes[bytes.len() - tail..]).unwrap(),
        )
        .await;
        assert_eq!(
            answer.assert_status(200),
            fixture.expected(),
            "{}",
            fixture.name()
        );
        // One byte fewer than the footer is a 400 that says how much to send.
        let short = &bytes[bytes.len() - tail + 1..];
        let message = convert(&server, &server.key, &body(fixture, short).unwrap())
            .await
            .assert_error(400, "invalid_request");
        assert!(message.starts_with("source: "), "{message}");
    }
}

#[tokio::test]
async fn every_bad_input_is_a_400_naming_the_field_and_the_place() {
    let server = TestServer::start().await;
    let fixtures = bad_fixtures();
    assert!(!fixtures.is_empty());
    for fixture in &fixtures {
        let bytes = std::fs::read(&fixture.file).unwrap();
        let Some(body) = body(fixture, &bytes) else {
            continue;
        };
        let message = convert(&server, &server.key, &body)
            .await
            .assert_error(400, "invalid_request");
        let expected = fixture.expected_error();
        assert!(
            ["source", "table", "dialect", "model"]
                .iter()
                .any(|field| message == format!("{field}: {expected}")),
            "{}: {message:?} is not \"<field>: {expected}\"",
            fixture.golden.display()
        );
    }
}

#[tokio::test]
async fn a_syntax_error_says_line_and_column_and_an_option_error_names_the_option() {
    let server = TestServer::start().await;
    let message = convert(
        &server,
        &server.key,
        &json!({"format": "sql", "source": "CREATE TABLE t (\n  id INT,\n  x ,\n);"}),
    )
    .await
    .assert_error(400, "invalid_request");
    assert!(message.starts_with("source: line 3, column "), "{message}");
    let message = convert(
        &server,
        &server.key,
        &json!({"format": "sql", "source": "CREATE TABLE t (id INT);", "dialect": "oracle"}),
    )
    .await
    .assert_error(400, "invalid_request");
    assert!(message.starts_with("dialect: "), "{message}");
    let message = convert(
        &server,
        &server.key,
        &json!({"format": "json_schema", "source": "{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"https://x.example/a.json\"}}}"}),
    )
    .await
    .assert_error(400, "invalid_request");
    assert!(
        message.starts_with("source: at /properties/a/$ref: "),
        "{message}"
    );
}

#[tokio::test]
async fn the_body_is_parsed_strictly_and_every_error_names_its_field() {
    let server = TestServer::start().await;
    let key = &server.key;
    let sql = "CREATE TABLE t (id INT NOT NULL, address STRUCT<city STRING>);";
    // (body, the message's start)
    for (body, start) in [
        (
            json!({"format": "xml", "source": sql}),
            "format: must be one of avro, json_schema, sql, parquet, dbt",
        ),
        (
            json!({"format": "SQL", "source": sql}),
            "format: must be one of",
        ),
        (json!({"format": 1, "source": sql}), "format: "),
        (
            json!({"source": sql}),
            "request body: missing field `format`",
        ),
        (
            json!({"format": "sql"}),
            "request body: missing field `source`",
        ),
        (json!({"format": "sql", "source": 5}), "source: "),
        (
            json!({"format": "sql", "source": sql, "nested": "deep"}),
            "nested: must be json or flatten",
        ),
        (
            json!({"format": "sql", "source": sql, "nested": true}),
            "nested: ",
        ),
        (
            json!({"format": "sql", "source": sql, "table": 1}),
            "table: ",
        ),
        (
            json!({"format": "parquet", "source": "not base64!"}),
            "source: not valid base64",
        ),
        (
            json!({"format": "parquet", "source": "UEFSMQ"}),
            "source: not valid base64",
        ),
    ] {
        let message = convert(&server, key, &body)
            .await
            .assert_error(400, "invalid_request");
        assert!(message.starts_with(start), "{body}: {message:?}");
    }
    for text in ["", "[]", "{", "{\"format\":\"sql\",\"source\":\"\\ud800\"}"] {
        raw(&server, Method::POST, PATH, key, text)
            .await
            .assert_error(400, "invalid_request");
    }
    // Unknown fields are ignored; nested is json by default.
    let answer = convert(
        &server,
        key,
        &json!({"format": "sql", "source": sql, "extra": [1]}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        answer["columns"][0],
        json!({"name": "id", "type": "integer", "required": true})
    );
    assert_eq!(answer["columns"].as_array().unwrap().len(), 2);
    assert!(answer["warnings"].is_array());
}

#[tokio::test]
async fn more_columns_than_max_columns_is_a_400_naming_the_setting() {
    let server = TestServer::start_with(|cfg| cfg.limits.max_columns = 3.try_into().unwrap()).await;
    let three = "CREATE TABLE t (a INT, b INT, c INT);";
    convert(
        &server,
        &server.key,
        &json!({"format": "sql", "source": three}),
    )
    .await
    .assert_status(200);
    let four = "CREATE TABLE t (a INT, b INT, c INT, d INT);";
    let message = convert(
        &server,
        &server.key,
        &json!({"format": "sql", "source": four}),
    )
    .await
    .assert_error(400, "invalid_request");
    assert_eq!(
        message,
        "source: 4 columns, more than limits.max_columns (3)"
    );
}

#[tokio::test]
async fn a_body_over_max_body_bytes_is_413() {
    let server =
        TestServer::start_with(|cfg| cfg.server.max_body_bytes = 1024.try_into().unwrap()).await;
    let source = format!("CREATE TABLE t ({});", vec!["a INT"; 400].join(", "));
    convert(
        &server,
        &server.key,
        &json!({"format": "sql", "source": source}),
    )
    .await
    .assert_error(413, "payload_too_large");
}

#[tokio::test]
async fn it_needs_a_key_allows_only_post_and_costs_nothing_stores_nothing() {
    let server = TestServer::start().await;
    let body = json!({"format": "sql", "source": "CREATE TABLE t (id INT);"});
    server
        .send(Method::POST, PATH, None, body.to_string())
        .await
        .assert_error(401, "unauthorized");
    server
        .send(Method::GET, PATH, Some(&server.key), String::new())
        .await
        .assert_error(405, "method_not_allowed");
    let before = get_as(&server, "/api/v1/usage", &server.key)
        .await
        .assert_status(200);
    let answer = convert(&server, &server.key, &body)
        .await
        .assert_status(200);
    let after = get_as(&server, "/api/v1/usage", &server.key)
        .await
        .assert_status(200);
    assert_eq!(before, after, "no credits, no checks");
    let contracts = get_as(&server, "/api/v1/contracts", &server.key)
        .await
        .assert_status(200);
    assert_eq!(contracts, json!([]), "nothing created");
    // Another tenant: there is nothing stored to see, and the same document converts the
    // same for it.
    let (server, other) = server.add_account("other", 10).await;
    let theirs = convert(&server, &other, &body).await.assert_status(200);
    assert_eq!(theirs, answer);
    let contracts = get_as(&server, "/api/v1/contracts", &other)
        .await
        .assert_status(200);
    assert_eq!(contracts, json!([]));
}
