//! The store: one redb file under `data_dir`, and the only module that names a table or
//! opens a transaction.
//!
//! - [`records`]: the stored shapes, and their conversions to and from the domain types.
//! - [`codec`]: bincode behind a stored format version (and its migrations).
//! - [`tables`]: every table, listed once, with typed access to tables of records.
//! - [`ops`]: every transaction body, as plain synchronous functions…
//! - [`queue`]: …except those of the webhook delivery queue (the persisted timer wheel).
//! - [`writer`]: the group-commit thread that runs every write.
//! - [`maintenance`]: snapshots (backup), restore, verification, compaction.
//!
//! Dependencies point down this list and never back: `records` ← `codec` ← `tables` ←
//! `ops`/`queue`/`maintenance`.
//!
//! [`Store`] is the async face the daemon uses: reads run on tokio's blocking pool, writes
//! go to the writer thread, so redb never blocks an async worker thread. It stamps
//! records with its [`Clock`], and signals the dispatcher ([`Store::due_signal`]) after
//! every commit that makes deliveries due.

mod codec;
pub mod maintenance;
mod ops;
mod queue;
mod records;
mod tables;
mod writer;

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use redb::{Database, ReadTransaction, ReadableDatabase, WriteTransaction};
use tokio::sync::Notify;

pub use codec::FORMAT_VERSION;
pub use ops::{KeyUse, NewWebhook};
pub use queue::{AfterAttempt, DeliveryKey, DueBatch, DueDelivery, DueRequest, InFlight};
pub use tables::{Order, Page, PageRequest};

use crate::clock::{Clock, UnixMs};
use crate::credentials::{Environment, KeyHash};
use crate::drift::{Column, IncomingColumn};
use crate::ids::{AccountId, CheckId, ContractId, KeyId, WebhookId};
use crate::model::{Account, ApiKey, Attempt, Check, Contract, Delivery, Webhook};
use crate::sync::{lock, read, write};

/// The name of the database file inside `data_dir`.
pub const DB_FILE: &str = "driftguard.redb";

/// Most contracts kept in memory for scoring.
const CONTRACT_CACHE_ENTRIES: usize = 10_000;

