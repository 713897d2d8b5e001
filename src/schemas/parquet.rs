//! A Parquet footer (the file, or any tail of it that holds the footer) → columns (SPEC 6.1).

use super::{ConvertError, Converted, Options};

/// Converts `source` into columns and warnings.
pub fn convert(source: &[u8], options: &Options) -> Result<Converted, ConvertError> {
    let _ = (source, options);
    Err(ConvertError::source("this format is not supported yet"))
}

/// The last bytes of every Parquet file: the footer's length (4 bytes, little-endian) and
/// the magic `PAR1`.
pub const TRAILER_LEN: usize = 8;

/// How many bytes at the end of the file hold the footer and the trailer, from the file's
/// last [`TRAILER_LEN`] bytes — what a reader must seek back and read (and all it reads).
pub fn tail_len(trailer: &[u8]) -> Result<u64, ConvertError> {
    let _ = trailer;
    Err(ConvertError::source("this format is not supported yet"))
}
