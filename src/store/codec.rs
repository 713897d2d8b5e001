//! The one place records are turned into bytes and back.
//!
//! Records are bincode 1.3 (serde API, fixed-width integers). The layout of every record is
//! tied to [`FORMAT_VERSION`], which the store keeps in its `meta` table: a change to any
//! record's fields must bump it and add a migration in `store::open`.

use serde::{de::DeserializeOwned, Serialize};

use super::StoreError;

/// The on-disk format this build reads and writes.
pub const FORMAT_VERSION: u64 = 1;

/// Encodes a record.
pub fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, StoreError> {
    bincode::serialize(record).map_err(|e| StoreError::Codec(e.to_string()))
}

/// Decodes a record written by [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    bincode::deserialize(bytes).map_err(|e| StoreError::Codec(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::{Column, ColumnType};
    use crate::model::Contract;

    #[test]
    fn records_round_trip() {
        let contract = Contract {
            id: u128::MAX - 7,
            name: "users".into(),
            version: 1,
            columns: vec![Column {
                name: "id".into(),
                column_type: ColumnType::Integer,
                required: true,
            }],
            created_at: 1,
            updated_at: 2,
        };
        let bytes = encode(&contract).expect("encode");
        assert_eq!(decode::<Contract>(&bytes).expect("decode"), contract);
        assert!(decode::<Contract>(&bytes[..bytes.len() - 1]).is_err());
    }
}
