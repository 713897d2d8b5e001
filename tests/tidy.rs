//! Tidy tests: the rules that keep the code and its documents honest, checked on the
//! source (like rust-analyzer's tidy tests), so a change that breaks one fails here
//! instead of in review. The code is read as code, not as text (see `production_lines`):
//! every line of a file but its `#[cfg(test)]` items, paths matched segment by segment.
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

/// The production code of a file, line by line: for each line, the paths its code names
/// (`crate::http::StatusCode`, `tokio::spawn`, a name like `begin_write`, a macro like
/// `println!`), separated by spaces; [`names`] matches a banned word against them.
///
/// Read as code, not text, so it cannot be fooled the ways a substring search can: the
/// whole file is read, and only its `#[cfg(test)]` items are left out (each matched to its
/// closing brace or semicolon), as are the files of `#[cfg(test)] mod name;` modules;
/// comments and string literals name nothing; `use` trees are expanded (`use std::{fs,
/// io}` names `std::io`); and `self::`, `super::`, a child module's name and an imported
/// name are resolved to the `crate::` path they stand for.
fn production_lines(path: &Path, text: &str) -> Vec<(usize, String)> {
    if test_only(path) {
        return Vec::new();
    }
    let mut lines: BTreeMap<usize, String> = BTreeMap::new();
    for (n, named) in read_code(path, text).paths {
        let line = lines.entry(n).or_default();
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&named.join("::"));
    }
    lines.into_iter().collect()
}

/// Whether a line of [`production_lines`] names `word`: a path (`std::io`,
/// `crate::http`), a name (`tokio`, `Instant`) or a macro (`println!`), matched segment by
/// segment, so `rand` is not found in `operand` and `std::io` is found in
/// `std::io::Read`.
fn names(line: &str, word: &str) -> bool {
    let word: Vec<&str> = word.trim_end_matches("::").split("::").collect();
    line.split_whitespace().any(|named| {
        let named: Vec<&str> = named.split("::").collect();
        named.windows(word.len()).any(|w| w == word.as_slice())
    })
}

/// A source file read as code.
struct Code {
    /// (line, path) for every path its production code names, resolved to `crate::…`
    /// where it is one of ours.
    paths: Vec<(usize, Vec<String>)>,
    /// What its `use` items bring into scope: name → the path it stands for.
    imports: BTreeMap<String, Vec<String>>,
    /// The `#[cfg(test)] mod name;` declarations: test modules in files of their own.
    test_modules: Vec<String>,
}

/// The module path of a file under `src/` (`store/ops.rs` → `store::ops`, `store/mod.rs`
/// → `store`, `lib.rs` → the crate root).
fn module_path(path: &Path) -> Vec<String> {
    let mut segments: Vec<String> = path
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if segments.len() == 1 && (segments[0] == "lib" || segments[0] == "main") {
        segments.clear();
    } else if segments.last().is_some_and(|s| s == "mod") {
        segments.pop();
    }
    segments
}

/// Whether a file is a test module of its own (its parent declares it
/// `#[cfg(test)] mod name;`), or inside one.
fn test_only(path: &Path) -> bool {
    static TEST_MODULES: std::sync::OnceLock<Vec<Vec<String>>> = std::sync::OnceLock::new();
    let test_modules = TEST_MODULES.get_or_init(|| {
        sources()
            .iter()
            .flat_map(|(path, text)| {
                let parent = module_path(path);
                read_code(path, text)
                    .test_modules
                    .into_iter()
                    .map(move |name| [parent.clone(), vec![name]].concat())
            })
            .collect()
    });
    let module = module_path(path);
    test_modules.iter().any(|test| module.starts_with(test))
}

