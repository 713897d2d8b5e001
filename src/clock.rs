//! Wall-clock time as the store keeps it (unix milliseconds) and as the API shows it
//! (RFC 3339 UTC with a `Z`, whole seconds, e.g. `2026-03-01T19:22:00Z`).

use std::time::{SystemTime, UNIX_EPOCH};

use time::{macros::format_description, OffsetDateTime};

/// Milliseconds since the unix epoch. Stored instead of `Instant` because it must mean
/// the same thing after a restart.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Formats unix milliseconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(ms: i64) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_whole_seconds_in_utc() {
        assert_eq!(rfc3339(1_772_392_920_999), "2026-03-01T19:22:00Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
