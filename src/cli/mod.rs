//! `driftguard check` and `driftguard infer`: the pipeline's side of DriftGuard (SPEC 5.4).
//! [`inputs`] reads schema, sample (JSON/NDJSON) and CSV files; [`client`] talks to the
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

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::json;

use self::client::{ApiCallError, ApiClient};
use self::outputs::{CheckDoc, Report};
use crate::drift::{Column, IncomingColumn};
use crate::ids::ContractId;
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

/// Where the incoming schema comes from: exactly one of the three.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct CheckInput {
    /// A JSON schema file: {"columns": [{"name", "type"}, ...]}.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// JSON or NDJSON sample records; the schema is inferred from them.
    #[arg(long, value_name = "FILE")]
    pub sample: Option<PathBuf>,
    /// A CSV file (header plus rows); the schema is inferred from the values.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

/// Where `infer` reads records from: exactly one of the two.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct InferInput {
    /// JSON or NDJSON sample records.
    #[arg(long, value_name = "FILE")]
    pub sample: Option<PathBuf>,
    /// A CSV file (header plus rows).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
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
    /// The server's root URL (default: $DRIFTGUARD_URL, else http://127.0.0.1:8080).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The lowest result that makes the run fail (exit code 1).
    #[arg(long, value_enum, default_value = "breaking")]
    pub fail_on: FailOn,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Extra trusted CA certificates, PEM (default: $DRIFTGUARD_CA_FILE).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

/// `driftguard infer`.
#[derive(Args, Debug)]
pub struct InferArgs {
    /// The records.
    #[command(flatten)]
    pub input: InferInput,
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
    match run_check(args, env).await {
        Ok(code) => code,
        Err(Stop(code, message)) => {
            eprintln!("driftguard check: {message}");
            code
        }
    }
}

async fn run_check(args: CheckArgs, env: impl Fn(&str) -> Option<String>) -> Result<u8, Stop> {
    let (incoming, input) = read_check_input(&args.input)?;
    let key = env(ENV_KEY)
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| {
            Stop(
                EXIT_USAGE,
                format!("{ENV_KEY} is not set (the API key is read only from the environment)"),
            )
        })?;
    let url = args
        .url
        .or_else(|| env(ENV_URL).filter(|u| !u.is_empty()))
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let ca_file = args.ca_file.or_else(|| {
        env(ENV_CA_FILE)
            .filter(|f| !f.is_empty())
            .map(PathBuf::from)
    });
    let client =
        ApiClient::new(&url, key.trim(), ca_file.as_deref()).map_err(|e| Stop(EXIT_USAGE, e))?;

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

/// The incoming columns and the file they came from.
fn read_check_input(input: &CheckInput) -> Result<(Vec<IncomingColumn>, String), Stop> {
    let strip = |columns: Vec<Column>| {
        columns
            .into_iter()
            .map(|c| IncomingColumn {
                name: c.name,
                column_type: c.column_type,
            })
            .collect()
    };
    Ok(match (&input.schema, &input.sample, &input.csv) {
        (Some(path), _, _) => (inputs::schema_file(path)?, path.display().to_string()),
        (_, Some(path), _) => (
            strip(inputs::sample_file(path)?),
            path.display().to_string(),
        ),
        (_, _, Some(path)) => (strip(inputs::csv_file(path)?), path.display().to_string()),
        _ => return Err(Stop(EXIT_USAGE, "give --schema, --sample or --csv".into())),
    })
}

/// `(id, name)` of the contract named by `--contract`: an id is fetched, a name looked up
/// with `GET /contracts?name=`.
async fn resolve_contract(client: &ApiClient, contract: &str) -> Result<(String, String), Stop> {
    let field = |value: &serde_json::Value, name: &str| {
        value[name].as_str().map(str::to_owned).ok_or_else(|| {
            Stop(
                EXIT_SERVER,
                format!("the server's contract has no {name:?}"),
            )
        })
    };
    if let Ok(id) = contract.parse::<ContractId>() {
        let answer = client.get(&format!("/contracts/{id}")).await?;
        return Ok((id.to_string(), field(&answer.value, "name")?));
    }
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("name", contract)
        .finish();
    let answer = client.get(&format!("/contracts?{query}")).await?;
    match answer.value.as_array().and_then(|list| list.first()) {
        Some(found) => Ok((field(found, "id")?, field(found, "name")?)),
        None => Err(Stop(
            EXIT_SERVER,
            format!("the server has no contract named {contract:?} (nor is it a contract id)"),
        )),
    }
}

/// Runs `driftguard infer`: prints `{"columns": [...]}`, locally. Returns the exit code.
pub fn infer(args: InferArgs) -> u8 {
    let columns = match (&args.input.sample, &args.input.csv) {
        (Some(path), _) => inputs::sample_file(path),
        (_, Some(path)) => inputs::csv_file(path),
        _ => Err(inputs::InputError("give --sample or --csv".into())),
    };
    let result = columns.map_err(Stop::from).and_then(|columns| {
        let text = serde_json::to_string_pretty(&InferredView::new(&columns))
            .map_err(|e| Stop(EXIT_USAGE, e.to_string()))?;
        print_out(&format!("{text}\n"))
    });
    match result {
        Ok(()) => EXIT_PASSED,
        Err(Stop(code, message)) => {
            eprintln!("driftguard infer: {message}");
            code
        }
    }
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