fn read_code(path: &Path, text: &str) -> Code {
    let mut code = blank_comments_and_literals(text);
    let test_modules = blank_test_items(&mut code);
    let tokens = tokens(&code);
    let module = module_path(path);
    let children: BTreeSet<String> = tokens
        .windows(3)
        .filter_map(|w| match w {
            [(_, Token::Ident(m)), (_, Token::Ident(name)), (_, Token::Punct(';' | '{'))]
                if m == "mod" =>
            {
                Some(name.clone())
            }
            _ => None,
        })
        .collect();
    let resolve = |path: &[String], imports: &BTreeMap<String, Vec<String>>| -> Vec<String> {
        let crate_path = |module: &[String], rest: &[String]| -> Vec<String> {
            [&["crate".to_owned()], module, rest].concat()
        };
        match path.first().map(String::as_str) {
            // `self::x`, not the value `self`.
            Some("self") if path.len() > 1 => crate_path(&module, &path[1..]),
            Some("self") => path.to_vec(),
            Some("super") => {
                let up = path.iter().take_while(|s| *s == "super").count();
                crate_path(&module[..module.len().saturating_sub(up)], &path[up..])
            }
            Some(first) if children.contains(first) => crate_path(&module, path),
            Some(first) => match imports.get(first.trim_end_matches('!')) {
                // An imported macro: `use tracing::info;` … `info!`.
                Some(imported) if first.ends_with('!') => {
                    let mut path = imported.clone();
                    if let Some(last) = path.last_mut() {
                        last.push('!');
                    }
                    path
                }
                Some(imported) => [imported.as_slice(), &path[1..]].concat(),
                None => path.to_vec(),
            },
            None => Vec::new(),
        }
    };
    // `use` trees first: what they import resolves the other paths.
    let mut paths = Vec::new();
    let mut imports = BTreeMap::new();
    let mut rest = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let after_separator = i > 0 && tokens[i - 1].1 == Token::Separator;
        if tokens[i].1 == Token::Ident("use".into()) && !after_separator {
            i += 1;
            let mut leaves = Vec::new();
            use_tree(&tokens, &mut i, Vec::new(), &mut leaves);
            for (line, leaf, alias) in leaves {
                let resolved = resolve(&leaf, &BTreeMap::new());
                if let Some(alias) = alias {
                    imports.insert(alias, resolved.clone());
                }
                paths.push((line, resolved));
            }
        } else if let Some((line, path)) = path_at(&tokens, &mut i) {
            rest.push((line, path));
        } else {
            i += 1;
        }
    }
    paths.extend(
        rest.into_iter()
            .map(|(line, path)| (line, resolve(&path, &imports))),
    );
    paths.sort();
    Code {
        paths,
        imports,
        test_modules,
    }
}

