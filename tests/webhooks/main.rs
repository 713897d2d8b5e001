//! Webhook delivery end to end: the in-process daemon (and, for the crash test, the real
//! binary) delivers to a real local HTTPS receiver (`tests/common/receiver.rs`) whose
//! certificate is signed by a test CA made per test and trusted through
//! `webhooks.ca_file`. One test binary; one module per topic:
//!
//! - `signatures`: the exact check body, both signatures, headers, history, secret rotation.
//! - `scoping`: who gets what (events, contracts, paused and deleted webhooks), metrics.
//! - `retries`: the configured delays, `410 Gone`, `Retry-After`.
//! - `failures`: attempts that get no HTTP answer, and what the tenant sees of them.
//! - `lifecycle`: deleting a webhook, a graceful restart, retention.
//! - `fairness`: one slow or backlogged webhook never delays another.
//! - `crash`: SIGKILL of the real binary with deliveries pending.
//! - `formats`, `steering`, `disabling` (SPEC 5.3, 6.4): Slack, Teams and Discord
//!   messages; `PATCH`, test deliveries, `retry`, `recover`; automatic disabling.
//! - `guard`: the target guard against loopback names.
//! - `pagerduty`, `filters` (SPEC 6.4): incidents triggered and resolved by contract;
//!   which checks a filter lets through.
//!
//! Shared helpers: `tests/common` (server and process harness, receiver and CA) and
//! `support` (checks, webhooks, deliveries, signature verification).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "test code: a failed step fails the test"
)]

#[path = "../common/mod.rs"]
mod common;
mod support;

mod crash;
mod disabling;
mod failures;
mod fairness;
mod filters;
mod formats;
mod guard;
mod lifecycle;
mod pagerduty;
mod retries;
mod scoping;
mod signatures;
mod steering;
