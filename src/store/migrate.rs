//! Migrations: each step rewrites a store of one format version into the next, inside the
//! transaction that opens it (so a failed migration leaves the file as it was). The
//! fixtures under `tests/fixtures/` hold stores written by earlier releases; the upgrade
//! tests open them.

use redb::{Key, ReadableTable, TableDefinition, Value, WriteTransaction};

use super::codec::{decode_shape, encode_shape};
use super::records::{v1, StoredDelivery, StoredWebhook};
use super::tables::{visit_all, TableVisitor, DELIVERIES, DUE, FORMAT_VERSION_KEY, META, WEBHOOKS};
use super::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

/// Creates every table and records (or checks, or migrates) the format version. Runs in
/// the transaction that opens the store, so a migration is all or nothing.
pub fn initialise(txn: &WriteTransaction) -> Result<()> {
    let found = {
        let meta = txn.open_table(META)?;
        let found = meta.get(FORMAT_VERSION_KEY)?.map(|v| v.value());
        found
    };
    let plan = super::codec::check_version(found)?;
    if let super::codec::Plan::Migrate { from } = plan {
        run(txn, from)?;
    }
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
    visit_all(&mut Create(txn))?;
    if plan != super::codec::Plan::Current {
        txn.open_table(META)?
            .insert(FORMAT_VERSION_KEY, super::codec::FORMAT_VERSION)?;
    }
    Ok(())
}

/// Runs every step from `from` to the current format version.
pub fn run(txn: &WriteTransaction, from: u64) -> Result<()> {
    tracing::info!(
        from,
        to = super::FORMAT_VERSION,
        "migrating the store's format"
    );
    if from < 2 {
        v1_to_v2(txn)?;
    }
    Ok(())
}

/// Version 1's timer wheel: `(due ms, delivery seq)` → webhook id.
const DUE_V1: TableDefinition<(u64, u64), u128> = TableDefinition::new("due");

/// 1 → 2: the timer wheel is keyed per webhook; webhooks and deliveries take their v2
/// shapes.
fn v1_to_v2(txn: &WriteTransaction) -> Result<()> {
    rekey_due_v1_to_v2(txn)?;
    migrate_webhooks_v1_to_v2(txn)?;
    migrate_deliveries_v1_to_v2(txn)?;
    Ok(())
}

/// The timer wheel is keyed per webhook, `(webhook id, due ms, seq)`.
fn rekey_due_v1_to_v2(txn: &WriteTransaction) -> Result<()> {
    let entries: Vec<((u64, u64), u128)> = {
        let old = txn.open_table(DUE_V1)?;
        let rows = old.iter()?;
        rows.map(|row| row.map(|(key, webhook)| (key.value(), webhook.value())))
            .collect::<std::result::Result<_, _>>()?
    };
    let mut due = txn.open_table(DUE)?;
    for ((at, seq), webhook) in &entries {
        due.insert((*webhook, *at, *seq), ())?;
    }
    drop(due);
    txn.delete_table(DUE_V1)?;
    tracing::info!(
        entries = entries.len(),
        "re-keyed the delivery queue per webhook"
    );
    Ok(())
}

/// Rewrites every row of a table of records from its v1 shape `Old` to its v2 shape
/// `New`. Returns how many rows it rewrote.
fn rewrite_rows<K, Old, New>(
    txn: &WriteTransaction,
    table: TableDefinition<'static, K, &'static [u8]>,
) -> Result<usize>
where
    K: Key + 'static + for<'a> Value<SelfType<'a> = K>,
    Old: serde::de::DeserializeOwned + Into<New>,
    New: serde::Serialize,
{
    let mut table = txn.open_table(table)?;
    let mut rows = Vec::new();
    for row in table.iter()? {
        let (key, value) = row?;
        let new: New = decode_shape::<Old>(value.value())?.into();
        rows.push((key.value(), encode_shape(&new)?));
    }
    let n = rows.len();
    for (key, bytes) in rows {
        table.insert(key, bytes.as_slice())?;
    }
    Ok(n)
}

/// Webhooks gain `format` (json), `disabled_reason` (`paused` if inactive),
/// `consecutive_failures` (0) and no previous secret.
fn migrate_webhooks_v1_to_v2(txn: &WriteTransaction) -> Result<()> {
    let n = rewrite_rows::<_, v1::StoredWebhook, StoredWebhook>(txn, WEBHOOKS.definition())?;
    tracing::info!(webhooks = n, "webhooks take their version 2 shape");
    Ok(())
}

/// Deliveries' check becomes optional (test deliveries have none).
fn migrate_deliveries_v1_to_v2(txn: &WriteTransaction) -> Result<()> {
    let n = rewrite_rows::<_, v1::StoredDelivery, StoredDelivery>(txn, DELIVERIES.definition())?;
    tracing::info!(deliveries = n, "deliveries take their version 2 shape");
    Ok(())
}
