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
//! Check ids are the exception ([`CheckId`]): checks are the hot path, and an index from
//! 96 random bits to a check's place is an insert at a random page of a B-tree for every
//! check. Since format 5 a check id carries its place — the check's number in its
//! account, `seq` — and 96 random bits that the stored check must match; the store reads
//! the check at `(account, seq)` and compares the random bits in constant time, with no
//! index. Ids of checks stored before format 5 keep their old form and their index.
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
                write_encoded(f, self.0, ENCODED_LEN)
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

/// A stored check result, `chk_…`.
///
/// Two forms (see the module's documentation): since format 5, `chk_` + 13 characters of
/// the check's number in its account (`seq`, with its three top bits set, so these ids
/// sort after every older one) + 20 characters of 96 random bits — 33 characters; before,
/// the 26 characters of 32 bits of seconds and 96 random bits, found through the `ids`
/// index (`seq` is 0 then).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckId {
    /// The check's number in its account; 0 for an id from before format 5.
    seq: u64,
    /// The random bits (and, before format 5, the creation second above them).
    raw: u128,
}

/// Marks the `seq` part of a [`CheckId`]'s text: its top three bits (of 65) are set.
const SEQ_MARK: u128 = 0b111 << 62;
/// Characters of the `seq` part of a [`CheckId`].
const SEQ_LEN: usize = 13;
/// Characters of the random part of a [`CheckId`] (100 bits, the top 4 zero).
const RANDOM_LEN: usize = 20;
/// The random bits of an id.
const RANDOM_BITS: u128 = (1 << 96) - 1;

impl CheckId {
    /// The text prefix, including the underscore.
    pub const PREFIX: &'static str = "chk_";

    /// The id of the check numbered `seq` (≥ 1) in its account: 96 fresh random bits.
    pub fn generate(seq: u64) -> Self {
        CheckId {
            seq,
            raw: random_bits(),
        }
    }

    /// The id a check stored with `raw` has, at `seq` in its account's checks: a check
    /// stored since format 5 has only random bits in `raw` and is found by `seq`; an older
    /// one keeps the id it was given (and its `ids` index entry).
    pub const fn stored(raw: u128, seq: u64) -> Self {
        if raw >> 96 == 0 {
            CheckId { seq, raw }
        } else {
            CheckId::from_raw(raw)
        }
    }

    /// An id from before format 5 (or a test's), with this raw value.
    pub const fn from_raw(raw: u128) -> Self {
        CheckId { seq: 0, raw }
    }

    /// The raw value the store keeps in the check (and, for an id from before format 5,
    /// keys the `ids` index by).
    pub const fn raw(self) -> u128 {
        self.raw
    }

    /// The check's number in its account, for an id made since format 5.
    pub const fn seq(self) -> Option<u64> {
        if self.seq == 0 {
            None
        } else {
            Some(self.seq)
        }
    }

    /// Whether `stored_raw` (a check's stored random bits) is this id's. A `u128`
    /// compared whole, not byte by byte: the answer's time does not tell how many leading
    /// bytes of a guess were right.
    pub fn matches(self, stored_raw: u128) -> bool {
        std::hint::black_box(self.raw ^ stored_raw) == 0
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::PREFIX)?;
        match self.seq() {
            None => write_encoded(f, self.raw, ENCODED_LEN),
            Some(seq) => {
                write_encoded(f, SEQ_MARK | u128::from(seq), SEQ_LEN)?;
                write_encoded(f, self.raw, RANDOM_LEN)
            }
        }
    }
}

impl FromStr for CheckId {
    type Err = InvalidId;

    fn from_str(text: &str) -> Result<Self, InvalidId> {
        let body = text.strip_prefix(Self::PREFIX).ok_or(InvalidId)?;
        if body.len() == ENCODED_LEN {
            return decode(body, ENCODED_LEN)
                .map(CheckId::from_raw)
                .ok_or(InvalidId);
        }
        if body.len() != SEQ_LEN + RANDOM_LEN || !body.is_ascii() {
            return Err(InvalidId);
        }
        let (seq, random) = body.split_at(SEQ_LEN);
        let seq = decode(seq, SEQ_LEN).ok_or(InvalidId)?;
        let raw = decode(random, RANDOM_LEN).ok_or(InvalidId)?;
        if seq & SEQ_MARK != SEQ_MARK || raw > RANDOM_BITS {
            return Err(InvalidId);
        }
        match u64::try_from(seq & !SEQ_MARK) {
            Ok(seq) if seq > 0 => Ok(CheckId { seq, raw }),
            _ => Err(InvalidId),
        }
    }
}

impl serde::Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

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
    let secs = (now.unix_seconds().max(0) as u128) & 0xffff_ffff;
    (secs << 96) | random_bits()
}

