//! Whole-store operations: consistent snapshots (backup), restore, integrity checks and
//! compaction. Snapshots copy every table inside one read transaction, so they hold
//! exactly what was committed when the backup began, while the daemon keeps writing.

use std::path::{Path, PathBuf};

use redb::{
    Database, Key, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, Value,
    WriteTransaction,
};

use super::codec::{decode, FORMAT_VERSION};
use super::tables::*;
use super::{StoreError, DB_FILE};
use crate::model::{Account, ApiKey, Check, Contract, Delivery, Webhook};

type Result<T> = std::result::Result<T, StoreError>;

/// Applies `$visit!(TABLE)` to every table of the store: the one list of them.
macro_rules! for_each_table {
    ($visit:ident) => {
        $visit!(META);
        $visit!(IDS);
        $visit!(ACCOUNTS);
        $visit!(ACCOUNT_NAMES);
        $visit!(KEYS);
        $visit!(KEY_HASHES);
        $visit!(CONTRACTS);
        $visit!(CONTRACT_NAMES);
        $visit!(CHECKS);
        $visit!(WEBHOOKS);
        $visit!(DELIVERIES);
        $visit!(DUE);
        $visit!(FINISHED);
    };
}

/// Creates every table (on open).
pub fn create_tables(txn: &WriteTransaction) -> Result<()> {
    macro_rules! create {
        ($table:ident) => {
            txn.open_table($table)?;
        };
    }
    for_each_table!(create);
    Ok(())
}

fn copy_table<K: Key + 'static, V: Value + 'static>(
    from: &ReadTransaction,
    to: &WriteTransaction,
    table: TableDefinition<K, V>,
) -> Result<u64> {
    let source = from.open_table(table)?;
    let mut target = to.open_table(table)?;
    let mut rows = 0;
    for row in source.iter()? {
        let (key, value) = row?;
        target.insert(key.value(), value.value())?;
        rows += 1;
    }
    Ok(rows)
}

/// Writes a consistent copy of the store (as of `from`) to a new database at `path`.
/// Returns the number of rows copied.
pub fn snapshot(from: &ReadTransaction, path: &Path) -> Result<u64> {
    let target = Database::create(path)?;
    let txn = target.begin_write()?;
    let mut rows = 0;
    macro_rules! copy {
        ($table:ident) => {
            rows += copy_table(from, &txn, $table)?;
        };
    }
    for_each_table!(copy);
    txn.commit()?;
    drop(target);
    // A snapshot holds key hashes and webhook secrets: owner-only, like the store.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| io(path, e))?;
    Ok(rows)
}

/// What [`check`] found.
#[derive(Clone, Debug, Default)]
pub struct CheckReport {
    /// Records decoded without error.
    pub records: u64,
    /// The stored format version.
    pub format_version: u64,
}

fn decode_all<K: Key + 'static, T: serde::de::DeserializeOwned>(
    txn: &ReadTransaction,
    table: TableDefinition<K, &'static [u8]>,
) -> Result<u64> {
    let mut count = 0;
    for row in txn.open_table(table)?.iter()? {
        decode::<T>(row?.1.value())?;
        count += 1;
    }
    Ok(count)
}

/// Checks a store that no process has open: redb's own integrity check (checksums and
/// tree structure), the format version, and that every record decodes.
pub fn check(path: &Path) -> Result<CheckReport> {
    let mut db = open_exclusive(path)?;
    if !db.check_integrity()? {
        return Err(StoreError::Internal(format!(
            "{}: the integrity check failed (it was repaired in place where possible; restore a backup if data is missing)",
            path.display()
        )));
    }
    let txn = db.begin_read()?;
    let format_version = super::ops::format_version(&txn)?;
    if format_version > FORMAT_VERSION {
        return Err(StoreError::NewerFormat {
            found: format_version,
            supported: FORMAT_VERSION,
        });
    }
    let records = decode_all::<u64, Account>(&txn, ACCOUNTS)?
        + decode_all::<(u64, u64), ApiKey>(&txn, KEYS)?
        + decode_all::<(u64, u64), Contract>(&txn, CONTRACTS)?
        + decode_all::<(u64, u64), Check>(&txn, CHECKS)?
        + decode_all::<(u64, u64), Webhook>(&txn, WEBHOOKS)?
        + decode_all::<(u128, u64), Delivery>(&txn, DELIVERIES)?;
    Ok(CheckReport {
        records,
        format_version,
    })
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
    check(backup)?;
    std::fs::create_dir_all(data_dir).map_err(|e| io(data_dir, e))?;
    let staged = data_dir.join(format!("{DB_FILE}.restoring"));
    std::fs::copy(backup, &staged).map_err(|e| io(&staged, e))?;
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
