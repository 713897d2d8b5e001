//! `"format": "pagerduty"`: a PagerDuty Events API v2 event (`POST
//! https://events.pagerduty.com/v2/enqueue`), keyed by the webhook's `routing_key`.
//!
//! A breaking or warning check `trigger`s an alert whose `dedup_key` is the contract id
//! (severity `critical` or `warning`), so every drift of one contract lands in one
//! incident; a pass check is only ever queued to a PagerDuty webhook as the `resolve` of
//! the incident DriftGuard opened (the store decides that: `store::queue::what_to_send`),
//! so a pass renders as `resolve`. A test delivery triggers an `info` alert of its own.
//!
//! PagerDuty's rules shape it: `summary` at most 1,024 characters, `dedup_key` at most
//! 255, the whole event under 512 KB — here each kind of change lists at most
//! [`MAX_LISTED`] names and [`MAX_DETAIL_BYTES`] bytes, so an event stays under 100 KB
//! whatever the diff.

use serde_json::{json, Map, Value};

use super::text::{self, cut};
use super::{Event, Format};
use crate::drift::Verdict;
use crate::model::{Check, Webhook};

/// A PagerDuty event.
pub struct PagerDuty;

impl Format for PagerDuty {
    const CONTENT_TYPE: &'static str = "application/json";

    fn render(webhook: &Webhook, event: &Event<'_>) -> serde_json::Result<Vec<u8>> {
        // The store requires a key of every pagerduty webhook; an empty one would be
        // refused by PagerDuty, a failed attempt, never a panic here.
        let routing_key = webhook.routing_key.as_deref().unwrap_or_default();
        let event = match *event {
            Event::Check {
                check,
                contract_name,
            } => check_event(routing_key, check, contract_name),
            Event::Ping {
                webhook_id,
                created_at,
            } => json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": format!("driftguard-test-{webhook_id}"),
                "client": CLIENT,
                "payload": {
                    "summary": format!("DriftGuard test event for webhook {webhook_id}: resolve it in PagerDuty"),
                    "source": SOURCE,
                    "severity": "info",
                    "timestamp": created_at.rfc3339(),
                    "class": "test",
                },
            }),
        };
        serde_json::to_vec(&event)
    }
}

/// Most characters of `payload.summary` (PagerDuty allows 1,024).
pub const MAX_SUMMARY_CHARS: usize = 1_024;
/// Most column names listed per kind of change in `custom_details`.
pub const MAX_LISTED: usize = 100;
/// Most bytes of one kind's list in `custom_details`.
pub const MAX_DETAIL_BYTES: usize = 16_000;
/// `payload.source`: what raised the alert.
const SOURCE: &str = "driftguard";
/// The `client` PagerDuty shows beside the alert.
const CLIENT: &str = "DriftGuard";

/// The event for a check: a `trigger` for drift, a `resolve` for a pass.
fn check_event(routing_key: &str, check: &Check, contract_name: Option<&str>) -> Value {
    let dedup_key = check.contract_id.to_string();
    let severity = match check.verdict {
        Verdict::Pass => {
            return json!({
                "routing_key": routing_key,
                "event_action": "resolve",
                "dedup_key": dedup_key,
            })
        }
        Verdict::Warning => "warning",
        Verdict::Breaking => "critical",
    };
    let mut details = Map::new();
    details.insert("check_id".into(), check.id.to_string().into());
    details.insert("contract_id".into(), dedup_key.clone().into());
    if let Some(name) = contract_name {
        details.insert("contract_name".into(), cut(name, text::MAX_NAME).into());
    }
    details.insert("contract_version".into(), check.contract_version.into());
    details.insert("result".into(), check.verdict.as_str().into());
    details.insert("severity".into(), check.severity.into());
    for (what, names) in text::changes(check) {
        let listed = text::fit(
            &names,
            MAX_LISTED,
            MAX_DETAIL_BYTES,
            str::to_owned,
            str::len,
        );
        details.insert(text::title(what, names.len()), listed.into());
    }
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "client": CLIENT,
        "payload": {
            "summary": cut(&text::summary(check, contract_name), MAX_SUMMARY_CHARS),
            "source": SOURCE,
            "severity": severity,
            "timestamp": check.created_at.rfc3339(),
            "component": contract_name.map_or_else(|| check.contract_id.to_string(), |n| cut(n, text::MAX_NAME)),
            "class": "schema drift",
            "custom_details": details,
        },
    })
}
