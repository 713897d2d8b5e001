//! The one place records are turned into bytes and back, and the format version that
//! says how.
//!
//! Records are bincode 1.3 (serde API, fixed-width integers) of their stored shapes in
//! [`super::records`]. The layout of every stored shape is tied to [`FORMAT_VERSION`],
//! which the store keeps in its `meta` table: a change to any stored shape must bump it
//! and add a migration step (run by `migrate::initialise`, in the opening transaction).
//! The golden tests in `records` hold the exact bytes of each shape, so a change cannot
//! slip through unnoticed.
//!
//! Format history:
//! - 1: the first release.
//! - 2: contracts that evolve — a contract row holds rules and column overrides, a
//!   `contract_versions` table holds every version, and checks record the contract version
//!   they ran against, renames and ignored columns; the delivery queue's `due` table is
//!   keyed per webhook (fair delivery); webhooks gain `format`, `disabled_reason`,
//!   `consecutive_failures` and a previous secret; a delivery's check is optional (test
//!   deliveries).
//! - 3: webhooks that say only what matters — a webhook gains its `filter` and PagerDuty's
//!   `routing_key` (and the `pagerduty` format); the `incidents` table holds the PagerDuty
//!   incidents DriftGuard opened, per webhook and contract.
//! - 4: the delivery counters of the last hours are kept per webhook as well as per
//!   account (`delivery_hours_by_webhook` replaces `delivery_hours`); no record changes.
//! - 5: check ids that carry their place — each account numbers its checks
//!   (`next_check_seq`), a new check's id carries that number and it has no `ids` row; a
//!   delivery keeps the seq of its check's id, and so does each contract's latest check
//!   (`last_check_by_contract` replaces `last_checks`).

use super::records::{LegacyShape, Record};
use super::StoreError;

/// The on-disk format this build reads and writes.
pub const FORMAT_VERSION: u64 = 5;

/// Encodes a record through its stored shape.
pub fn encode<T: Record>(record: &T) -> Result<Vec<u8>, StoreError> {
    bincode::serialize(&record.to_stored()).map_err(|e| StoreError::Codec(e.to_string()))
}

/// Decodes a record written by [`encode`].
pub fn decode<T: Record>(bytes: &[u8]) -> Result<T, StoreError> {
    bincode::deserialize(bytes)
        .map(T::from_stored)
        .map_err(|e| StoreError::Codec(e.to_string()))
}

/// Decodes a record of an older format through its old stored shape `S` (migrations).
pub fn decode_legacy<S: LegacyShape<T>, T>(bytes: &[u8]) -> Result<T, StoreError> {
    decode_shape::<S>(bytes).map(S::into_domain)
}

/// Decodes a stored shape directly — for migrations, which read the shapes of an older
/// version (`records::v1`).
pub fn decode_shape<S: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<S, StoreError> {
    bincode::deserialize(bytes).map_err(|e| StoreError::Codec(e.to_string()))
}

/// Encodes a stored shape directly (the counterpart of [`decode_shape`]).
pub fn encode_shape<S: serde::Serialize>(shape: &S) -> Result<Vec<u8>, StoreError> {
    bincode::serialize(shape).map_err(|e| StoreError::Codec(e.to_string()))
}

/// What opening a store must do about the format version it found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionCheck {
    /// A new, empty store: write [`FORMAT_VERSION`].
    Fresh,
    /// The store is current.
    Current,
    /// The store was written in format `from`: run the steps after it, then write
    /// [`FORMAT_VERSION`].
    MigrateFrom(u64),
}

/// Decides what to do with the format version found in a store being opened; an error
/// for a file newer than this build, or a version no release wrote.
pub fn check_version(found: Option<u64>) -> Result<VersionCheck, StoreError> {
    match found {
        None => Ok(VersionCheck::Fresh),
        Some(v) if v > FORMAT_VERSION => Err(StoreError::NewerFormat {
            found: v,
            supported: FORMAT_VERSION,
        }),
        Some(0) => Err(StoreError::Internal(
            "the store has format version 0, which no release wrote".into(),
        )),
        Some(v) if v < FORMAT_VERSION => Ok(VersionCheck::MigrateFrom(v)),
        Some(_) => Ok(VersionCheck::Current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_accepted_written_or_refused() {
        assert_eq!(check_version(None).ok(), Some(VersionCheck::Fresh));
        assert_eq!(
            check_version(Some(FORMAT_VERSION)).ok(),
            Some(VersionCheck::Current)
        );
        assert_eq!(
            check_version(Some(1)).ok(),
            Some(VersionCheck::MigrateFrom(1))
        );
        assert!(matches!(
            check_version(Some(FORMAT_VERSION + 1)),
            Err(StoreError::NewerFormat { .. })
        ));
        assert!(check_version(Some(0)).is_err());
    }
}
