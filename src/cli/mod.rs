//! `driftguard check` and `driftguard infer`: the pipeline's side of DriftGuard (SPEC 5.4,
//! 6.1), and `compat` and `push`, the schema registry in CI (SPEC 6.2, in `registry`).
//! [`inputs`] reads schema, sample (JSON/NDJSON) and CSV files, and converts Avro,
//! JSON Schema, SQL, Parquet and dbt files locally; [`client`] talks to the
//! server on the shared outbound stack; [`outputs`] renders one format each.
//!
//! Exit codes: `0` below `--fail-on`, `1` at or above it, `2` bad usage or unreadable input
//! (and a missing `DRIFTGUARD_KEY`), `3` the server could not be reached or answered an
//! error. Never `0` on an error.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the command line's output and errors go to stdout and stderr"
)]

pub mod client;
pub mod inputs;
pub mod outputs;
mod registry;

pub use registry::{compat, push, CompatArgs, PushArgs};

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde_json::json;

use self::client::{ApiCallError, ApiClient};
use self::outputs::{CheckDoc, Report};
use crate::drift::{Column, IncomingColumn};
use crate::ids::ContractId;
use crate::schemas;
use crate::wire::{incoming_columns_view, InferredView};

/// The API key; never a flag (flags show in process lists).
pub const ENV_KEY: &str = "DRIFTGUARD_KEY";
/// The server's root URL when `--url` is not given.
pub const ENV_URL: &str = "DRIFTGUARD_URL";
/// An extra CA bundle (PEM) when `--ca-file` is not given.
pub const ENV_CA_FILE: &str = "DRIFTGUARD_CA_FILE";
/// The server's root URL when neither `--url` nor `DRIFTGUARD_URL` is set.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// Exit code: below `--fail-on`.
pub const EXIT_PASSED: u8 = 0;
/// Exit code: at or above `--fail-on`.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage, unreadable input, no key.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the server could not be reached or answered an error.
pub const EXIT_SERVER: u8 = 3;

/// Where the incoming schema comes from: exactly one of these.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct CheckInput {
    /// A JSON schema file: {"columns": [{"name", "type", "required"}, ...]} (`check`
    /// ignores `required`; `compat` and `push` need it).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["table", "dialect", "model", "nested"]
    )]
    pub schema: Option<PathBuf>,
    /// JSON or NDJSON sample records; the schema is inferred from them.
    #[arg(long, value_name = "FILE")]
    pub sample: Option<PathBuf>,
    /// A CSV file (header plus rows); the schema is inferred from the values.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// An Avro schema (.avsc), or an Avro object container file (its header is read).
    #[arg(long, value_name = "FILE")]
    pub avro: Option<PathBuf>,
    /// A JSON Schema document (drafts 7 and 2020-12).
    #[arg(long, value_name = "FILE")]
    pub json_schema: Option<PathBuf>,
    /// SQL DDL: CREATE TABLE statements (see --table, --dialect).
    #[arg(long, value_name = "FILE")]
    pub sql: Option<PathBuf>,
    /// A Parquet file; only its footer is read, whatever the file's size.
    #[arg(long, value_name = "FILE")]
    pub parquet: Option<PathBuf>,
    /// A dbt manifest.json (with --model).
    #[arg(long, value_name = "FILE", requires = "model")]
    pub dbt: Option<PathBuf>,
}

/// Where `infer` reads from: exactly one of these.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct InferInput {
    /// JSON or NDJSON sample records.
    #[arg(long, value_name = "FILE")]
    pub sample: Option<PathBuf>,
    /// A CSV file (header plus rows).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// An Avro schema (.avsc), or an Avro object container file (its header is read).
    #[arg(long, value_name = "FILE")]
    pub avro: Option<PathBuf>,
    /// A JSON Schema document (drafts 7 and 2020-12).
    #[arg(long, value_name = "FILE")]
    pub json_schema: Option<PathBuf>,
    /// SQL DDL: CREATE TABLE statements (see --table, --dialect).
    #[arg(long, value_name = "FILE")]
    pub sql: Option<PathBuf>,
    /// A Parquet file; only its footer is read, whatever the file's size.
    #[arg(long, value_name = "FILE")]
    pub parquet: Option<PathBuf>,
    /// A dbt manifest.json (with --model).
    #[arg(long, value_name = "FILE", requires = "model")]
    pub dbt: Option<PathBuf>,
}