/// 96 random bits.
fn random_bits() -> u128 {
    let mut random = [0u8; 16];
    ID_RANDOMNESS.with_borrow_mut(|pool| pool.take(&mut random[4..]));
    u128::from_be_bytes(random)
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

/// Whether the operating system's CSPRNG answers: the daemon asks once at start and
/// refuses to start without it, so that [`fill_random`] on a request path cannot fail.
pub fn probe_random() -> Result<(), ring::error::Unspecified> {
    SystemRandom::new().fill(&mut [0u8; 16])
}

/// Fills `buf` from the operating system's CSPRNG.
#[allow(clippy::expect_used, reason = "no recovery is possible")]
pub fn fill_random(buf: &mut [u8]) {
    // SystemRandom reads getrandom(2) (or /dev/urandom, kept open, on kernels without
    // it): once it has answered, as `probe_random` makes sure at start, it keeps answering.
    SystemRandom::new()
        .fill(buf)
        .expect("the OS random number generator failed"); // ok: probed at start (probe_random)
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
    let mut text = String::with_capacity(len);
    // Writing to a String cannot fail.
    let _ = write_encoded(&mut text, value, len);
    text
}

/// Writes the last `len` base32 digits of `value` (at most 26) without allocating: ids
/// are written into every answer.
fn write_encoded(out: &mut impl fmt::Write, value: u128, len: usize) -> fmt::Result {
    let mut digits = [0u8; ENCODED_LEN];
    let digits = &mut digits[..len.min(ENCODED_LEN)];
    let last = digits.len().saturating_sub(1);
    for (i, digit) in digits.iter_mut().enumerate() {
        *digit = ALPHABET[((value >> (5 * (last - i))) & 0x1f) as usize];
    }
    // The alphabet is ASCII.
    out.write_str(std::str::from_utf8(digits).map_err(|_| fmt::Error)?)
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
        let a = ContractId::generate(UnixMs(1_700_000_000_000)).to_string();
        let b = ContractId::generate(UnixMs(1_700_000_001_000)).to_string();
        assert!(a < b);
        assert_eq!(a.len(), 4 + ENCODED_LEN);
    }

    #[test]
    fn ids_drawn_across_many_random_blocks_are_distinct_and_keep_their_time() {
        let now = UnixMs(1_700_000_000_000);
        let ids: std::collections::HashSet<u128> = (0..5 * POOL_BYTES)
            .map(|_| WebhookId::generate(now).raw())
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
    fn check_ids_carry_their_seq_and_96_random_bits_and_sort_after_older_ones() {
        let old = CheckId::from_raw(1_700_000_000u128 << 96 | 12345);
        assert_eq!(old.seq(), None);
        assert_eq!(old.to_string().len(), 4 + ENCODED_LEN);
        let mut previous = old.to_string();
        for seq in [1, 2, 31, 32, 1 << 40, (1 << 62) - 1] {
            let id = CheckId::generate(seq);
            assert_eq!(id.seq(), Some(seq));
            assert!(id.raw() <= RANDOM_BITS, "only random bits are stored");
            let text = id.to_string();
            assert_eq!(text.len(), 4 + SEQ_LEN + RANDOM_LEN);
            assert_eq!(text.parse::<CheckId>(), Ok(id));
            assert!(text > previous, "{text} sorts after {previous}");
            previous = text;
            // As the store reads it back: its raw bits under its key.
            assert_eq!(CheckId::stored(id.raw(), seq), id);
            assert!(id.matches(id.raw()) && !id.matches(id.raw() ^ 1));
        }
        // An old check keeps its old id under whatever key it was stored.
        assert_eq!(CheckId::stored(old.raw(), 7), old);
        let ids: std::collections::HashSet<u128> = (0..4 * POOL_BYTES)
            .map(|_| CheckId::generate(1).raw())
            .collect();
        assert_eq!(ids.len(), 4 * POOL_BYTES);
        assert_eq!(ids.iter().fold(0, |acc, id| acc | id), RANDOM_BITS);
    }

    #[test]
    fn malformed_check_ids_are_rejected() {
        let good = CheckId::generate(5).to_string();
        let (seq, random) = good["chk_".len()..].split_at(SEQ_LEN);
        for bad in [
            format!("chk_{seq}"),
            format!("chk_{seq}{random}0"),
            format!("chk_{}{random}", encode(5, SEQ_LEN)), // no mark
            format!("chk_{}{random}", encode(SEQ_MARK, SEQ_LEN)), // seq 0
            format!("chk_{seq}z{}", &random[1..]),         // more than 96 random bits
            format!("chk_{seq}{}é", &random[..RANDOM_LEN - 2]),
            good.to_uppercase(),
        ] {
            assert_eq!(bad.parse::<CheckId>(), Err(InvalidId), "{bad}");
        }
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
        fn check_ids_round_trip(seq in 1..(1u64 << 62), raw in 0..=RANDOM_BITS) {
            let id = CheckId::stored(raw, seq);
            prop_assert_eq!(id.to_string().parse::<CheckId>(), Ok(id));
        }

        #[test]
        fn text_order_matches_numeric_order(a in any::<u128>(), b in any::<u128>()) {
            let (ta, tb) = (KeyId::from_raw(a).to_string(), KeyId::from_raw(b).to_string());
            prop_assert_eq!(a.cmp(&b), ta.cmp(&tb));
        }
    }
}
