//! The one place records are turned into bytes and back, and the format version that
//! says how.
//!
//! Records are bincode 1.3 (serde API, fixed-width integers) of their stored shapes in
//! [`super::records`]. The layout of every stored shape is tied to [`FORMAT_VERSION`],
//! which the store keeps in its `meta` table: a change to any stored shape must bump it
//! and add a step to `store::migrate`. The golden tests in `records` hold the exact
//! bytes of each shape, so a change cannot slip through unnoticed.
//!
//! | version | written by | what changed |
//! |---|---|---|
//! | 1 | the first release | — |
//! | 2 | this release | `due` keyed per webhook (fair delivery); webhooks gain `format`, `disabled_reason`, `consecutive_failures` and a previous secret; a delivery's check is optional (test deliveries) |

use super::records::Record;
use super::StoreError;

/// The on-disk format this build reads and writes.
pub const FORMAT_VERSION: u64 = 2;

/// The oldest format this build can migrate from.
pub const OLDEST_READABLE: u64 = 1;

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

/// Decodes a stored shape directly — for migrations, which read the shapes of an older
/// version (`records::v1`).
pub fn decode_shape<S: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<S, StoreError> {
    bincode::deserialize(bytes).map_err(|e| StoreError::Codec(e.to_string()))
}

/// Encodes a stored shape directly (the counterpart of [`decode_shape`]).
pub fn encode_shape<S: serde::Serialize>(shape: &S) -> Result<Vec<u8>, StoreError> {
    bincode::serialize(shape).map_err(|e| StoreError::Codec(e.to_string()))
}

/// What opening a store must do about its format version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// A new store: write [`FORMAT_VERSION`].
    New,
    /// Already current.
    Current,
    /// Written by an older release: migrate from this version, then write the current one.
    Migrate {
        /// The version found.
        from: u64,
    },
}

/// Decides what to do with the format version found in a store being opened; a file
/// newer than this build (or older than any release) is refused.
pub fn check_version(found: Option<u64>) -> Result<Plan, StoreError> {
    match found {
        None => Ok(Plan::New),
        Some(v) if v > FORMAT_VERSION => Err(StoreError::NewerFormat {
            found: v,
            supported: FORMAT_VERSION,
        }),
        Some(v) if v < OLDEST_READABLE => Err(StoreError::Internal(format!(
            "the store has format version {v}, which no release wrote"
        ))),
        Some(v) if v < FORMAT_VERSION => Ok(Plan::Migrate { from: v }),
        Some(_) => Ok(Plan::Current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_accepted_migrated_or_refused() {
        assert_eq!(check_version(None).ok(), Some(Plan::New));
        assert_eq!(
            check_version(Some(FORMAT_VERSION)).ok(),
            Some(Plan::Current)
        );
        assert_eq!(check_version(Some(1)).ok(), Some(Plan::Migrate { from: 1 }));
        assert!(matches!(
            check_version(Some(FORMAT_VERSION + 1)),
            Err(StoreError::NewerFormat { .. })
        ));
        assert!(check_version(Some(0)).is_err());
    }
}
