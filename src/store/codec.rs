//! The one place records are turned into bytes and back, and the format version that
//! says how.
//!
//! Records are bincode 1.3 (serde API, fixed-width integers) of their stored shapes in
//! [`super::records`]. The layout of every stored shape is tied to [`FORMAT_VERSION`],
//! which the store keeps in its `meta` table: a change to any stored shape must bump it
//! and add a migration to [`migrate`]. The golden tests in `records` hold the exact
//! bytes of each shape, so a change cannot slip through unnoticed.

use super::records::Record;
use super::StoreError;

/// The on-disk format this build reads and writes.
pub const FORMAT_VERSION: u64 = 1;

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

/// Decides what to do with the format version found in a store being opened: `Ok(None)`
/// if it is current, `Ok(Some(v))` if `v` must be written (a new store, or one migrated
/// by [`migrate`]), and an error for a file newer than this build.
pub fn check_version(found: Option<u64>) -> Result<Option<u64>, StoreError> {
    match found {
        None => Ok(Some(FORMAT_VERSION)),
        Some(v) if v > FORMAT_VERSION => Err(StoreError::NewerFormat {
            found: v,
            supported: FORMAT_VERSION,
        }),
        Some(v) if v < FORMAT_VERSION => migrate(v).map(Some),
        Some(_) => Ok(None),
    }
}

/// Rewrites a store of an older format version into the current one, inside the opening
/// transaction. There is no older version yet: version 1 is the first release's.
fn migrate(from: u64) -> Result<u64, StoreError> {
    Err(StoreError::Internal(format!(
        "the store has format version {from}, which no release wrote"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_accepted_written_or_refused() {
        assert_eq!(check_version(None).ok(), Some(Some(FORMAT_VERSION)));
        assert_eq!(check_version(Some(FORMAT_VERSION)).ok(), Some(None));
        assert!(matches!(
            check_version(Some(FORMAT_VERSION + 1)),
            Err(StoreError::NewerFormat { .. })
        ));
        assert!(check_version(Some(0)).is_err());
    }
}
