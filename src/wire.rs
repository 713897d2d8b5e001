//! The JSON shapes of the API ("views"), built from the domain records. The same function
//! renders a record wherever it appears, so `POST /check`, `GET /checks/{id}` and the
//! webhook payload are the same bytes.
//!
//! This module sits below both `http` (which answers with views) and `webhooks` (which
//! sends them); it knows neither. The shapes of the drift engine's types — columns, rules,
//! a diff, a version's changes — are in `wire/schema.rs`, both ways: parsed from requests
//! (`…Doc`) and rendered in answers (`…View`).

use serde::Serialize;
use serde_json::{json, Value};

use crate::clock::UnixMs;
use crate::credentials::Environment;
use crate::drift::{Column, Rules, Verdict, VersionChanges};
use crate::ids::{CheckId, ContractId, DeliveryId, KeyId, WebhookId};
use crate::model::{
    Account, ApiKey, Attempt, AttemptOutcome, Check, Contract, Delivery, VersionEntry, Webhook,
    WebhookFormat,
};

mod schema;

pub use schema::{
    columns_view, incoming_columns_view, verdicts_view, ChangeKindView, ColumnDoc, ColumnTypeDoc,
    ColumnView, ColumnsView, DiffView, IncomingColumnDoc, IncomingColumnView, IncomingColumnsView,
    ListView, NameChangeView, RenameView, RequiredChangeView, RulesDoc, SeverityOverrideDoc,
    TypeChangeView, VerdictDoc, VerdictsView, VersionChangesView,
};

/// A contract.
#[derive(Serialize)]
pub struct ContractView<'a> {
    id: ContractId,
    name: &'a str,
    version: u32,
    schema: SchemaView<'a>,
    created_at: String,
    updated_at: String,
}

/// `{"columns": [...], "rules": {...}}`, as in requests. Default rules are left out, so
/// a contract without rules reads exactly as in v1.
#[derive(Serialize)]
pub struct SchemaView<'a> {
    columns: ColumnsView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<RulesDoc>,
}

impl<'a> SchemaView<'a> {
    fn new(columns: &'a [Column], rules: &'a Rules) -> Self {
        SchemaView {
            columns: columns_view(columns),
            rules: (!rules.is_default()).then(|| RulesDoc::from(*rules)),
        }
    }
}

impl<'a> ContractView<'a> {
    /// Renders a contract.
    pub fn new(c: &'a Contract) -> Self {
        ContractView {
            id: c.id,
            name: &c.name,
            version: c.version,
            schema: SchemaView::new(&c.columns, &c.rules),
            created_at: c.created_at.rfc3339(),
            updated_at: c.updated_at.rfc3339(),
        }
    }
}

/// The answer to a dry-run update: the contract it would become, and what would change
/// (`null` when nothing would: no new version).
#[derive(Serialize)]
pub struct DryRunView<'a> {
    #[serde(flatten)]
    contract: ContractView<'a>,
    changes: Option<VersionChangesView<'a>>,
}

impl<'a> DryRunView<'a> {
    /// Renders what an update would make of a contract.
    pub fn new(contract: &'a Contract, changes: Option<&'a VersionChanges>) -> Self {
        DryRunView {
            contract: ContractView::new(contract),
            changes: changes.map(VersionChangesView::new),
        }
    }
}

/// One version of a contract, with what changed from the version before (`null` for
/// version 1).
#[derive(Serialize)]
pub struct VersionView<'a> {
    version: u32,
    name: &'a str,
    schema: SchemaView<'a>,
    created_at: String,
    changes: Option<VersionChangesView<'a>>,
}

impl<'a> VersionView<'a> {
    /// Renders a version of a contract.
    pub fn new(entry: &'a VersionEntry) -> Self {
        let v = &entry.version;
        VersionView {
            version: v.version,
            name: &v.name,
            schema: SchemaView::new(&v.columns, &v.rules),
            created_at: v.created_at.rfc3339(),
            changes: entry.changes.as_ref().map(VersionChangesView::new),
        }
    }
}

/// `{"id", "deleted": true, "deleted_webhooks": [...]}`: a contract and the webhooks
/// scoped to it.
#[derive(Serialize)]
pub struct ContractDeletedView<'a> {
    id: ContractId,
    deleted: bool,
    deleted_webhooks: &'a [WebhookId],
}

