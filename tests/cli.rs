//! `driftguard check` and `driftguard infer` (SPEC 5.4): the built binary against a real
//! in-process server — every exit code, every output format, `--contract` by id and by
//! name, the key only from the environment, and schema, JSON, NDJSON and CSV inputs; and
//! the converted inputs of SPEC 6.1 over every committed fixture (golden columns, errors
//! naming file and place, a Parquet file read only at its end, and a contract made from a
//! converted schema passing a check of the same file).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "test code: a failed step fails the test"
)]

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_driftguard");

/// What one run of the binary left.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args` and exactly the environment in `env` (plus PATH), off the
/// async threads so the in-process server keeps answering.
async fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let output: Output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .args(&args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env)
            .output()
            .expect("run driftguard")
    })
    .await
    .expect("join");
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

impl Run {
    #[track_caller]
    fn code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code, expected,
            "exit code; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A file in the server's temp dir.
fn file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write input");
    path
}

/// A server with the spec's `users` contract; returns it and the contract id.
async fn users_server() -> (TestServer, String) {
    let server = TestServer::start().await;
    let contract = server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let id = text(&contract["id"]);
    (server, id)
}

/// Schemas of the three verdicts against `users` (SPEC's worked examples).
const PASS: &str = r#"{"columns":[{"name":"user_id","type":"integer"},{"name":"email","type":"string"},{"name":"created_at","type":"timestamp"},{"name":"updated_at","type":"timestamp"}]}"#;
const WARNING: &str =
    r#"{"columns":[{"name":"user_id","type":"integer"},{"name":"created_at","type":"string"}]}"#;
const BREAKING: &str = r#"{"columns":[{"name":"created_at","type":"string"}]}"#;

