//! `"format": "json"`: a check's delivery is the check document, the very bytes the check
//! endpoint answers (`wire::CheckView`); a test delivery is
//! `{"type": "ping", "webhook_id", "created_at"}`.

use serde_json::json;

use super::{Event, Format};
use crate::model::Webhook;
use crate::wire::CheckView;

/// The check document.
pub struct Json;

impl Format for Json {
    const CONTENT_TYPE: &'static str = "application/json";

    fn render(_webhook: &Webhook, event: &Event<'_>) -> serde_json::Result<Vec<u8>> {
        match *event {
            Event::Check { check, .. } => serde_json::to_vec(&CheckView::new(check)),
            Event::Ping {
                webhook_id,
                created_at,
            } => serde_json::to_vec(&json!({
                "type": "ping",
                "webhook_id": webhook_id,
                "created_at": created_at.rfc3339(),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::UnixMs;
    use crate::drift::{Diff, Verdict};
    use crate::ids::{CheckId, ContractId, WebhookId};
    use crate::model::Check;

    #[test]
    fn a_check_is_the_check_document_and_a_ping_says_ping() {
        let check = Check {
            id: CheckId::from_raw(1 << 100),
            contract_id: ContractId::from_raw(2 << 100),
            contract_version: 3,
            verdict: Verdict::Warning,
            severity: 40,
            diff: Diff::default(),
            credits_used: 1,
            created_at: UnixMs(1_772_392_920_000),
        };
        let event = Event::Check {
            check: &check,
            contract_name: Some("users"),
        };
        assert_eq!(
            Json::render(
                &crate::webhooks::format::tests::webhook(crate::model::WebhookFormat::Json),
                &event
            )
            .expect("render"),
            serde_json::to_vec(&CheckView::new(&check)).expect("view"),
            "the very bytes the check endpoint answers"
        );
        let ping = Json::render(
            &crate::webhooks::format::tests::webhook(crate::model::WebhookFormat::Json),
            &Event::Ping {
                webhook_id: WebhookId::from_raw(3),
                created_at: UnixMs(0),
            },
        )
        .expect("render");
        let ping: serde_json::Value = serde_json::from_slice(&ping).expect("JSON");
        assert_eq!(ping["type"], "ping");
        assert_eq!(ping["created_at"], "1970-01-01T00:00:00Z");
        assert!(ping["webhook_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("wh_")));
    }
}