/// `text` with its comments and string and character literals blanked to spaces (line
/// breaks kept, so every character keeps its line).
fn blank_comments_and_literals(text: &str) -> Vec<char> {
    let mut code: Vec<char> = text.chars().collect();
    let n = code.len();
    let mut i = 0;
    while i < n {
        let at = |j: usize| code.get(j).copied();
        let ident_before = i > 0 && (code[i - 1].is_alphanumeric() || code[i - 1] == '_');
        let end = match (code[i], at(i + 1)) {
            ('/', Some('/')) => code[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(n, |p| i + p),
            ('/', Some('*')) => {
                let (mut depth, mut j) = (0, i);
                while j < n {
                    match (code[j], at(j + 1)) {
                        ('/', Some('*')) => (depth, j) = (depth + 1, j + 2),
                        ('*', Some('/')) => {
                            (depth, j) = (depth - 1, j + 2);
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => j += 1,
                    }
                }
                j
            }
            ('r', Some('#' | '"')) | ('b', Some('r')) if !ident_before => {
                let mut j = i + if code[i] == 'b' { 2 } else { 1 };
                let hashes = code[j..].iter().take_while(|&&c| c == '#').count();
                j += hashes;
                if at(j) == Some('"') {
                    j += 1;
                    while j < n && !(code[j] == '"' && (1..=hashes).all(|k| at(j + k) == Some('#')))
                    {
                        j += 1;
                    }
                    j + 1 + hashes
                } else {
                    i + 1 // an identifier that starts with `r` (or `r#`)
                }
            }
            ('"', _) => {
                let mut j = i + 1;
                while j < n && code[j] != '"' {
                    j += if code[j] == '\\' { 2 } else { 1 };
                }
                j + 1
            }
            ('\'', Some('\\')) => {
                let mut j = i + 3;
                while j < n && code[j] != '\'' {
                    j += 1;
                }
                j + 1
            }
            ('\'', Some(_)) if at(i + 2) == Some('\'') => i + 3,
            _ => {
                i += 1;
                continue;
            }
        };
        let end = end.min(n);
        if end > i + 1 || code[i] == '"' {
            for c in &mut code[i..end] {
                if *c != '\n' {
                    *c = ' ';
                }
            }
        }
        i = end.max(i + 1);
    }
    code
}

/// Blanks the `#[cfg(test)]` items of `code` (a `mod`, `fn`, `impl`, `use`, … up to its
/// closing brace or semicolon; a file under `#![cfg(test)]` whole), and returns the
/// names of the test modules declared without a body. A `#[cfg(test)]` on a field or a
/// statement leaves it in: read as production code, it can only add a finding.
fn blank_test_items(code: &mut [char]) -> Vec<String> {
    const ITEMS: [&str; 13] = [
        "mod",
        "fn",
        "impl",
        "struct",
        "enum",
        "union",
        "trait",
        "use",
        "const",
        "static",
        "type",
        "macro_rules",
        "extern",
    ];
    let n = code.len();
    let skip_space = |code: &[char], mut j: usize| {
        while j < n && code[j].is_whitespace() {
            j += 1;
        }
        j
    };
    // The index after the bracket that closes the one at `open`.
    let closing = |code: &[char], open: usize, (left, right): (char, char)| {
        let mut depth = 0;
        for (j, &c) in code.iter().enumerate().skip(open) {
            if c == left {
                depth += 1;
            } else if c == right {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
        }
        n
    };
    let word = |code: &[char], j: usize| -> String {
        code[j..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || **c == '_')
            .collect()
    };
    let mut test_modules = Vec::new();
    let mut i = 0;
    while i < n {
        if code[i] != '#' {
            i += 1;
            continue;
        }
        let inner = code.get(i + 1) == Some(&'!');
        let open = skip_space(code, i + if inner { 2 } else { 1 });
        if code.get(open) != Some(&'[') {
            i += 1;
            continue;
        }
        let close = closing(code, open, ('[', ']'));
        let attribute: String = code[open..close]
            .iter()
            .filter(|c| !c.is_whitespace())
            .collect();
        if attribute != "[cfg(test)]" {
            i = close;
            continue;
        }
        if inner {
            code.iter_mut()
                .filter(|c| **c != '\n')
                .for_each(|c| *c = ' ');
            return test_modules;
        }
        // Past the item's other attributes and its visibility, to its keyword.
        let mut j = skip_space(code, close);
        while code.get(j) == Some(&'#') {
            let open = skip_space(code, j + 1);
            j = skip_space(code, closing(code, open, ('[', ']')));
        }
        let mut keyword = word(code, j);
        while ["pub", "async", "unsafe", "default"].contains(&keyword.as_str()) {
            j = skip_space(code, j + keyword.len());
            if code.get(j) == Some(&'(') {
                j = skip_space(code, closing(code, j, ('(', ')')));
            }
            keyword = word(code, j);
        }
        if !ITEMS.contains(&keyword.as_str()) {
            i = close;
            continue;
        }
        let mut end = n;
        let mut depth = 0i32;
        for k in j..n {
            match code[k] {
                '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                ';' if depth == 0 => {
                    end = k + 1;
                    if keyword == "mod" {
                        let name = skip_space(code, j + 3);
                        test_modules.push(word(code, name));
                    }
                    break;
                }
                '{' if depth == 0 => {
                    end = closing(code, k, ('{', '}'));
                    break;
                }
                _ => {}
            }
        }
        code[i..end]
            .iter_mut()
            .filter(|c| **c != '\n')
            .for_each(|c| *c = ' ');
        i = end;
    }
    test_modules
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    /// `::`
    Separator,
    Punct(char),
}

/// The tokens of blanked code, each with its line (numbers and lifetimes left out).
fn tokens(code: &[char]) -> Vec<(usize, Token)> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < code.len() {
        let c = code[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphabetic() || c == '_' || c.is_ascii_digit() || c == '\'' {
            let start = if c == '\'' { i + 1 } else { i };
            let mut j = start;
            while j < code.len() && is_ident(code[j]) {
                j += 1;
            }
            if c.is_alphabetic() || c == '_' {
                out.push((line, Token::Ident(code[start..j].iter().collect())));
            }
            i = j.max(i + 1);
        } else if c == ':' && code.get(i + 1) == Some(&':') {
            out.push((line, Token::Separator));
            i += 2;
        } else {
            out.push((line, Token::Punct(c)));
            i += 1;
        }
    }
    out
}

/// The path that starts at `tokens[*i]` (`a::b::c`, `::a`, a macro `a::b!`), moving `i`
/// past it; a turbofish (`::<`) ends it.
fn path_at(tokens: &[(usize, Token)], i: &mut usize) -> Option<(usize, Vec<String>)> {
    let mut j = *i;
    if tokens.get(j).map(|t| &t.1) == Some(&Token::Separator) {
        j += 1;
    }
    let Some((line, Token::Ident(_))) = tokens.get(j) else {
        return None;
    };
    let line = *line;
    let mut path = Vec::new();
    while let Some((_, Token::Ident(segment))) = tokens.get(j) {
        path.push(segment.clone());
        j += 1;
        match (tokens.get(j).map(|t| &t.1), tokens.get(j + 1).map(|t| &t.1)) {
            (Some(Token::Separator), Some(Token::Ident(_))) => j += 1,
            _ => break,
        }
    }
    let bang = tokens.get(j).map(|t| &t.1) == Some(&Token::Punct('!'));
    let delimiter = matches!(
        tokens.get(j + 1).map(|t| &t.1),
        Some(Token::Punct('(' | '[' | '{'))
    );
    if bang && delimiter {
        if let Some(last) = path.last_mut() {
            last.push('!');
        }
        j += 1;
    }
    *i = j;
    Some((line, path))
}

/// The leaves of the `use` tree at `tokens[*i]`, each as (line, path, the name it brings
/// into scope), moving `i` past the tree.
fn use_tree(
    tokens: &[(usize, Token)],
    i: &mut usize,
    prefix: Vec<String>,
    leaves: &mut Vec<(usize, Vec<String>, Option<String>)>,
) {
    if tokens.get(*i).map(|t| &t.1) == Some(&Token::Separator) {
        *i += 1;
    }
    match tokens.get(*i) {
        Some((_, Token::Punct('{'))) => {
            *i += 1;
            while let Some((_, token)) = tokens.get(*i) {
                match token {
                    Token::Punct('}') => {
                        *i += 1;
                        break;
                    }
                    Token::Punct(',') => *i += 1,
                    _ => {
                        let before = *i;
                        use_tree(tokens, i, prefix.clone(), leaves);
                        *i = (*i).max(before + 1);
                    }
                }
            }
        }
        Some((line, Token::Punct('*'))) => {
            leaves.push((*line, [prefix, vec!["*".into()]].concat(), None));
            *i += 1;
        }
        Some((line, Token::Ident(name))) => {
            *i += 1;
            let path = if name == "self" && !prefix.is_empty() {
                prefix
            } else {
                [prefix, vec![name.clone()]].concat()
            };
            if tokens.get(*i).map(|t| &t.1) == Some(&Token::Separator) {
                use_tree(tokens, i, path, leaves);
                return;
            }
            let mut alias = path.last().cloned();
            if tokens.get(*i).map(|t| &t.1) == Some(&Token::Ident("as".into())) {
                if let Some((_, Token::Ident(name))) = tokens.get(*i + 1) {
                    alias = (name != "_").then(|| name.clone());
                }
                *i += 2;
            }
            leaves.push((*line, path, alias));
        }
        _ => {}
    }
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
            if let Some(word) = words.iter().find(|w| names(&line, w)) {
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
                if let Some(word) = banned.iter().find(|w| names(&line, w)) {
                    offenders.push(format!("src/{}:{n}: uses {word}", path.display()));
                }
            }
        }
    }
    assert_none("a layer reaches up", offenders);
}

