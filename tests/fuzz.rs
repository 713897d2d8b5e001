//! Fuzz targets on stable Rust (no nightly, no new crates): a seeded mutation fuzzer over
//! the request-body parsers, the path and query parsing, the config parser, and the schema
//! converters of SPEC 6.1 (one target per format, every `nested` option). Each
//! target runs for `FUZZ_SECONDS` (default 2; CI runs 60) and fails on the first panic,
//! printing the input and the seed that reproduce it; a crash found becomes a case in
//! `regressions()` below, which runs first, every time.
//!
//!   FUZZ_SECONDS=60 cargo test --locked --test fuzz          # all targets
//!   FUZZ_SEED=1234 FUZZ_TARGET=config cargo test --locked --test fuzz
//!
//! The inputs are seeds (valid documents) mutated by bytes and by tokens that break
//! parsers (deep nesting, huge numbers, odd escapes, invalid UTF-8, long strings).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "test code: a failed step fails the test"
)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use driftguard::config::Config;
use driftguard::http::request::parse_page;
use driftguard::http::router::route_of;
use driftguard::http::{parse_body, Body};
use driftguard::schemas::{self, Format, Nested, Options};

/// xorshift64*: small, seedable, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Fragments that tend to find parser bugs.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    ":",
    "null",
    "true",
    "false",
    "0",
    "-0",
    "1e999",
    "-1e-999",
    "1.0",
    "123456789012345678901234567890",
    "\\u0000",
    "\\ud800",
    "\\uDFFF",
    "\\\"",
    "ü",
    "💥",
    "\u{feff}",
    "%",
    "%zz",
    "%ff",
    "&",
    "=",
    "?",
    "/",
    "//",
    "..",
    "{id}",
    "ctr_",
    "chk_",
    "wh_",
    "key_",
    "dlv_",
    "\n",
    "\r\n",
    "\t",
    " ",
    "[[[[[[[[[[[[[[[[[[[[",
    "]]]]]]]]]]",
    "{\"a\":",
    "\"type\":\"json\"",
    "\"required\":1",
    "\"columns\":[]",
    "https://",
    "http://",
    "=\"5s\"",
    "=-1",
    "=0",
    "=18446744073709551616",
    "[server]",
    "[webhooks]",
    "[[x]]",
    "'''",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut input = rng.pick(seeds).clone();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(input.len() + 1);
        match rng.below(7) {
            0 => {
                let token = rng.pick(TOKENS).as_bytes();
                input.splice(at..at, token.iter().copied());
            }
            1 if !input.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(input.len());
                input.drain(at.min(end)..end);
            }
            2 if at < input.len() => input[at] ^= 1 << rng.below(8),
            3 => input.insert(at, rng.next() as u8),
            4 if !input.is_empty() => {
                // Duplicate a slice (grows nesting and repeats keys).
                let start = rng.below(input.len());
                let end = (start + 1 + rng.below(64)).min(input.len());
                let copy = input[start..end].to_vec();
                input.splice(at..at, copy);
            }
            5 => {
                // Splice in part of another seed.
                let other = rng.pick(seeds);
                let start = rng.below(other.len());
                let end = (start + rng.below(64)).min(other.len());
                input.splice(at..at, other[start..end].iter().copied());
            }
            _ => {
                let long = "x".repeat(rng.below(600));
                input.splice(at..at, long.bytes());
            }
        }
    }
    input
}

/// One fuzz target: a name, seeds, and a function that must not panic on any input.
struct Target {
    name: &'static str,
    seeds: Vec<Vec<u8>>,
    run: fn(&[u8]),
}

fn body_target(bytes: &[u8]) {
    for kind in Body::ALL {
        let _ = parse_body(kind, bytes);
    }
}

fn path_target(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let (path, query) = text.split_once('?').unwrap_or((&text, ""));
    if let Some((label, methods)) = route_of(path) {
        assert!(label.starts_with("/api/v1/"), "{label}");
        assert!(!methods.is_empty());
    }
    let _ = parse_page(query);
    // The whole request target as hyper would hand it over, when it is a valid URI.
    if let Ok(uri) = text.parse::<hyper::Uri>() {
        let _ = route_of(uri.path());
        let _ = parse_page(uri.query().unwrap_or(""));
    }
}

