//! The store: one redb file under `data_dir`, and the only module that names a table or
//! opens a transaction.
//!
//! - [`records`]: the stored shapes, and their conversions to and from the domain types.
//! - [`codec`]: bincode behind a stored format version.
//! - [`tables`]: every table, listed once, with typed access to tables of records.
//! - [`migrate`]: opening a store — creating its tables, checking its format version and
//!   migrating an older one.
//! - [`ops`]: every transaction body, as plain synchronous functions…
//! - [`queue`]: …except those of the webhook delivery queue (the persisted timer wheel).
//! - [`writer`]: the group-commit thread that runs every write.
//! - [`maintenance`]: snapshots (backup), restore, verification, compaction.
//! - [`cache`]: the contract versions checks score against, in memory.
//!
//! Dependencies point down this list and never back: `records` ← `codec` ← `tables` ←
//! `migrate`/`ops`/`queue`/`maintenance`.
//!
//! [`Store`] is the async face the daemon uses: reads run on tokio's blocking pool, writes
//! go to the writer thread, so redb never blocks an async worker thread. It stamps
//! records with its [`Clock`], and signals the dispatcher ([`Store::due_signal`]) after
//! every commit that makes deliveries due.

mod cache;
mod codec;
pub mod maintenance;
mod migrate;
mod ops;
mod queue;
mod records;
mod tables;
mod writer;

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use redb::{Database, ReadTransaction, ReadableDatabase, WriteTransaction};
use tokio::sync::Notify;

pub use codec::FORMAT_VERSION;
pub use ops::{ContractUpdate, KeyUse, NewWebhook, Updated, WebhookUpdate};
pub use queue::{AfterAttempt, DeliveryKey, DueBatch, DueDelivery, DueEntry, DueRequest};
pub use tables::{Order, Page, PageRequest};
pub use writer::CommitHistogram;

use crate::clock::{Clock, UnixMs};
use crate::credentials::{Environment, KeyHash};
use crate::drift::{Column, IncomingColumn, Rules};
use crate::ids::{AccountId, CheckId, ContractId, DeliveryId, KeyId, WebhookId};
use crate::model::{
    Account, ApiKey, Attempt, Check, Contract, ContractVersion, Delivery, DisabledReason,
    VersionEntry, Webhook,
};
use crate::sync::lock;

/// The name of the database file inside `data_dir`.
pub const DB_FILE: &str = "driftguard.redb";

/// Most memory (estimated from the columns' names) the contract cache may hold.
const CONTRACT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// What can go wrong in the store. The first four are *rejections*: the operation wrote
/// nothing and the request was simply not allowed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// No such record in this account.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken (e.g. a contract name).
    #[error("{0}")]
    Conflict(String),
    /// The request names something that cannot be used (e.g. an active key to delete).
    #[error("{0}")]
    Invalid(String),
    /// A live check with a zero balance.
    #[error("the account has no credits left")]
    NoCredits,
    /// The caller's key may not do this (a test key changing a live key).
    #[error("{0}")]
    Forbidden(String),
    /// Another process (a running daemon) holds the database file.
    #[error("the store {0} is in use by another process (is the daemon running?); stop it first")]
    InUse(PathBuf),
    /// The file was written by a newer DriftGuard.
    #[error("the store has format version {found}, newer than this build supports ({supported}); upgrade DriftGuard")]
    NewerFormat {
        /// Version found in the file.
        found: u64,
        /// Newest version this build reads.
        supported: u64,
    },
    /// redb failed (I/O, corruption, …).
    #[error("storage: {0}")]
    Storage(Arc<redb::Error>),
    /// A record could not be decoded or encoded.
    #[error("corrupt record: {0}")]
    Codec(String),
    /// Anything else (directory creation, a panicked task).
    #[error("{0}")]
    Internal(String),
    /// The store was closed (the daemon is shutting down).
    #[error("the store is closed")]
    Closed,
    /// The store cannot write now (disk full or failing); nothing was written. The writer
    /// recovers on its own once the disk takes writes again.
    #[error("{0}")]
    Unavailable(Unavailable),
    /// The database file is damaged: start-up stops here.
    #[error("the store {path} is corrupt ({detail}); the daemon cannot start on it. Check it with `driftguard check-store`, then put a backup in its place with `driftguard restore --from <backup file>`")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What redb found (or that it panicked).
        detail: String,
    },
}