impl<'a> ContractDeletedView<'a> {
    /// Renders a contract's deletion.
    pub fn new(id: ContractId, deleted_webhooks: &'a [WebhookId]) -> Self {
        ContractDeletedView {
            id,
            deleted: true,
            deleted_webhooks,
        }
    }
}

/// The result of `POST /contracts/infer` (and what `driftguard infer` prints).
#[derive(Serialize)]
pub struct InferredView<'a> {
    /// Ready to paste into a contract's `schema`.
    columns: ColumnsView<'a>,
}

impl<'a> InferredView<'a> {
    /// Renders inferred columns.
    pub fn new(columns: &'a [Column]) -> Self {
        InferredView {
            columns: columns_view(columns),
        }
    }
}

/// A check result (also the webhook payload).
#[derive(Serialize)]
pub struct CheckView<'a> {
    id: CheckId,
    contract_id: ContractId,
    contract_version: u32,
    result: VerdictDoc,
    severity: u8,
    diff: DiffView<'a>,
    credits_used: u8,
    created_at: String,
}

impl<'a> CheckView<'a> {
    /// Renders a check.
    pub fn new(c: &'a Check) -> Self {
        CheckView {
            id: c.id,
            contract_id: c.contract_id,
            contract_version: c.contract_version,
            result: c.verdict.into(),
            severity: c.severity,
            diff: DiffView::new(&c.diff),
            credits_used: c.credits_used,
            created_at: c.created_at.rfc3339(),
        }
    }
}

/// `GET /usage`.
#[derive(Serialize)]
pub struct UsageView {
    credits_remaining: u64,
    credits_used: u64,
    total_checks: u64,
}

impl UsageView {
    /// Renders an account's counters.
    pub fn new(a: &Account) -> Self {
        UsageView {
            credits_remaining: a.credits_remaining,
            credits_used: a.credits_used,
            total_checks: a.total_checks,
        }
    }
}

/// A key in `GET /keys`.
#[derive(Serialize)]
pub struct KeyView<'a> {
    id: KeyId,
    key_preview: &'a str,
    environment: Environment,
    is_active: bool,
    created_at: String,
    last_used_at: Option<String>,
}

impl<'a> KeyView<'a> {
    /// Renders a key; `last_used_at` comes from the auth layer (it may be fresher).
    pub fn new(k: &'a ApiKey, last_used_at: Option<UnixMs>) -> Self {
        KeyView {
            id: k.id,
            key_preview: &k.preview,
            environment: k.environment,
            is_active: k.active,
            created_at: k.created_at.rfc3339(),
            last_used_at: last_used_at.map(UnixMs::rfc3339),
        }
    }
}

/// A key just created: the only time the full key is shown.
#[derive(Serialize)]
pub struct NewKeyView<'a> {
    id: KeyId,
    key: &'a str,
    key_preview: &'a str,
    environment: Environment,
    is_active: bool,
    created_at: String,
}

impl<'a> NewKeyView<'a> {
    /// Renders a new key with its full text.
    pub fn new(k: &'a ApiKey, key: &'a str) -> Self {
        NewKeyView {
            id: k.id,
            key,
            key_preview: &k.preview,
            environment: k.environment,
            is_active: k.active,
            created_at: k.created_at.rfc3339(),
        }
    }
}

/// The answer to revoke/activate.
#[derive(Serialize)]
pub struct KeyStateView<'a> {
    id: KeyId,
    is_active: bool,
    environment: Environment,
    key_preview: &'a str,
}

impl<'a> KeyStateView<'a> {
    /// Renders a key's new state.
    pub fn new(k: &'a ApiKey) -> Self {
        KeyStateView {
            id: k.id,
            is_active: k.active,
            environment: k.environment,
            key_preview: &k.preview,
        }
    }
}

/// `{"id", "deleted": true}`.
#[derive(Serialize)]
pub struct DeletedView<Id: Serialize> {
    id: Id,
    deleted: bool,
}

impl<Id: Serialize> DeletedView<Id> {
    /// Renders a deletion.
    pub fn new(id: Id) -> Self {
        DeletedView { id, deleted: true }
    }
}

/// A webhook, never with its secret…
#[derive(Serialize)]
pub struct WebhookView<'a> {
    id: WebhookId,
    url: &'a str,
    events: VerdictsView<'a>,
    contract_id: Option<ContractId>,
    active: bool,
    /// …except in the answer to its creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
    created_at: String,
    format: &'static str,
    /// `gone`, `failing` or `paused` while inactive.
    disabled_reason: Option<&'static str>,
    consecutive_failures: u32,
}

