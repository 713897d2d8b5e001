//! The operator's guide and `driftguard.toml.example` must never drift apart: every option
//! of the example is documented in the guide's table, every documented option exists, and
//! the example — with its commented-out options switched on — is a valid configuration.

use std::collections::BTreeSet;

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