/// The file of a foreign schema, whichever of `--avro`, `--json-schema`, `--sql`,
/// `--parquet`, `--dbt` was given (clap lets through at most one).
fn foreign_input<'a>(
    avro: &'a Option<PathBuf>,
    json_schema: &'a Option<PathBuf>,
    sql: &'a Option<PathBuf>,
    parquet: &'a Option<PathBuf>,
    dbt: &'a Option<PathBuf>,
) -> Option<(schemas::Format, &'a Path)> {
    [
        (schemas::Format::Avro, avro),
        (schemas::Format::JsonSchema, json_schema),
        (schemas::Format::Sql, sql),
        (schemas::Format::Parquet, parquet),
        (schemas::Format::Dbt, dbt),
    ]
    .into_iter()
    .find_map(|(format, path)| path.as_deref().map(|p| (format, p)))
}

impl CheckInput {
    /// The foreign schema given, if any.
    fn foreign(&self) -> Option<(schemas::Format, &Path)> {
        foreign_input(
            &self.avro,
            &self.json_schema,
            &self.sql,
            &self.parquet,
            &self.dbt,
        )
    }
}

impl InferInput {
    /// The foreign schema given, if any.
    fn foreign(&self) -> Option<(schemas::Format, &Path)> {
        foreign_input(
            &self.avro,
            &self.json_schema,
            &self.sql,
            &self.parquet,
            &self.dbt,
        )
    }
}

/// What becomes of nested records (`--nested`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NestedArg {
    /// Each nested record is one `json` column (the default).
    Json,
    /// One column per leaf, named by its dotted path (`address.city`).
    Flatten,
}

/// The inputs `--table` and `--dialect` refuse (`--schema` refuses them itself, being
/// only `check`'s). Conflicts, not `requires = "sql"`: clap does not insist on an argument
/// that conflicts with one given, and the inputs are exclusive.
const NOT_SQL: [&str; 6] = ["sample", "csv", "avro", "json_schema", "parquet", "dbt"];
/// The inputs `--model` refuses.
const NOT_DBT: [&str; 6] = ["sample", "csv", "avro", "json_schema", "parquet", "sql"];

/// The options of a conversion, each allowed only with the inputs it concerns.
#[derive(Args, Debug, Default)]
pub struct ConvertArgs {
    /// With --sql: which of several tables (the last part of a qualified name).
    #[arg(long, value_name = "NAME", conflicts_with_all = NOT_SQL)]
    pub table: Option<String>,
    /// With --sql: generic (default), postgres, mysql, bigquery, snowflake, duckdb,
    /// sqlite, mssql.
    #[arg(long, value_name = "D", conflicts_with_all = NOT_SQL)]
    pub dialect: Option<String>,
    /// With --dbt (required there): the model, seed or snapshot, by name or unique_id.
    #[arg(long, value_name = "NAME", conflicts_with_all = NOT_DBT)]
    pub model: Option<String>,
    /// With --avro, --json-schema, --sql, --parquet or --dbt: nested records as one json
    /// column (default) or flattened to dotted leaves.
    #[arg(long, value_enum, value_name = "json|flatten", conflicts_with_all = ["sample", "csv"])]
    pub nested: Option<NestedArg>,
}

impl ConvertArgs {
    /// The converter's options.
    fn options(&self) -> schemas::Options {
        schemas::Options {
            nested: match self.nested {
                Some(NestedArg::Flatten) => schemas::Nested::Flatten,
                Some(NestedArg::Json) | None => schemas::Nested::Json,
            },
            table: self.table.clone(),
            dialect: self.dialect.clone(),
            model: self.model.clone(),
        }
    }
}

/// A conversion's columns, its warnings said on stderr (`warning: …`, one a line) so that
/// stdout stays the output a pipeline reads and nothing is guessed silently.
fn converted_columns(
    format: schemas::Format,
    path: &Path,
    args: &ConvertArgs,
) -> Result<Vec<Column>, Stop> {
    let converted = inputs::foreign_file(format, path, &args.options())?;
    for warning in &converted.warnings {
        eprintln!("warning: {}: {warning}", path.display());
    }
    Ok(converted.columns)
}

/// The lowest result that fails the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Fail on `breaking` only.
    Breaking,
    /// Fail on `warning` or `breaking`.
    Warning,
    /// Never fail on a result (errors still exit 2 or 3).
    Never,
}

impl FailOn {
    /// Whether `result` is at or above the threshold.
    pub fn fails(self, result: &str) -> bool {
        match self {
            FailOn::Never => false,
            FailOn::Warning => matches!(result, "warning" | "breaking"),
            FailOn::Breaking => result == "breaking",
        }
    }
}

