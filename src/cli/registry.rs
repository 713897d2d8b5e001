//! `driftguard compat` and `driftguard push` (SPEC 6.2): the schema registry in CI —
//! `compat` on a pull request asks whether a schema could be a contract's next version,
//! `push` on merge makes it that version (creating the contract with `--create`). Both take
//! any input `check` takes (a contract schema, samples, CSV, or a converted Avro, JSON
//! Schema, SQL, Parquet or dbt schema).
//!
//! Exit codes: `0` compatible (or pushed), `1` the mode refuses it (the violations are
//! printed), `2` bad usage or input, `3` the server could not be reached or answered an
//! error.

use clap::Args;
use serde_json::{json, Value};

use super::{
    find_contract, finish, inputs, print_out, printable, read_input, resolve_contract, CheckInput,
    ConvertArgs, ServerArgs, Stop, EXIT_FAILED, EXIT_PASSED, EXIT_SERVER,
};
use crate::drift::{Column, Compatibility};
use crate::wire::columns_view;

/// `driftguard compat`.
#[derive(Args, Debug)]
pub struct CompatArgs {
    /// The contract: its id (ctr_…) or its name.
    #[arg(long, value_name = "ID|NAME")]
    pub contract: String,
    /// The proposed schema.
    #[command(flatten)]
    pub input: CheckInput,
    /// Options of a converted input.
    #[command(flatten)]
    pub convert: ConvertArgs,
    /// Judge under this mode instead of the contract's own: none, backward, forward,
    /// full, backward_transitive, forward_transitive, full_transitive.
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    pub mode: Option<Compatibility>,
    /// The server.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `driftguard push`.
#[derive(Args, Debug)]
pub struct PushArgs {
    /// The contract: its name (or its id).
    #[arg(long, value_name = "NAME")]
    pub contract: String,
    /// The schema that becomes the contract's next version.
    #[command(flatten)]
    pub input: CheckInput,
    /// Options of a converted input.
    #[command(flatten)]
    pub convert: ConvertArgs,
    /// Create the contract (version 1) if there is none of that name.
    #[arg(long)]
    pub create: bool,
    /// Say what would happen; store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also set the contract's compatibility mode (the schema is judged under it).
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    pub mode: Option<Compatibility>,
    /// The server.
    #[command(flatten)]
    pub server: ServerArgs,
}

fn parse_mode(text: &str) -> Result<Compatibility, String> {
    Compatibility::from_name(text).ok_or_else(|| {
        let names: Vec<&str> = Compatibility::ALL.iter().map(|m| m.as_str()).collect();
        format!("not one of {}", names.join(", "))
    })
}

/// Runs `driftguard compat`; `env` reads environment variables. Returns the exit code.
pub async fn compat(args: CompatArgs, env: impl Fn(&str) -> Option<String>) -> u8 {
    finish("compat", run_compat(args, env).await)
}

/// Runs `driftguard push`; `env` reads environment variables. Returns the exit code.
pub async fn push(args: PushArgs, env: impl Fn(&str) -> Option<String>) -> u8 {
    finish("push", run_push(args, env).await)
}

async fn run_compat(args: CompatArgs, env: impl Fn(&str) -> Option<String>) -> Result<u8, Stop> {
    let columns = contract_columns(&args.input, &args.convert)?;
    let client = args.server.client(&env)?;
    let (id, name) = resolve_contract(&client, &args.contract).await?;
    let mut body = json!({"schema": {"columns": columns_view(&columns)}});
    if let Some(mode) = args.mode {
        body["compatibility"] = mode.as_str().into();
    }
    let answer = client
        .post(&format!("/contracts/{id}/compatibility"), &body)
        .await?;
    let mode = answer.value["compatibility"].as_str().unwrap_or("?");
    let Some(compatible) = answer.value["compatible"].as_bool() else {
        return Err(Stop(
            EXIT_SERVER,
            "the server's answer has no \"compatible\"".into(),
        ));
    };
    let contract = format!("{} ({id})", printable(&name));
    if compatible {
        print_out(&format!(
            "compatible: {contract} under {}\n",
            printable(mode)
        ))?;
        return Ok(EXIT_PASSED);
    }
    print_out(&format!(
        "not compatible: {contract} under {}\n{}",
        printable(mode),
        violation_lines(&answer.value["violations"])
    ))?;
    Ok(EXIT_FAILED)
}

async fn run_push(args: PushArgs, env: impl Fn(&str) -> Option<String>) -> Result<u8, Stop> {
    let columns = contract_columns(&args.input, &args.convert)?;
    let client = args.server.client(&env)?;
    let dry = if args.dry_run {
        " (dry run: nothing stored)"
    } else {
        ""
    };
    let found = find_contract(&client, &args.contract).await?;
    if found.is_none() && !args.create {
        return Err(Stop(
            EXIT_SERVER,
            format!(
                "the server has no contract named {:?} (--create creates it)",
                args.contract
            ),
        ));
    }
    let mut body = json!({"schema": {"columns": columns_view(&columns)}});
    if let Some(mode) = args.mode {
        body["compatibility"] = mode.as_str().into();
    }
    let Some((id, name)) = found else {
        let name = &args.contract;
        if args.dry_run {
            print_out(&format!(
                "would create {}: version 1{dry}\n",
                printable(name)
            ))?;
            return Ok(EXIT_PASSED);
        }
        body["name"] = name.as_str().into();
        let created = client.post("/contracts", &body).await?;
        let id = created.value["id"].as_str().unwrap_or("?");
        print_out(&format!(
            "created {} ({}): version 1\n",
            printable(name),
            printable(id)
        ))?;
        return Ok(EXIT_PASSED);
    };
    let query = if args.dry_run { "?dry_run=true" } else { "" };
    let contract = format!("{} ({id})", printable(&name));
    match client.put(&format!("/contracts/{id}{query}"), &body).await {
        Ok(answer) => {
            let version = answer.value["version"].as_u64().unwrap_or_default();
            let unchanged = match args.dry_run {
                true => answer.value["changes"].is_null(),
                false => false,
            };
            let line = if unchanged {
                format!("unchanged: {contract} stays at version {version}{dry}\n")
            } else {
                format!("pushed: {contract} is at version {version}{dry}\n")
            };
            print_out(&line)?;
            Ok(EXIT_PASSED)
        }
        Err(e) => match e.incompatible() {
            Some(error) => {
                print_out(&format!(
                    "refused: {contract}: the contract's compatibility mode refuses this schema\n{}",
                    violation_lines(&error["violations"])
                ))?;
                Ok(EXIT_FAILED)
            }
            None => Err(Stop::from(e)),
        },
    }
}

/// The proposed columns, as a contract's (`required` matters here).
fn contract_columns(input: &CheckInput, convert: &ConvertArgs) -> Result<Vec<Column>, Stop> {
    read_input(input, convert, inputs::contract_schema_file, |columns| {
        columns
    })
    .map(|(columns, _)| columns)
}

/// `  version 1, column "region": required_column_added — adding required …`, one a line.
fn violation_lines(violations: &Value) -> String {
    let mut lines = String::new();
    for v in violations.as_array().into_iter().flatten() {
        lines.push_str(&format!(
            "  version {}, column {:?}: {} — {}\n",
            v["version"],
            printable(v["column"].as_str().unwrap_or("?")),
            printable(v["rule"].as_str().unwrap_or("?")),
            printable(v["message"].as_str().unwrap_or("")),
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_by_their_spec_names() {
        assert_eq!(
            parse_mode("full_transitive"),
            Ok(Compatibility::FullTransitive)
        );
        assert!(parse_mode("full-transitive").is_err());
    }
}