/// Page cache size. redb's default (1 GiB) is far more than a small VM should give it.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

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
        )
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
    db: Arc<Database>,
    path: PathBuf,
    /// Stamps records (wall clock) and schedules deliveries (steady clock).
    clock: Clock,
    /// Notified after every commit that made deliveries due; the dispatcher waits on it.
    due_signal: Arc<Notify>,
    /// `None` once closed. A std mutex: it is held only to clone or take the sender.
    writer: Mutex<Option<std::sync::mpsc::Sender<writer::Job>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    /// Contracts by `(account, id)`; see [`Store::cached_contract`].
    contracts: RwLock<HashMap<(AccountId, ContractId), Arc<Contract>>>,
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
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse(path.clone()),
                other => other.into(),
            })?;
        let txn = db.begin_write()?;
        tables::initialise(&txn)?;
        txn.commit()?;

        let db = Arc::new(db);
        let (sender, thread) = writer::spawn(db.clone(), max_write_batch)
            .map_err(|e| StoreError::Internal(format!("cannot start the writer thread: {e}")))?;
        Ok(Store {
            shared: Arc::new(Shared {
                db,
                path,
                clock,
                due_signal: Arc::new(Notify::new()),
                writer: Mutex::new(Some(sender)),
                writer_thread: Mutex::new(Some(thread)),
                contracts: RwLock::new(HashMap::new()),
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
        let db = self.shared.db.clone();
        tokio::task::spawn_blocking(move || op(&db.begin_read()?))
            .await
            .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
    }

    async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
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

    /// Reads the format version: proves the file can be read.
    pub async fn health(&self) -> Result<(), StoreError> {
        self.read(tables::format_version).await.map(drop)
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

    /// Revokes or re-activates a key.
    pub async fn set_key_active(
        &self,
        account: AccountId,
        key_id: KeyId,
        active: bool,
    ) -> Result<ApiKey, StoreError> {
        self.write(move |txn| ops::set_key_active(txn, account, key_id, active))
            .await
    }

    /// Deletes a revoked key for good.
    pub async fn delete_key(
        &self,
        account: AccountId,
        key_id: KeyId,
    ) -> Result<ApiKey, StoreError> {
        self.write(move |txn| ops::delete_key(txn, account, key_id))
            .await
    }

    /// Records when keys were last used (coalesced by the caller).
    pub async fn record_key_use(&self, uses: Vec<KeyUse>) -> Result<(), StoreError> {
        self.write(move |txn| ops::record_key_use(txn, &uses)).await
    }

    // ---- contracts ----

    /// Creates a contract; [`StoreError::Conflict`] if the name is taken in the account.
    pub async fn create_contract(
        &self,
        account: AccountId,
        name: String,
        columns: Vec<Column>,
    ) -> Result<Contract, StoreError> {
        let now = self.shared.clock.now();
        self.write(move |txn| ops::create_contract(txn, account, name, columns, now))
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

    /// The account's contract with exactly this name, if any (`GET /contracts?name=`).
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

    // ---- checks ----

    /// Checks `incoming` against the contract and stores the result together with the
    /// account's counters and the deliveries it triggers, in one transaction. Returns the
    /// check; the dispatcher is signalled if deliveries were queued.
    ///
    /// The scoring runs here, on the caller's task, against the cached contract: only the
    /// bookkeeping goes through the (serial) writer.
    pub async fn run_check(
        &self,
        account: AccountId,
        contract_id: ContractId,
        incoming: Vec<IncomingColumn>,
        environment: Environment,
    ) -> Result<Check, StoreError> {
        let contract = self.cached_contract(account, contract_id).await?;
        let assessment = crate::drift::assess(&contract.columns, &incoming);
        let at = self.shared.clock.stamp();
        let (check, queued) = self
            .write(move |txn| {
                ops::record_check(txn, account, contract_id, assessment, environment, at)
            })
            .await?;
        if queued > 0 {
            self.signal_due();
        }
        Ok(check)
    }

    /// A contract from the in-memory cache, read once from the store. Contracts are
    /// immutable and never deleted, so a cached copy is never stale.
    async fn cached_contract(
        &self,
        account: AccountId,
        id: ContractId,
    ) -> Result<Arc<Contract>, StoreError> {
        if let Some(contract) = read(&self.shared.contracts).get(&(account, id)) {
            return Ok(contract.clone());
        }
        let contract = Arc::new(self.contract(account, id).await?);
        let mut cache = write(&self.shared.contracts);
        if cache.len() >= CONTRACT_CACHE_ENTRIES {
            cache.clear(); // crude but bounded; it refills from the store
        }
        cache.insert((account, id), contract.clone());
        Ok(contract)
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

    /// Registers a webhook; [`StoreError::Invalid`] if its contract is not the account's.
    pub async fn create_webhook(
        &self,
        account: AccountId,
        webhook: NewWebhook,
    ) -> Result<Webhook, StoreError> {
        let now = self.shared.clock.now();
        self.write(move |txn| ops::create_webhook(txn, account, webhook, now))
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

    /// Pauses or resumes a webhook (and with it its pending deliveries, due at once).
    pub async fn set_webhook_active(
        &self,
        account: AccountId,
        id: WebhookId,
        active: bool,
    ) -> Result<Webhook, StoreError> {
        let due = self.shared.clock.steady();
        let (webhook, resumed) = self
            .write(move |txn| ops::set_webhook_active(txn, account, id, active, due))
            .await?;
        if resumed {
            self.signal_due();
        }
        Ok(webhook)
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
    pub async fn repair_queue(&self, stale: Vec<(u64, u64, WebhookId)>) -> Result<(), StoreError> {
        self.write(move |txn| queue::repair(txn, &stale)).await
    }

    /// Records an attempt's outcome and moves the delivery on. The dispatcher, which
    /// made the attempt, reschedules itself (it must first stop holding the delivery).
    pub async fn finish_attempt(
        &self,
        delivery: DeliveryKey,
        attempt: Attempt,
        after: AfterAttempt,
    ) -> Result<(), StoreError> {
        let now = self.shared.clock.now();
        self.write(move |txn| queue::finish_attempt(txn, delivery, attempt, after, now))
            .await
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