fn config_target(bytes: &[u8]) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = Config::from_toml(text);
    }
}

/// Random bytes into one converter, under every `nested` option and with and without the
/// options that pick a table or a model: an answer or an error, never a panic.
fn convert_target(format: Format, bytes: &[u8]) {
    for nested in [Nested::Json, Nested::Flatten] {
        for picked in [None, Some("orders".to_owned())] {
            let options = Options {
                nested,
                table: picked.clone(),
                dialect: None,
                model: picked.clone().or_else(|| Some("customers".to_owned())),
            };
            if let Ok(converted) = schemas::convert(format, bytes, &options) {
                // The seven types only, and no two columns of one name.
                let mut names: Vec<&str> =
                    converted.columns.iter().map(|c| c.name.as_str()).collect();
                names.sort_unstable();
                let count = names.len();
                names.dedup();
                assert_eq!(names.len(), count, "two columns of one name");
            }
        }
    }
    if format == Format::Sql {
        for dialect in [
            "postgres",
            "mysql",
            "bigquery",
            "snowflake",
            "duckdb",
            "sqlite",
            "mssql",
            "nope",
        ] {
            let options = Options {
                dialect: Some(dialect.to_owned()),
                ..Options::default()
            };
            let _ = schemas::convert(format, bytes, &options);
        }
    }
    if format == Format::Parquet && bytes.len() >= schemas::parquet::TRAILER_LEN {
        let _ = schemas::parquet::tail_len(&bytes[bytes.len() - schemas::parquet::TRAILER_LEN..]);
    }
}

fn avro_target(bytes: &[u8]) {
    convert_target(Format::Avro, bytes);
}

fn json_schema_target(bytes: &[u8]) {
    convert_target(Format::JsonSchema, bytes);
}

fn sql_target(bytes: &[u8]) {
    convert_target(Format::Sql, bytes);
}

fn parquet_target(bytes: &[u8]) {
    convert_target(Format::Parquet, bytes);
}

fn dbt_target(bytes: &[u8]) {
    convert_target(Format::Dbt, bytes);
}

/// The committed fixtures of a format (good and bad, not their golden files), as seeds;
/// large ones are cut so that a mutation stays cheap.
fn fixture_seeds(format: Format) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/schemas")
        .join(format.as_str());
    let mut seeds = Vec::new();
    for dir in [dir.clone(), dir.join("bad")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let golden = name.ends_with(".expected.json") || name.ends_with(".error.txt");
            let script = name.starts_with("make.");
            if !path.is_file() || golden || script {
                continue;
            }
            if let Ok(mut bytes) = std::fs::read(&path) {
                // A Parquet file's footer is at its end: keep the end.
                if bytes.len() > 64 * 1024 {
                    bytes = if format == Format::Parquet {
                        bytes.split_off(bytes.len() - 64 * 1024)
                    } else {
                        bytes[..64 * 1024].to_vec()
                    };
                }
                seeds.push(bytes);
            }
        }
    }
    seeds
}

