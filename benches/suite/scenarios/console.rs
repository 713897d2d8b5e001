//! `console`: the web console's reads on a big store — `GET /api/v1/overview` and
//! `GET /api/v1/contracts?include=last_check` (a page of 100) with `DG_BENCH_CONTRACTS`
//! contracts and `DG_BENCH_CONSOLE_CHECKS` checks spread over them. Both are answered from
//! counters and indexes kept as checks are written, so neither grows with the checks.

use std::time::Instant;

use driftguard::credentials::Environment;
use driftguard::drift::{Column, ColumnType, IncomingColumn};
use driftguard::ids::{AccountId, ContractId};
use driftguard::store::{NewContract, Store};

use crate::daemon::{Daemon, Setup};
use crate::load::{env_usize, run_oha};
use crate::Bench;

/// Seeds its own store, then measures both reads at one connection.
pub async fn run(b: &mut Bench) {
    let contracts = env_usize("DG_BENCH_CONTRACTS", 1_000);
    let checks = env_usize("DG_BENCH_CONSOLE_CHECKS", 1_000_000);
    let setup = Setup::with(b.dir.path(), "console", &b.ca.pem_file, None, "");
    // A first start creates the account with the bench's key.
    Daemon::start(&setup, &b.key).await.stop().await;
    let seeding = Instant::now();
    seed(&setup, contracts, checks).await;
    println!(
        "(seeded {contracts} contracts and {checks} checks in {:.0} s)",
        seeding.elapsed().as_secs_f64()
    );
    let daemon = Daemon::start(&setup, &b.key).await;
    let scenario = format!("console reads, {contracts} contracts, {checks} checks");
    for (what, path, key, goal_ms) in [
        (
            "GET /overview",
            "/api/v1/overview",
            "console_overview_p50",
            5.0,
        ),
        (
            "GET /contracts?include=last_check",
            "/api/v1/contracts?include=last_check",
            "console_contracts_p50",
            20.0,
        ),
    ] {
        let url = format!("http://127.0.0.1:{}{path}", setup.port);
        let args: Vec<String> = vec![
            "-n".into(),
            "2000".into(),
            "-c".into(),
            "1".into(),
            "-H".into(),
            format!("X-API-Key: {}", b.key),
            url,
        ];
        let run = run_oha(&args);
        b.results
            .add(&scenario, &format!("{what} p50"), run.p50_ms, "ms", None);
        b.results
            .add(&scenario, &format!("{what} p99"), run.p99_ms, "ms", None);
        b.results.target(
            key,
            &format!("{what} p50 ({contracts} contracts, {checks} checks)"),
            run.p50_ms,
            "ms",
            None,
            checks >= 1_000_000 && run.p50_ms < goal_ms,
            if goal_ms < 10.0 {
                "p50 < 5 ms"
            } else {
                "p50 < 20 ms"
            },
        );
    }
    daemon.stop().await;
}

/// `contracts` contracts of 20 columns and `checks` checks spread over them, written
/// straight into the stopped daemon's store (concurrently, so the group commit batches).
async fn seed(setup: &Setup, contracts: usize, checks: usize) {
    let store = Store::open(&setup.data_dir).expect("open store");
    let account = AccountId(1);
    let columns: Vec<Column> = (0..20)
        .map(|i| Column {
            name: format!("c{i}"),
            column_type: ColumnType::String,
            required: true,
            severity_override: None,
        })
        .collect();
    let mut ids: Vec<ContractId> = Vec::with_capacity(contracts);
    for i in 0..contracts {
        let new = NewContract {
            name: format!("contract_{i:05}"),
            columns: columns.clone(),
            ..Default::default()
        };
        ids.push(
            store
                .contracts()
                .create(account, new)
                .await
                .expect("contract")
                .id,
        );
    }
    // Every third column missing in some checks, so the results vary.
    let incoming = |n: usize| -> Vec<IncomingColumn> {
        (0..20)
            .filter(|&i: &usize| !n.is_multiple_of(3) || !i.is_multiple_of(7))
            .map(|i| IncomingColumn {
                name: format!("c{i}"),
                column_type: ColumnType::String,
            })
            .collect()
    };
    let mut made = 0;
    while made < checks {
        let batch = (checks - made).min(4000);
        let mut tasks = tokio::task::JoinSet::new();
        for n in made..made + batch {
            let (store, contract, incoming) = (store.clone(), ids[n % ids.len()], incoming(n));
            tasks.spawn(async move {
                store
                    .checks()
                    .run(account, contract, None, incoming, Environment::Test)
                    .await
                    .expect("check")
            });
        }
        while tasks.join_next().await.is_some() {}
        made += batch;
    }
    tokio::task::spawn_blocking(move || store.close())
        .await
        .expect("close");
}
