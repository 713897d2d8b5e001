//! Tidy tests: the rules that keep the code and its documents honest, checked on the
//! source text (like rust-analyzer's tidy tests), so a change that breaks one fails here
//! instead of in review.
//!
//! - The operator's guide and `driftguard.toml.example` never drift apart: every option of
//!   the example is documented in the guide's table, every documented option exists, and
//!   the example — with its commented-out options switched on — is a valid configuration.
//! - The architecture invariants of `ARCHITECTURE.md`: who may name redb, who may import
//!   `http`, a pure drift engine, no import cycle inside `store`, and a code map that
//!   names every module.
//!
//! The bans on calls (`unwrap`, `expect`, `panic!`, prints outside the command line, and
//! the methods `clippy.toml` lists) are clippy lints, set in `Cargo.toml`'s `[lints]`: the
//! compiler sees every line, test modules and macros included, where a text search
//! does not.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "test code: a failed step fails the test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use driftguard::config::Config;

const EXAMPLE: &str = include_str!("../driftguard.toml.example");
const GUIDE: &str = include_str!("../docs/operations.md");

/// `section.key` for every option line of the example, commented out or not, and the
/// example's text with those lines uncommented.
fn example_options() -> (BTreeSet<String>, String) {
    let mut section = String::new();
    let mut keys = BTreeSet::new();
    let mut enabled = String::new();
    for line in EXAMPLE.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = name.to_owned();
            enabled.push_str(trimmed);
            enabled.push('\n');
            continue;
        }
        let setting = trimmed.trim_start_matches('#').trim_start();
        let is_option = setting.split_once('=').is_some_and(|(key, _)| {
            let key = key.trim();
            !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        });
        if is_option && !section.is_empty() {
            let key = setting.split('=').next().unwrap_or_default().trim();
            keys.insert(format!("{section}.{key}"));
            enabled.push_str(setting);
            enabled.push('\n');
        }
    }
    (keys, enabled)
}

fn documented_options() -> BTreeSet<String> {
    GUIDE
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_owned())
        // `section.key`: two lowercase words (not a file name like `driftguard.toml.example`).
        .filter(|name| {
            let parts: Vec<&str> = name.split('.').collect();
            parts.len() == 2
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        })
        .collect()
}

#[test]
fn the_guide_documents_exactly_the_example_options() {
    let (example, _) = example_options();
    let documented = documented_options();
    assert!(example.len() >= 20, "parsed the example: {example:?}");
    let missing: Vec<_> = example.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&example).collect();
    assert!(
        missing.is_empty(),
        "options missing from docs/operations.md: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "documented options not in the example: {unknown:?}"
    );
}

#[test]
fn every_option_of_the_example_is_accepted() {
    let (_, enabled) = example_options();
    let config = Config::from_toml(&enabled).unwrap_or_else(|e| panic!("{e}\n{enabled}"));
    assert!(config.server.tls_cert.is_some() && config.metrics.listen.is_some());
}

// ---------------------------------------------------------------------------------------
// Architecture invariants
// ---------------------------------------------------------------------------------------

const ARCHITECTURE: &str = include_str!("../ARCHITECTURE.md");

/// Every `.rs` file under `src/`, with its text.
fn sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read src")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read source");
                out.push((path, text));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&root, &mut out);
    out.into_iter()
        .map(|(path, text)| {
            let relative = path.strip_prefix(&root).expect("under src").to_path_buf();
            (relative, text)
        })
        .collect()
}

/// The lines of a file that are not test code: everything before its first
/// `#[cfg(test)]`, and nothing of a file that is a test module itself (`tests.rs`).
fn production_lines(path: &Path, text: &str) -> Vec<(usize, String)> {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return Vec::new();
    }
    text.lines()
        .take_while(|line| !line.contains("#[cfg(test)]"))
        .enumerate()
        .map(|(i, line)| (i + 1, line.to_owned()))
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .collect()
}

fn under(path: &Path, dir: &str) -> bool {
    path.starts_with(dir)
}

#[track_caller]
fn assert_none(what: &str, offenders: Vec<String>) {
    assert!(
        offenders.is_empty(),
        "{what}:\n  {}",
        offenders.join("\n  ")
    );
}

#[test]
fn only_the_store_names_redb_tables_and_transactions() {
    let words = [
        "redb::",
        "TableDefinition",
        "begin_write",
        "begin_read",
        "WriteTransaction",
        "ReadTransaction",
        "open_table",
    ];
    let mut offenders = Vec::new();
    for (path, text) in sources() {
        if under(&path, "store") {
            continue;
        }
        for (n, line) in production_lines(&path, &text) {
            if let Some(word) = words.iter().find(|w| line.contains(*w)) {
                offenders.push(format!("src/{}:{n}: {word}", path.display()));
            }
        }
    }
    assert_none("redb named outside src/store", offenders);
}