async fn check(server: &TestServer, extra: &[&str], env_key: Option<&str>) -> Run {
    let mut args = vec!["check", "--url", &server.base];
    args.extend_from_slice(extra);
    let env: Vec<(&str, &str)> = env_key.map(|k| ("DRIFTGUARD_KEY", k)).into_iter().collect();
    run(&args, &env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_follow_fail_on_and_are_never_0_on_an_error() {
    let (server, id) = users_server().await;
    let dir = server.dir.path();
    let pass = file(dir, "pass.json", PASS);
    let warning = file(dir, "warning.json", WARNING);
    let breaking = file(dir, "breaking.json", BREAKING);
    let path = |p: &PathBuf| p.display().to_string();
    let key = Some(server.key.as_str());

    // (schema, --fail-on, exit code)
    for (schema, fail_on, expected) in [
        (&pass, "breaking", 0),
        (&warning, "breaking", 0),
        (&breaking, "breaking", 1),
        (&pass, "warning", 0),
        (&warning, "warning", 1),
        (&breaking, "warning", 1),
        (&breaking, "never", 0),
        (&warning, "never", 0),
    ] {
        check(
            &server,
            &[
                "--contract",
                &id,
                "--schema",
                &path(schema),
                "--fail-on",
                fail_on,
            ],
            key,
        )
        .await
        .code(expected);
    }
    // Default --fail-on is breaking.
    check(
        &server,
        &["--contract", &id, "--schema", &path(&warning)],
        key,
    )
    .await
    .code(0);
    check(
        &server,
        &["--contract", &id, "--schema", &path(&breaking)],
        key,
    )
    .await
    .code(1);

    // 2: bad usage, unreadable or invalid input, missing key.
    let missing = check(
        &server,
        &["--contract", &id, "--schema", &path(&pass)],
        None,
    )
    .await;
    missing.code(2);
    assert!(
        missing.stderr.contains("DRIFTGUARD_KEY"),
        "{}",
        missing.stderr
    );
    check(
        &server,
        &["--contract", &id, "--schema", &path(&pass)],
        Some(""),
    )
    .await
    .code(2);
    check(&server, &["--contract", &id], key).await.code(2);
    check(
        &server,
        &[
            "--contract",
            &id,
            "--schema",
            &path(&pass),
            "--csv",
            &path(&pass),
        ],
        key,
    )
    .await
    .code(2);
    check(
        &server,
        &["--contract", &id, "--schema", "/nonexistent/schema.json"],
        key,
    )
    .await
    .code(2);
    let not_a_schema = file(
        dir,
        "bad.json",
        r#"{"columns":[{"name":"a","type":"float"}]}"#,
    );
    check(
        &server,
        &["--contract", &id, "--schema", &path(&not_a_schema)],
        key,
    )
    .await
    .code(2);
    check(
        &server,
        &[
            "--contract",
            &id,
            "--schema",
            &path(&pass),
            "--format",
            "yaml",
        ],
        key,
    )
    .await
    .code(2);
    check(
        &server,
        &[
            "--contract",
            &id,
            "--schema",
            &path(&pass),
            "--fail-on",
            "always",
        ],
        key,
    )
    .await
    .code(2);
    // A key is never a flag.
    check(
        &server,
        &[
            "--contract",
            &id,
            "--schema",
            &path(&pass),
            "--key",
            &server.key,
        ],
        key,
    )
    .await
    .code(2);

    // 3: wrong key (401), unknown contract (404), an error answer, an unreachable server.
    let wrong = format!("dg_live_{}", "x".repeat(32));
    let unauthorized = check(
        &server,
        &["--contract", &id, "--schema", &path(&pass)],
        Some(&wrong),
    )
    .await;
    unauthorized.code(3);
    assert!(
        unauthorized.stderr.contains("401"),
        "{}",
        unauthorized.stderr
    );
    assert!(
        unauthorized.stdout.is_empty(),
        "nothing that looks like a result"
    );
    check(
        &server,
        &["--contract", &bogus_id(&id), "--schema", &path(&pass)],
        key,
    )
    .await
    .code(3);
    check(
        &server,
        &["--contract", "no-such-contract", "--schema", &path(&pass)],
        key,
    )
    .await
    .code(3);
    // The server refuses a schema with more than 256-character names (400): still 3.
    let long = file(
        dir,
        "long.json",
        &json!({"columns": [{"name": "x".repeat(300), "type": "string"}]}).to_string(),
    );
    check(&server, &["--contract", &id, "--schema", &path(&long)], key)
        .await
        .code(2); // caught locally, before any request
    let port = free_port();
    let unreachable = run(
        &[
            "check",
            "--url",
            &format!("http://127.0.0.1:{port}"),
            "--contract",
            &id,
            "--schema",
            &path(&pass),
        ],
        &[("DRIFTGUARD_KEY", &server.key)],
    )
    .await;
    unreachable.code(3);
    assert!(
        unreachable.stderr.contains("cannot reach"),
        "{}",
        unreachable.stderr
    );
    // A root that answers 404 to every API path: 3, with the URL from DRIFTGUARD_URL.
    let not_ours = run(
        &["check", "--contract", &id, "--schema", &path(&pass)],
        &[
            ("DRIFTGUARD_KEY", &server.key),
            ("DRIFTGUARD_URL", &format!("{}/nothing-here", server.base)),
        ],
    )
    .await;
    not_ours.code(3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_by_name_or_id_and_url_from_the_environment() {
    let (server, id) = users_server().await;
    let pass = file(server.dir.path(), "pass.json", PASS);
    let pass = pass.display().to_string();
    for contract in [id.as_str(), "users"] {
        let out = run(
            &[
                "check",
                "--contract",
                contract,
                "--schema",
                &pass,
                "--format",
                "json",
            ],
            &[
                ("DRIFTGUARD_KEY", &server.key),
                ("DRIFTGUARD_URL", &server.base),
            ],
        )
        .await;
        out.code(0);
        let check: Value = serde_json::from_str(&out.stdout).expect("JSON output");
        assert_eq!(check["contract_id"], json!(id));
        assert_eq!(check["result"], "pass");
        assert_eq!(check["severity"], 5);
        // The document the server stored, byte for byte.
        let stored = server
            .get(&format!("/api/v1/checks/{}", text(&check["id"])))
            .await;
        assert_eq!(out.stdout.trim_end().as_bytes(), &stored.body[..]);
    }
    // A URL with a trailing slash is the same root.
    run(
        &[
            "check",
            "--url",
            &format!("{}/", server.base),
            "--contract",
            "users",
            "--schema",
            &pass,
        ],
        &[("DRIFTGUARD_KEY", &server.key)],
    )
    .await
    .code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_output_format() {
    let (server, id) = users_server().await;
    let dir = server.dir.path();
    let breaking = file(dir, "breaking.json", BREAKING).display().to_string();
    let pass = file(dir, "pass.json", PASS).display().to_string();
    let key = Some(server.key.as_str());
    let format = |name: &'static str, schema: &str| {
        let schema = schema.to_owned();
        let server = &server;
        async move {
            check(
                server,
                &["--contract", "users", "--schema", &schema, "--format", name],
                key,
            )
            .await
        }
    };

    // text: no colour when stdout is not a terminal.
    let out = format("text", &breaking).await;
    out.code(1);
    assert!(
        out.stdout.contains("breaking") && out.stdout.contains("users"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("email") && out.stdout.contains("user_id"));
    assert!(!out.stdout.contains('\x1b'), "no colour on a pipe");

    // junit: one testsuite, one testcase named after the contract, failing with the diff.
    let out = format("junit", &breaking).await;
    out.code(1);
    let xml = &out.stdout;
    assert!(xml.starts_with("<?xml"));
    assert_eq!(xml.matches("<testsuite ").count(), 1, "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 1);
    assert!(xml.contains("<testcase name=\"users\""), "{xml}");
    let failure =
        &xml[xml.find("<failure").expect("a failure")..xml.find("</failure>").expect("closed")];
    assert!(
        failure.contains("email") && failure.contains("user_id") && failure.contains("created_at"),
        "{failure}"
    );
    assert!(xml.contains("failures=\"1\""));
    assert_balanced_xml(xml);
    let out = format("junit", &pass).await;
    out.code(0);
    assert!(!out.stdout.contains("<failure"), "{}", out.stdout);
    assert!(out.stdout.contains("failures=\"0\""));
    assert_balanced_xml(&out.stdout);

    // sarif 2.1.0: tool driftguard, one result per change, level from the verdict.
    let out = format("sarif", &breaking).await;
    out.code(1);
    let sarif: Value = serde_json::from_str(&out.stdout).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let run0 = &sarif["runs"][0];
    assert_eq!(run0["tool"]["driver"]["name"], "driftguard");
    let results = run0["results"].as_array().expect("results");
    let rules: Vec<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().expect("ruleId"))
        .collect();
    assert_eq!(rules, ["column-removed", "column-removed", "type-changed"]);
    assert!(results.iter().all(|r| r["level"] == "error"));
    let out = format("sarif", &pass).await;
    let sarif: Value = serde_json::from_str(&out.stdout).expect("SARIF is JSON");
    let results = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .clone();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ruleId"], "column-added");
    assert_eq!(results[0]["level"], "note");
    let warning = file(dir, "warning.json", WARNING).display().to_string();
    let out = format("sarif", &warning).await;
    let sarif: Value = serde_json::from_str(&out.stdout).expect("SARIF is JSON");
    assert!(sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .all(|r| r["level"] == "warning"));

    // markdown.
    let out = format("markdown", &breaking).await;
    out.code(1);
    assert!(out.stdout.starts_with("### "), "{}", out.stdout);
    assert!(
        out.stdout.contains("| column-removed | `email` |"),
        "{}",
        out.stdout
    );

    // github: workflow commands with a title, and the job summary when asked for.
    let summary = dir.join("summary.md");
    std::fs::write(&summary, "earlier step\n").expect("summary");
    let summary_env = summary.display().to_string();
    for (schema, level, code) in [
        (&breaking, "::error ", 1),
        (&warning, "::warning ", 0),
        (&pass, "::notice ", 0),
    ] {
        let out = run(
            &[
                "check",
                "--url",
                &server.base,
                "--contract",
                &id,
                "--schema",
                schema,
                "--format",
                "github",
            ],
            &[
                ("DRIFTGUARD_KEY", &server.key),
                ("GITHUB_STEP_SUMMARY", &summary_env),
            ],
        )
        .await;
        out.code(code);
        for line in out.stdout.lines() {
            assert!(line.starts_with(level), "{line}");
            assert!(line.contains("title=DriftGuard%3A users"), "{line}");
        }
    }
    let written = std::fs::read_to_string(&summary).expect("summary");
    assert!(
        written.starts_with("earlier step\n"),
        "appended, not replaced"
    );
    assert_eq!(written.matches("### ").count(), 3, "{written}");
    assert!(
        written.contains("**breaking**")
            && written.contains("**warning**")
            && written.contains("**pass**")
    );
}

/// Every opened tag is closed, in order (a minimal well-formedness check).
#[track_caller]
fn assert_balanced_xml(xml: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("tag closes") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.ends_with('/') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "{xml}");
        } else {
            stack.push(tag.split_whitespace().next().expect("name").to_owned());
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_ndjson_and_csv_are_inferred_like_the_api() {
    let (server, id) = users_server().await;
    let dir = server.dir.path();
    let ndjson = file(
        dir,
        "sample.ndjson",
        "{\"user_id\": 1, \"email\": \"a@b.c\", \"created_at\": \"2026-03-01T10:00:00Z\"}\n\
         {\"user_id\": 2, \"email\": null, \"created_at\": \"2026-03-02T10:00:00Z\", \"plan\": \"pro\"}\n",
    );
    let array = file(
        dir,
        "sample.json",
        r#"[{"user_id": 1, "email": "a@b.c", "created_at": "2026-03-01T10:00:00Z"}]"#,
    );
    let csv = file(
        dir,
        "users.csv",
        "user_id,email,created_at,score\n1,a@b.c,2026-03-01T10:00:00Z,1.5\n2,,2026-03-02,2\n",
    );
    let key = Some(server.key.as_str());
    let p = |p: &PathBuf| p.display().to_string();

    // The CLI infers exactly what POST /contracts/infer {"samples"} infers.
    let records: Vec<Value> = std::fs::read_to_string(&ndjson)
        .expect("read")
        .lines()
        .map(|l| serde_json::from_str(l).expect("record"))
        .collect();
    let api = server
        .post("/api/v1/contracts/infer", &json!({"samples": records}))
        .await
        .assert_status(200);
    let local = run(&["infer", "--sample", &p(&ndjson)], &[]).await;
    local.code(0);
    assert_eq!(
        serde_json::from_str::<Value>(&local.stdout).expect("JSON"),
        api
    );
    assert_eq!(
        api["columns"],
        json!([
            {"name": "user_id", "type": "integer", "required": true},
            {"name": "email", "type": "string", "required": false},
            {"name": "created_at", "type": "timestamp", "required": true},
            {"name": "plan", "type": "string", "required": false}
        ])
    );

    let csv_out = run(&["infer", "--csv", &p(&csv)], &[]).await;
    csv_out.code(0);
    assert_eq!(
        serde_json::from_str::<Value>(&csv_out.stdout).expect("JSON")["columns"],
        json!([
            {"name": "user_id", "type": "integer", "required": true},
            {"name": "email", "type": "string", "required": false},
            {"name": "created_at", "type": "timestamp", "required": true},
            {"name": "score", "type": "number", "required": true}
        ])
    );

    // check with each input: NDJSON adds `plan` (pass), the array matches (pass), the CSV
    // adds `score` (pass).
    for (flag, input, severity) in [
        ("--sample", &ndjson, 5),
        ("--sample", &array, 0),
        ("--csv", &csv, 5),
    ] {
        let out = check(
            &server,
            &["--contract", &id, flag, &p(input), "--format", "json"],
            key,
        )
        .await;
        out.code(0);
        let doc: Value = serde_json::from_str(&out.stdout).expect("JSON");
        assert_eq!(doc["severity"], severity, "{flag} {}", input.display());
    }

    // Bad inputs are exit code 2, naming the file.
    let bad = file(dir, "bad.ndjson", "{\"a\": 1}\nnot json\n");
    let out = run(&["infer", "--sample", &p(&bad)], &[]).await;
    out.code(2);
    assert!(
        out.stderr.contains("bad.ndjson") && out.stderr.contains("line 2"),
        "{}",
        out.stderr
    );
    run(&["infer", "--csv", "/nonexistent.csv"], &[])
        .await
        .code(2);
    let ragged = file(dir, "ragged.csv", "a\n1,2\n");
    run(&["infer", "--csv", &p(&ragged)], &[]).await.code(2);
    let duplicate = file(dir, "dup.csv", "a,a\n1,2\n");
    run(&["infer", "--csv", &p(&duplicate)], &[]).await.code(2);
    run(&["infer"], &[]).await.code(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_an_extra_ca_file() {
    let server = TestServer::start_tls().await;
    server
        .create_contract(&server.key, "users", users_columns())
        .await;
    let pass = file(server.dir.path(), "pass.json", PASS)
        .display()
        .to_string();
    let ca = server
        .config
        .server
        .tls_cert
        .clone()
        .expect("TLS configured")
        .display()
        .to_string();
    // Without the CA the certificate is not trusted: the server cannot be reached (3).
    let untrusted = check(
        &server,
        &["--contract", "users", "--schema", &pass],
        Some(&server.key),
    )
    .await;
    untrusted.code(3);
    check(
        &server,
        &["--contract", "users", "--schema", &pass, "--ca-file", &ca],
        Some(&server.key),
    )
    .await
    .code(0);
    let via_env = run(
        &[
            "check",
            "--url",
            &server.base,
            "--contract",
            "users",
            "--schema",
            &pass,
        ],
        &[("DRIFTGUARD_KEY", &server.key), ("DRIFTGUARD_CA_FILE", &ca)],
    )
    .await;
    via_env.code(0);
    // An unreadable CA file is a local problem (2).
    check(
        &server,
        &[
            "--contract",
            "users",
            "--schema",
            &pass,
            "--ca-file",
            "/nonexistent.pem",
        ],
        Some(&server.key),
    )
    .await
    .code(2);
}

/// The flag of a format's input (`json_schema` → `--json-schema`).
fn input_flag(format: &str) -> String {
    format!("--{}", format.replace('_', "-"))
}

/// `driftguard infer --FORMAT FILE [options]` for a fixture.
async fn infer_fixture(fixture: &schema_fixtures::Fixture) -> Run {
    let path = fixture.file.display().to_string();
    let mut args = vec!["infer".to_owned(), input_flag(fixture.format), path];
    args.extend(fixture.options.flags());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infer_converts_every_fixture_to_its_golden_columns_with_warnings_on_stderr() {
    let fixtures = schema_fixtures::good_fixtures();
    assert!(!fixtures.is_empty());
    for fixture in &fixtures {
        let out = infer_fixture(fixture).await;
        out.code(0);
        let expected = fixture.expected();
        let printed: Value = serde_json::from_str(&out.stdout).expect("infer prints JSON");
        assert_eq!(
            printed,
            json!({"columns": expected["columns"]}),
            "{} {:?}",
            fixture.file.display(),
            fixture.options
        );
        let warnings: Vec<String> = expected["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| format!("warning: {}: {}", fixture.file.display(), text(w)))
            .collect();
        let said: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(said, warnings, "{}", fixture.file.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_exit_2_naming_the_file_and_the_place() {
    let fixtures = schema_fixtures::bad_fixtures();
    assert!(!fixtures.is_empty());
    for fixture in &fixtures {
        let out = infer_fixture(fixture).await;
        out.code(2);
        if fixture.format == "dbt" && fixture.options.model.is_none() {
            // The API's "model: required"; the CLI's clap refuses --dbt without --model.
            assert!(out.stderr.contains("--model"), "{}", out.stderr);
            continue;
        }
        let expected = fixture.expected_error();
        let file = format!("{}: {expected}", fixture.file.display());
        let option = ["--table", "--dialect", "--model"]
            .iter()
            .any(|flag| out.stderr.contains(&format!("{flag}: {expected}")));
        assert!(
            out.stderr.contains(&file) || option,
            "{}: {:?}",
            fixture.golden.display(),
            out.stderr
        );
    }
    let out = run(&["infer", "--sql", "/nonexistent/orders.sql"], &[]).await;
    out.code(2);
    assert!(
        out.stderr.contains("/nonexistent/orders.sql"),
        "{}",
        out.stderr
    );
    // Usage: one input; --table only with --sql; --model only with, and always with, --dbt.
    let sql = schema_fixtures::fixture_file("sql", "orders.sql")
        .display()
        .to_string();
    for args in [
        &["infer", "--sql", &sql, "--avro", &sql][..],
        &["infer", "--avro", &sql, "--table", "orders"],
        &["infer", "--dbt", &sql],
        &["infer", "--sql", &sql, "--model", "orders"],
        &["infer", "--csv", &sql, "--nested", "flatten"],
    ] {
        run(args, &[]).await.code(2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_parquet_file_is_read_only_at_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = schema_fixtures::fixture_file("parquet", "orders_pyarrow.parquet");
    let bytes = std::fs::read(&fixture).unwrap();
    // 4 GiB of holes, then the real file: only its footer may be read.
    let huge = dir.path().join("huge.parquet");
    let file = std::fs::File::create(&huge).unwrap();
    file.set_len(4 << 30).unwrap();
    drop(file);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&huge)
        .unwrap();
    std::io::Write::write_all(&mut file, &bytes).unwrap();
    drop(file);
    let out = run(&["infer", "--parquet", &huge.display().to_string()], &[]).await;
    out.code(0);
    let small = run(&["infer", "--parquet", &fixture.display().to_string()], &[]).await;
    assert_eq!(out.stdout, small.code(0).stdout);
}

/// SPEC 6.1's property, over every fixture: a contract made from a converted schema,
/// checked with `driftguard check` against the same file, is a `pass` of severity 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_made_from_a_converted_schema_passes_a_check_of_the_same_file() {
    // Each fixture costs three requests (create, look up by name, check).
    let server = TestServer::start_with(|cfg| {
        cfg.limits.requests_per_minute = 100_000.try_into().unwrap();
    })
    .await;
    let key = Some(server.key.as_str());
    for (n, fixture) in schema_fixtures::good_fixtures().iter().enumerate() {
        let columns = fixture.expected()["columns"].clone();
        let name = format!("{}-{n}", fixture.name());
        server.create_contract(&server.key, &name, columns).await;
        let path = fixture.file.display().to_string();
        let flag = input_flag(fixture.format);
        let mut args = vec!["--contract".to_owned(), name, flag, path];
        args.extend(fixture.options.flags());
        args.extend(["--format".to_owned(), "json".to_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = check(&server, &args, key).await;
        out.code(0);
        let doc: Value = serde_json::from_str(&out.stdout).expect("JSON");
        assert_eq!(
            doc["result"],
            "pass",
            "{} {:?}",
            fixture.file.display(),
            fixture.options
        );
        assert_eq!(doc["severity"], 0, "{}", fixture.file.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_parquet_against_a_live_server_finds_the_drift() {
    let server = TestServer::start().await;
    let fixture = schema_fixtures::fixture_file("parquet", "orders_pyarrow.parquet");
    let path = fixture.display().to_string();
    let converted = run(&["infer", "--parquet", &path], &[]).await;
    let mut columns: Value =
        serde_json::from_str::<Value>(&converted.code(0).stdout).unwrap()["columns"].clone();
    // The contract wants one column more than the file has: a warning (a required column
    // is missing), exit 1 under --fail-on warning.
    columns
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "loyalty_tier", "type": "string", "required": true}));
    let contract = server.create_contract(&server.key, "orders", columns).await;
    let out = check(
        &server,
        &[
            "--contract",
            "orders",
            "--parquet",
            &path,
            "--format",
            "json",
            "--fail-on",
            "warning",
        ],
        Some(&server.key),
    )
    .await;
    out.code(1);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["contract_id"], contract["id"]);
    assert_eq!(doc["result"], "warning");
    assert_eq!(doc["diff"]["removed"], json!(["loyalty_tier"]));
}

/// The first `lang` block of the README section headed `heading`.
fn readme_block(heading: &str, lang: &str) -> &'static str {
    const README: &str = include_str!("../README.md");
    let section = &README[README.find(heading).expect("the section")..];
    let fence = format!("```{lang}\n");
    let block = &section[section.find(&fence).expect("the block") + fence.len()..];
    &block[..block.find("```").expect("the block's end")]
}

/// Runs `script` with bash as a reader would (`-euo pipefail`, the built binary first on
/// `PATH`, `KEY` and `DRIFTGUARD_KEY` the server's key, `DRIFTGUARD_URL` its root) in a
/// temporary directory where `tests/` is the checkout's and `links` are further symlinks
/// (name → path in the checkout). Fails the test unless it succeeds; returns its stdout.
async fn run_as_a_reader(script: String, server: &TestServer, links: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::os::unix::fs::symlink(checkout.join("tests"), dir.path().join("tests")).unwrap();
    for (name, target) in links {
        let link = dir.path().join(name);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(checkout.join(target), link).unwrap();
    }
    let bin_dir = Path::new(BIN).parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = script.replace("http://127.0.0.1:8080", &server.base);
    let (cwd, key, base) = (
        dir.path().to_owned(),
        server.key.clone(),
        server.base.clone(),
    );
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(cwd)
            .env_clear()
            .env("PATH", path)
            .env("KEY", &key)
            .env("DRIFTGUARD_KEY", &key)
            .env("DRIFTGUARD_URL", &base)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the README's block failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Every `# → ` line of `block` without an ellipsis is a line of what it printed.
fn assert_printed_as_written(block: &str, stdout: &str) {
    for expected in block.lines().filter_map(|l| l.strip_prefix("# → ")) {
        if !expected.contains('…') {
            assert!(stdout.contains(expected), "{expected:?} in:\n{stdout}");
        }
    }
}

/// README's "Bring your schemas" runs as written (against a live server, from a directory
/// where `tests/` is the checkout's), and every `# → ` line without an ellipsis is what it
/// printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_bring_your_schemas_examples_run_as_written() {
    const TEST: &str = "the_readme_bring_your_schemas_examples_run_as_written";
    // The block pipes through curl and jq, as a reader would run it.
    if !require_tool(TEST, "curl", "--version") || !require_tool(TEST, "jq", "--version") {
        return;
    }
    let block = readme_block("## Bring your schemas", "sh");
    let server = TestServer::start().await;
    let stdout = run_as_a_reader(block.to_owned(), &server, &[]).await;
    assert_printed_as_written(block, &stdout);
    assert!(stdout.contains("\"name\":\"orders\""), "{stdout}");
}

/// README's "Schema registry in CI" runs as written: its walkthrough (push, compat, a
/// refusal with exit 1), then its GitHub Actions workflow's steps — the merge's `push`,
/// then a pull request's `compat` — with `schemas/orders.avsc` a committed fixture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_schema_registry_walkthrough_and_workflow_run_as_written() {
    let block = readme_block("## Schema registry in CI", "sh");
    let server = TestServer::start().await;
    let stdout = run_as_a_reader(block.to_owned(), &server, &[]).await;
    assert_printed_as_written(block, &stdout);
    let versions = server
        .get(&format!(
            "/api/v1/contracts/{}/versions",
            server
                .get("/api/v1/contracts?name=orders")
                .await
                .assert_status(200)[0]["id"]
                .as_str()
                .unwrap()
        ))
        .await
        .assert_status(200);
    assert_eq!(
        versions.as_array().unwrap().len(),
        2,
        "the refusals stored nothing"
    );

    let workflow = readme_block("## Schema registry in CI", "yaml");
    let step = |event: &str| -> String {
        let at = workflow
            .find(&format!("if: github.event_name == '{event}'"))
            .expect("the step");
        let run = &workflow[at..];
        let run = &run[run.find("run: ").expect("its run") + 5..];
        run[..run.find('\n').unwrap()].to_owned()
    };
    let server = TestServer::start().await;
    let links = [(
        "schemas/orders.avsc",
        "tests/fixtures/schemas/avro/orders.avsc",
    )];
    let merged = run_as_a_reader(step("push"), &server, &links).await;
    assert!(merged.starts_with("created orders (ctr_"), "{merged}");
    let pull_request = run_as_a_reader(step("pull_request"), &server, &links).await;
    assert!(
        pull_request.starts_with("compatible: orders (ctr_"),
        "{pull_request}"
    );
}

/// `compat` and `push` (SPEC 6.2) with every input kind and their exit codes: `0`
/// compatible (pushed), `1` refused with the violations, `2` bad usage or input, `3`
/// the server unreachable or an error answer — never `0` on an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_and_push_exit_codes_with_converted_inputs() {
    let server = TestServer::start().await;
    let dir = server.dir.path().to_owned();
    let key = [("DRIFTGUARD_KEY", server.key.as_str())];
    let url = server.base.as_str();
    let avro =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schemas/avro/orders.avsc");
    let avro = avro.to_str().unwrap();
    let cmd = |verb: &'static str, rest: &[&'static str]| -> Vec<String> {
        [verb, "--url", url]
            .iter()
            .map(|s| s.to_string())
            .chain(rest.iter().map(|s| s.to_string()))
            .collect()
    };
    let exec = |args: Vec<String>, with_key: bool| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args, if with_key { &key[..] } else { &[] }).await
    };

    // Unknown without --create: 3; a dry run of a create stores nothing: 0.
    let mut push_avro = cmd("push", &["--contract", "orders", "--avro"]);
    push_avro.push(avro.to_owned());
    exec(push_avro.clone(), true).await.code(3);
    let mut dry = push_avro.clone();
    dry.extend(["--create".into(), "--dry-run".into()]);
    let out = exec(dry, true).await;
    out.code(0);
    assert!(
        out.stdout.starts_with("would create orders: version 1"),
        "{}",
        out.stdout
    );
    assert_eq!(
        len(&server.get("/api/v1/contracts").await.assert_status(200)),
        0
    );
    // Created under full, from the Avro schema; pushing it again changes nothing.
    let mut create = push_avro.clone();
    create.extend(["--create".into(), "--mode".into(), "full".into()]);
    exec(create, true).await.code(0);
    let out = exec(push_avro.clone(), true).await;
    out.code(0);
    assert!(out.stdout.contains("is at version 1"), "{}", out.stdout);
    let contract = &server
        .get("/api/v1/contracts?name=orders")
        .await
        .assert_status(200)[0];
    assert_eq!(contract["compatibility"], "full");

    // A sample with one column of the Avro schema: under full, its removed required
    // columns are refused (1), and compat says so too; --mode none answers compatible.
    let sample = file(&dir, "one.json", r#"{"order_id": 1}"#);
    let sample = sample.to_str().unwrap().to_owned();
    let mut compat = cmd("compat", &["--contract", "orders", "--sample"]);
    compat.push(sample.clone());
    let out = exec(compat.clone(), true).await;
    out.code(1);
    assert!(
        out.stdout.starts_with("not compatible: orders (ctr_"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(": column_removed — "), "{}", out.stdout);
    let mut loose = compat.clone();
    loose.extend(["--mode".into(), "none".into()]);
    exec(loose, true).await.code(0);
    let mut push_sample = cmd("push", &["--contract", "orders", "--sample"]);
    push_sample.push(sample.clone());
    let out = exec(push_sample.clone(), true).await;
    out.code(1);
    assert!(
        out.stdout.starts_with("refused: orders (ctr_"),
        "{}",
        out.stdout
    );
    // By id, and the mode loosened in the same push: accepted as version 2.
    let id = text(&contract["id"]);
    let mut by_id = cmd("push", &["--mode", "none", "--sample"]);
    by_id.extend([sample.clone(), "--contract".into(), id]);
    let out = exec(by_id, true).await;
    out.code(0);
    assert!(out.stdout.contains("is at version 2"), "{}", out.stdout);

    // 2: no key, an unreadable file, a schema without `required`, an unknown mode, two
    // inputs. 3: unreachable, a bad key.
    exec(compat.clone(), false).await.code(2);
    exec(
        cmd(
            "compat",
            &["--contract", "orders", "--schema", "/nonexistent.json"],
        ),
        true,
    )
    .await
    .code(2);
    let loose_schema = file(
        &dir,
        "s.json",
        r#"{"columns": [{"name": "a", "type": "string"}]}"#,
    );
    let mut no_required = cmd("push", &["--contract", "orders", "--schema"]);
    no_required.push(loose_schema.to_str().unwrap().to_owned());
    let out = exec(no_required, true).await;
    out.code(2);
    assert!(out.stderr.contains("required"), "{}", out.stderr);
    let mut bad_mode = compat.clone();
    bad_mode.extend(["--mode".into(), "strict".into()]);
    exec(bad_mode, true).await.code(2);
    let mut two = compat.clone();
    two.extend(["--avro".into(), avro.to_owned()]);
    exec(two, true).await.code(2);
    let mut unreachable: Vec<String> = [
        "compat",
        "--url",
        "http://127.0.0.1:9",
        "--contract",
        "orders",
        "--sample",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    unreachable.push(sample.clone());
    exec(unreachable, true).await.code(3);
    let out = run(
        &compat.iter().map(String::as_str).collect::<Vec<_>>(),
        &[("DRIFTGUARD_KEY", "dg_live_WrongWrongWrongWrongWrongWrong00")],
    )
    .await;
    out.code(3);
    assert!(out.stderr.contains("401"), "{}", out.stderr);
}

/// Names that could inject (issue 26): the API refuses control and bidi characters in
/// contract and column names, naming the field; a store written before that rule may hold
/// such names, and `check` prints them escaped in every format for people.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_with_controls_are_refused_and_old_ones_print_escaped() {
    let server = TestServer::start().await;
    let forged = "x\n::error::forged";
    let ok = json!([{"name": "id", "type": "integer", "required": true}]);
    for (body, field) in [
        (json!({"name": forged, "schema": {"columns": ok}}), "name"),
        (
            json!({"name": "bidi\u{202E}", "schema": {"columns": ok}}),
            "name",
        ),
        (
            json!({"name": "c", "schema": {"columns": [{"name": "a\u{1b}[31m", "type": "string", "required": true}]}}),
            "schema.columns[0].name",
        ),
    ] {
        let error = server
            .post("/api/v1/contracts", &body)
            .await
            .assert_error(400, "invalid_request");
        assert!(error.starts_with(&format!("{field}: ")), "{error}");
    }
    let good = server
        .create_contract(&server.key, "good", ok.clone())
        .await;
    let path = format!("/api/v1/contracts/{}", text(&good["id"]));
    let answer = server
        .send(
            hyper::Method::PATCH,
            &path,
            Some(&server.key),
            json!({"name": forged}).to_string(),
        )
        .await;
    answer.assert_error(400, "invalid_request");
    let incoming = json!({"contract_id": good["id"], "incoming_schema": {"columns": [{"name": "id\u{2066}", "type": "integer"}]}});
    let error = server
        .post("/api/v1/check", &incoming)
        .await
        .assert_error(400, "invalid_request");
    assert!(
        error.starts_with("incoming_schema.columns[0].name"),
        "{error}"
    );

    // A contract an earlier release stored, named to forge a workflow command, with a
    // column whose name carries a terminal escape.
    let mut server = server;
    server.stop().await;
    let store = driftguard::operator::open_store(&server.config).expect("open store");
    let account = store.accounts().list().await.expect("accounts")[0].id;
    let column = |name: &str| driftguard::drift::Column {
        name: name.into(),
        column_type: driftguard::drift::ColumnType::String,
        required: true,
        severity_override: None,
    };
    let new = driftguard::store::NewContract {
        name: forged.into(),
        columns: vec![column("kept"), column("gone\u{1b}[2J\u{202E}")],
        rules: Default::default(),
        compatibility: Default::default(),
    };
    let old = store
        .contracts()
        .create(account, new)
        .await
        .expect("create");
    tokio::task::spawn_blocking(move || store.close())
        .await
        .expect("close");
    let server = server.restart().await;
    let schema = file(
        server.dir.path(),
        "kept.json",
        r#"{"columns":[{"name":"kept","type":"string"}]}"#,
    )
    .display()
    .to_string();
    let id = old.id.to_string();
    for format in ["text", "github", "markdown", "junit", "sarif"] {
        let args = ["--contract", &id, "--schema", &schema, "--format", format];
        let out = check(&server, &args, Some(&server.key)).await;
        out.code(0); // a warning: one required column removed
        for raw in ["\n::error::forged", "\u{1b}", "\u{202E}"] {
            assert!(
                !out.stdout.contains(raw),
                "{format}: {raw:?} printed raw:\n{}",
                out.stdout
            );
        }
        assert!(out.stdout.contains("\\u{1b}"), "{format}:\n{}", out.stdout);
    }
    // And a server's error message is printed escaped too.
    let out = check(
        &server,
        &["--contract", "x\n::error::none", "--schema", &schema],
        Some(&server.key),
    )
    .await;
    assert!(!out.stderr.contains("\n::error::"), "{}", out.stderr);
}