/// Why the store cannot write. Shown by the health endpoint; the detail (path, OS error)
/// goes to the log only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// The filesystem is out of space (or of quota).
    DiskFull,
    /// Another I/O error, a panic inside the storage engine, or a reopen in progress.
    Failing,
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unavailable::DiskFull => {
                "disk full: writes fail until space is freed, then resume on their own"
            }
            Unavailable::Failing => {
                "disk failing: writes fail until the store can be reopened, then resume on their own"
            }
        })
    }
}

/// Tells a full disk (or quota) from other I/O failures.
fn classify_io(e: &std::io::Error) -> Unavailable {
    use std::io::ErrorKind;
    if matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded) {
        Unavailable::DiskFull
    } else {
        Unavailable::Failing
    }
}

impl StoreError {
    /// True for errors that mean "not allowed", after which the transaction is still good.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            StoreError::NotFound
                | StoreError::Conflict(_)
                | StoreError::Invalid(_)
                | StoreError::NoCredits
                | StoreError::Forbidden(_)
        )
    }

    /// `Some` when the error means the store cannot write (or read) now because of the
    /// disk — what the API answers with `503 storage_unavailable`.
    pub fn unavailable(&self) -> Option<Unavailable> {
        match self {
            StoreError::Unavailable(why) => Some(*why),
            StoreError::Storage(e) => match e.as_ref() {
                redb::Error::Io(io) => Some(classify_io(io)),
                redb::Error::PreviousIo => Some(Unavailable::Failing),
                _ => None,
            },
            _ => None,
        }
    }
}

macro_rules! storage_error_from {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Storage(Arc::new(redb::Error::from(e)))
            }
        }
    )*};
}
storage_error_from!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::DatabaseError
);

