//! Opening a store: create every table, then check the format version and run the
//! migration steps from the version found to [`FORMAT_VERSION`] — all inside the opening
//! transaction, so a store is either fully migrated or untouched.
//!
//! Each step is its own function, named for the format it produces and what it rewrites.

use std::collections::HashMap;
use std::ops::Bound;

use redb::{Key, ReadableTable, TableDefinition, Value, WriteTransaction};

use super::codec::{self, decode_legacy, decode_shape, encode, encode_shape};
use super::codec::{VersionCheck, FORMAT_VERSION};
use super::records::{
    v1, v2, v4, StoredContract, StoredContractVersion, StoredDelivery, StoredWebhook,
};
use super::stats;
use super::tables::{self, TableVisitor, FORMAT_VERSION_KEY, META};
use super::StoreError;
use crate::model::{Check, Contract, Delivery};

type Result<T> = std::result::Result<T, StoreError>;

/// Rows rewritten per read of a table being migrated (bounds the memory a migration of a
/// large store needs).
const MIGRATION_BATCH: usize = 1024;

/// Creates every table and records, checks or migrates the format version. Runs in the
/// transaction that opens the store.
pub fn initialise(txn: &WriteTransaction) -> Result<()> {
    struct Create<'t>(&'t WriteTransaction);
    impl TableVisitor for Create<'_> {
        fn table<K: Key + 'static, V: Value + 'static>(
            &mut self,
            table: TableDefinition<K, V>,
        ) -> Result<()> {
            self.0.open_table(table)?;
            Ok(())
        }
    }
    tables::visit_all(&mut Create(txn))?;
    let found = txn
        .open_table(META)?
        .get(FORMAT_VERSION_KEY)?
        .map(|v| v.value());
    match codec::check_version(found)? {
        VersionCheck::Current => return Ok(()),
        VersionCheck::Fresh => {}
        VersionCheck::MigrateFrom(from) => {
            tracing::info!(from, to = FORMAT_VERSION, "migrating the store");
            if from < 2 {
                migrate_contracts_to_v2(txn)?;
                migrate_webhooks_to_v2(txn)?;
                rekey_due_per_webhook_v2(txn)?;
            }
            if from >= 2 {
                // (Format 1's deliveries were written in today's shape above.)
                migrate_deliveries_to_v5(txn)?;
            }
            if from == 2 {
                // (A format-1 store's contracts went through the domain types in
                // `migrate_contracts_to_v2`, which wrote today's shapes already.)
                migrate_contracts_to_v3(txn)?;
            }
            if from < 3 {
                migrate_webhooks_to_v3(txn)?;
                fill_counters_v3(txn)?;
            }
            if from < 4 {
                count_deliveries_per_webhook_v4(txn)?;
            }
            if from < 5 {
                number_checks_per_account_v5(txn)?;
            }
        }
    }
    txn.open_table(META)?
        .insert(FORMAT_VERSION_KEY, FORMAT_VERSION)?;
    Ok(())
}

/// Format 1 → 2, contracts that evolve: every contract gets default rules, no overrides,
/// and its history (version 1, made when the contract was); every check records that it
/// ran against version 1, with no renames and no ignored columns (as it was answered).
fn migrate_contracts_to_v2(txn: &WriteTransaction) -> Result<()> {
    let contracts = rewrite(txn, tables::CONTRACTS.definition(), |bytes| {
        let contract = decode_legacy::<v1::StoredContract, Contract>(bytes)?;
        tables::CONTRACT_VERSIONS.write(txn)?.insert(
            (contract.id.raw(), contract.version),
            &contract.current_version(),
        )?;
        encode(&contract)
    })?;
    let checks = rewrite(txn, tables::CHECKS.definition(), |bytes| {
        encode(&decode_legacy::<v1::StoredCheck, Check>(bytes)?)
    })?;
    tracing::info!(
        contracts,
        checks,
        "contracts and checks migrated to format 2"
    );
    Ok(())
}

/// Format 1 → 2, webhooks operators can steer: webhooks gain `format` (json),
/// `disabled_reason` (`paused` if inactive), `consecutive_failures` (0) and no previous
/// secret; a delivery's check becomes optional (test deliveries have none).
fn migrate_webhooks_to_v2(txn: &WriteTransaction) -> Result<()> {
    let webhooks = rewrite(txn, tables::WEBHOOKS.definition(), |bytes| {
        encode_shape(&v2::StoredWebhook::from(decode_shape::<v1::StoredWebhook>(
            bytes,
        )?))
    })?;
    let deliveries = rewrite(txn, tables::DELIVERIES.definition(), |bytes| {
        encode_shape(&StoredDelivery::from(decode_shape::<v1::StoredDelivery>(
            bytes,
        )?))
    })?;
    tracing::info!(
        webhooks,
        deliveries,
        "webhooks and deliveries migrated to format 2"
    );
    Ok(())
}