#[test]
fn the_drift_engine_and_the_converters_do_no_io() {
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
    // JSON shapes are `wire`'s: serde appears here only as inference's input, a sample
    // record (`serde_json::Value`, `serde_json::Map`).
    let serde = |line: &str| {
        let rest = [
            "serde_json::{Map, Value}",
            "serde_json::Value",
            "serde_json::Map",
        ]
        .iter()
        .fold(line.to_owned(), |rest, allowed| rest.replace(allowed, ""))
        .to_lowercase();
        rest.contains("serde") || rest.contains("serialize")
    };
    let mut offenders = Vec::new();
    for (path, text) in sources() {
        // The schema converters (SPEC 6.1) are pure too; they parse JSON documents with
        // serde_json, so only the drift engine is held to no serde.
        let drift = under(&path, "drift");
        if !drift && !under(&path, "schemas") {
            continue;
        }
        for (n, line) in production_lines(&path, &text) {
            if let Some(word) = banned.iter().find(|w| names(&line, w)) {
                offenders.push(format!("src/{}:{n}: {word}", path.display()));
            } else if drift && serde(&line) {
                offenders.push(format!("src/{}:{n}: serde", path.display()));
            }
        }
    }
    assert_none(
        "I/O, time, randomness in the drift engine or the schema converters, or serde in the drift engine",
        offenders,
    );
}

