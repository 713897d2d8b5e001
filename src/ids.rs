//! Public identifiers: `ctr_…`, `chk_…`, `wh_…`, `key_…`, `dlv_…`.
//!
//! An id is a `u128`: the top 32 bits are the creation time in unix seconds, the low 96
//! bits are random. So ids are unguessable (the spec asks for ≥ 96 random bits), sort by
//! creation time, and — because redb tables are keyed by the raw `u128` — new rows land at
//! the right edge of the B-tree instead of on random pages (much cheaper batched inserts).
//!
//! The text form is the type prefix plus 26 characters of Crockford base32 (lowercase),
//! which keeps the numeric order when compared as strings.

use std::fmt;

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
    let mut out = String::with_capacity(kind.prefix().len() + ENCODED_LEN);
    out.push_str(kind.prefix());
    out.push_str(&Encoded(id).to_string());
    out
}

/// Parses an id of the given kind; `None` for anything malformed (wrong prefix, length,
/// alphabet or an overflowing first character). Callers answer `404` for `None`, exactly
/// as for a well-formed id that does not exist.
pub fn parse_id(kind: IdKind, text: &str) -> Option<u128> {
    let body = text.strip_prefix(kind.prefix())?.as_bytes();
    if body.len() != ENCODED_LEN || body[0] > b'7' {
        return None;
    }
    body.iter().try_fold(0u128, |acc, &c| {
        let digit = ALPHABET.iter().position(|&a| a == c)? as u128;
        Some((acc << 5) | digit)
    })
}

struct Encoded(u128);

impl fmt::Display for Encoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; ENCODED_LEN];
        for (i, slot) in buf.iter_mut().enumerate() {
            let shift = 5 * (ENCODED_LEN - 1 - i);
            *slot = ALPHABET[((self.0 >> shift) & 0x1f) as usize];
        }
        // ALPHABET is ASCII, so this cannot fail.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
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