fn targets() -> Vec<Target> {
    let seeds = |items: &[&str]| items.iter().map(|s| s.as_bytes().to_vec()).collect();
    vec![
        Target {
            name: "bodies",
            seeds: seeds(&[
                r#"{"name":"users","schema":{"columns":[{"name":"id","type":"integer","required":true},{"name":"e","type":"string","required":false}]}}"#,
                r#"{"sample":{"id":1,"price":1.5,"at":"2026-03-01T10:00:00Z","day":"2026-03-01","n":null,"o":{"a":[1]}}}"#,
                r#"{"samples":[{"id":1},{"id":2.5,"x":null},{"day":"2026-03-01"}]}"#,
                r#"{"contract_id":"ctr_3b1tvf64n1bqm33gjqy7rz7tm9","incoming_schema":{"columns":[{"name":"id","type":"integer","required":true}]}}"#,
                r#"{"url":"https://hooks.example.com/x?y=1","events":["breaking","warning","pass"],"contract_id":null}"#,
                r#"{"active":false}"#,
                r#"{"environment":"test"}"#,
                r#"{"format":"sql","source":"CREATE TABLE t (id INT NOT NULL, at TIMESTAMP);","nested":"flatten","dialect":"postgres"}"#,
                r#"{"format":"parquet","source":"UEFSMQ==","table":null}"#,
            ]),
            run: body_target,
        },
        Target {
            name: "paths",
            seeds: seeds(&[
                "/api/v1/contracts?limit=10&cursor=0000000000001",
                "/api/v1/contracts/ctr_3b1tvf64n1bqm33gjqy7rz7tm9",
                "/api/v1/contracts?name=a%20b&limit=1000",
                "/api/v1/keys/key_x/revoke",
                "/api/v1/webhooks/wh_x/deliveries?cursor=1zzzzzzzzzzzz",
                "/api/v1/checks/chk_x",
                "/api/v1/openapi.json",
                "/api/v1/health",
            ]),
            run: path_target,
        },
        Target {
            name: "config",
            seeds: seeds(&[
                include_str!("../driftguard.toml.example"),
                "[server]\nlisten = \"127.0.0.1:0\"\nmax_body_bytes = 10\n[webhooks]\nretry_delays = [\"1ms\", \"2h\"]\n",
                "[limits]\nrequests_per_minute = 1\nkey_creations_per_hour = 1\n[credits]\ndefault_quota = 0\n",
                "[log]\nlevel = \"debug\"\nformat = \"json\"\n",
            ]),
            run: config_target,
        },
        Target {
            name: "schemas-avro",
            seeds: with_fixtures(
                Format::Avro,
                seeds(&[
                    r#"{"type":"record","name":"orders","namespace":"shop","fields":[{"name":"id","type":"long"},{"name":"note","type":["null","string"]},{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"address","type":{"type":"record","name":"Address","fields":[{"name":"city","type":"string"}]}},{"name":"home","type":"shop.Address"},{"name":"tags","type":{"type":"array","items":"string"}},{"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}}]}"#,
                    "Obj\u{1}\u{4}\u{16}avro.schema\u{2}{}\u{0}0123456789abcdef",
                ]),
            ),
            run: avro_target,
        },
        Target {
            name: "schemas-json_schema",
            seeds: with_fixtures(
                Format::JsonSchema,
                seeds(&[
                    r##"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","required":["id"],"properties":{"id":{"type":"integer"},"at":{"type":"string","format":"date-time"},"day":{"type":["string","null"],"format":"date"},"kind":{"enum":["a","b"]},"address":{"$ref":"#/$defs/address"},"tags":{"type":"array"},"any":{},"n":{"anyOf":[{"type":"number"},{"type":"null"}]}},"$defs":{"address":{"type":"object","properties":{"city":{"type":"string"}}}}}"##,
                    r##"{"type":"object","properties":{"a":{"$ref":"#/definitions/a"}},"definitions":{"a":{"$ref":"#/definitions/a"}}}"##,
                ]),
            ),
            run: json_schema_target,
        },
        Target {
            name: "schemas-sql",
            seeds: with_fixtures(
                Format::Sql,
                seeds(&[
                    "CREATE TABLE shop.orders (\n  id BIGSERIAL PRIMARY KEY,\n  total NUMERIC(10,2) NOT NULL,\n  placed_at TIMESTAMP WITH TIME ZONE,\n  tags TEXT[],\n  meta JSONB\n);\nCREATE INDEX i ON shop.orders (id);\nCREATE TABLE customers (id INT, name VARCHAR(255), PRIMARY KEY (id));",
                    "CREATE TABLE `t` (`id` int(11) NOT NULL AUTO_INCREMENT, `d` datetime DEFAULT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB;",
                ]),
            ),
            run: sql_target,
        },
        Target {
            name: "schemas-parquet",
            seeds: with_fixtures(Format::Parquet, vec![b"PAR1\0\0\0\0PAR1".to_vec()]),
            run: parquet_target,
        },
        Target {
            name: "schemas-dbt",
            seeds: with_fixtures(
                Format::Dbt,
                seeds(&[
                    r#"{"metadata":{"dbt_schema_version":"https://schemas.getdbt.com/dbt/manifest/v12.json"},"nodes":{"model.shop.orders":{"resource_type":"model","name":"orders","unique_id":"model.shop.orders","columns":{"id":{"name":"id","data_type":"bigint","constraints":[{"type":"not_null"}]},"note":{"name":"note"}}},"test.shop.not_null_orders_id.1":{"resource_type":"test","name":"not_null_orders_id","test_metadata":{"name":"not_null","kwargs":{"column_name":"id"}},"attached_node":"model.shop.orders","column_name":"id","depends_on":{"nodes":["model.shop.orders"]}}}}"#,
                ]),
            ),
            run: dbt_target,
        },
    ]
}