#[test]
fn store_modules_have_no_import_cycle() {
    // Every file under src/store, `mod.rs` included: a directory module (`x/mod.rs` and
    // the files under it) is one node of its parent's graph, and a name imported through
    // a parent's `use` (`super::DueEntry`, which `store/mod.rs` takes from `queue`) is an
    // edge to the module that has it.
    let files: Vec<(Vec<String>, Code)> = sources()
        .into_iter()
        .filter(|(path, _)| under(path, "store") && !test_only(path))
        .map(|(path, text)| (module_path(&path), read_code(&path, &text)))
        .collect();
    let imports: BTreeMap<&[String], &BTreeMap<String, Vec<String>>> = files
        .iter()
        .map(|(module, code)| (module.as_slice(), &code.imports))
        .collect();
    // `crate::store::DueEntry` → `crate::store::queue::DueEntry`, as far as `use` items go.
    let through_imports = |mut path: Vec<String>| -> Vec<String> {
        for _ in 0..8 {
            let found = (1..path.len()).rev().find_map(|len| {
                let imported = imports.get(&path[1..len])?.get(&path[len])?;
                Some([imported.as_slice(), &path[len + 1..]].concat())
            });
            match found {
                Some(next) if next != path => path = next,
                _ => break,
            }
        }
        path
    };
    let modules: BTreeSet<&[String]> = files.iter().map(|(m, _)| m.as_slice()).collect();
    let mut graphs = 0;
    for parent in modules.iter().filter(|m| !m.is_empty()) {
        let children: BTreeSet<&String> = modules
            .iter()
            .filter(|m| m.len() == parent.len() + 1 && m.starts_with(parent))
            .map(|m| &m[parent.len()])
            .collect();
        let mut graph: BTreeMap<&String, BTreeSet<String>> =
            children.iter().map(|c| (*c, BTreeSet::new())).collect();
        for (module, code) in &files {
            if module.len() <= parent.len() || !module.starts_with(parent) {
                continue;
            }
            let from = &module[parent.len()];
            for (_, path) in &code.paths {
                let path = through_imports(path.clone());
                let inside = path.first().is_some_and(|c| c == "crate")
                    && path.len() > parent.len() + 1
                    && path[1..].starts_with(parent);
                if !inside {
                    continue;
                }
                let to = &path[parent.len() + 1];
                if to != from && children.contains(to) {
                    graph.entry(from).or_default().insert(to.clone());
                }
            }
        }
        if parent.join("/") == "store" {
            graphs += 1;
            assert!(
                graph.len() >= 6,
                "found the store's modules: {:?}",
                graph.keys()
            );
        }
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
                panic!(
                    "import cycle in src/{}: {cycle}\n{graph:#?}",
                    parent.join("/")
                );
            }
        }
    }
    assert_eq!(graphs, 1, "read src/store/mod.rs");
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

