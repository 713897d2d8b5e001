//! Identifiers: one type per kind of record, so a check id can never be passed where a
//! contract id is expected.
//!
//! Public ids (`ctr_…`, `chk_…`, `wh_…`, `key_…`, `dlv_…`) wrap a `u128`: the top 32 bits
//! are the creation time in unix seconds, the low 96 bits are random. So ids are
//! unguessable (the spec asks for ≥ 96 random bits), sort by creation time, and — because
//! redb tables are keyed by the raw `u128` — new rows land at the right edge of the B-tree
//! instead of on random pages (much cheaper batched inserts).
//!
//! The text form is the type prefix plus 26 characters of Crockford base32 (lowercase),
//! which keeps the numeric order when compared as strings. `Display` writes it and
//! `FromStr` reads it (anything malformed is an [`InvalidId`]).
//!
//! [`AccountId`] is internal (accounts never appear in the API): a number from 1.

use std::fmt;
use std::str::FromStr;

use ring::rand::{SecureRandom, SystemRandom};

use crate::clock::UnixMs;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const ENCODED_LEN: usize = 26;

/// A text that is not an id of the expected kind (wrong prefix, length or alphabet).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct InvalidId;

macro_rules! public_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u128);

        impl $name {
            /// The text prefix, including the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// A new time-ordered, unguessable id for a record created at `now`.
            pub fn generate(now: UnixMs) -> Self {
                $name(random_id(now))
            }

            /// The id with this raw value (as the store keeps it).
            pub const fn from_raw(raw: u128) -> Self {
                $name(raw)
            }

            /// The raw value the store keys tables by.
            pub const fn raw(self) -> u128 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($prefix)?;
                f.write_str(&encode(self.0, ENCODED_LEN))
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(text: &str) -> Result<Self, InvalidId> {
                let body = text.strip_prefix($prefix).ok_or(InvalidId)?;
                decode(body, ENCODED_LEN).map($name).ok_or(InvalidId)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

public_id!(
    /// A contract, `ctr_…`.
    ContractId,
    "ctr_"
);
public_id!(
    /// A stored check result, `chk_…`.
    CheckId,
    "chk_"
);
public_id!(
    /// A webhook subscription, `wh_…`.
    WebhookId,
    "wh_"
);
public_id!(
    /// An API key record (not the secret key itself), `key_…`.
    KeyId,
    "key_"
);
public_id!(
    /// One webhook delivery (all of its attempts), `dlv_…`.
    DeliveryId,
    "dlv_"
);

/// An account: numbered from 1 in creation order; never shown in the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub u64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "account {}", self.0)
    }
}

/// 32 bits of unix seconds, then 96 random bits.
fn random_id(now: UnixMs) -> u128 {
    let mut random = [0u8; 16];
    ID_RANDOMNESS.with_borrow_mut(|pool| pool.take(&mut random[4..]));
    let secs = (now.unix_seconds().max(0) as u128) & 0xffff_ffff;
    (secs << 96) | u128::from_be_bytes(random)
}

/// Bytes of OS randomness a thread draws at a time for ids.
const POOL_BYTES: usize = 1024;

thread_local! {
    /// Ids' random bits come from the OS CSPRNG in blocks: one getrandom(2) per id was a
    /// syscall on every check (measured: as many as the writes to the socket).
    static ID_RANDOMNESS: std::cell::RefCell<RandomPool> = const {
        std::cell::RefCell::new(RandomPool { bytes: [0; POOL_BYTES], used: POOL_BYTES })
    };
}

/// A block of OS randomness, handed out once each byte.
struct RandomPool {
    bytes: [u8; POOL_BYTES],
    used: usize,
}

impl RandomPool {
    fn take(&mut self, out: &mut [u8]) {
        if POOL_BYTES - self.used < out.len() {
            fill_random(&mut self.bytes);
            self.used = 0;
        }
        let end = self.used + out.len();
        out.copy_from_slice(&self.bytes[self.used..end]);
        // Handed-out bytes are not kept around.
        self.bytes[self.used..end].fill(0);
        self.used = end;
    }
}

