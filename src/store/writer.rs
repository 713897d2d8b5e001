//! Group commit: one thread owns every write transaction — and the database file's health.
//!
//! A durable redb commit costs an fsync (≈0.55 ms here), so committing each request on its
//! own caps throughput at ~1,800 writes/s. Instead every write is a job sent to this thread;
//! it takes all jobs waiting at that moment, runs them in one transaction, commits once,
//! and only then answers each job. Durability is unchanged — no caller hears back before
//! its data is on disk — while throughput grows with concurrency.
//!
//! A job that fails with a *rejection* (not found, conflict, no credits…) has written
//! nothing (ops check before they write), so the rest of the batch commits. A job that
//! fails with a storage error, or panics, aborts the whole batch and every job in it fails.
//!
//! **When the disk fails.** After one I/O error (typically `No space left on device`)
//! redb refuses every later write until the database is reopened. So a batch that fails
//! with an I/O error (or panics inside redb) puts the writer into *recovery*: every job is
//! answered [`StoreError::Unavailable`] at once, [`Storage::failure`] says why (the health
//! endpoint shows it), and with a growing backoff the writer checks that the data
//! directory takes writes again, reopens the database (swapping it under the reads, see
//! [`Storage`]) and commits a probe. When that works, writes resume — no restart.

use std::io::Write;
use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use redb::{Database, WriteTransaction};
use tokio::sync::oneshot;

use super::checks::CheckPass;
use super::{StoreError, Unavailable};
use crate::sync::{lock, read, write};

/// The default for the most jobs committed together (`storage.max_write_batch`); it bounds
/// the latency one commit adds to the first job of a batch.
pub const DEFAULT_MAX_BATCH: NonZeroUsize = NonZeroUsize::new(512).expect("512 > 0"); // ok: const

/// Page cache size. redb's default (1 GiB) is far more than a small VM should give it.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// First wait before trying to recover from a storage failure; it doubles up to
/// [`MAX_RECOVERY_BACKOFF`].
const FIRST_RECOVERY_BACKOFF: Duration = Duration::from_millis(200);
/// Longest wait between two recovery attempts.
const MAX_RECOVERY_BACKOFF: Duration = Duration::from_secs(5);
/// How long a reopen waits for the reads still using the old database to finish.
const READS_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes written (and removed) to learn whether the data directory takes writes again.
const SPACE_PROBE_BYTES: usize = 256 * 1024;
/// The file the space probe writes, inside the data directory.
const SPACE_PROBE_FILE: &str = "space-probe.tmp";

/// The database file and its health, shared by the writer thread and the reads.
///
/// The writer thread owns reopening: it takes the database out (reads meanwhile answer
/// [`StoreError::Unavailable`]), waits for the reads still holding it, drops it (redb
/// locks the file, so it must be closed before it can be opened again) and puts the new
/// one in.
pub(super) struct Storage {
    path: PathBuf,
    /// `None` only while the writer reopens the file (or could not).
    db: RwLock<Option<Arc<Database>>>,
    /// Why writes fail, while they do.
    failure: Mutex<Option<Unavailable>>,
    /// How long commits take.
    pub(super) commit_times: CommitTimes,
}

impl Storage {
    pub(super) fn new(path: PathBuf, db: Database) -> Storage {
        Storage {
            path,
            db: RwLock::new(Some(Arc::new(db))),
            failure: Mutex::new(None),
            commit_times: CommitTimes::default(),
        }
    }

    /// The open database, for one read.
    pub(super) fn current(&self) -> Result<Arc<Database>, StoreError> {
        read(&self.db)
            .clone()
            .ok_or(StoreError::Unavailable(Unavailable::Failing))
    }

    /// Why writes fail, if they do.
    pub(super) fn failure(&self) -> Option<Unavailable> {
        *lock(&self.failure)
    }

    fn set_failure(&self, failure: Option<Unavailable>) {
        *lock(&self.failure) = failure;
    }
}