impl From<redb::Error> for StoreError {
    fn from(e: redb::Error) -> Self {
        StoreError::Storage(Arc::new(e))
    }
}

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
    /// The contract versions checks score against; see [`Store::scoring_version`].
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

    // ---- accounts (operators) ----

    /// True until the first start has created the `default` account.
    pub async fn needs_bootstrap(&self) -> Result<bool, StoreError> {
        self.read(ops::needs_bootstrap).await
    }

    /// Creates the `default` account with `key` unless the store is already bootstrapped
    /// (then `None`).
    pub async fn bootstrap(
        &self,
        credits: u64,
        key: String,
    ) -> Result<Option<Account>, StoreError> {
        let now = self.shared.clock.now();
        self.write(move |txn| ops::bootstrap(txn, credits, &key, now))
            .await
    }

    /// Creates an account with `credits` and its first key (`key` is the full key text).
    pub async fn create_account(
        &self,
        name: String,
        credits: u64,
        key: String,
    ) -> Result<(Account, ApiKey), StoreError> {
        let now = self.shared.clock.now();
        self.write(move |txn| ops::create_account(txn, &name, credits, &key, now))
            .await
    }

    /// Every account, in creation order.
    pub async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.read(ops::list_accounts).await
    }

    /// Sets an account's remaining credits.
    pub async fn set_credits(&self, name: String, credits: u64) -> Result<Account, StoreError> {
        self.write(move |txn| ops::set_credits(txn, &name, credits))
            .await
    }

    /// Adds a key (full text `key`) to the named account.
    pub async fn add_key_by_name(&self, name: String, key: String) -> Result<ApiKey, StoreError> {
        let now = self.shared.clock.now();
        self.write(move |txn| {
            let account = ops::account_by_name(txn, &name)?;
            ops::insert_key(txn, account.id, &key, now)
        })
        .await
    }

    /// The account's balance and counters.
    pub async fn account(&self, account: AccountId) -> Result<Account, StoreError> {
        self.read(move |txn| ops::account(txn, account)).await
    }

    // ---- keys ----

    /// The key with this hash, active or not.
    pub async fn key_by_hash(&self, hash: KeyHash) -> Result<Option<ApiKey>, StoreError> {
        self.read(move |txn| ops::key_by_hash(txn, &hash)).await
    }

    /// Creates a key (full text `key`) for the account.
    pub async fn create_key(&self, account: AccountId, key: String) -> Result<ApiKey, StoreError> {
        let now = self.shared.clock.now();
        self.write(move |txn| ops::insert_key(txn, account, &key, now))
            .await
    }

    /// One page of the account's keys, oldest first.
    pub async fn list_keys(
        &self,
        account: AccountId,
        page: PageRequest,
    ) -> Result<Page<ApiKey>, StoreError> {
        self.read(move |txn| ops::list(txn, tables::KEYS, account, Order::OldestFirst, page))
            .await
    }

    /// Revokes or re-activates a key, as a caller whose key is of `caller` environment
    /// (a test key may not change a live key: [`StoreError::Forbidden`]).
    pub async fn set_key_active(
        &self,
        account: AccountId,
        key_id: KeyId,
        active: bool,
        caller: Environment,
    ) -> Result<ApiKey, StoreError> {
        self.write(move |txn| ops::set_key_active(txn, account, key_id, active, caller))
            .await
    }

    /// Deletes a revoked key for good (a test key may not delete a live key).
    pub async fn delete_key(
        &self,
        account: AccountId,
        key_id: KeyId,
        caller: Environment,
    ) -> Result<ApiKey, StoreError> {
        self.write(move |txn| ops::delete_key(txn, account, key_id, caller))
            .await
    }

    /// Records when keys were last used (coalesced by the caller).
    pub async fn record_key_use(&self, uses: Vec<KeyUse>) -> Result<(), StoreError> {
        self.write(move |txn| ops::record_key_use(txn, &uses)).await
    }

    // ---- contracts ----

    /// Creates a contract (version 1); [`StoreError::Conflict`] if the name is taken in
    /// the account.
    pub async fn create_contract(
        &self,
        account: AccountId,
        name: String,
        columns: Vec<Column>,
        rules: Rules,
    ) -> Result<Contract, StoreError> {
        let now = self.shared.clock.now();
        self.write(move |txn| ops::create_contract(txn, account, name, columns, rules, now))
            .await
    }

    /// One contract of the account.
    pub async fn contract(
        &self,
        account: AccountId,
        id: ContractId,
    ) -> Result<Contract, StoreError> {
        self.read(move |txn| ops::contract(txn, account, id)).await
    }

    /// The account's contract with exactly this name, if any.
    pub async fn contract_by_name(
        &self,
        account: AccountId,
        name: String,
    ) -> Result<Option<Contract>, StoreError> {
        self.read(move |txn| ops::contract_by_name(txn, account, &name))
            .await
    }

    /// One page of the account's contracts, oldest first.
    pub async fn list_contracts(
        &self,
        account: AccountId,
        page: PageRequest,
    ) -> Result<Page<Contract>, StoreError> {
        self.read(move |txn| ops::list(txn, tables::CONTRACTS, account, Order::OldestFirst, page))
            .await
    }

    /// Updates a contract: a new version if anything changed, nothing otherwise. A dry
    /// run answers the same from a read and writes nothing. Checks that start after this
    /// returns score against the new version.
    pub async fn update_contract(
        &self,
        account: AccountId,
        id: ContractId,
        update: ContractUpdate,
        dry_run: bool,
    ) -> Result<Updated, StoreError> {
        let now = self.shared.clock.now();
        if dry_run {
            return self
                .read(move |txn| ops::plan_contract_update(txn, account, id, update, now))
                .await;
        }
        let updated = self
            .write(move |txn| ops::update_contract(txn, account, id, update, now))
            .await?;
        if updated.changes.is_some() {
            let current = Arc::new(updated.contract.current_version());
            self.shared.contracts.offer_current(account, id, current);
        }
        Ok(updated)
    }

    /// Deletes a contract, its versions and the webhooks scoped to it (returned).
    pub async fn delete_contract(
        &self,
        account: AccountId,
        id: ContractId,
    ) -> Result<Vec<WebhookId>, StoreError> {
        let deleted = self
            .write(move |txn| ops::delete_contract(txn, account, id))
            .await?;
        self.shared.contracts.remove_contract(account, id);
        Ok(deleted)
    }

    /// One page of a contract's versions, newest first, each with its changes.
    pub async fn list_contract_versions(
        &self,
        account: AccountId,
        id: ContractId,
        page: PageRequest,
    ) -> Result<Page<VersionEntry>, StoreError> {
        self.read(move |txn| ops::list_versions(txn, account, id, page))
            .await
    }

    /// One version of a contract, with its changes.
    pub async fn contract_version(
        &self,
        account: AccountId,
        id: ContractId,
        version: u32,
    ) -> Result<VersionEntry, StoreError> {
        self.read(move |txn| ops::version_entry(txn, account, id, version))
            .await
    }

    // ---- checks ----

    /// Checks `incoming` against the contract — its current version, or `version` — and
    /// stores the result together with the account's counters and the deliveries it
    /// triggers, in one transaction. Returns the check; the dispatcher is signalled if
    /// deliveries were queued.
    ///
    /// The scoring runs here, on the caller's task, against a cached (immutable) version:
    /// only the bookkeeping goes through the (serial) writer, which checks that the
    /// contract still exists.
    pub async fn run_check(
        &self,
        account: AccountId,
        contract_id: ContractId,
        version: Option<u32>,
        incoming: Vec<IncomingColumn>,
        environment: Environment,
    ) -> Result<Check, StoreError> {
        let scored = self.scoring_version(account, contract_id, version).await?;
        let assessment = crate::drift::assess(&scored.columns, &scored.rules, &incoming);
        let contract_version = scored.version;
        let new = ops::NewCheck {
            account,
            contract_id,
            contract_version,
            assessment,
            environment,
            at: self.shared.clock.stamp(),
        };
        let (check, queued) = self
            .write_in_batch(move |batch| batch.checks()?.record(new))
            .await?;
        if queued > 0 {
            self.signal_due();
        }
        Ok(check)
    }

    /// The version a check scores against, from the cache (read once from the store on a
    /// miss): the contract's current version, or the one asked for.
    async fn scoring_version(
        &self,
        account: AccountId,
        id: ContractId,
        version: Option<u32>,
    ) -> Result<Arc<ContractVersion>, StoreError> {
        let cache = &self.shared.contracts;
        if let Some(cached) = cache.get(account, id, version) {
            return Ok(cached);
        }
        match version {
            None => {
                let current = Arc::new(self.contract(account, id).await?.current_version());
                cache.offer_current(account, id, current.clone());
                Ok(current)
            }
            Some(n) => {
                let entry = self
                    .read(move |txn| ops::contract_version(txn, account, id, n))
                    .await?;
                let entry = Arc::new(entry);
                cache.insert_version(account, id, entry.clone());
                Ok(entry)
            }
        }
    }

    /// Deletes up to `max` checks created before `before` (`storage.check_retention`);
    /// returns how many.
    pub async fn purge_checks(&self, before: UnixMs, max: usize) -> Result<usize, StoreError> {
        self.write(move |txn| ops::purge_checks(txn, before, max))
            .await
    }

    /// One stored check of the account.
    pub async fn check(&self, account: AccountId, id: CheckId) -> Result<Check, StoreError> {
        self.read(move |txn| ops::check(txn, account, id)).await
    }

    /// One page of the account's checks, newest first.
    pub async fn list_checks(
        &self,
        account: AccountId,
        page: PageRequest,
    ) -> Result<Page<Check>, StoreError> {
        self.read(move |txn| ops::list(txn, tables::CHECKS, account, Order::NewestFirst, page))
            .await
    }

    // ---- webhooks ----

    /// Registers a webhook; [`StoreError::Invalid`] if its contract is not the account's,
    /// [`StoreError::Conflict`] if the account has `max_webhooks` already.
    pub async fn create_webhook(
        &self,
        account: AccountId,
        webhook: NewWebhook,
        max_webhooks: usize,
    ) -> Result<Webhook, StoreError> {
        let now = self.shared.clock.now();
        self.write(move |txn| ops::create_webhook(txn, account, webhook, max_webhooks, now))
            .await
    }

    /// One webhook of the account.
    pub async fn webhook(&self, account: AccountId, id: WebhookId) -> Result<Webhook, StoreError> {
        self.read(move |txn| ops::webhook(txn, account, id)).await
    }

    /// One page of the account's webhooks, oldest first.
    pub async fn list_webhooks(
        &self,
        account: AccountId,
        page: PageRequest,
    ) -> Result<Page<Webhook>, StoreError> {
        self.read(move |txn| ops::list(txn, tables::WEBHOOKS, account, Order::OldestFirst, page))
            .await
    }

    /// Applies a `PATCH` to a webhook (pausing or resuming its pending deliveries, due at
    /// once).
    pub async fn update_webhook(
        &self,
        account: AccountId,
        id: WebhookId,
        update: WebhookUpdate,
    ) -> Result<Webhook, StoreError> {
        let due = self.shared.clock.steady();
        let (webhook, resumed) = self
            .write(move |txn| ops::update_webhook(txn, account, id, update, due))
            .await?;
        if resumed {
            self.signal_due();
        }
        Ok(webhook)
    }

    /// Replaces a webhook's secret; the old one keeps signing for `grace`.
    pub async fn rotate_webhook_secret(
        &self,
        account: AccountId,
        id: WebhookId,
        secret: String,
        grace: std::time::Duration,
    ) -> Result<Webhook, StoreError> {
        let now = self.shared.clock.now();
        self.write(move |txn| ops::rotate_secret(txn, account, id, secret, grace, now))
            .await
    }

    /// Drops previous secrets whose grace period has ended; returns how many.
    pub async fn drop_expired_secrets(&self) -> Result<usize, StoreError> {
        let now = self.shared.clock.now();
        self.write(move |txn| ops::drop_expired_secrets(txn, now))
            .await
    }

    /// Deletes a webhook.
    pub async fn delete_webhook(
        &self,
        account: AccountId,
        id: WebhookId,
    ) -> Result<Webhook, StoreError> {
        self.write(move |txn| ops::delete_webhook(txn, account, id))
            .await
    }

    // ---- the delivery queue ----

    /// One page of a webhook's deliveries, newest first (404 for another account's webhook).
    pub async fn list_deliveries(
        &self,
        account: AccountId,
        webhook_id: WebhookId,
        page: PageRequest,
    ) -> Result<Page<Delivery>, StoreError> {
        self.read(move |txn| {
            ops::webhook(txn, account, webhook_id)?;
            queue::list(txn, webhook_id, page)
        })
        .await
    }

    /// The deliveries due now (a read: nothing is written until an attempt ends).
    pub async fn due(&self, request: DueRequest) -> Result<DueBatch, StoreError> {
        self.read(move |txn| queue::due(txn, &request)).await
    }

    /// Drops the stale due entries [`Store::due`] reported.
    pub async fn repair_queue(&self, stale: Vec<DueEntry>) -> Result<(), StoreError> {
        self.write(move |txn| queue::repair(txn, &stale)).await
    }

    /// Records an attempt's outcome and moves the delivery on; `disable_after` abandoned
    /// deliveries in a row disable the webhook (0: never). Returns the reason if the
    /// webhook was disabled. The dispatcher, which made the attempt, reschedules itself
    /// (it must first stop holding the delivery).
    pub async fn finish_attempt(
        &self,
        delivery: DeliveryKey,
        attempt: Attempt,
        after: AfterAttempt,
        disable_after: u32,
    ) -> Result<Option<DisabledReason>, StoreError> {
        let now = self.shared.clock.now();
        self.write(move |txn| {
            queue::finish_attempt(txn, delivery, attempt, after, disable_after, now)
        })
        .await
    }

    /// Stores a finished test delivery of the account's webhook (`NotFound` if the webhook
    /// is gone); its `seq` is assigned here.
    pub async fn record_test_delivery(
        &self,
        account: AccountId,
        delivery: Delivery,
    ) -> Result<Delivery, StoreError> {
        self.write(move |txn| queue::record_test(txn, account, delivery))
            .await
    }

    /// Queues a delivered or abandoned delivery again, due now.
    pub async fn retry_delivery(
        &self,
        account: AccountId,
        webhook_id: WebhookId,
        delivery_id: DeliveryId,
    ) -> Result<Delivery, StoreError> {
        let due = self.shared.clock.steady();
        let delivery = self
            .write(move |txn| queue::retry(txn, account, webhook_id, delivery_id, due))
            .await?;
        if delivery.next_attempt_at.is_some() {
            self.signal_due();
        }
        Ok(delivery)
    }

    /// Queues again every abandoned delivery of the webhook created at or after `since`,
    /// due now; returns how many.
    pub async fn recover_deliveries(
        &self,
        account: AccountId,
        webhook_id: WebhookId,
        since: UnixMs,
    ) -> Result<usize, StoreError> {
        let due = self.shared.clock.steady();
        let requeued = self
            .write(move |txn| queue::recover(txn, account, webhook_id, since, due))
            .await?;
        if requeued > 0 {
            self.signal_due();
        }
        Ok(requeued)
    }

    /// Deletes up to `max` deliveries finished before `before`; returns how many.
    pub async fn purge_finished(&self, before: UnixMs, max: usize) -> Result<usize, StoreError> {
        self.write(move |txn| queue::purge_finished(txn, before, max))
            .await
    }

    /// When the earliest queued delivery is due (steady clock), and how many are queued.
    pub async fn queue_state(&self) -> Result<(Option<UnixMs>, u64), StoreError> {
        self.read(|txn| Ok((queue::next_due(txn)?, queue::due_count(txn)?)))
            .await
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
