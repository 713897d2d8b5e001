//! Webhook delivery: signed HTTPS POSTs of check results from the persisted queue in
//! `store::queue`.
//!
//! - [`dispatcher`]: the scheduler and the life of one attempt (due → reserve → sign →
//!   send → record → re-key or finish), and the retry policy.
//! - [`client`]: the HTTPS client (system roots + `webhooks.ca_file`).
//! - [`signature`]: the DriftGuard and Standard Webhooks signatures.

pub mod client;
pub mod dispatcher;
pub mod signature;

pub use dispatcher::{DeliverySettings, Dispatcher, Transport};
