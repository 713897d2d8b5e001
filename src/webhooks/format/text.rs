//! What every chat format says about a check, as text: its changed columns by kind, the
//! one-line summary, and lists cut with "…and N more" to a budget. Each format measures
//! the budget as its service does (characters, UTF-16 units, JSON bytes).

use crate::drift::Verdict;
use crate::model::Check;

/// Most column names per kind of change in a one-line summary.
const MAX_IN_SUMMARY: usize = 5;
/// Longest column name a summary shows.
const MAX_NAME_IN_SUMMARY: usize = 64;
/// Longest column name a list shows (names longer than this are cut with `…`).
pub const MAX_NAME: usize = 256;

/// A check's changed columns by kind, in the order every format shows them: removed,
/// type changed (`col (from → to)`), added, renamed (`old → new`), ignored. Each entry
/// is (what, the lines); kinds without columns are left out.
pub fn changes(check: &Check) -> Vec<(&'static str, Vec<String>)> {
    let diff = &check.diff;
    let lists = [
        ("removed", diff.removed.clone()),
        (
            "type changed",
            diff.type_changes
                .iter()
                .map(|t| format!("{} ({} → {})", t.column, t.from.as_str(), t.to.as_str()))
                .collect(),
        ),
        ("added", diff.added.clone()),
        (
            "renamed",
            diff.renames
                .iter()
                .map(|r| format!("{} → {}", r.from, r.to))
                .collect(),
        ),
        ("ignored", diff.ignored.clone()),
    ];
    lists
        .into_iter()
        .filter(|(_, names)| !names.is_empty())
        .collect()
}

/// `Removed (3)`: a kind's title with its count.
pub fn title(what: &str, count: usize) -> String {
    let mut title = what.to_owned();
    if let Some(first) = title.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    format!("{title} ({count})")
}

/// The contract as the messages name it: `name (ctr_…)`, or the id alone once the
/// contract is gone.
pub fn contract(check: &Check, contract_name: Option<&str>) -> String {
    match contract_name {
        Some(name) => format!("{} ({})", cut(name, MAX_NAME), check.contract_id),
        None => check.contract_id.to_string(),
    }
}

/// `No schema drift on users` / `Schema drift: breaking on users`.
pub fn headline(check: &Check, contract_name: Option<&str>) -> String {
    let what = match check.verdict {
        Verdict::Pass => "No schema drift".to_owned(),
        other => format!("Schema drift: {}", other.as_str()),
    };
    format!("{what} on {}", contract_name.unwrap_or("a contract"))
}

/// The one-line summary (Slack's `text`, Discord's `content`, the card's fallback):
/// result, severity, contract, and a few names of each kind of change.
pub fn summary(check: &Check, contract_name: Option<&str>) -> String {
    let mut text = format!(
        "DriftGuard: {} (severity {}) for contract {}",
        check.verdict.as_str(),
        check.severity,
        contract(check, contract_name)
    );
    let changes: Vec<String> = changes(check)
        .iter()
        .map(|(what, names)| format!("{what}: {}", inline_list(names)))
        .collect();
    if changes.is_empty() {
        text.push_str(": no changed columns");
    } else {
        text.push_str(" — ");
        text.push_str(&changes.join("; "));
    }
    text
}

/// `a, b, c and 4 more` (names cut to a readable length).
fn inline_list(names: &[String]) -> String {
    let shown: Vec<String> = names
        .iter()
        .take(MAX_IN_SUMMARY)
        .map(|n| cut(n, MAX_NAME_IN_SUMMARY))
        .collect();
    let mut list = shown.join(", ");
    if names.len() > shown.len() {
        list.push_str(&format!(" and {} more", names.len() - shown.len()));
    }
    list
}

/// The lines of a list: `line(name)` for the first names, at most `max_lines` of them
/// and at most `budget` in all as `cost` measures it (a newline between lines counts
/// one), then "…and N more" for the rest, which the budget leaves room for.
pub fn fit(
    names: &[String],
    max_lines: usize,
    budget: usize,
    line: impl Fn(&str) -> String,
    cost: impl Fn(&str) -> usize,
) -> String {
    // Room for the longest "…and N more" line.
    let budget = budget.saturating_sub(32);
    let mut text = String::new();
    let mut used = 0;
    let mut listed = 0;
    for name in names.iter().take(max_lines) {
        let next = line(&cut(name, MAX_NAME));
        let more = cost(&next) + usize::from(listed > 0);
        if used + more > budget {
            break;
        }
        if listed > 0 {
            text.push('\n');
        }
        text.push_str(&next);
        used += more;
        listed += 1;
    }
    if names.len() > listed {
        if listed > 0 {
            text.push('\n');
        }
        text.push_str(&more(names.len() - listed));
    }
    text
}

/// `…and N more`.
pub fn more(left_out: usize) -> String {
    format!("…and {left_out} more")
}

/// Characters, as Slack counts them.
pub fn chars(text: &str) -> usize {
    text.chars().count()
}

/// At most `max` characters, with `…` if cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
