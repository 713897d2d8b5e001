//! Group commit: one thread owns every write transaction.
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

use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use redb::{Database, WriteTransaction};
use tokio::sync::oneshot;

use super::StoreError;

/// The default for the most jobs committed together (`storage.max_write_batch`); it bounds
/// the latency one commit adds to the first job of a batch.
pub const DEFAULT_MAX_BATCH: NonZeroUsize = NonZeroUsize::new(512).expect("512 > 0"); // ok: const

/// A write waiting for the writer thread.
pub(super) type Job = Box<dyn FnOnce(&WriteTransaction) -> Completion + Send>;

/// What a job left to do once the batch's fate is known.
pub(super) struct Completion {
    /// The job hit a storage failure: the transaction must not be committed.
    fatal: Option<StoreError>,
    /// Sends the job's answer; given the commit's error, if any.
    answer: Box<dyn FnOnce(Option<StoreError>) + Send>,
}

/// Wraps an operation into a [`Job`] and returns the receiver of its answer.
pub(super) fn job<T, F>(op: F) -> (Job, oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move |txn| {
        let result = catch_unwind(AssertUnwindSafe(|| op(txn)))
            .unwrap_or_else(|_| Err(StoreError::Internal("a write operation panicked".into())));
        let fatal = match &result {
            Err(e) if !e.is_rejection() => Some(e.clone()),
            _ => None,
        };
        Completion {
            fatal,
            answer: Box::new(move |commit_error| {
                // The caller may have gone away (client disconnected); that is fine.
                let _ = tx.send(match commit_error {
                    None => result,
                    Some(e) => Err(e),
                });
            }),
        }
    });
    (job, rx)
}

/// Starts the writer thread. It ends when every [`Sender`] is dropped and the queue is
/// drained.
pub(super) fn spawn(
    db: Arc<Database>,
    max_batch: NonZeroUsize,
) -> std::io::Result<(Sender<Job>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let handle = std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || run(&db, rx, max_batch.get()))?;
    Ok((tx, handle))
}

fn run(db: &Database, jobs: Receiver<Job>, max_batch: usize) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        batch.extend(jobs.try_iter().take(max_batch - 1));
        commit_batch(db, batch);
    }
}

fn commit_batch(db: &Database, batch: Vec<Job>) {
    let txn = match db.begin_write() {
        Ok(txn) => txn,
        Err(e) => {
            tracing::error!(error = %e, "cannot begin a write transaction");
            // Dropping the jobs drops their answer channels: callers see `Closed`.
            return;
        }
    };
    let completions: Vec<Completion> = batch.into_iter().map(|job| job(&txn)).collect();
    let failure = match completions.iter().find_map(|c| c.fatal.clone()) {
        Some(e) => {
            if let Err(abort) = txn.abort() {
                tracing::error!(error = %abort, "aborting a failed batch failed");
            }
            Some(e)
        }
        None => txn.commit().err().map(|e| {
            tracing::error!(error = %e, "commit failed");
            StoreError::from(redb::Error::from(e))
        }),
    };
    for completion in completions {
        (completion.answer)(failure.clone());
    }
}