#[test]
fn layers_point_one_way() {
    // (directory or file, what it must not use)
    let rules: [(&str, &[&str]); 7] = [
        (
            "store",
            &[
                "crate::http",
                "crate::webhooks",
                "crate::daemon",
                "crate::wire",
            ],
        ),
        ("webhooks", &["crate::http", "crate::daemon"]),
        // The pipeline client talks to a server over HTTP, never to its insides.
        (
            "cli",
            &[
                "crate::http",
                "crate::store",
                "crate::webhooks",
                "crate::daemon",
            ],
        ),
        (
            "outbound.rs",
            &["crate::http", "crate::store", "crate::webhooks"],
        ),
        (
            "wire.rs",
            &["crate::http", "crate::webhooks", "crate::store"],
        ),
        (
            "drift",
            &[
                "crate::http",
                "crate::webhooks",
                "crate::store",
                "crate::model",
            ],
        ),
        (
            "model.rs",
            &[
                "crate::http",
                "crate::webhooks",
                "crate::store",
                "crate::wire",
            ],
        ),
    ];
    let mut offenders = Vec::new();
    for (path, text) in sources() {
        for (scope, banned) in rules {
            if !under(&path, scope) {
                continue;
            }
            for (n, line) in production_lines(&path, &text) {
                if let Some(word) = banned.iter().find(|w| line.contains(*w)) {
                    offenders.push(format!("src/{}:{n}: uses {word}", path.display()));
                }
            }
        }
    }
    assert_none("a layer reaches up", offenders);
}

#[test]
fn the_drift_engine_does_no_io() {
    let banned = [
        "std::fs",
        "std::net",
        "std::io",
        "tokio",
        "SystemTime",
        "Instant",
        "rand",
        "crate::clock",
        "crate::ids",
        "println!",
        "tracing",
    ];
    let mut offenders = Vec::new();
    for (path, text) in sources() {
        if !under(&path, "drift") {
            continue;
        }
        for (n, line) in production_lines(&path, &text) {
            if let Some(word) = banned.iter().find(|w| line.contains(*w)) {
                offenders.push(format!("src/{}:{n}: {word}", path.display()));
            }
        }
    }
    assert_none("I/O, time or randomness in the drift engine", offenders);
}

#[test]
fn store_modules_have_no_import_cycle() {
    let modules: BTreeMap<String, String> = sources()
        .into_iter()
        .filter(|(path, _)| path.parent() == Some(Path::new("store")))
        .filter_map(|(path, text)| {
            let name = path.file_stem()?.to_str()?.to_owned();
            (name != "mod").then_some((name, text))
        })
        .collect();
    assert!(
        modules.len() >= 6,
        "found the store's modules: {:?}",
        modules.keys()
    );
    let uses = |text: &str| -> BTreeSet<String> {
        modules
            .keys()
            .filter(|other| {
                [format!("super::{other}"), format!("crate::store::{other}")]
                    .iter()
                    .any(|path| text.contains(path.as_str()))
            })
            .cloned()
            .collect()
    };
    let graph: BTreeMap<&String, BTreeSet<String>> = modules
        .iter()
        .map(|(name, text)| {
            let code: String = production_lines(Path::new(name), text)
                .into_iter()
                .map(|(_, line)| line + "\n")
                .collect();
            let mut used = uses(&code);
            used.remove(name);
            (name, used)
        })
        .collect();
    // Depth-first search for a back edge.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<&String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<String> {
        if let Some(start) = path.iter().position(|n| *n == node) {
            return Some(format!("{} -> {node}", path[start..].join(" -> ")));
        }
        if done.contains(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(&node.to_owned()).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node);
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("import cycle in src/store: {cycle}\n{graph:#?}");
        }
    }
}

#[test]
fn the_code_map_names_every_module() {
    let mut missing = Vec::new();
    for (path, _) in sources() {
        if path
            .file_name()
            .is_some_and(|n| n == "tests.rs" || n == "mod.rs")
        {
            continue;
        }
        // `store/ops.rs` is named `store/ops.rs` or `ops.rs` within the `store/` entry.
        let file = path.to_string_lossy().to_string();
        let short = path
            .file_name()
            .expect("file")
            .to_string_lossy()
            .to_string();
        if !ARCHITECTURE.contains(&format!("`{file}`"))
            && !ARCHITECTURE.contains(&format!("`{short}`"))
        {
            missing.push(file);
        }
    }
    assert_none("modules missing from ARCHITECTURE.md's code map", missing);
}
