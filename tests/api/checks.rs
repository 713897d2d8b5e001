use hyper::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

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
            "contract_version",
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
            // `a` → `A` is also reported as a probable rename (§5.2); it scores as v1.
            json!({"removed": ["a"], "type_changes": [], "added": ["A"],
                   "renames": [{"from": "a", "to": "A", "type": "string"}]}),
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
        v2_diff(json!({"removed": [], "type_changes": [], "added": ["extra"]}))
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