/// Upper bounds (seconds) of the commit-duration buckets: 100 µs doubling to ≈3.3 s, then
/// everything slower.
const COMMIT_BUCKETS: [f64; 16] = {
    let mut bounds = [0.0001; 16];
    let mut i = 1;
    while i < bounds.len() {
        bounds[i] = bounds[i - 1] * 2.0;
        i += 1;
    }
    bounds
};

/// How long durable commits take (redb's page writes and the fsync): the disk's share of
/// every write's latency, for the metrics. Lock-free; written by the writer thread only.
#[derive(Debug, Default)]
pub(super) struct CommitTimes {
    /// Commits per bucket of [`COMMIT_BUCKETS`], the last one for slower ones (not
    /// cumulative).
    buckets: [AtomicU64; COMMIT_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl CommitTimes {
    fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = COMMIT_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(COMMIT_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The commits so far.
    pub(super) fn snapshot(&self) -> CommitHistogram {
        let upper_bounds = COMMIT_BUCKETS.iter().copied().chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> = upper_bounds
            .zip(&self.buckets)
            .map(|(bound, n)| (bound, n.load(Ordering::Relaxed)))
            .collect();
        CommitHistogram {
            // Counted from the buckets read, so the count always equals their total.
            count: buckets.iter().map(|&(_, n)| n).sum(),
            buckets,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

/// How long the durable commits so far took, as a histogram.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommitHistogram {
    /// `(upper bound in seconds, commits in this bucket)`, not cumulative; the last bound
    /// is infinity.
    pub buckets: Vec<(f64, u64)>,
    /// Commits.
    pub count: u64,
    /// Their total duration.
    pub sum_seconds: f64,
}

/// Opens (creating if needed) the database file at `path`, readable by the owner only
/// whatever the umask: the file is created 0600 before redb opens it.
pub(super) fn open_database(path: &Path) -> Result<Database, StoreError> {
    create_private_file(path)
        .map_err(|e| StoreError::Internal(format!("cannot create {}: {e}", path.display())))?;
    Database::builder()
        .set_cache_size(CACHE_BYTES)
        .create(path)
        .map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse(path.to_path_buf()),
            other => other.into(),
        })
}

/// Creates `path` empty with mode 0600 if it does not exist, and makes an existing file
/// 0600 (a file made by an older release under a loose umask).
pub(super) fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// What a job runs in: the batch's transaction, and the pass that consecutive checks
/// share ([`CheckPass`]).
pub(super) struct Batch<'t> {
    txn: &'t WriteTransaction,
    checks: Option<CheckPass<'t>>,
}

impl<'t> Batch<'t> {
    fn new(txn: &'t WriteTransaction) -> Batch<'t> {
        Batch { txn, checks: None }
    }

    /// The transaction, for any operation. The check pass before it (if any) is finished
    /// first, so the operation sees every earlier check written.
    pub(super) fn txn(&mut self) -> Result<&'t WriteTransaction, StoreError> {
        self.finish_checks()?;
        Ok(self.txn)
    }

    /// The pass for a check: the one the previous job left open, or a new one.
    pub(super) fn checks(&mut self) -> Result<&mut CheckPass<'t>, StoreError> {
        match &mut self.checks {
            Some(pass) => Ok(pass),
            none => Ok(none.insert(CheckPass::open(self.txn)?)),
        }
    }

    fn finish_checks(&mut self) -> Result<(), StoreError> {
        self.checks.take().map_or(Ok(()), CheckPass::finish)
    }
}

/// A write waiting for the writer thread.
pub(super) struct Job {
    /// Runs the operation inside the batch's transaction.
    run: Run,
    /// Answers the job with an error (the batch failed, or the store cannot write). Does
    /// nothing if the job was answered already.
    fail: Box<dyn FnOnce(StoreError) + Send>,
}

/// A job's operation, run inside the batch.
type Run = Box<dyn FnOnce(&mut Batch<'_>) -> Completion + Send>;

/// What a job left to do once the batch's fate is known.
struct Completion {
    /// The job hit a storage failure: the transaction must not be committed.
    fatal: Option<StoreError>,
    /// Sends the job's result, once the batch committed.
    answer: Box<dyn FnOnce() + Send>,
}

/// Wraps an operation into a [`Job`] and returns the receiver of its answer.
pub(super) fn job<T, F>(op: F) -> (Job, oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    // Shared by `run` (success) and `fail`: whichever answers first takes it.
    let sender = Arc::new(Mutex::new(Some(tx)));
    let on_failure = sender.clone();
    let run = Box::new(move |batch: &mut Batch<'_>| {
        let result = catch_unwind(AssertUnwindSafe(|| op(batch)))
            .unwrap_or_else(|_| Err(StoreError::Internal("a write operation panicked".into())));
        let fatal = match &result {
            Err(e) if !e.is_rejection() => Some(e.clone()),
            _ => None,
        };
        Completion {
            fatal,
            answer: Box::new(move || {
                if let Some(tx) = lock(&sender).take() {
                    // The caller may have gone away (client disconnected); that is fine.
                    let _ = tx.send(result);
                }
            }),
        }
    });
    let fail = Box::new(move |error: StoreError| {
        if let Some(tx) = lock(&on_failure).take() {
            let _ = tx.send(Err(error));
        }
    });
    (Job { run, fail }, rx)
}

/// Starts the writer thread. It ends when every [`Sender`] is dropped and the queue is
/// drained.
pub(super) fn spawn(
    storage: Arc<Storage>,
    max_batch: NonZeroUsize,
) -> std::io::Result<(Sender<Job>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let handle = std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || run(&storage, rx, max_batch.get()))?;
    Ok((tx, handle))
}

