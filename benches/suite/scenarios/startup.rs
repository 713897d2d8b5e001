//! `startup`: start-up time and RSS with a large queue and store (`DG_BENCH_PENDING`
//! pending deliveries and as many stored checks; one webhook, so one delivery per check).

use std::path::Path;
use std::time::{Duration, Instant};

use driftguard::credentials::Environment;
use driftguard::drift::{ColumnType, IncomingColumn};
use driftguard::store::Store;
use hyper::Method;

use crate::common::Reply;
use crate::daemon::{file_mib, rss_kib, Daemon};
use crate::Bench;

/// Seeds the HTTP store, then times a start to healthy.
pub async fn run(b: &mut Bench) {
    let pending = b.pending;
    let daemon = Daemon::start(&b.http, &b.key).await;
    for hook in b.hooks.iter().skip(1) {
        b.api
            .send(Method::DELETE, &format!("/api/v1/webhooks/{hook}"), None)
            .await;
    }
    daemon.stop().await;
    b.receiver.answer_all(Reply::status(503));
    let seeding = Instant::now();
    seed(&b.http.data_dir, &b.contract_id, pending).await;
    println!(
        "(seeded {pending} checks and pending deliveries in {:.0} s)",
        seeding.elapsed().as_secs_f64()
    );
    let clock = Instant::now();
    let daemon = Daemon::start(&b.http, &b.key).await;
    let ready = clock.elapsed();
    let scenario = format!("start-up, {pending} pending deliveries + checks");
    let start_ms = ready.as_secs_f64() * 1000.0;
    let rss = rss_kib(daemon.pid()) as f64 / 1024.0;
    b.results
        .add(&scenario, "start to healthy", start_ms, "ms", None);
    b.results
        .add(&scenario, "RSS when healthy", rss, "MiB", None);
    tokio::time::sleep(Duration::from_secs(3)).await;
    b.results.add(
        &scenario,
        "RSS 3 s later (sending)",
        rss_kib(daemon.pid()) as f64 / 1024.0,
        "MiB",
        None,
    );
    b.results.add(
        &scenario,
        "store file",
        file_mib(&b.http.data_dir.join("driftguard.redb")),
        "MiB",
        None,
    );
    daemon.stop().await;
    let full = pending >= 1_000_000;
    b.results.target(
        "start_pending_time",
        &format!("start to healthy with {pending} pending deliveries"),
        start_ms,
        "ms",
        None,
        full && start_ms < 1000.0,
        "< 1 s with 1,000,000 pending",
    );
    b.results.target(
        "start_pending_rss",
        &format!("RSS when healthy with {pending} pending deliveries"),
        rss,
        "MiB",
        None,
        full && rss < 100.0,
        "< 100 MB with 1,000,000 pending",
    );
}

/// Writes `n` checks (each queueing a delivery to the webhooks registered then) straight into
/// the stopped daemon's store, concurrently so the group commit batches them.
async fn seed(data_dir: &Path, contract: &str, n: usize) {
    let store = Store::open(data_dir).expect("open store");
    let contract_id: driftguard::ids::ContractId = contract.parse().expect("id");
    let incoming: Vec<IncomingColumn> = (0..20)
        .map(|i| IncomingColumn {
            name: format!("c{i}"),
            column_type: ColumnType::String,
        })
        .collect();
    let mut remaining = n;
    while remaining > 0 {
        let batch = remaining.min(4000);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..batch {
            let (store, incoming) = (store.clone(), incoming.clone());
            tasks.spawn(async move {
                store
                    .checks()
                    .run(
                        driftguard::ids::AccountId(1),
                        contract_id,
                        None,
                        incoming,
                        Environment::Test,
                    )
                    .await
                    .expect("check")
            });
        }
        while tasks.join_next().await.is_some() {}
        remaining -= batch;
    }
    tokio::task::spawn_blocking(move || store.close())
        .await
        .expect("close");
}
