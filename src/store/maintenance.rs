//! Whole-store operations: consistent snapshots (backup), restore, verification and
//! compaction. Snapshots copy every table inside one read transaction, so they hold
//! exactly what was committed when the backup began, while the daemon keeps writing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use redb::{
    Database, Key, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, Value,
    WriteTransaction,
};

use super::codec::FORMAT_VERSION;
use super::records::Record;
use super::stats;
use super::tables::{self, Records, TableVisitor};
use super::{StoreError, DB_FILE};

type Result<T> = std::result::Result<T, StoreError>;

/// Copies every row of every table into another database's write transaction.
struct Copy<'a> {
    from: &'a ReadTransaction,
    to: &'a WriteTransaction,
    rows: u64,
}

impl TableVisitor for Copy<'_> {
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        table: TableDefinition<K, V>,
    ) -> Result<()> {
        let source = self.from.open_table(table)?;
        let mut target = self.to.open_table(table)?;
        for row in source.iter()? {
            let (key, value) = row?;
            target.insert(key.value(), value.value())?;
            self.rows += 1;
        }
        Ok(())
    }
}

/// Writes a consistent copy of the store (as of `from`) to a new database at `path`.
/// Returns the number of rows copied.
pub fn snapshot(from: &ReadTransaction, path: &Path) -> Result<u64> {
    // A snapshot holds key hashes and webhook secrets: owner-only from the moment it
    // exists, like the store.
    super::writer::create_private_file(path).map_err(|e| io(path, e))?;
    let target = Database::create(path)?;
    let txn = target.begin_write()?;
    let mut copy = Copy {
        from,
        to: &txn,
        rows: 0,
    };
    tables::visit_all(&mut copy)?;
    let rows = copy.rows;
    txn.commit()?;
    drop(target);
    Ok(rows)
}

/// What [`verify`] found.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    /// Records decoded without error.
    pub records: u64,
    /// The stored format version.
    pub format_version: u64,
}

/// Decodes every record of every table of records.
struct DecodeAll<'a> {
    txn: &'a ReadTransaction,
    records: u64,
}

impl TableVisitor for DecodeAll<'_> {
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        _table: TableDefinition<K, V>,
    ) -> Result<()> {
        Ok(()) // plain keys and values: redb's integrity check covers them
    }

    fn records<K: Key + 'static, T: Record>(&mut self, table: Records<K, T>) -> Result<()> {
        for row in table.read(self.txn)?.all()? {
            row?;
            self.records += 1;
        }
        Ok(())
    }
}

/// Verifies a store that no process has open: redb's own integrity check (checksums and
/// tree structure), the format version, that every record decodes (records of an older
/// format are left to the migration at the next start), that every PagerDuty incident
/// names a webhook and a contract that exist, and that the delivery counters match the
/// deliveries.
pub fn verify(path: &Path) -> Result<VerifyReport> {
    let mut db = open_exclusive(path)?;
    if !db.check_integrity()? {
        return Err(StoreError::Internal(format!(
            "{}: the integrity check failed (it was repaired in place where possible; restore a backup if data is missing)",
            path.display()
        )));
    }
    let txn = db.begin_read()?;
    let format_version = tables::format_version(&txn)?;
    if format_version > FORMAT_VERSION {
        return Err(StoreError::NewerFormat {
            found: format_version,
            supported: FORMAT_VERSION,
        });
    }
    let mut decode = DecodeAll {
        txn: &txn,
        records: 0,
    };
    // An older format's records are decoded by its migration, at the next start; their
    // bytes are covered by the integrity check above.
    if format_version == FORMAT_VERSION {
        tables::visit_all(&mut decode)?;
        check_incidents(&txn)?;
        check_delivery_hours(&txn)?;
    }
    Ok(VerifyReport {
        records: decode.records,
        format_version,
    })
}

