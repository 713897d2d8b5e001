//! One module per row group (`DG_BENCH_ROWS`, see `GROUPS`), in the order they run, plus
//! the baseline that always runs (every ratio needs it).

pub mod baseline;
pub mod batch;
pub mod check;
pub mod console;
pub mod depth;
pub mod half;
pub mod idle;
pub mod read;
pub mod side;
pub mod startup;
pub mod tls;
pub mod unbatched;
pub mod webhooks;