/// The writer's state while the store cannot write.
struct Recovery {
    failure: Unavailable,
    /// The next attempt to recover.
    next_try: Instant,
    /// The wait after the next failed attempt.
    backoff: Duration,
}

fn run(storage: &Storage, jobs: Receiver<Job>, max_batch: usize) {
    let mut recovery: Option<Recovery> = None;
    loop {
        let first = match &recovery {
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            // Recovering: try again when the backoff ends, even if no write comes.
            Some(state) => {
                match jobs.recv_timeout(state.next_try.saturating_duration_since(Instant::now())) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout) => {
                        recovery = recovery.and_then(|state| recover(storage, state));
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        };
        let mut batch = vec![first];
        batch.extend(jobs.try_iter().take(max_batch - 1));
        if let Some(state) = recovery.take() {
            if Instant::now() < state.next_try {
                // Fail fast while the store cannot write: callers get 503 at once.
                fail_all(batch, state.failure);
                recovery = Some(state);
                continue;
            }
            recovery = recover(storage, state);
            if let Some(state) = &recovery {
                fail_all(batch, state.failure);
                continue;
            }
        }
        let Ok(db) = storage.current() else {
            // Not reachable: the database is only missing while recovering.
            fail_all(batch, Unavailable::Failing);
            continue;
        };
        if let Err(failure) = commit_batch(storage, &db, batch) {
            drop(db);
            recovery = Some(Recovery {
                failure,
                next_try: Instant::now() + FIRST_RECOVERY_BACKOFF,
                backoff: FIRST_RECOVERY_BACKOFF * 2,
            });
        }
    }
}

fn fail_all(batch: Vec<Job>, failure: Unavailable) {
    for job in batch {
        (job.fail)(StoreError::Unavailable(failure));
    }
}

/// Runs `batch` in one transaction and answers every job. Returns why the store cannot
/// write if the batch failed for a reason that needs the database reopened (an I/O
/// error, or a panic inside redb).
///
/// The failure is recorded in `storage` *before* any job is answered: a caller that hears
/// 503 and asks the health endpoint at once must hear the same.
fn commit_batch(storage: &Storage, db: &Database, batch: Vec<Job>) -> Result<(), Unavailable> {
    let (runs, fails): (Vec<_>, Vec<_>) = batch.into_iter().map(|job| (job.run, job.fail)).unzip();
    // A panic anywhere in the batch (redb's commit included) fails the batch, not the
    // writer thread.
    let times = &storage.commit_times;
    let outcome = catch_unwind(AssertUnwindSafe(|| run_and_commit(db, runs, times)))
        .unwrap_or_else(|_| {
            tracing::error!("a write transaction panicked; the store will be reopened");
            Err(StoreError::Unavailable(Unavailable::Failing))
        });
    match outcome {
        Ok(answers) => {
            for answer in answers {
                answer();
            }
            Ok(())
        }
        Err(e) => {
            let failure = e.unavailable();
            if failure.is_some() {
                storage.set_failure(failure);
            }
            let answer = failure.map_or(e, StoreError::Unavailable);
            for fail in fails {
                fail(answer.clone());
            }
            failure.map_or(Ok(()), Err)
        }
    }
}

type Answers = Vec<Box<dyn FnOnce() + Send>>;

fn run_and_commit(
    db: &Database,
    runs: Vec<Run>,
    times: &CommitTimes,
) -> Result<Answers, StoreError> {
    let txn = db
        .begin_write()
        .map_err(|e| logged("cannot begin a write transaction", e))?;
    let mut batch = Batch::new(&txn);
    let completions: Vec<Completion> = runs.into_iter().map(|run| run(&mut batch)).collect();
    // The pass is finished (or dropped) before commit or abort: they need the tables closed.
    let finished = batch.finish_checks().err();
    drop(batch);
    if let Some(e) = finished.or_else(|| completions.iter().find_map(|c| c.fatal.clone())) {
        if let Err(abort) = txn.abort() {
            tracing::error!(error = %abort, "aborting a failed batch failed");
        }
        if e.unavailable().is_some() {
            tracing::error!(error = %e, "a write failed");
        }
        return Err(e);
    }
    let started = Instant::now();
    txn.commit().map_err(|e| logged("commit failed", e))?;
    times.observe(started.elapsed());
    Ok(completions.into_iter().map(|c| c.answer).collect())
}

/// Logs a redb error with its detail (the answer to the caller is coarser).
fn logged(what: &'static str, e: impl Into<redb::Error>) -> StoreError {
    let e: redb::Error = e.into();
    tracing::error!(error = %e, "{what}");
    StoreError::from(e)
}

/// One attempt to make the store writable again; `None` when it is.
fn recover(storage: &Storage, state: Recovery) -> Option<Recovery> {
    let again = |failure: Unavailable| {
        storage.set_failure(Some(failure));
        tracing::warn!(
            reason = %failure,
            retry_in_ms = state.backoff.as_millis() as u64,
            "the store still cannot write"
        );
        Some(Recovery {
            failure,
            next_try: Instant::now() + state.backoff,
            backoff: (state.backoff * 2).min(MAX_RECOVERY_BACKOFF),
        })
    };
    // Reopening while the disk is still full would only cost the reads; ask the
    // filesystem first.
    if let Err(e) = probe_space(&storage.path) {
        return again(super::error::classify_io(&e));
    }
    if let Err(failure) = reopen(storage) {
        return again(failure);
    }
    let probe = storage
        .current()
        .and_then(|db| commit_batch(storage, &db, Vec::new()).map_err(StoreError::Unavailable));
    if let Err(e) = probe {
        return again(e.unavailable().unwrap_or(Unavailable::Failing));
    }
    storage.set_failure(None);
    tracing::info!(path = %storage.path.display(), "the store can write again; writes resume");
    None
}

/// Writes and removes a small file beside the database: can the filesystem take writes?
fn probe_space(db_path: &Path) -> std::io::Result<()> {
    let path = db_path.with_file_name(SPACE_PROBE_FILE);
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path)?;
        file.write_all(&[0u8; SPACE_PROBE_BYTES])?;
        file.sync_all()
    })();
    let _ = std::fs::remove_file(&path);
    result
}

