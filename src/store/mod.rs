//! The store: one redb file under `data_dir`, and the only module that names a table or
//! opens a transaction.
//!
//! [`Store`] is the async face the daemon uses: reads run on tokio's blocking pool, writes
//! go to the writer thread, so redb never blocks an async worker thread. It stamps
//! records with its [`Clock`], and signals the dispatcher ([`Store::due_signal`]) after
//! every commit that makes deliveries due. This file opens and closes the store and
//! hands work to the writer; everything else has one home per resource, reached through
//! a handle that borrows the store:
//!
//! - `accounts` — `store.accounts()`: tenants, credits, the first start's bootstrap.
//! - `keys` — `store.keys()`: API keys, looked up by hash.
//! - `contracts` — `store.contracts()`: contracts, their versions, the scoring cache.
//! - `checks` — `store.checks()`: the hot path (one shared pass per write batch).
//! - `webhooks` — `store.webhooks()`: registrations, secrets, pause and resume.
//! - `deliveries` — `store.deliveries()`: history and the queue, whose transaction
//!   bodies are `queue` (the persisted timer wheel).
//!
//! Each resource file holds its handle's async methods and the synchronous transaction
//! bodies they run. Below them:
//!
//! - [`records`]: the stored shapes, and their conversions to and from the domain types.
//! - [`codec`]: bincode behind a stored format version.
//! - [`tables`]: every table, listed once, with typed access to tables of records.
//! - [`migrate`]: opening a store — creating its tables, checking its format version and
//!   migrating an older one.
//! - [`writer`]: the group-commit thread that runs every write.
//! - [`maintenance`]: snapshots (backup), restore, verification, compaction.
//! - [`cache`]: the contract versions checks score against, in memory.
//! - [`error`]: [`StoreError`], the one error of this layer.
//!
//! Dependencies point down and never back: `records` ← `codec` ← `tables` ← the resources
//! / `queue` / `migrate` / `maintenance`.
//!
//! Invariant: a write body returns a *rejection* (`NotFound`, `Conflict`, `Invalid`,
//! `NoCredits`, `Forbidden`) only before its first mutation, so the group-commit writer
//! can commit the rest of a batch around it.

mod accounts;
mod cache;
mod checks;
mod codec;
mod contracts;
mod deliveries;
mod error;
mod keys;
pub mod maintenance;
mod migrate;
mod queue;
mod records;
mod stats;
mod tables;
mod webhooks;
mod writer;

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use redb::{Database, ReadTransaction, ReadableDatabase, WriteTransaction};
use tokio::sync::Notify;

pub use accounts::{Accounts, DEFAULT_ACCOUNT};
pub use checks::{CheckFilter, Checks};
pub use codec::FORMAT_VERSION;
pub use contracts::{ContractUpdate, Contracts, NewContract, Updated};
pub use deliveries::Deliveries;
pub use error::{StoreError, Unavailable};
pub use keys::{KeyUse, Keys};
pub use queue::{AfterAttempt, DeliveryKey, DueBatch, DueDelivery, DueEntry, DueRequest};
pub use tables::{Order, Page, PageRequest};
pub use webhooks::{NewWebhook, WebhookUpdate, Webhooks};
pub use writer::CommitHistogram;

use crate::clock::Clock;
use crate::sync::lock;

/// The name of the database file inside `data_dir`.
pub const DB_FILE: &str = "driftguard.redb";