/// Format 2 → 3, compatibility modes: every contract and every version of it is `none`
/// (any change, as before).
fn migrate_contracts_to_v3(txn: &WriteTransaction) -> Result<()> {
    let contracts = rewrite(txn, tables::CONTRACTS.definition(), |bytes| {
        encode_shape(&StoredContract::from(decode_shape::<v2::StoredContract>(
            bytes,
        )?))
    })?;
    let versions = rewrite(txn, tables::CONTRACT_VERSIONS.definition(), |bytes| {
        encode_shape(&StoredContractVersion::from(decode_shape::<
            v2::StoredContractVersion,
        >(bytes)?))
    })?;
    tracing::info!(contracts, versions, "contracts migrated to format 3");
    Ok(())
}

/// Format 2 → 3, webhooks that say only what matters: every webhook gains no filter and no
/// routing key (no format-2 webhook is a `pagerduty` one); the `incidents` table starts
/// empty (created with the others).
fn migrate_webhooks_to_v3(txn: &WriteTransaction) -> Result<()> {
    let webhooks = rewrite(txn, tables::WEBHOOKS.definition(), |bytes| {
        encode_shape(&StoredWebhook::from(decode_shape::<v2::StoredWebhook>(
            bytes,
        )?))
    })?;
    tracing::info!(webhooks, "webhooks migrated to format 3");
    Ok(())
}

/// Format 2 → 3, the overview's counters and the checks' index by contract, from what the
/// store holds: one pass over the checks (each contract's latest, each account's days) and
/// one over the deliveries (each account's hours). Memory grows with the number of
/// contracts and account-days, not of checks.
fn fill_counters_v3(txn: &WriteTransaction) -> Result<()> {
    let mut days: HashMap<(u64, u32), [u64; 3]> = HashMap::new();
    let mut latest: HashMap<u128, (u64, stats::LastCheckRow)> = HashMap::new();
    let mut checks = 0u64;
    {
        let mut by_contract = txn.open_table(tables::CHECKS_BY_CONTRACT)?;
        let table = tables::CHECKS.write(txn)?;
        for row in table.all()? {
            let (key, check): (_, Check) = row?;
            let (account, seq) = key.value();
            let contract = check.contract_id.raw();
            by_contract.insert((contract, seq), ())?;
            let day = stats::day_of(check.created_at);
            days.entry((account, day)).or_default()
                [usize::from(stats::verdict_index(check.verdict))] += 1;
            let row =
                stats::last_check_row(check.id, check.verdict, check.severity, check.created_at);
            if latest.get(&contract).is_none_or(|(s, _)| *s < seq) {
                latest.insert(contract, (seq, row));
            }
            checks += 1;
        }
    }
    {
        let ids = txn.open_table(tables::IDS)?;
        let contracts = txn.open_table(tables::CONTRACTS.definition())?;
        let mut last = txn.open_table(tables::LAST_CHECKS)?;
        for (contract, (_, row)) in latest {
            let Some(location) = ids.get(contract)?.map(|l| l.value()) else {
                continue; // the contract was deleted; its checks stay
            };
            if contracts.get(location)?.is_some() {
                last.insert(location, row)?;
            }
        }
        let mut table = txn.open_table(tables::DAILY_CHECKS)?;
        for (key, counts) in days {
            stats::add_day(&mut table, key, counts)?;
        }
    }
    tracing::info!(checks, "overview counters filled for format 3");
    Ok(())
}

/// Format 3's delivery counters: `(account, hour)` → `(delivered, abandoned, pending)`.
const DELIVERY_HOURS_V3: TableDefinition<(u64, u32), (u64, u64, u64)> =
    TableDefinition::new("delivery_hours");

/// Format 3 → 4, each webhook's last 24 hours: the delivery counters are counted again
/// from the deliveries, per account, creation hour and webhook (format 3 kept them per
/// account; its table goes).
fn count_deliveries_per_webhook_v4(txn: &WriteTransaction) -> Result<()> {
    txn.delete_table(DELIVERY_HOURS_V3)?;
    let mut hours = HashMap::new();
    for row in tables::DELIVERIES.write(txn)?.all()? {
        let (_, delivery): (_, Delivery) = row?;
        stats::tally(&mut hours, &delivery);
    }
    let mut table = txn.open_table(tables::DELIVERY_HOURS)?;
    for (&key, &counts) in &hours {
        table.insert(key, counts)?;
    }
    tracing::info!(rows = hours.len(), "delivery counters kept per webhook");
    Ok(())
}