/// Fills `buf` from the operating system's CSPRNG.
#[allow(clippy::expect_used, reason = "no recovery is possible")]
pub fn fill_random(buf: &mut [u8]) {
    // SystemRandom reads getrandom(2); it only fails if the kernel has no entropy source
    // at all, in which case nothing about this process could be trusted anyway.
    SystemRandom::new()
        .fill(buf)
        .expect("the OS random number generator failed"); // ok: only without any kernel entropy source
}

/// Characters of a list cursor (a `u64` in the same base32).
const CURSOR_LEN: usize = 13;

/// The opaque `?cursor=` of a list: where the next page starts.
pub fn format_cursor(position: u64) -> String {
    encode(u128::from(position), CURSOR_LEN)
}

/// Parses a cursor made by [`format_cursor`].
pub fn parse_cursor(text: &str) -> Option<u64> {
    decode(text, CURSOR_LEN).and_then(|v| u64::try_from(v).ok())
}

fn encode(value: u128, len: usize) -> String {
    (0..len)
        .map(|i| char::from(ALPHABET[((value >> (5 * (len - 1 - i))) & 0x1f) as usize]))
        .collect()
}

fn decode(text: &str, len: usize) -> Option<u128> {
    if text.len() != len {
        return None;
    }
    text.bytes().try_fold(0u128, |acc, c| {
        let digit = ALPHABET.iter().position(|&a| a == c)? as u128;
        // 26 characters carry 130 bits: a first character above `7` overflows.
        acc.checked_mul(32).map(|v| v | digit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_sort_by_creation_time() {
        let a = CheckId::generate(UnixMs(1_700_000_000_000)).to_string();
        let b = CheckId::generate(UnixMs(1_700_000_001_000)).to_string();
        assert!(a < b);
        assert_eq!(a.len(), 4 + ENCODED_LEN);
    }

    #[test]
    fn ids_drawn_across_many_random_blocks_are_distinct_and_keep_their_time() {
        let now = UnixMs(1_700_000_000_000);
        let ids: std::collections::HashSet<u128> = (0..5 * POOL_BYTES)
            .map(|_| CheckId::generate(now).raw())
            .collect();
        assert_eq!(ids.len(), 5 * POOL_BYTES);
        assert!(ids.iter().all(|id| id >> 96 == 1_700_000_000));
        // 96 random bits: every one of the low bytes is used.
        let low_bits = ids.iter().fold(0u128, |acc, id| acc | id);
        assert_eq!(low_bits & ((1 << 96) - 1), (1 << 96) - 1);
    }

    #[test]
    fn malformed_ids_are_rejected() {
        let good = ContractId::generate(UnixMs(0)).to_string();
        assert!(good.parse::<ContractId>().is_ok());
        assert_eq!(good.parse::<CheckId>(), Err(InvalidId), "wrong prefix");
        assert_eq!("ctr_".parse::<ContractId>(), Err(InvalidId));
        assert_eq!(good.to_uppercase().parse::<ContractId>(), Err(InvalidId));
        assert_eq!(format!("{good}0").parse::<ContractId>(), Err(InvalidId));
        let overflow = format!("ctr_8{}", &good[5..]);
        assert_eq!(overflow.parse::<ContractId>(), Err(InvalidId));
    }

    #[test]
    fn serialises_as_its_text() {
        let id = WebhookId::from_raw(42);
        assert_eq!(
            serde_json::to_value(id).expect("json"),
            serde_json::json!(id.to_string())
        );
    }

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        for position in [0, 1, 42, u64::MAX] {
            assert_eq!(parse_cursor(&format_cursor(position)), Some(position));
        }
        assert_eq!(parse_cursor("garbage"), None);
        assert_eq!(parse_cursor(""), None);
        assert_eq!(parse_cursor("zzzzzzzzzzzzz"), None, "overflows u64");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(raw in any::<u128>()) {
            let text = WebhookId::from_raw(raw).to_string();
            prop_assert_eq!(text.parse::<WebhookId>(), Ok(WebhookId::from_raw(raw)));
        }

        #[test]
        fn text_order_matches_numeric_order(a in any::<u128>(), b in any::<u128>()) {
            let (ta, tb) = (KeyId::from_raw(a).to_string(), KeyId::from_raw(b).to_string());
            prop_assert_eq!(a.cmp(&b), ta.cmp(&tb));
        }
    }
}
