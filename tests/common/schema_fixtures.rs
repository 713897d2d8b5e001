//! The committed schema-import fixtures of SPEC 6.1 (`tests/fixtures/schemas/<format>/`),
//! each with the options its golden file is named after: `orders.sql.table-orders
//! .dialect-postgres.expected.json` is `orders.sql` with `table: orders`, `dialect:
//! postgres`; `.flatten` is `nested: flatten`; `bad/<file>[.options].error.txt` holds the
//! converter's error text. The API tests and the CLI tests both walk them.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The five formats, by their API name.
pub const FORMATS: [&str; 5] = ["avro", "json_schema", "sql", "parquet", "dbt"];

/// The options spelled in a golden file's name.
#[derive(Clone, Debug, Default)]
pub struct FixtureOptions {
    pub flatten: bool,
    pub table: Option<String>,
    pub dialect: Option<String>,
    pub model: Option<String>,
}

impl FixtureOptions {
    /// Parses `table-orders.dialect-postgres.flatten` (empty: the defaults).
    fn parse(spec: &str) -> FixtureOptions {
        let mut options = FixtureOptions::default();
        for token in spec.split('.').filter(|t| !t.is_empty()) {
            match token.split_once('-') {
                _ if token == "flatten" => options.flatten = true,
                _ if token == "json" => {}
                Some(("table", v)) => options.table = Some(v.to_owned()),
                Some(("dialect", v)) => options.dialect = Some(v.to_owned()),
                Some(("model", v)) => options.model = Some(v.to_owned()),
                _ => panic!("unknown option {token:?} in a fixture's golden name"),
            }
        }
        options
    }

    /// The API body's option fields.
    pub fn body_fields(&self) -> Vec<(&'static str, Value)> {
        let mut fields = Vec::new();
        if self.flatten {
            fields.push(("nested", Value::from("flatten")));
        }
        for (name, value) in [
            ("table", &self.table),
            ("dialect", &self.dialect),
            ("model", &self.model),
        ] {
            if let Some(v) = value {
                fields.push((name, Value::from(v.as_str())));
            }
        }
        fields
    }

    /// The CLI's flags for these options.
    pub fn flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        if self.flatten {
            flags.extend(["--nested".to_owned(), "flatten".to_owned()]);
        }
        for (flag, value) in [
            ("--table", &self.table),
            ("--dialect", &self.dialect),
            ("--model", &self.model),
        ] {
            if let Some(v) = value {
                flags.extend([flag.to_owned(), v.clone()]);
            }
        }
        flags
    }
}

/// One fixture and one of its golden files.
#[derive(Clone, Debug)]
pub struct Fixture {
    pub format: &'static str,
    /// The fixture file.
    pub file: PathBuf,
    pub options: FixtureOptions,
    /// The golden file: `{"columns", "warnings"}`, or the error text.
    pub golden: PathBuf,
}

impl Fixture {
    /// The golden answer `{"columns", "warnings"}`.
    pub fn expected(&self) -> Value {
        serde_json::from_slice(&std::fs::read(&self.golden).expect("golden file"))
            .expect("golden file is JSON")
    }

    /// The golden error text (trimmed of a final newline).
    pub fn expected_error(&self) -> String {
        std::fs::read_to_string(&self.golden)
            .expect("error file")
            .trim_end_matches('\n')
            .to_owned()
    }

    /// The fixture's file name.
    pub fn name(&self) -> String {
        self.file
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schemas")
}

/// Every (fixture, golden) pair of `dir` whose golden ends with `suffix`.
fn walk(format: &'static str, dir: &Path, suffix: &str) -> Vec<Fixture> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for golden in names.iter().filter(|n| n.ends_with(suffix)) {
        // The longest other file name that prefixes the golden's name is its fixture.
        let Some(file) = names
            .iter()
            .filter(|n| !n.ends_with(suffix) && golden.starts_with(n.as_str()))
            .filter(|n| golden[n.len()..].starts_with('.'))
            .max_by_key(|n| n.len())
        else {
            panic!("{}: no fixture for the golden file {golden}", dir.display());
        };
        let spec = &golden[file.len()..golden.len() - suffix.len()];
        out.push(Fixture {
            format,
            file: dir.join(file),
            options: FixtureOptions::parse(spec.trim_start_matches('.')),
            golden: dir.join(golden),
        });
    }
    out
}

/// Every good fixture of every format with each of its golden answers.
pub fn good_fixtures() -> Vec<Fixture> {
    FORMATS
        .iter()
        .flat_map(|format| walk(format, &fixtures_dir().join(format), ".expected.json"))
        .collect()
}

/// Every bad input of every format with each of its error texts.
pub fn bad_fixtures() -> Vec<Fixture> {
    FORMATS
        .iter()
        .flat_map(|format| {
            walk(
                format,
                &fixtures_dir().join(format).join("bad"),
                ".error.txt",
            )
        })
        .collect()
}

/// A fixture by format and file name (for the README's examples and targeted tests).
pub fn fixture_file(format: &str, name: &str) -> PathBuf {
    fixtures_dir().join(format).join(name)
}
