//! The store's one error type, [`StoreError`], and what a failing disk looks like to the
//! API ([`Unavailable`]).

use std::path::PathBuf;
use std::sync::Arc;

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
    /// An update changes a contract's columns in a way its compatibility mode refuses.
    #[error("the change breaks the contract's compatibility mode ({} violations)", .0.len())]
    Incompatible(Vec<crate::drift::Violation>),
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
pub(super) fn classify_io(e: &std::io::Error) -> Unavailable {
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
                | StoreError::Incompatible(_)
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
