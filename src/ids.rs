//! Public identifiers: `ctr_…`, `chk_…`, `wh_…`, `key_…`, `dlv_…`.
//!
//! An id is a `u128`: the top 32 bits are the creation time in unix seconds, the low 96
//! bits are random. So ids are unguessable (the spec asks for ≥ 96 random bits), sort by
//! creation time, and — because redb tables are keyed by the raw `u128` — new rows land at
//! the right edge of the B-tree instead of on random pages (much cheaper batched inserts).
//!
//! The text form is the type prefix plus 26 characters of Crockford base32 (lowercase),
//! which keeps the numeric order when compared as strings.

use ring::rand::{SecureRandom, SystemRandom};

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const ENCODED_LEN: usize = 26;

/// The kind of record an id names; it decides the text prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    /// A contract, `ctr_`.
    Contract,
    /// A stored check result, `chk_`.
    Check,
    /// A webhook subscription, `wh_`.
    Webhook,
    /// An API key record (not the secret key itself), `key_`.
    Key,
    /// One webhook delivery (all of its attempts), `dlv_`.
    Delivery,
}

impl IdKind {
    /// The text prefix, including the underscore.
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Contract => "ctr_",
            IdKind::Check => "chk_",
            IdKind::Webhook => "wh_",
            IdKind::Key => "key_",
            IdKind::Delivery => "dlv_",
        }
    }
}

/// Makes a new time-ordered id for a record created at `now_ms` (unix milliseconds).
pub fn new_id(now_ms: i64) -> u128 {
    let mut random = [0u8; 16];
    fill_random(&mut random);
    let secs = (now_ms.max(0) / 1000) as u128 & 0xffff_ffff;
    (secs << 96) | (u128::from_be_bytes(random) & ((1u128 << 96) - 1))
}

/// Fills `buf` from the operating system's CSPRNG.
pub fn fill_random(buf: &mut [u8]) {
    // SystemRandom reads getrandom(2); it only fails if the kernel has no entropy source
    // at all, in which case nothing about this process could be trusted anyway.
    SystemRandom::new()
        .fill(buf)
        .expect("the OS random number generator failed"); // ok: no recovery is possible
}

/// Formats an id with its prefix, e.g. `chk_01jq8…`.
pub fn format_id(kind: IdKind, id: u128) -> String {
    format!("{}{}", kind.prefix(), encode(id, ENCODED_LEN))
}

/// Parses an id of the given kind; `None` for anything malformed (wrong prefix, length,
/// alphabet or an overflowing first character). Callers answer `404` for `None`, exactly
/// as for a well-formed id that does not exist.
pub fn parse_id(kind: IdKind, text: &str) -> Option<u128> {
    decode(text.strip_prefix(kind.prefix())?, ENCODED_LEN)
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
        let a = format_id(IdKind::Check, new_id(1_700_000_000_000));
        let b = format_id(IdKind::Check, new_id(1_700_000_001_000));
        assert!(a < b);
        assert_eq!(a.len(), 4 + ENCODED_LEN);
    }

    #[test]
    fn malformed_ids_are_rejected() {
        let good = format_id(IdKind::Contract, new_id(0));
        assert!(parse_id(IdKind::Contract, &good).is_some());
        assert_eq!(parse_id(IdKind::Check, &good), None, "wrong prefix");
        assert_eq!(parse_id(IdKind::Contract, "ctr_"), None);
        assert_eq!(parse_id(IdKind::Contract, &good.to_uppercase()), None);
        assert_eq!(parse_id(IdKind::Contract, &format!("{good}0")), None);
        let overflow = format!("ctr_8{}", &good[5..]);
        assert_eq!(parse_id(IdKind::Contract, &overflow), None);
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
        fn format_then_parse_round_trips(id in any::<u128>()) {
            let text = format_id(IdKind::Webhook, id);
            prop_assert_eq!(parse_id(IdKind::Webhook, &text), Some(id));
        }

        #[test]
        fn text_order_matches_numeric_order(a in any::<u128>(), b in any::<u128>()) {
            let (ta, tb) = (format_id(IdKind::Key, a), format_id(IdKind::Key, b));
            prop_assert_eq!(a.cmp(&b), ta.cmp(&tb));
        }
    }
}