/// `seeds` and the committed fixtures of `format`.
fn with_fixtures(format: Format, mut seeds: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    seeds.extend(fixture_seeds(format));
    seeds
}

/// Inputs that once crashed (or nearly did): each runs on every `cargo test`.
fn regressions() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        // serde_json's recursion limit answers deep nesting with an error, not a stack
        // overflow.
        (
            "bodies",
            format!("{{\"sample\":{}", "[".repeat(100_000)).into_bytes(),
        ),
        ("bodies", b"{\"samples\":[{\"\xff\":1}]}".to_vec()),
        // Deep documents: every converter answers them with an error, not a stack
        // overflow (serde_json's recursion limit, sqlparser's).
        (
            "schemas-json_schema",
            "{\"type\":\"object\",\"properties\":{\"a\":"
                .repeat(20_000)
                .into_bytes(),
        ),
        (
            "schemas-avro",
            "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":"
                .repeat(20_000)
                .into_bytes(),
        ),
        (
            "schemas-sql",
            format!("CREATE TABLE t (a INT DEFAULT {}1", "(".repeat(100_000)).into_bytes(),
        ),
        (
            "schemas-dbt",
            format!("{{\"nodes\":{}", "[".repeat(100_000)).into_bytes(),
        ),
        ("schemas-parquet", b"\xff\xff\xff\x7fPAR1".to_vec()),
        ("schemas-parquet", Vec::new()),
        ("paths", b"/api/v1/contracts?limit=%FF%FE&cursor=%".to_vec()),
        (
            "paths",
            "/api/v1/contracts?name=\u{0}&limit=99999999999999999999".into(),
        ),
        (
            "config",
            b"[webhooks]\nretry_delays = [\"18446744073709551615s\"]\n".to_vec(),
        ),
        (
            "config",
            b"[server]\nheader_timeout = \"99999999999999999999d\"\n".to_vec(),
        ),
    ]
}

fn main() {
    let seconds: u64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let only = std::env::var("FUZZ_TARGET").ok();
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
        | 1;
    // A panic is reported by the loop below, with its input; keep stderr for that.
    std::panic::set_hook(Box::new(|_| {}));
    let targets = targets();

    for (name, input) in regressions() {
        let target = targets.iter().find(|t| t.name == name).expect("target");
        if catch_unwind(AssertUnwindSafe(|| (target.run)(&input))).is_err() {
            eprintln!(
                "fuzz regression {name} panics on {:?}",
                String::from_utf8_lossy(&input)
            );
            std::process::exit(1);
        }
    }

    let mut failed = false;
    for target in &targets {
        if only.as_deref().is_some_and(|o| o != target.name) {
            continue;
        }
        let mut rng = Rng(seed);
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut runs: u64 = 0;
        for seed_input in &target.seeds {
            (target.run)(seed_input);
        }
        while Instant::now() < deadline {
            for _ in 0..64 {
                let input = mutate(&mut rng, &target.seeds);
                runs += 1;
                if catch_unwind(AssertUnwindSafe(|| (target.run)(&input))).is_err() {
                    eprintln!(
                        "fuzz target {} panicked (FUZZ_SEED={seed}) on input {:?}",
                        target.name,
                        String::from_utf8_lossy(&input)
                    );
                    failed = true;
                    break;
                }
            }
            if failed {
                break;
            }
        }
        println!(
            "fuzz {}: {runs} inputs in {seconds} s, seed {seed}",
            target.name
        );
        if failed {
            break;
        }
    }
    if failed {
        std::process::exit(1);
    }
    println!("fuzz: no crash");
}
