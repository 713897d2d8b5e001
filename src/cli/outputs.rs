//! One renderer per `--format`: `text` (for people; colour only on a terminal), `json` (the
//! check document as the server answered it), `junit`, `github` (workflow commands and a
//! Markdown job summary), `sarif` 2.1.0 and `markdown`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::FailOn;

/// The parts of a check document the renderers use. Fields the server may add later are
/// ignored; types stay text so a newer server's values still render.
#[derive(Clone, Debug, Deserialize)]
pub struct CheckDoc {
    /// `chk_…`.
    pub id: String,
    /// `pass`, `warning` or `breaking`.
    pub result: String,
    /// 0–100.
    pub severity: u64,
    /// What changed.
    pub diff: DiffDoc,
    /// RFC 3339.
    #[serde(default)]
    pub created_at: String,
}

/// A check's diff.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DiffDoc {
    /// Contract columns missing from the incoming schema.
    #[serde(default)]
    pub removed: Vec<String>,
    /// Columns whose type differs.
    #[serde(default)]
    pub type_changes: Vec<TypeChangeDoc>,
    /// Incoming columns unknown to the contract.
    #[serde(default)]
    pub added: Vec<String>,
}

impl CheckDoc {
    /// The document with every string escaped for printing ([`super::printable`]).
    pub fn printable(&self) -> CheckDoc {
        use super::printable as p;
        let names = |list: &[String]| list.iter().map(|s| p(s)).collect();
        CheckDoc {
            id: p(&self.id),
            result: p(&self.result),
            severity: self.severity,
            diff: DiffDoc {
                removed: names(&self.diff.removed),
                type_changes: self
                    .diff
                    .type_changes
                    .iter()
                    .map(|t| TypeChangeDoc {
                        column: p(&t.column),
                        from: p(&t.from),
                        to: p(&t.to),
                    })
                    .collect(),
                added: names(&self.diff.added),
            },
            created_at: p(&self.created_at),
        }
    }
}

/// One type change.
#[derive(Clone, Debug, Deserialize)]
pub struct TypeChangeDoc {
    /// Column name.
    pub column: String,
    /// Contract type.
    pub from: String,
    /// Incoming type.
    pub to: String,
}

/// Everything a renderer needs about one check.
pub struct Report<'a> {
    /// The contract's name (testcase name, titles).
    pub contract_name: &'a str,
    /// `ctr_…`.
    pub contract_id: &'a str,
    /// The parsed check.
    pub check: &'a CheckDoc,
    /// The check document exactly as the server sent it.
    pub raw: &'a [u8],
    /// The threshold.
    pub fail_on: FailOn,
    /// Whether the result is at or above `fail_on`.
    pub failed: bool,
    /// The file the incoming schema came from (SARIF locations).
    pub input: &'a str,
}

/// One change of the diff, as the SARIF rules name them.
struct Change {
    rule: &'static str,
    column: String,
    text: String,
}

fn changes(diff: &DiffDoc) -> Vec<Change> {
    let removed = diff.removed.iter().map(|c| Change {
        rule: "column-removed",
        column: c.clone(),
        text: format!("column `{c}` was removed"),
    });
    let changed = diff.type_changes.iter().map(|t| Change {
        rule: "type-changed",
        column: t.column.clone(),
        text: format!(
            "column `{}` changed type from {} to {}",
            t.column, t.from, t.to
        ),
    });
    let added = diff.added.iter().map(|c| Change {
        rule: "column-added",
        column: c.clone(),
        text: format!("column `{c}` was added"),
    });
    removed.chain(changed).chain(added).collect()
}

fn headline(r: &Report) -> String {
    format!(
        "{}: {} (severity {}/100) against contract {} ({})",
        if r.failed { "FAILED" } else { "passed" },
        r.check.result,
        r.check.severity,
        r.contract_name,
        r.contract_id
    )
}

fn threshold(r: &Report) -> String {
    match r.fail_on {
        FailOn::Never => "--fail-on never".to_owned(),
        FailOn::Warning => "--fail-on warning".to_owned(),
        FailOn::Breaking => "--fail-on breaking".to_owned(),
    }
}

/// `text`: for people; colours only when `colour` (stdout is a terminal).
pub fn text(r: &Report, colour: bool) -> String {
    let paint = |code: &str, s: &str| {
        if colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    };
    let verdict_colour = match r.check.result.as_str() {
        "breaking" => "1;31",
        "warning" => "1;33",
        _ => "1;32",
    };
    let mut out = format!(
        "DriftGuard check {}: {} (severity {}/100) against contract {} ({})\n",
        r.check.id,
        paint(verdict_colour, &r.check.result),
        r.check.severity,
        r.contract_name,
        r.contract_id
    );
    let all = changes(&r.check.diff);
    if all.is_empty() {
        out.push_str("  no changes\n");
    }
    for change in &all {
        let mark = match change.rule {
            "column-removed" => paint("31", "-"),
            "type-changed" => paint("33", "~"),
            _ => paint("32", "+"),
        };
        out.push_str(&format!("  {mark} {}\n", change.text));
    }
    out.push_str(&format!(
        "{} ({})\n",
        if r.failed {
            paint("1;31", "FAILED")
        } else {
            paint("1;32", "passed")
        },
        threshold(r)
    ));
    out
}