/// Every `INCIDENTS` row names a live webhook and a live contract: deleting either
/// deletes its rows, so a row left behind is a leak.
fn check_incidents(txn: &ReadTransaction) -> Result<()> {
    let ids = txn.open_table(tables::IDS)?;
    let webhooks = tables::WEBHOOKS.read(txn)?;
    let contracts = tables::CONTRACTS.read(txn)?;
    for row in txn.open_table(tables::INCIDENTS)?.iter()? {
        let (key, _) = row?;
        let (webhook, contract) = key.value();
        let webhook_row = match ids.get(webhook)? {
            Some(location) => webhooks.get(location.value())?.is_some(),
            None => false,
        };
        let contract_row = match ids.get(contract)? {
            Some(location) => contracts.get(location.value())?.is_some(),
            None => false,
        };
        if !(webhook_row && contract_row) {
            return Err(StoreError::Internal(format!(
                "an incident of {} and {} outlived its webhook or its contract",
                crate::ids::WebhookId::from_raw(webhook),
                crate::ids::ContractId::from_raw(contract)
            )));
        }
    }
    Ok(())
}

/// Every `DELIVERY_HOURS` row counts exactly the deliveries of its account, hour and
/// webhook as they stand (hours that were dropped have no row).
fn check_delivery_hours(txn: &ReadTransaction) -> Result<()> {
    let mut counted = HashMap::new();
    for row in tables::DELIVERIES.read(txn)?.all()? {
        let (_, delivery): (_, crate::model::Delivery) = row?;
        stats::tally(&mut counted, &delivery);
    }
    for row in txn.open_table(tables::DELIVERY_HOURS)?.iter()? {
        let (key, value) = row?;
        let (account, hour, webhook) = key.value();
        let found = counted.get(&key.value()).copied().unwrap_or_default();
        if found != value.value() {
            return Err(StoreError::Internal(format!(
                "the delivery counts of account {account}, hour {hour}, {} say {:?} (delivered, abandoned, pending) but its deliveries are {found:?}",
                crate::ids::WebhookId::from_raw(webhook),
                value.value()
            )));
        }
    }
    Ok(())
}

/// Compacts a store that no process has open; returns the sizes before and after.
pub fn compact(path: &Path) -> Result<(u64, u64)> {
    let before = file_size(path);
    let mut db = open_exclusive(path)?;
    while db.compact().map_err(redb::Error::from)? {}
    drop(db);
    Ok((before, file_size(path)))
}

/// Replaces the store in `data_dir` with the backup at `backup` (the daemon must be
/// stopped). The backup is checked first; the current file is kept beside it as
/// `driftguard.redb.before-restore`. Returns that file's path if there was one.
pub fn restore(backup: &Path, data_dir: &Path) -> Result<Option<PathBuf>> {
    let live = data_dir.join(DB_FILE);
    // Refuse while a daemon holds the store.
    if live.exists() {
        drop(open_exclusive(&live)?);
    }
    verify(backup)?;
    std::fs::create_dir_all(data_dir).map_err(|e| io(data_dir, e))?;
    let staged = data_dir.join(format!("{DB_FILE}.restoring"));
    // Owner-only before a byte is copied (`fs::copy` would take the backup's mode).
    let _ = std::fs::remove_file(&staged);
    super::writer::create_private_file(&staged).map_err(|e| io(&staged, e))?;
    copy_into(backup, &staged).map_err(|e| io(&staged, e))?;
    std::fs::File::open(&staged)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(&staged, e))?;
    let kept = if live.exists() {
        let kept = data_dir.join(format!("{DB_FILE}.before-restore"));
        std::fs::rename(&live, &kept).map_err(|e| io(&live, e))?;
        Some(kept)
    } else {
        None
    };
    std::fs::rename(&staged, &live).map_err(|e| io(&live, e))?;
    Ok(kept)
}

/// Copies `from` into the existing file `to`, keeping `to`'s mode.
fn copy_into(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut source = std::fs::File::open(from)?;
    let mut target = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(to)?;
    std::io::copy(&mut source, &mut target)?;
    Ok(())
}

fn open_exclusive(path: &Path) -> Result<Database> {
    if !path.exists() {
        return Err(StoreError::Internal(format!(
            "{}: no such file",
            path.display()
        )));
    }
    Database::open(path).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse(path.to_path_buf()),
        other => other.into(),
    })
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Internal(format!("{}: {e}", path.display()))
}