/// How the result is printed on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// The check document as the server answered it.
    Json,
    /// JUnit XML: one testsuite, one testcase.
    Junit,
    /// GitHub Actions workflow commands (and a job summary in $GITHUB_STEP_SUMMARY).
    Github,
    /// SARIF 2.1.0.
    Sarif,
    /// A Markdown report.
    Markdown,
}

/// `driftguard check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The contract: its id (ctr_…) or its name.
    #[arg(long, value_name = "ID|NAME")]
    pub contract: String,
    /// The incoming schema.
    #[command(flatten)]
    pub input: CheckInput,
    /// Options of a converted input.
    #[command(flatten)]
    pub convert: ConvertArgs,
    /// The lowest result that makes the run fail (exit code 1).
    #[arg(long, value_enum, default_value = "breaking")]
    pub fail_on: FailOn,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// The server.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Which DriftGuard server to talk to, and what to trust of its certificate. The key is
/// `$DRIFTGUARD_KEY`, never a flag.
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// The server's root URL (default: $DRIFTGUARD_URL, else http://127.0.0.1:8080).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Extra trusted CA certificates, PEM (default: $DRIFTGUARD_CA_FILE).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

impl ServerArgs {
    /// The API client these arguments and the environment (`env`) describe.
    fn client(self, env: &impl Fn(&str) -> Option<String>) -> Result<ApiClient, Stop> {
        let key = env(ENV_KEY)
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| {
                Stop(
                    EXIT_USAGE,
                    format!("{ENV_KEY} is not set (the API key is read only from the environment)"),
                )
            })?;
        let url = self
            .url
            .or_else(|| env(ENV_URL).filter(|u| !u.is_empty()))
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        let ca_file = self.ca_file.or_else(|| {
            env(ENV_CA_FILE)
                .filter(|f| !f.is_empty())
                .map(PathBuf::from)
        });
        ApiClient::new(&url, key.trim(), ca_file.as_deref()).map_err(|e| Stop(EXIT_USAGE, e))
    }
}

/// `driftguard infer`.
#[derive(Args, Debug)]
pub struct InferArgs {
    /// The records, or a foreign schema.
    #[command(flatten)]
    pub input: InferInput,
    /// Options of a converted input.
    #[command(flatten)]
    pub convert: ConvertArgs,
}

/// A run that ends with an exit code and a message on stderr.
struct Stop(u8, String);

impl From<ApiCallError> for Stop {
    fn from(e: ApiCallError) -> Self {
        Stop(EXIT_SERVER, e.to_string())
    }
}

impl From<inputs::InputError> for Stop {
    fn from(e: inputs::InputError) -> Self {
        Stop(EXIT_USAGE, e.0)
    }
}

/// Runs `driftguard check`; `env` reads environment variables. Returns the exit code.
pub async fn check(args: CheckArgs, env: impl Fn(&str) -> Option<String>) -> u8 {
    finish("check", run_check(args, env).await)
}

/// The exit code of a run; a stop's message goes to stderr, escaped (it may quote a
/// server).
fn finish(command: &str, result: Result<u8, Stop>) -> u8 {
    match result {
        Ok(code) => code,
        Err(Stop(code, message)) => {
            eprintln!("driftguard {command}: {}", printable(&message));
            code
        }
    }
}

