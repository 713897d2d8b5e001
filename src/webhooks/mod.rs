//! Webhook delivery: signed HTTPS POSTs of check results from the persisted queue in
//! `store::queue`.
//!
//! - [`dispatcher`]: the delivery loop and the life of one attempt (due → claim → render →
//!   sign → send → record → re-key or finish), one pipeline for queued and test deliveries.
//!   Test deliveries (`POST /webhooks/{id}/test`) go through its [`DeliveryHandle`].
//! - [`schedule`]: what is in flight, each webhook's share, claiming, and the retry
//!   policy.
//! - [`format`](mod@format): the body of a delivery, one file per webhook `format`.
//! - [`client`]: the HTTPS client (system roots + `webhooks.ca_file`) over a connector
//!   that reaches only addresses the [`guard`] allows.
//! - [`guard`]: `webhooks.deny_targets` / `webhooks.allow_targets`.
//! - [`signature`]: the DriftGuard and Standard Webhooks signatures.

pub mod client;
pub mod dispatcher;
pub mod format;
pub mod guard;
pub mod schedule;
pub mod signature;

pub use dispatcher::{DeliveryHandle, DeliverySettings, Dispatcher, TestError, Transport};