impl<'a> WebhookView<'a> {
    /// Renders a webhook without its secret.
    pub fn new(w: &'a Webhook) -> Self {
        WebhookView {
            id: w.id,
            url: &w.url,
            events: verdicts_view(&w.events),
            contract_id: w.contract_id,
            active: w.active,
            secret: None,
            created_at: w.created_at.rfc3339(),
            format: w.format.as_str(),
            disabled_reason: w.disabled_reason.map(|r| r.as_str()),
            consecutive_failures: w.consecutive_failures,
        }
    }

    /// Renders a just-created webhook, with its secret.
    pub fn with_secret(w: &'a Webhook) -> Self {
        WebhookView {
            secret: Some(&w.secret),
            ..WebhookView::new(w)
        }
    }
}

/// The answer to `POST /webhooks/{id}/rotate-secret`: the only time the new secret is
/// shown.
#[derive(Serialize)]
pub struct RotatedSecretView<'a> {
    id: WebhookId,
    secret: &'a str,
    previous_secret_expires_at: Option<String>,
}

impl<'a> RotatedSecretView<'a> {
    /// Renders a rotation.
    pub fn new(w: &'a Webhook) -> Self {
        RotatedSecretView {
            id: w.id,
            secret: &w.secret,
            previous_secret_expires_at: w.previous_secret.as_ref().map(|p| p.expires_at.rfc3339()),
        }
    }
}

/// The answer to `POST /webhooks/{id}/recover`.
#[derive(Serialize)]
pub struct RequeuedView {
    /// Deliveries queued again.
    pub requeued: usize,
}

/// A delivery in `GET /webhooks/{id}/deliveries`.
#[derive(Serialize)]
pub struct DeliveryView {
    id: DeliveryId,
    webhook_id: WebhookId,
    /// `null` for a test delivery.
    check_id: Option<CheckId>,
    status: &'static str,
    next_attempt_at: Option<String>,
    attempts: Vec<AttemptView>,
    created_at: String,
}

/// One attempt of a delivery.
#[derive(Serialize)]
pub struct AttemptView {
    number: u32,
    at: String,
    /// The HTTP status, when the receiver answered.
    status_code: Option<u16>,
    /// What went wrong, when it did not.
    error: Option<String>,
    duration_ms: u64,
}

impl DeliveryView {
    /// Renders a delivery with its attempts.
    pub fn new(d: &Delivery) -> Self {
        DeliveryView {
            id: d.id,
            webhook_id: d.webhook_id,
            check_id: d.check_id,
            status: d.status.as_str(),
            next_attempt_at: d.next_attempt_at.map(UnixMs::rfc3339),
            attempts: d.attempts.iter().map(AttemptView::new).collect(),
            created_at: d.created_at.rfc3339(),
        }
    }
}

impl AttemptView {
    fn new(a: &Attempt) -> Self {
        let (status_code, error) = match &a.outcome {
            AttemptOutcome::Status(code) => (Some(*code), None),
            AttemptOutcome::Error(e) => (None, Some(e.clone())),
        };
        AttemptView {
            number: a.number,
            at: a.at.rfc3339(),
            status_code,
            error,
            duration_ms: a.duration_ms,
        }
    }
}

// ---- delivery bodies ----

/// The body of a check's delivery in the webhook's format: the check document (the very
/// bytes the check endpoint answered) or a Slack message. `contract_name` is the check's
/// contract's name, for the formats that show it.
pub fn check_payload(
    format: WebhookFormat,
    check: &Check,
    contract_name: Option<&str>,
) -> serde_json::Result<Vec<u8>> {
    match format {
        WebhookFormat::Json => serde_json::to_vec(&CheckView::new(check)),
        WebhookFormat::Slack => serde_json::to_vec(&slack::check_message(check, contract_name)),
    }
}

/// The body of a test delivery in the webhook's format: for json,
/// `{"type": "ping", "webhook_id", "created_at"}`.
pub fn ping_payload(
    format: WebhookFormat,
    webhook_id: WebhookId,
    created_at: UnixMs,
) -> serde_json::Result<Vec<u8>> {
    match format {
        WebhookFormat::Json => serde_json::to_vec(&json!({
            "type": "ping",
            "webhook_id": webhook_id,
            "created_at": created_at.rfc3339(),
        })),
        WebhookFormat::Slack => serde_json::to_vec(&slack::ping_message(webhook_id)),
    }
}