/// Text from a server, safe to print: control characters (a newline that would start a
/// CI workflow command, an escape sequence) and bidi controls are shown escaped, not
/// obeyed.
pub fn printable(text: &str) -> String {
    if !text.chars().any(crate::drift::is_hidden_control) {
        return text.to_owned();
    }
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if crate::drift::is_hidden_control(c) {
                c.escape_unicode().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

async fn run_check(args: CheckArgs, env: impl Fn(&str) -> Option<String>) -> Result<u8, Stop> {
    let (incoming, input) = read_check_input(&args.input, &args.convert)?;
    let client = args.server.client(&env)?;

    let (contract_id, contract_name) = resolve_contract(&client, &args.contract).await?;
    let answer = client
        .post(
            "/check",
            &json!({
                "contract_id": contract_id,
                "incoming_schema": {"columns": incoming_columns_view(&incoming)},
            }),
        )
        .await?;
    let check: CheckDoc = serde_json::from_value(answer.value.clone()).map_err(|e| {
        Stop(
            EXIT_SERVER,
            format!("the server's check document is not one: {e}"),
        )
    })?;
    let failed = args.fail_on.fails(&check.result);
    // Every format for people shows the server's strings escaped (`json` is the server's
    // document, byte for byte).
    let (check, contract_name) = (check.printable(), printable(&contract_name));
    let report = Report {
        contract_name: &contract_name,
        contract_id: &contract_id,
        check: &check,
        raw: &answer.bytes,
        fail_on: args.fail_on,
        failed,
        input: &input,
    };
    let output = match args.format {
        // Colour for a person at a terminal, unless they opted out (no-color.org).
        Format::Text => outputs::text(
            &report,
            std::io::stdout().is_terminal() && env("NO_COLOR").is_none_or(|v| v.is_empty()),
        ),
        Format::Json => outputs::json_document(&report),
        Format::Junit => outputs::junit(&report),
        Format::Github => outputs::github(&report),
        Format::Sarif => outputs::sarif(&report),
        Format::Markdown => outputs::markdown(&report),
    };
    print_out(&output)?;
    if args.format == Format::Github {
        if let Some(path) = env("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
            append(&path, &outputs::markdown(&report))
                .map_err(|e| Stop(EXIT_USAGE, format!("GITHUB_STEP_SUMMARY {path}: {e}")))?;
        }
    }
    Ok(if failed { EXIT_FAILED } else { EXIT_PASSED })
}

/// The incoming columns and the file they came from. A converted schema, samples or a
/// CSV give their names and types (`required` is the contract's business, not the data's).
fn read_check_input(
    input: &CheckInput,
    convert: &ConvertArgs,
) -> Result<(Vec<IncomingColumn>, String), Stop> {
    read_input(input, convert, inputs::schema_file, |columns| {
        columns
            .into_iter()
            .map(|c| IncomingColumn {
                name: c.name,
                column_type: c.column_type,
            })
            .collect()
    })
}

/// The columns of whichever input was given, and its file: `--schema` read by `schema`,
/// any other input turned into columns and then by `from`.
fn read_input<T>(
    input: &CheckInput,
    convert: &ConvertArgs,
    schema: fn(&Path) -> Result<Vec<T>, inputs::InputError>,
    from: fn(Vec<Column>) -> Vec<T>,
) -> Result<(Vec<T>, String), Stop> {
    let (columns, path) =
        match (input.foreign(), &input.schema, &input.sample, &input.csv) {
            (Some((format, path)), ..) => (from(converted_columns(format, path, convert)?), path),
            (_, Some(path), _, _) => (schema(path)?, path.as_path()),
            (_, _, Some(path), _) => (from(inputs::sample_file(path)?), path.as_path()),
            (_, _, _, Some(path)) => (from(inputs::csv_file(path)?), path.as_path()),
            _ => return Err(Stop(
                EXIT_USAGE,
                "give --schema, --sample, --csv, --avro, --json-schema, --sql, --parquet or --dbt"
                    .into(),
            )),
        };
    Ok((columns, path.display().to_string()))
}

/// `(id, name)` of the contract named by `--contract`: an id is fetched, a name looked up
/// with `GET /contracts?name=`.
async fn resolve_contract(client: &ApiClient, contract: &str) -> Result<(String, String), Stop> {
    find_contract(client, contract).await?.ok_or_else(|| {
        Stop(
            EXIT_SERVER,
            format!("the server has no contract named {contract:?} (nor is it a contract id)"),
        )
    })
}

/// [`resolve_contract`], with `None` for a contract the server does not have.
async fn find_contract(
    client: &ApiClient,
    contract: &str,
) -> Result<Option<(String, String)>, Stop> {
    let field = |value: &serde_json::Value, name: &str| {
        value[name].as_str().map(str::to_owned).ok_or_else(|| {
            Stop(
                EXIT_SERVER,
                format!("the server's contract has no {name:?}"),
            )
        })
    };
    if let Ok(id) = contract.parse::<ContractId>() {
        return match client.get(&format!("/contracts/{id}")).await {
            Ok(answer) => Ok(Some((id.to_string(), field(&answer.value, "name")?))),
            Err(ApiCallError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e.into()),
        };
    }
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("name", contract)
        .finish();
    let answer = client.get(&format!("/contracts?{query}")).await?;
    match answer.value.as_array().and_then(|list| list.first()) {
        Some(found) => Ok(Some((field(found, "id")?, field(found, "name")?))),
        None => Ok(None),
    }
}

/// Runs `driftguard infer`: prints `{"columns": [...]}`, locally (a converted schema's
/// warnings go to stderr). Returns the exit code.
pub fn infer(args: InferArgs) -> u8 {
    let columns = match (args.input.foreign(), &args.input.sample, &args.input.csv) {
        (Some((format, path)), _, _) => converted_columns(format, path, &args.convert),
        (_, Some(path), _) => inputs::sample_file(path).map_err(Stop::from),
        (_, _, Some(path)) => inputs::csv_file(path).map_err(Stop::from),
        _ => Err(Stop(
            EXIT_USAGE,
            "give --sample, --csv, --avro, --json-schema, --sql, --parquet or --dbt".into(),
        )),
    };
    let result = columns.and_then(|columns| {
        let text = serde_json::to_string_pretty(&InferredView::new(&columns))
            .map_err(|e| Stop(EXIT_USAGE, e.to_string()))?;
        print_out(&format!("{text}\n")).map(|()| EXIT_PASSED)
    });
    finish("infer", result)
}

/// Writes to stdout; a closed pipe is an error (exit 2), not a panic.
fn print_out(text: &str) -> Result<(), Stop> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Stop(EXIT_USAGE, format!("cannot write the output: {e}")))
}

