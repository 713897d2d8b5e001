//! `CREATE TABLE` statements, parsed by `sqlparser` in the asked dialect → columns (SPEC 6.1).

use super::{ConvertError, Converted, Options};

/// Converts `source` into columns and warnings.
pub fn convert(source: &[u8], options: &Options) -> Result<Converted, ConvertError> {
    let _ = (source, options);
    Err(ConvertError::source("this format is not supported yet"))
}