/// `json`: the check document, byte for byte as the server answered.
pub fn json_document(r: &Report) -> String {
    let mut out = String::from_utf8_lossy(r.raw).into_owned();
    out.push('\n');
    out
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn diff_lines(r: &Report) -> String {
    let all = changes(&r.check.diff);
    if all.is_empty() {
        return "no changes\n".into();
    }
    all.iter().map(|c| format!("{}\n", c.text)).collect()
}

/// `junit`: one testsuite, one testcase named after the contract, failing at or above
/// `--fail-on` with the diff in the failure.
pub fn junit(r: &Report) -> String {
    let failures = usize::from(r.failed);
    let name = xml_escape(r.contract_name);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"driftguard\" tests=\"1\" failures=\"{failures}\" errors=\"0\">\n"
    ));
    out.push_str(&format!(
        "  <testsuite name=\"driftguard\" tests=\"1\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" timestamp=\"{}\">\n",
        xml_escape(&r.check.created_at)
    ));
    out.push_str(&format!(
        "    <testcase name=\"{name}\" classname=\"driftguard.contract\">\n"
    ));
    if r.failed {
        out.push_str(&format!(
            "      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
            xml_escape(&format!(
                "{} (severity {}/100), at or above {}",
                r.check.result,
                r.check.severity,
                threshold(r)
            )),
            xml_escape(&r.check.result),
            xml_escape(&diff_lines(r))
        ));
    }
    out.push_str(&format!(
        "      <system-out>{}</system-out>\n",
        xml_escape(&format!(
            "{}\ncheck {}\n{}",
            headline(r),
            r.check.id,
            diff_lines(r)
        ))
    ));
    out.push_str("    </testcase>\n  </testsuite>\n</testsuites>\n");
    out
}

/// Escapes the message of a workflow command.
fn command_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property (`title=…`) of a workflow command.
fn command_property(s: &str) -> String {
    command_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `github`: `::error` (breaking), `::warning` (warning) or `::notice` (pass) workflow
/// commands with a title — one for the check, one per change.
pub fn github(r: &Report) -> String {
    let level = match r.check.result.as_str() {
        "breaking" => "error",
        "warning" => "warning",
        _ => "notice",
    };
    let title = format!(
        "DriftGuard: {} is {} (severity {})",
        r.contract_name, r.check.result, r.check.severity
    );
    let mut out = format!(
        "::{level} title={}::{}\n",
        command_property(&title),
        command_data(&format!("{} — check {}", headline(r), r.check.id))
    );
    for change in changes(&r.check.diff) {
        out.push_str(&format!(
            "::{level} title={}::{}\n",
            command_property(&format!("DriftGuard: {} {}", r.contract_name, change.rule)),
            command_data(&change.text)
        ));
    }
    out
}

/// `markdown`: a heading, the verdict and a table of changes (also the GitHub job summary).
pub fn markdown(r: &Report) -> String {
    let icon = match r.check.result.as_str() {
        "breaking" => "🔴",
        "warning" => "🟡",
        _ => "🟢",
    };
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = format!(
        "### {icon} DriftGuard: `{}` is **{}** (severity {}/100)\n\n",
        cell(r.contract_name),
        r.check.result,
        r.check.severity
    );
    out.push_str(&format!(
        "Check `{}` against contract `{}` — {} ({}).\n\n",
        r.check.id,
        r.contract_id,
        if r.failed { "**failed**" } else { "passed" },
        threshold(r)
    ));
    let all = changes(&r.check.diff);
    if all.is_empty() {
        out.push_str("No changes.\n");
        return out;
    }
    out.push_str("| change | column | detail |\n|---|---|---|\n");
    for change in &all {
        let detail = r
            .check
            .diff
            .type_changes
            .iter()
            .find(|t| change.rule == "type-changed" && t.column == change.column)
            .map(|t| format!("{} → {}", t.from, t.to))
            .unwrap_or_default();
        out.push_str(&format!(
            "| {} | `{}` | {} |\n",
            change.rule,
            cell(&change.column),
            detail
        ));
    }
    out
}

/// `sarif`: SARIF 2.1.0, tool `driftguard`, one result per change; level `error` for a
/// breaking check, `warning` for a warning, `note` for a pass.
pub fn sarif(r: &Report) -> String {
    let level = match r.check.result.as_str() {
        "breaking" => "error",
        "warning" => "warning",
        _ => "note",
    };
    let results: Vec<Value> = changes(&r.check.diff)
        .into_iter()
        .map(|c| {
            json!({
                "ruleId": c.rule,
                "level": level,
                "message": {"text": format!("{} (contract {}, check {}: {} {}/100)", c.text, r.contract_name, r.check.id, r.check.result, r.check.severity)},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.input}}}],
                "properties": {"column": c.column, "contract_id": r.contract_id, "check_id": r.check.id},
            })
        })
        .collect();
    let rule = |id: &str, text: &str| json!({"id": id, "shortDescription": {"text": text}});
    let document = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "driftguard",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": [
                    rule("column-removed", "A contract column is missing from the incoming schema"),
                    rule("type-changed", "A column's type differs from the contract"),
                    rule("column-added", "The incoming schema has a column the contract does not"),
                ],
            }},
            "results": results,
            "properties": {
                "check_id": r.check.id,
                "contract_id": r.contract_id,
                "contract_name": r.contract_name,
                "result": r.check.result,
                "severity": r.check.severity,
            },
        }],
    });
    let mut out = serde_json::to_string_pretty(&document).unwrap_or_default();
    out.push('\n');
    out
}