/// Format 2 → 5, check ids that carry their place: a delivery gains the seq of its check's
/// id (0: every check id of an older format is found through the `ids` index).
fn migrate_deliveries_to_v5(txn: &WriteTransaction) -> Result<()> {
    let deliveries = rewrite(txn, tables::DELIVERIES.definition(), |bytes| {
        encode_shape(&StoredDelivery::from(decode_shape::<v4::StoredDelivery>(
            bytes,
        )?))
    })?;
    tracing::info!(deliveries, "deliveries migrated to format 5");
    Ok(())
}

/// Formats 3 and 4's latest check of each contract: `(check id, verdict, severity,
/// created_at ms)`.
const LAST_CHECKS_V4: TableDefinition<tables::Location, (u128, u8, u8, i64)> =
    TableDefinition::new("last_checks");

/// Formats 1–4 → 5, check ids that carry their place: each account numbers its own checks
/// from now on, starting above every `seq` handed out so far (its older checks keep their
/// keys and their `ids` rows); each contract's latest check moves to the table that also
/// keeps the seq of the check's id.
fn number_checks_per_account_v5(txn: &WriteTransaction) -> Result<()> {
    let next_seq = txn
        .open_table(META)?
        .get(tables::NEXT_SEQ_KEY)?
        .map_or(1, |v| v.value());
    let accounts = tables::account_numbers(txn)?;
    let mut check_seqs = txn.open_table(tables::CHECK_SEQS)?;
    for &account in &accounts {
        check_seqs.insert(account, next_seq)?;
    }
    let latest: Vec<_> = {
        let old = txn.open_table(LAST_CHECKS_V4)?;
        let rows = old.iter()?;
        rows.map(|row| row.map(|(key, value)| (key.value(), value.value())))
            .collect::<std::result::Result<_, _>>()?
    };
    let mut last = txn.open_table(tables::LAST_CHECKS)?;
    for &(contract, (id, verdict, severity, at)) in &latest {
        last.insert(contract, (id, 0, verdict, severity, at))?;
    }
    txn.delete_table(LAST_CHECKS_V4)?;
    tracing::info!(
        accounts = accounts.len(),
        contracts = latest.len(),
        "checks numbered per account"
    );
    Ok(())
}

/// Version 1's timer wheel: `(due ms, delivery seq)` → webhook id.
const DUE_V1: TableDefinition<(u64, u64), u128> = TableDefinition::new("due");

/// Format 1 → 2, fair delivery: the timer wheel is keyed per webhook,
/// `(webhook id, due ms, seq)`, so the dispatcher can serve webhooks in turn.
fn rekey_due_per_webhook_v2(txn: &WriteTransaction) -> Result<()> {
    let entries: Vec<((u64, u64), u128)> = {
        let old = txn.open_table(DUE_V1)?;
        let rows = old.iter()?;
        rows.map(|row| row.map(|(key, webhook)| (key.value(), webhook.value())))
            .collect::<std::result::Result<_, _>>()?
    };
    let mut due = txn.open_table(tables::DUE)?;
    for ((at, seq), webhook) in &entries {
        due.insert((*webhook, *at, *seq), ())?;
    }
    drop(due);
    txn.delete_table(DUE_V1)?;
    tracing::info!(
        entries = entries.len(),
        "delivery queue re-keyed per webhook"
    );
    Ok(())
}

/// Rewrites every row of a table of encoded records through `convert` (old bytes → new
/// bytes), [`MIGRATION_BATCH`] rows at a time. Returns the number of rows.
fn rewrite<K>(
    txn: &WriteTransaction,
    table: TableDefinition<'static, K, &'static [u8]>,
    mut convert: impl FnMut(&[u8]) -> Result<Vec<u8>>,
) -> Result<u64>
where
    K: Key + Copy + 'static + for<'a> Value<SelfType<'a> = K>,
{
    let mut after: Option<K> = None;
    let mut rows = 0;
    loop {
        let batch: Vec<(K, Vec<u8>)> = {
            let raw = txn.open_table(table)?;
            let start = after.map_or(Bound::Unbounded, Bound::Excluded);
            let range = raw.range::<K>((start, Bound::Unbounded))?;
            range
                .take(MIGRATION_BATCH)
                .map(|row| {
                    let (key, value) = row?;
                    Ok((key.value(), value.value().to_vec()))
                })
                .collect::<Result<_>>()?
        };
        let Some(last) = batch.last().map(|(key, _)| *key) else {
            return Ok(rows);
        };
        for (key, old) in batch {
            let new = convert(&old)?;
            txn.open_table(table)?.insert(key, new.as_slice())?;
            rows += 1;
        }
        after = Some(last);
    }
}