/// Closes the database (once no read holds it) and opens it again: redb accepts writes
/// again only after a reopen.
fn reopen(storage: &Storage) -> Result<(), Unavailable> {
    let old = write(&storage.db).take();
    if let Some(old) = old {
        let until = Instant::now() + READS_DRAIN_TIMEOUT;
        while Arc::strong_count(&old) > 1 {
            if Instant::now() >= until {
                tracing::warn!("reads still hold the store; reopening later");
                *write(&storage.db) = Some(old);
                return Err(Unavailable::Failing);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(old);
    }
    let opened = catch_unwind(|| open_database(&storage.path))
        .unwrap_or_else(|_| Err(StoreError::Internal("redb panicked while opening".into())));
    match opened {
        Ok(db) => {
            *write(&storage.db) = Some(Arc::new(db));
            tracing::info!(path = %storage.path.display(), "store reopened");
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %e, path = %storage.path.display(), "cannot reopen the store");
            Err(e.unavailable().unwrap_or(Unavailable::Failing))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(dir: &Path) -> Arc<Storage> {
        let path = dir.join("test.redb");
        let db = open_database(&path).expect("open");
        Arc::new(Storage::new(path, db))
    }

    /// A job that panics outside the operation's own guard, as a panic inside redb's
    /// commit would.
    fn panicking_job() -> (Job, oneshot::Receiver<Result<(), StoreError>>) {
        let (mut job, answer) = job(|_| Ok(()));
        job.run = Box::new(|_| panic!("simulated panic inside a commit"));
        (job, answer)
    }

    #[test]
    fn commit_times_fall_into_doubling_buckets_and_sum_up() {
        let times = CommitTimes::default();
        for took in [50e-6, 100e-6, 0.001, 1.0, 10.0] {
            times.observe(Duration::from_secs_f64(took));
        }
        let histogram = times.snapshot();
        assert_eq!(histogram.count, 5);
        assert!((histogram.sum_seconds - 11.00115).abs() < 1e-6);
        assert_eq!(histogram.buckets.len(), 17);
        let bucket = |bound: f64| {
            histogram
                .buckets
                .iter()
                .find(|(b, _)| (b - bound).abs() < 1e-9)
                .map(|&(_, n)| n)
        };
        assert_eq!(bucket(0.0001), Some(2), "50 µs and exactly 100 µs");
        assert_eq!(bucket(0.0016), Some(1), "1 ms");
        assert_eq!(bucket(1.6384), Some(1), "1 s");
        assert_eq!(histogram.buckets.last(), Some(&(f64::INFINITY, 1)), "10 s");
    }

    /// Consecutive checks share one pass; an operation between them sees them written,
    /// a rejected check changes nothing, and the batch commits what each would alone.
    #[test]
    fn checks_in_a_batch_share_a_pass_that_other_operations_see_through() {
        use crate::clock::{Stamp, UnixMs};
        use crate::credentials::Environment;
        use crate::drift::{self, Rules};
        use crate::ids::{AccountId, ContractId};
        use crate::store::accounts::create_account;
        use crate::store::checks::NewCheck;
        use crate::store::contracts::create_contract;
        use crate::store::tables::{ACCOUNTS, META, NEXT_SEQ_KEY};
        use redb::{ReadableDatabase, ReadableTable};

        let dir = tempfile::tempdir().expect("tempdir");
        let storage = storage(dir.path());
        let db = storage.current().expect("open");
        let now = UnixMs(1_700_000_000_000);
        let (setup, created) = job(move |batch| {
            let txn = batch.txn()?;
            let key = crate::credentials::generate_key(Environment::Live);
            let (account, _) = create_account(txn, "a", 1, &key, now)?;
            let contract = create_contract(
                txn,
                account.id,
                crate::store::NewContract {
                    name: "c".into(),
                    ..Default::default()
                },
                now,
            )?;
            Ok((account.id, contract.id))
        });
        commit_batch(&storage, &db, vec![setup]).expect("setup commits");
        let (account, contract) = created.blocking_recv().expect("answer").expect("created");

        let check = |contract_id: ContractId, environment: Environment| {
            job(move |batch| {
                let new = NewCheck {
                    account,
                    contract_id,
                    contract_version: 1,
                    assessment: drift::assess(&[], &Rules::default(), &[]),
                    environment,
                    at: Stamp {
                        wall: now,
                        steady: now,
                    },
                };
                batch.checks()?.record(new).map(|(check, _)| check.id)
            })
        };
        let read_account = |account: AccountId| {
            job(move |batch| {
                let row = ACCOUNTS.write(batch.txn()?)?.get(account.0)?;
                row.ok_or(StoreError::NotFound)
            })
        };
        let (live, mut live_answer) = check(contract, Environment::Live);
        let (between, mut between_answer) = read_account(account);
        let (broke, mut broke_answer) = check(contract, Environment::Live);
        let (free, mut free_answer) = check(contract, Environment::Test);
        let (unknown, mut unknown_answer) = check(ContractId::from_raw(7), Environment::Test);
        let (after, mut after_answer) = read_account(account);
        let (seq, mut seq_answer) = job(move |batch| {
            let txn = batch.txn()?;
            let next = txn.open_table(META)?.get(NEXT_SEQ_KEY)?.map(|v| v.value());
            let checks = txn
                .open_table(super::super::tables::CHECK_SEQS)?
                .get(account.0)?
                .map(|v| v.value());
            Ok((next, checks))
        });
        let batch = vec![live, between, broke, free, unknown, after, seq];
        commit_batch(&storage, &db, batch).expect("the batch commits");

        assert!(live_answer.try_recv().expect("answered").is_ok());
        let seen = between_answer.try_recv().expect("answered").expect("read");
        assert_eq!((seen.total_checks, seen.credits_remaining), (1, 0));
        assert!(matches!(
            broke_answer.try_recv(),
            Ok(Err(StoreError::NoCredits))
        ));
        assert!(free_answer.try_recv().expect("answered").is_ok());
        assert!(matches!(
            unknown_answer.try_recv(),
            Ok(Err(StoreError::NotFound))
        ));
        let last = after_answer.try_recv().expect("answered").expect("read");
        assert_eq!((last.total_checks, last.credits_used), (2, 1));
        // The key took seq 1, the contract 2; the two stored checks are the account's
        // checks 1 and 2 (checks are numbered per account).
        let next = seq_answer.try_recv().expect("answered").expect("read");
        assert_eq!(next, (Some(3), Some(3)));
        let stored = ACCOUNTS
            .read(&db.begin_read().expect("read"))
            .and_then(|t| t.get(account.0))
            .expect("read")
            .expect("account");
        assert_eq!(stored, last);
    }

    #[test]
    fn a_panic_inside_a_commit_fails_its_batch_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = storage(dir.path());
        let db = storage.current().expect("open");

        // The panic fails every job of its batch with 503's error, not a dropped answer.
        let (ok_job, mut ok_answer) = job(|_| Ok(7));
        let (bad_job, mut bad_answer) = panicking_job();
        let failure = commit_batch(&storage, &db, vec![ok_job, bad_job]);
        assert_eq!(failure, Err(Unavailable::Failing));
        // Recorded for the health endpoint by the time the callers hear 503.
        assert_eq!(storage.failure(), Some(Unavailable::Failing));
        assert!(matches!(
            ok_answer.try_recv(),
            Ok(Err(StoreError::Unavailable(Unavailable::Failing)))
        ));
        assert!(matches!(
            bad_answer.try_recv(),
            Ok(Err(StoreError::Unavailable(Unavailable::Failing)))
        ));
        drop(db);

        // On the writer thread: the batch after a panic commits (after a reopen).
        let (sender, thread) = spawn(storage.clone(), NonZeroUsize::MIN).expect("writer thread");
        let (bad_job, bad_answer) = panicking_job();
        sender.send(bad_job).expect("send");
        assert!(bad_answer.blocking_recv().expect("answered").is_err());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (next, answer) = job(|_| Ok(42));
            sender.send(next).expect("the writer thread is alive");
            match answer.blocking_recv().expect("answered") {
                Ok(value) => {
                    assert_eq!(value, 42);
                    break;
                }
                Err(StoreError::Unavailable(_)) => {
                    assert!(Instant::now() < deadline, "writes did not resume");
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
        assert_eq!(storage.failure(), None);
        drop(sender);
        thread
            .join()
            .expect("the writer thread ends without panicking");
    }
}
