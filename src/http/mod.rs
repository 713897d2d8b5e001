//! The HTTP(S) API: transport in [`server`] and [`tls`], then [`router`] → `handlers` →
//! views from [`crate::wire`], with [`auth`] in front and [`error`] mapping every failure
//! to the spec's JSON error shape.

pub mod auth;
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

/// What every request handler shares. Held in an `Arc` by every connection.
pub struct AppState {
    /// The store.
    pub store: Store,
    /// Keys, key cache and rate limits.
    pub auth: auth::Auth,
    /// Size and time limits on request bodies.
    pub body_limits: request::BodyLimits,
    /// `http` or `https`, for absolute URLs.
    pub scheme: &'static str,
    /// Request and check counters.
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
}