/// Slack messages (also accepted by Mattermost and Rocket.Chat incoming webhooks): a
/// one-line `text` — what notifications and clients without Block Kit show, and what
/// those receivers require (`400 no_text` without it) — and Block Kit `blocks`.
///
/// Slack's limits shape them: at most 50 blocks (these have at most 6), a header's text
/// at most 150 characters, a section's text at most 3000. Column lists are cut with
/// "…and N more" to stay well inside them whatever the diff.
pub mod slack {
    use super::*;

    /// Most column names listed per kind of change in the blocks.
    pub const MAX_LISTED: usize = 20;
    /// Most characters of one section's text (Slack allows 3000).
    pub const MAX_SECTION_CHARS: usize = 2900;
    /// Most column names per kind of change in the one-line `text`.
    const MAX_IN_TEXT: usize = 5;
    /// Most characters of a header's text (Slack allows 150).
    const MAX_HEADER_CHARS: usize = 150;

    /// The message for a check result.
    pub fn check_message(check: &Check, contract_name: Option<&str>) -> Value {
        let result = verdict_name(check.verdict);
        let contract = match contract_name {
            Some(name) => format!("{name} ({})", check.contract_id),
            None => check.contract_id.to_string(),
        };
        let diff = &check.diff;
        let changed_types: Vec<String> = diff
            .type_changes
            .iter()
            .map(|t| format!("{} ({} → {})", t.column, t.from.as_str(), t.to.as_str()))
            .collect();
        let lists: [(&str, &[String]); 3] = [
            ("removed", &diff.removed),
            ("type changed", &changed_types),
            ("added", &diff.added),
        ];
        let mut text = format!(
            "DriftGuard: {result} (severity {}) for contract {contract}",
            check.severity
        );
        let changes: Vec<String> = lists
            .iter()
            .filter(|(_, names)| !names.is_empty())
            .map(|(what, names)| format!("{what}: {}", inline_list(names)))
            .collect();
        if changes.is_empty() {
            text.push_str(": no changed columns");
        } else {
            text.push_str(" — ");
            text.push_str(&changes.join("; "));
        }
        let headline = match check.verdict {
            Verdict::Pass => "No schema drift".to_owned(),
            other => format!("Schema drift: {}", verdict_name(other)),
        };
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": cut(&format!("{headline} on {}", contract_name.unwrap_or("a contract")), MAX_HEADER_CHARS)}}),
            json!({"type": "section", "fields": [
                {"type": "mrkdwn", "text": format!("*Result*\n{result}, severity {}/100", check.severity)},
                {"type": "mrkdwn", "text": cut(&format!("*Contract*\n{}`{}`", contract_name.map(|n| format!("{} ", escape(n))).unwrap_or_default(), check.contract_id), 2000)},
            ]}),
        ];
        for (what, names) in lists {
            if !names.is_empty() {
                blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": column_list(what, names)}}));
            }
        }
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Check `{}` · {}", check.id, check.created_at.rfc3339())}]}));
        json!({"text": text, "blocks": blocks})
    }

    /// The message of a test delivery.
    pub fn ping_message(webhook_id: WebhookId) -> Value {
        let text = format!("DriftGuard test delivery for webhook {webhook_id}: this channel receives its check results.");
        json!({
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": format!("*DriftGuard test delivery* for webhook `{webhook_id}`: this channel receives its check results.")}}],
        })
    }

    fn verdict_name(verdict: Verdict) -> &'static str {
        match verdict {
            Verdict::Pass => "pass",
            Verdict::Warning => "warning",
            Verdict::Breaking => "breaking",
        }
    }

    /// `a, b, c and 4 more` (names cut to a readable length).
    fn inline_list(names: &[String]) -> String {
        let shown: Vec<String> = names.iter().take(MAX_IN_TEXT).map(|n| cut(n, 64)).collect();
        let mut list = shown.join(", ");
        if names.len() > shown.len() {
            list.push_str(&format!(" and {} more", names.len() - shown.len()));
        }
        list
    }

    /// A section's text: a title and one bullet per column, cut with "…and N more" at
    /// [`MAX_LISTED`] names or [`MAX_SECTION_CHARS`] characters.
    fn column_list(what: &str, names: &[String]) -> String {
        let mut title = what.to_owned();
        if let Some(first) = title.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        let mut text = format!("*{title} ({})*", names.len());
        // Room for the longest "and N more" line.
        let budget = MAX_SECTION_CHARS - 32;
        let mut listed = 0;
        for name in names.iter().take(MAX_LISTED) {
            let line = format!("\n• `{}`", escape(&cut(name, 256)));
            if text.chars().count() + line.chars().count() > budget {
                break;
            }
            text.push_str(&line);
            listed += 1;
        }
        if names.len() > listed {
            text.push_str(&format!("\n…and {} more", names.len() - listed));
        }
        text
    }

    /// Slack's mrkdwn escapes: `&`, `<` and `>` (they start entities and links).
    fn escape(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }

    /// At most `max` characters, with `…` if cut.
    fn cut(text: &str, max: usize) -> String {
        if text.chars().count() <= max {
            return text.to_owned();
        }
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::{ColumnType, Diff, TypeChange};

    fn check(removed: usize, retyped: usize, added: usize, name_len: usize) -> Check {
        let name = |kind: &str, i: usize| format!("{kind}_{i}_{}", "x".repeat(name_len));
        Check {
            id: CheckId::from_raw(1 << 100),
            contract_id: ContractId::from_raw(2 << 100),
            contract_version: 1,
            verdict: Verdict::Breaking,
            severity: 100,
            diff: Diff {
                removed: (0..removed).map(|i| name("gone", i)).collect(),
                type_changes: (0..retyped)
                    .map(|i| {
                        TypeChange::new(name("typed", i), ColumnType::Integer, ColumnType::String)
                    })
                    .collect(),
                added: (0..added).map(|i| name("new", i)).collect(),
                renames: Vec::new(),
                ignored: Vec::new(),
            },
            credits_used: 1,
            created_at: UnixMs(1_772_392_920_000),
        }
    }

    fn message(check: &Check) -> Value {
        let bytes = check_payload(WebhookFormat::Slack, check, Some("users")).expect("render");
        serde_json::from_slice(&bytes).expect("JSON")
    }

    #[test]
    fn a_slack_message_has_text_and_blocks_with_every_change() {
        let m = message(&check(1, 1, 1, 0));
        let text = m["text"].as_str().expect("text");
        assert!(!text.contains('\n'), "one line: {text}");
        for part in [
            "breaking",
            "severity 100",
            "users",
            "ctr_",
            "gone_0_",
            "typed_0_",
            "integer → string",
            "new_0_",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        let blocks = m["blocks"].as_array().expect("blocks");
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks.len(), 6, "{m:#}");
        let all = m.to_string();
        assert!(
            all.contains("*Removed (1)*")
                && all.contains("*Type changed (1)*")
                && all.contains("*Added (1)*"),
            "{all}"
        );
    }

    #[test]
    fn huge_diffs_stay_under_slacks_limits() {
        for (n, len) in [(25, 0), (5000, 250), (12, 250)] {
            let m = message(&check(n, n, n, len));
            let blocks = m["blocks"].as_array().expect("blocks");
            assert!(blocks.len() <= 50);
            for block in blocks {
                if let Some(text) = block["text"]["text"].as_str() {
                    assert!(text.chars().count() <= 3000, "{}", text.len());
                }
                if block["type"] == "header" {
                    assert!(
                        block["text"]["text"]
                            .as_str()
                            .expect("text")
                            .chars()
                            .count()
                            <= 150
                    );
                }
            }
            let all = m.to_string();
            assert!(all.contains("more"), "lists are cut: {n} × {len}");
            assert!(m["text"].as_str().expect("text").chars().count() < 3000);
        }
        // The cut says how many are left out.
        let m = message(&check(25, 0, 0, 0));
        assert!(m.to_string().contains("…and 5 more"), "{m:#}");
    }

    #[test]
    fn a_pass_has_a_text_too_and_names_are_escaped() {
        let mut c = check(0, 0, 0, 0);
        c.verdict = Verdict::Pass;
        c.severity = 0;
        let bytes = check_payload(WebhookFormat::Slack, &c, Some("<b>&co")).expect("render");
        let m: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert!(m["text"].as_str().expect("text").contains("pass"));
        assert!(m.to_string().contains("&lt;b&gt;&amp;co"), "{m}");
        let ping: Value = serde_json::from_slice(
            &ping_payload(WebhookFormat::Slack, WebhookId::from_raw(3), UnixMs(0)).expect("render"),
        )
        .expect("JSON");
        assert!(!ping["text"].as_str().expect("text").is_empty());
        assert!(ping["blocks"].is_array());
    }
}
