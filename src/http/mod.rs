//! The HTTP(S) API: transport in [`server`] and [`tls`], then [`router`] → `handlers` →
//! views from [`crate::wire`], with [`auth`] in front and [`error`] mapping every failure
//! to the spec's JSON error shape.

pub mod auth;
pub mod console;
pub use handlers::{parse_body, Body};
pub mod error;
mod handlers;
mod openapi;
pub mod request;
pub mod response;
pub mod router;
pub mod server;
pub mod tls;

use crate::store::Store;

/// Sizes one tenant may not exceed, so that its records cannot become everyone's cost.
#[derive(Clone, Copy, Debug)]
pub struct TenantLimits {
    /// `limits.max_columns`: per contract and per incoming schema.
    pub max_columns: usize,
    /// `limits.max_webhooks`: per account.
    pub max_webhooks: usize,
    /// `limits.max_versions`: per contract; older ones are pruned.
    pub max_versions: u32,
}

/// What every request handler shares. Held in an `Arc` by every connection.
pub struct AppState {
    /// The store.
    pub store: Store,
    /// Keys, key cache and rate limits.
    pub auth: auth::Auth,
    /// Size and time limits on request bodies.
    pub body_limits: request::BodyLimits,
    /// Per-tenant size limits (`[limits]`).
    pub limits: TenantLimits,
    /// `http` or `https`, for absolute URLs.
    pub scheme: &'static str,
    /// Where `Link` URLs point (`server.public_url`, else the served scheme and `Host`).
    pub links: request::LinkBase,
    /// Request and check counters.
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// Sends test deliveries (`POST /webhooks/{id}/test`).
    pub deliveries: crate::webhooks::DeliveryHandle,
    /// Refuses webhook URLs whose host is a denied literal address.
    pub target_guard: std::sync::Arc<crate::webhooks::guard::TargetGuard>,
    /// Whether `/ui/` serves the web console (`server.console`).
    pub console: bool,
}
