//! The body of a delivery, one file per webhook `format`: [`json`] (the check document),
//! [`slack`] (a Block Kit message), [`teams`] (an Adaptive Card in a workflow message),
//! [`discord`] (an embed) and [`pagerduty`] (an Events API v2 event). Each implements
//! [`Format`]; [`render`] picks the webhook's. A new format is one new file and one arm in [`render`]; what the chat
//! formats say in common is in [`text`].

pub mod discord;
pub mod json;
pub mod pagerduty;
pub mod slack;
pub mod teams;
pub mod text;

#[cfg(test)]
mod tests;

use bytes::Bytes;

use crate::clock::UnixMs;
use crate::ids::WebhookId;
use crate::model::{Check, Webhook, WebhookFormat};

/// What a delivery tells its receiver.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// A check result.
    Check {
        /// The check.
        check: &'a Check,
        /// Its contract's current name, for the formats that show it (`None` if the
        /// contract is gone).
        contract_name: Option<&'a str>,
    },
    /// A test delivery (`POST /webhooks/{id}/test`).
    Ping {
        /// The webhook tested.
        webhook_id: WebhookId,
        /// When the test delivery was created (wall clock).
        created_at: UnixMs,
    },
}

/// One body format: how an [`Event`] reads in the bytes a receiver accepts.
pub trait Format {
    /// The `Content-Type` of its bodies.
    const CONTENT_TYPE: &'static str;

    /// The body for `event`, sent by `webhook` (a format may read a setting of its own
    /// from it, as PagerDuty's reads the routing key).
    fn render(webhook: &Webhook, event: &Event<'_>) -> serde_json::Result<Vec<u8>>;
}

/// A rendered body and its media type.
#[derive(Clone, Debug)]
pub struct Body {
    /// What is sent (and signed).
    pub bytes: Bytes,
    /// Its `Content-Type`.
    pub content_type: &'static str,
}

/// The body of `event` in `webhook`'s format.
pub fn render(webhook: &Webhook, event: &Event<'_>) -> serde_json::Result<Body> {
    match webhook.format {
        WebhookFormat::Json => body::<json::Json>(webhook, event),
        WebhookFormat::Slack => body::<slack::Slack>(webhook, event),
        WebhookFormat::Teams => body::<teams::Teams>(webhook, event),
        WebhookFormat::Discord => body::<discord::Discord>(webhook, event),
        WebhookFormat::PagerDuty => body::<pagerduty::PagerDuty>(webhook, event),
    }
}

/// The body of a chat format (Slack, Teams, Discord): its message for a check, or its
/// message for a ping. Each such format is its two message functions and this.
fn chat_body(
    event: &Event<'_>,
    check_message: impl FnOnce(&Check, Option<&str>) -> serde_json::Value,
    ping_message: impl FnOnce(WebhookId) -> serde_json::Value,
) -> serde_json::Result<Vec<u8>> {
    match *event {
        Event::Check {
            check,
            contract_name,
        } => serde_json::to_vec(&check_message(check, contract_name)),
        Event::Ping { webhook_id, .. } => serde_json::to_vec(&ping_message(webhook_id)),
    }
}

fn body<F: Format>(webhook: &Webhook, event: &Event<'_>) -> serde_json::Result<Body> {
    Ok(Body {
        bytes: Bytes::from(F::render(webhook, event)?),
        content_type: F::CONTENT_TYPE,
    })
}
