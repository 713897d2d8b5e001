//! An Avro schema (`.avsc` JSON) or the header of an object container file → columns (SPEC 6.1).

use super::{ConvertError, Converted, Options};

/// Converts `source` into columns and warnings.
pub fn convert(source: &[u8], options: &Options) -> Result<Converted, ConvertError> {
    let _ = (source, options);
    Err(ConvertError::source("this format is not supported yet"))
}

/// Most bytes of an Avro object container file a reader needs to give [`convert`]: the
/// header (magic, metadata with the schema, sync marker) is at the start, so a reader
/// passes at most this much of a data file, never its blocks of records.
pub const CONTAINER_PREFIX_LEN: usize = 16 * 1024 * 1024;