/// Most memory (estimated from the columns' names) the contract cache may hold.
const CONTRACT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// A cheap, cloneable handle to the open store (an `Arc` inside).
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    /// The database, swapped by the writer thread when it reopens the file.
    storage: Arc<writer::Storage>,
    path: PathBuf,
    /// Stamps records (wall clock) and schedules deliveries (steady clock).
    clock: Clock,
    /// Notified after every commit that made deliveries due; the dispatcher waits on it.
    due_signal: Arc<Notify>,
    /// `None` once closed. A std mutex: it is held only to clone or take the sender.
    writer: Mutex<Option<std::sync::mpsc::Sender<writer::Job>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    /// The contract versions checks score against; see [`Contracts::scoring_version`].
    contracts: cache::ContractCache,
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir` with the system clock and the
    /// default write batch — what operator commands use. See [`Store::open_with`].
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(data_dir, writer::DEFAULT_MAX_BATCH, Clock::system())
    }

    /// Opens (creating if needed) the store in `data_dir`, checks (or migrates) its format
    /// version and starts the writer thread, committing at most `max_write_batch` writes
    /// together (1 turns group commit off: one fsync per write — for comparison in
    /// benchmarks). Fails with [`StoreError::InUse`] if another process has it.
    pub fn open_with(
        data_dir: &Path,
        max_write_batch: NonZeroUsize,
        clock: Clock,
    ) -> Result<Store, StoreError> {
        create_private_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        let db = open_checked(&path)?;
        let storage = Arc::new(writer::Storage::new(path.clone(), db));
        let (sender, thread) = writer::spawn(storage.clone(), max_write_batch)
            .map_err(|e| StoreError::Internal(format!("cannot start the writer thread: {e}")))?;
        Ok(Store {
            shared: Arc::new(Shared {
                storage,
                path,
                clock,
                due_signal: Arc::new(Notify::new()),
                writer: Mutex::new(Some(sender)),
                writer_thread: Mutex::new(Some(thread)),
                contracts: cache::ContractCache::new(CONTRACT_CACHE_BYTES),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The clock records are stamped with.
    pub fn clock(&self) -> Clock {
        self.shared.clock
    }

    /// How long the durable commits so far took (the metrics' commit-duration histogram).
    pub fn commit_times(&self) -> writer::CommitHistogram {
        self.shared.storage.commit_times.snapshot()
    }

    /// Notified after every commit that made deliveries due (new, retried or resumed).
    pub fn due_signal(&self) -> Arc<Notify> {
        self.shared.due_signal.clone()
    }

    fn signal_due(&self) {
        self.shared.due_signal.notify_one();
    }

    /// Stops accepting writes, lets the writer finish what is queued, and waits for it.
    /// Reads keep working until the last handle is dropped.
    pub fn close(&self) {
        drop(lock(&self.shared.writer).take());
        if let Some(thread) = lock(&self.shared.writer_thread).take() {
            if thread.join().is_err() {
                tracing::error!("the store writer thread panicked");
            }
        }
    }

    async fn read<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let db = self.shared.storage.current()?;
        tokio::task::spawn_blocking(move || op(&db.begin_read()?))
            .await
            .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
    }

    async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_in_batch(|batch| op(batch.txn()?)).await
    }

    /// Runs `op` on the writer thread inside a batch ([`writer::Batch`]).
    async fn write_in_batch<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut writer::Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (job, answer) = writer::job(op);
        lock(&self.shared.writer)
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(job)
            .map_err(|_| StoreError::Closed)?;
        // Unit tests run the dispatcher on tokio's paused time, which jumps ahead whenever
        // the runtime looks idle; waiting in a blocking task tells tokio it is not.
        #[cfg(test)]
        let answer = tokio::task::spawn_blocking(move || answer.blocking_recv())
            .await
            .map_err(|_| StoreError::Closed)?;
        #[cfg(not(test))]
        let answer = answer.await;
        answer.map_err(|_| StoreError::Closed)?
    }

    // ---- health ----

    /// Fails while the store cannot write (disk full or failing); else reads the format
    /// version, which proves the file can be read.
    pub async fn health(&self) -> Result<(), StoreError> {
        if let Some(why) = self.write_failure() {
            return Err(StoreError::Unavailable(why));
        }
        self.read(tables::format_version).await.map(drop)
    }

    /// Why writes fail right now, if they do (they resume on their own).
    pub fn write_failure(&self) -> Option<Unavailable> {
        self.shared.storage.failure()
    }

    // ---- maintenance ----

    /// Writes a consistent snapshot of the store, as of now, to a new file at `path`
    /// (while the store keeps serving). Returns the number of rows copied.
    pub async fn snapshot(&self, path: PathBuf) -> Result<u64, StoreError> {
        self.read(move |txn| maintenance::snapshot(txn, &path))
            .await
    }
}

/// Opens the database and checks (or migrates) its format version. A damaged file is
/// [`StoreError::Corrupt`], naming the file and the way out — redb may panic on one rather
/// than return an error, so the panic is caught here too.
fn open_checked(path: &Path) -> Result<Database, StoreError> {
    let open = || {
        let db = writer::open_database(path)?;
        let txn = db.begin_write()?;
        migrate::initialise(&txn)?;
        txn.commit()?;
        Ok(db)
    };
    let corrupt = |detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    match std::panic::catch_unwind(open) {
        Ok(Err(StoreError::Storage(e))) if is_corruption(&e) => Err(corrupt(e.to_string())),
        Ok(Err(StoreError::Codec(detail))) => Err(corrupt(detail)),
        Ok(result) => result,
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the storage engine panicked".into());
            Err(corrupt(format!(
                "the storage engine failed reading it: {detail}"
            )))
        }
    }
}

/// Errors that mean the file's contents are damaged (not the disk, not a lock).
fn is_corruption(e: &redb::Error) -> bool {
    matches!(
        e,
        redb::Error::Corrupted(_)
            | redb::Error::TableTypeMismatch { .. }
            | redb::Error::TypeDefinitionChanged { .. }
            | redb::Error::UpgradeRequired(_)
    )
}

/// Creates `dir` (and parents) readable only by the daemon's user.
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| {
        StoreError::Internal(format!(
            "cannot create data directory {}: {e}",
            dir.display()
        ))
    })
}