/// Every served file of `console/` is compiled in (`http::console::FILES`), and nothing
/// else: a new module cannot be left out of the binary, nor a deleted one linger.
#[test]
fn the_console_files_are_all_embedded() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("console/")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name != "README.md")
        .collect();
    let embedded: BTreeSet<String> = driftguard::http::console::FILES
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    assert_eq!(on_disk, embedded);
}

// ---------------------------------------------------------------------------------------
// The reader itself
// ---------------------------------------------------------------------------------------

#[test]
fn the_reader_is_not_fooled_where_a_text_search_was() {
    const TRICKS: &str = r##"
//! A store module that tries the ways past a substring search.
use crate::{
    model::Contract,
    http::error::ApiError,
};
use super::super::webhooks;
const TEXT: &str = "#[cfg(test)] mod tests { crate::wire }";
#[cfg(test)]
mod tests {
    use crate::daemon::Daemon;
}
fn after_the_tests(operand: u8) -> u8 { // tokio
    let _ = r#"crate::store"#;
    std::println!("{operand}");
    operand
}
#[cfg(test)]
fn helper() { crate::daemon::x() }
"##;
    let lines = production_lines(Path::new("store/planted.rs"), TRICKS);
    let line_of = |text: &str| TRICKS.lines().position(|l| l.contains(text)).map(|i| i + 1);
    for (word, at) in [
        ("crate::model", "model::Contract"),
        ("crate::http", "http::error"),
        ("crate::webhooks", "super::super::webhooks"),
        ("println!", "std::println!"),
    ] {
        let found: Vec<usize> = lines
            .iter()
            .filter(|(_, line)| names(line, word))
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(
            found,
            line_of(at).into_iter().collect::<Vec<_>>(),
            "{word}: {lines:#?}"
        );
    }
    for word in [
        "crate::wire",
        "crate::daemon",
        "crate::store",
        "tokio",
        "rand",
    ] {
        let found: Vec<_> = lines.iter().filter(|(_, line)| names(line, word)).collect();
        assert!(
            found.is_empty(),
            "{word} found where the code does not name it: {found:?}"
        );
    }
}

#[test]
fn the_reader_keeps_every_bracket_of_every_file() {
    // Comments and literals blanked, each file's brackets still pair up: a literal the
    // reader misread would hide the code after it.
    let mut offenders = Vec::new();
    for (path, text) in sources() {
        let code = blank_comments_and_literals(&text);
        for (open, close) in [('(', ')'), ('[', ']'), ('{', '}')] {
            let opened = code.iter().filter(|c| **c == open).count();
            let closed = code.iter().filter(|c| **c == close).count();
            if opened != closed {
                offenders.push(format!(
                    "src/{}: {opened} {open} but {closed} {close}",
                    path.display()
                ));
            }
        }
    }
    assert_none(
        "brackets that do not pair up once literals are blanked",
        offenders,
    );
}
