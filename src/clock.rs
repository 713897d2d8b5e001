//! Time, as a dependency.
//!
//! - [`UnixMs`]: a wall-clock instant in unix milliseconds — what records keep (it must mean
//!   the same thing after a restart) and what the API shows (RFC 3339 UTC with a `Z`,
//!   whole seconds, e.g. `2026-03-01T19:22:00Z`).
//! - [`Clock`]: where "now" comes from. The store stamps records with [`Clock::now`]; the
//!   delivery queue schedules with [`Clock::steady`], the wall clock as read at start plus
//!   monotonic time since, so a wall-clock step (NTP, an operator, a VM resume) can
//!   neither fire an attempt early nor hold a retry back. Tests build a clock on tokio's
//!   paused time ([`Clock::tokio`]) and run hours of retry schedule in milliseconds.

use std::ops::{Add, Sub};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::{macros::format_description, OffsetDateTime};

/// Milliseconds since the unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMs(pub i64);

impl UnixMs {
    /// The epoch itself.
    pub const EPOCH: UnixMs = UnixMs(0);

    /// The system's wall clock now (the epoch if the clock is set before it).
    pub fn wall_now() -> UnixMs {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        UnixMs(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }

    /// Formats as `YYYY-MM-DDTHH:MM:SSZ` (whole seconds, UTC).
    pub fn rfc3339(self) -> String {
        let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        OffsetDateTime::from_unix_timestamp(self.0.div_euclid(1000))
            .ok()
            .and_then(|t| t.format(&format).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
    }

    /// Reads an RFC 3339 time (any offset, fractions kept to the millisecond).
    pub fn parse_rfc3339(text: &str) -> Option<UnixMs> {
        let t = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
            .ok()
            .map(UnixMs)
    }

    /// Whole seconds since the epoch (rounded down).
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: UnixMs) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }
}

impl Add<Duration> for UnixMs {
    type Output = UnixMs;

    /// Saturates instead of overflowing: a configured delay can be large.
    fn add(self, delay: Duration) -> UnixMs {
        let ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        UnixMs(self.0.saturating_add(ms))
    }
}

impl Sub<Duration> for UnixMs {
    type Output = UnixMs;

    fn sub(self, delay: Duration) -> UnixMs {
        let ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        UnixMs(self.0.saturating_sub(ms))
    }
}

/// Both readings of a [`Clock`] at one moment: the wall clock for a record's timestamp,
/// the steady clock for the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// [`Clock::now`].
    pub wall: UnixMs,
    /// [`Clock::steady`].
    pub steady: UnixMs,
}

/// Where "now" comes from. Cheap to copy. Read it on a tokio task (in tests, tokio's
/// paused time exists only there), and pass the readings on.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// The wall clock when this clock was made…
    anchor_wall: UnixMs,
    /// …and tokio's monotonic clock at the same moment.
    anchor_instant: tokio::time::Instant,
    /// Whether [`Clock::now`] reads the system's wall clock or follows tokio's clock.
    wall: Wall,
    /// Tests step the wall clock of a [`Clock::tokio`] by this many milliseconds.
    #[cfg(test)]
    wall_step: Option<&'static std::sync::atomic::AtomicI64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wall {
    System,
    Tokio,
}

impl Clock {
    /// The production clock: the system's wall clock for records, the steady clock for
    /// the queue. Must be made inside a tokio runtime.
    pub fn system() -> Clock {
        Clock {
            anchor_wall: UnixMs::wall_now(),
            anchor_instant: tokio::time::Instant::now(),
            wall: Wall::System,
            #[cfg(test)]
            wall_step: None,
        }
    }

    /// A clock that starts at `start` and advances only with tokio's clock — in tests with
    /// paused time, only when the test (or tokio's auto-advance) moves it.
    pub fn tokio(start: UnixMs) -> Clock {
        Clock {
            anchor_wall: start,
            anchor_instant: tokio::time::Instant::now(),
            wall: Wall::Tokio,
            #[cfg(test)]
            wall_step: None,
        }
    }

    /// A [`Clock::tokio`] whose wall clock (only) is moved by `step` milliseconds, as an
    /// operator or NTP would move it.
    #[cfg(test)]
    pub fn tokio_with_wall_step(
        start: UnixMs,
        step: &'static std::sync::atomic::AtomicI64,
    ) -> Clock {
        Clock {
            wall_step: Some(step),
            ..Clock::tokio(start)
        }
    }

    /// The wall-clock time, for timestamps people read.
    pub fn now(&self) -> UnixMs {
        match self.wall {
            Wall::System => UnixMs::wall_now(),
            Wall::Tokio => {
                #[cfg(test)]
                if let Some(step) = self.wall_step {
                    let step = step.load(std::sync::atomic::Ordering::Relaxed);
                    return UnixMs(self.steady().0 + step);
                }
                self.steady()
            }
        }
    }

    /// The queue's time: the wall clock at start plus monotonic time since. Persisted due
    /// times use it, so they survive restarts, and steps of the wall clock while running
    /// change nothing.
    pub fn steady(&self) -> UnixMs {
        self.anchor_wall + self.anchor_instant.elapsed()
    }

    /// Both readings at once.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            wall: self.now(),
            steady: self.steady(),
        }
    }

    /// The tokio instant at which the steady clock reads `at` (now, if it is past).
    pub fn instant_at(&self, at: UnixMs) -> tokio::time::Instant {
        let now = tokio::time::Instant::now();
        now + at.since(self.steady())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_whole_seconds_in_utc() {
        assert_eq!(UnixMs(1_772_392_920_999).rfc3339(), "2026-03-01T19:22:00Z");
        assert_eq!(UnixMs(0).rfc3339(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(UnixMs(1000) + Duration::from_secs(5), UnixMs(6000));
        assert_eq!(UnixMs(i64::MAX) + Duration::from_secs(5), UnixMs(i64::MAX));
        assert_eq!(UnixMs(6000).since(UnixMs(1000)), Duration::from_secs(5));
        assert_eq!(UnixMs(1000).since(UnixMs(6000)), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_tokio_clock_follows_paused_time() {
        let clock = Clock::tokio(UnixMs(1_000_000));
        assert_eq!(clock.now(), UnixMs(1_000_000));
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(clock.now(), UnixMs(1_030_000));
        assert_eq!(clock.steady(), clock.now());
    }
}
