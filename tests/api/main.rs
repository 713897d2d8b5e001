//! Integration tests of every endpoint of SPEC §3 (and the conventions of §1–2 they rely
//! on), against the real daemon over HTTP with a real redb file. Every test starts its own
//! server; nothing sleeps. One test binary; one module per topic:
//!
//! - `auth`: health without a key, `X-API-Key`, rate limits, the order of checks
//!   (404 → 405 → 401 → 429 → 413 → 400 → 404 → 403), unknown routes.
//! - `bodies`: size limits, malformed and invalid bodies, `Content-Type`.
//! - `contracts`, `inference`, `checks`, `usage` (credits), `keys`, `webhooks`: one
//!   resource each.
//! - `evolve` (SPEC §5.1): contract updates, dry runs, version history, deletion, checks
//!   against a version, `?name=`; `rules` (§5.2): rules, overrides, renames, kinds.
//! - `not_found`: every route with an id — unknown, other account's and malformed ids all
//!   answer the same `404` (one table-driven test).
//! - `ownership`: what one account can see of, and do to, another's records.
//! - `restart`: every record survives a restart.
//! - `tenants`: the limits that keep one tenant from costing the others, and test keys.
//! - `upgrade`: a store written by an earlier release opens and reads back what that
//!   release answered (`tests/fixtures/`).
//! - `openapi`: the served OpenAPI document, the committed file and the router in step.
//! - `schemas` (§6.1): schema import — every committed fixture and bad input, the body's
//!   errors, limits, auth.
//! - `compat` (§6.2): compatibility modes — every rule in every mode, `409 incompatible`
//!   (also under `dry_run`), the compatibility question, transitive modes, racing updates.
//! - `console` (§6.3): the web console's page and assets over HTTP, its headers, and
//!   `server.console = false`.
//! - `overview` (§6.3): the console's API additions — checks filtered by contract, result
//!   and time; contracts with their last check; the overview's counts.
//! - `lists`: creation order and paging (`?limit`, `?cursor`, `Link`) of every list.
//!
//! Shared helpers: `tests/common` (server harness, ids, paging) and `support` (the spec's
//! document shapes).
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

mod auth;
mod bodies;
mod checks;
mod compat;
mod console;
mod contracts;
mod evolve;
mod inference;
mod keys;
mod lists;
mod not_found;
mod openapi;
mod overview;
mod ownership;
mod restart;
mod rules;
mod schemas;
mod tenants;
mod upgrade;
mod usage;
mod webhooks;