fn append(path: &str, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use clap::{Args, Command, FromArgMatches};

    use super::*;

    #[test]
    fn server_text_is_printed_escaped() {
        assert_eq!(printable("users"), "users");
        assert_eq!(printable("x\n::error::boom"), "x\\u{a}::error::boom");
        assert_eq!(printable("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(printable("\u{202E}txt"), "\\u{202e}txt");
        assert_eq!(printable("Straße 🚀"), "Straße 🚀");
    }

    /// `driftguard check ARGS` as clap parses it (usage errors are `Err`).
    fn check(args: &[&str]) -> Result<CheckArgs, clap::Error> {
        let command = CheckArgs::augment_args(Command::new("check"));
        let matches =
            command.try_get_matches_from(std::iter::once("check").chain(args.iter().copied()))?;
        CheckArgs::from_arg_matches(&matches)
    }

    /// `driftguard infer ARGS` as clap parses it.
    fn infer(args: &[&str]) -> Result<InferArgs, clap::Error> {
        let command = InferArgs::augment_args(Command::new("infer"));
        let matches =
            command.try_get_matches_from(std::iter::once("infer").chain(args.iter().copied()))?;
        InferArgs::from_arg_matches(&matches)
    }

    #[test]
    fn the_argument_rules_are_well_formed() {
        CheckArgs::augment_args(Command::new("check")).debug_assert();
        InferArgs::augment_args(Command::new("infer")).debug_assert();
        CompatArgs::augment_args(Command::new("compat")).debug_assert();
        PushArgs::augment_args(Command::new("push")).debug_assert();
    }

    #[test]
    fn each_converted_input_takes_only_its_own_options() {
        let c = ["--contract", "users"];
        let with = |rest: &[&'static str]| -> Vec<&'static str> {
            c.iter().copied().chain(rest.iter().copied()).collect()
        };
        // Accepted.
        for args in [
            &["--avro", "a.avsc"][..],
            &["--json-schema", "s.json", "--nested", "flatten"],
            &[
                "--sql",
                "o.sql",
                "--table",
                "orders",
                "--dialect",
                "postgres",
            ],
            &["--parquet", "o.parquet", "--nested", "json"],
            &["--dbt", "manifest.json", "--model", "orders"],
            &["--schema", "s.json"],
        ] {
            assert!(check(&with(args)).is_ok(), "check {args:?}");
            assert!(
                infer(args).is_ok() || args[0] == "--schema",
                "infer {args:?}"
            );
        }
        // Refused: exactly one input; --table and --dialect only with --sql; --model only
        // with (and always with) --dbt; --nested only with a converted input.
        for args in [
            &["--avro", "a.avsc", "--sql", "o.sql"][..],
            &["--avro", "a.avsc", "--table", "orders"],
            &["--parquet", "o.parquet", "--dialect", "mysql"],
            &["--dbt", "manifest.json"],
            &["--sql", "o.sql", "--model", "orders"],
            &["--csv", "x.csv", "--nested", "flatten"],
            &["--sample", "x.json", "--nested", "json"],
            &["--sql", "o.sql", "--nested", "deep"],
            &[],
        ] {
            assert!(check(&with(args)).is_err(), "check {args:?}");
            assert!(infer(args).is_err(), "infer {args:?}");
        }
        assert!(check(&with(&["--schema", "s.json", "--nested", "json"])).is_err());
        let parsed = infer(&[
            "--dbt", "m.json", "--model", "orders", "--nested", "flatten",
        ])
        .expect("valid");
        assert_eq!(
            parsed.input.foreign().map(|(f, p)| (f, p.to_owned())),
            Some((schemas::Format::Dbt, PathBuf::from("m.json")))
        );
        let options = parsed.convert.options();
        assert_eq!(options.nested, schemas::Nested::Flatten);
        assert_eq!(options.model.as_deref(), Some("orders"));
    }
}
