//! DriftGuard self-hosted: schema-drift contracts, checks and signed webhooks, served by one
//! binary over one embedded redb file.
//!
//! # Layout
//!
//! - [`drift`]: the drift engine — diff, severity, verdict, inference. Pure: no I/O.
//! - [`schemas`]: schema import — Avro, JSON Schema, SQL DDL, Parquet footers and dbt
//!   manifests become columns. Pure, like `drift`.
//! - [`filter`]: webhook filters — a least severity and contract-name globs. Pure.
//! - [`model`]: the records DriftGuard keeps (accounts, keys, contracts, checks, webhooks),
//!   in the product's words, with typed [`ids`] and [`clock`] times.
//! - [`store`]: the redb file. Owns every table, every transaction and the stored shapes;
//!   writes are batched by one group-commit thread.
//! - [`wire`]: the JSON views of the records, shared by the API and the webhook payloads.
//! - [`http`]: the API — server and TLS, routing, authentication and rate limits,
//!   handlers, and the one mapping of errors to the spec's error shape.
//! - [`webhooks`]: delivery — the scheduler over the store's persisted queue, the HTTPS
//!   client and the signatures.
//! - [`daemon`]: wires everything together; start, reload (SIGHUP) and graceful stop.
//! - [`admin`], [`operator`]: the local admin socket and the `accounts …` commands.
//! - [`cli`]: `driftguard check` and `infer`, the pipeline's client of the API.
//! - [`outbound`]: the one outbound HTTP(S) stack (webhooks and `check`).
//! - [`net`]: what every listener shares — the accept loop and the connection tasks that
//!   shutdown drains, then aborts.
//! - [`metrics`], [`systemd`]: Prometheus metrics and readiness notification.
//! - [`name_service`]: the static glibc build's start-up check of the host's name service
//!   switch (it must not load the host's glibc modules).
//! - [`config`]: `driftguard.toml` and environment overrides, validated at start.
//! - [`credentials`], [`ids`], [`clock`], [`sync`]: API keys and secrets, typed record
//!   ids, time as a dependency, lock and stop-flag helpers.
//!
//! Dependencies point one way: `http` and `webhooks` use `store`, `wire`, `drift`;
//! `store` uses `drift` and `model`; nothing below `http` knows it exists.
//!
//! `ARCHITECTURE.md` at the repository root tells the life of a request and the
//! invariants.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod cli;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod daemon;
pub mod drift;
pub mod filter;
pub mod http;
pub mod ids;
pub mod metrics;
pub mod model;
pub mod name_service;
pub mod net;
pub mod operator;
pub mod outbound;
pub mod schemas;
pub mod store;
pub mod sync;
pub mod systemd;
pub mod webhooks;
pub mod wire;
