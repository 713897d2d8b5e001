//! API keys and webhook secrets: their shape, generation and hashing.
//!
//! A key is `dg_live_<rest>` or `dg_test_<rest>` where `<rest>` is 24–120 characters of
//! `A-Z a-z 0-9 _ -`. Only its SHA-256 hash is stored; the full key is shown once.

use ring::digest;
use serde::{Deserialize, Serialize};

use crate::ids::fill_random;

/// Which kind of key: live keys spend credits, test keys do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// `dg_live_…`: each check costs one credit.
    Live,
    /// `dg_test_…`: checks are free but still counted.
    Test,
}

impl Environment {
    /// The name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
        }
    }

    fn key_prefix(self) -> &'static str {
        match self {
            Environment::Live => "dg_live_",
            Environment::Test => "dg_test_",
        }
    }
}

/// The SHA-256 of a full key: the only form in which keys are stored.
pub type KeyHash = [u8; 32];

/// How many leading characters of a key are shown back (`key_preview`).
pub const PREVIEW_LEN: usize = 16;

const ALPHANUMERIC: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Returns the key's environment if `key` has the shape of an API key, else `None`.
/// This runs before any storage lookup, so junk never reaches the store.
pub fn key_environment(key: &str) -> Option<Environment> {
    let (env, rest) = if let Some(rest) = key.strip_prefix("dg_live_") {
        (Environment::Live, rest)
    } else {
        (Environment::Test, key.strip_prefix("dg_test_")?)
    };
    let shape_ok = (24..=120).contains(&rest.len())
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    shape_ok.then_some(env)
}

/// Generates a new key: the prefix plus 32 random alphanumerics.
pub fn generate_key(env: Environment) -> String {
    format!("{}{}", env.key_prefix(), random_alphanumerics(32))
}

/// Generates a webhook signing secret, `whsec_<32 random alphanumerics>`.
pub fn generate_webhook_secret() -> String {
    format!("whsec_{}", random_alphanumerics(32))
}

/// SHA-256 of the full key.
pub fn hash_key(key: &str) -> KeyHash {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, key.as_bytes()).as_ref());
    out
}

/// The first [`PREVIEW_LEN`] characters of a key (keys are ASCII).
pub fn preview(key: &str) -> String {
    key.chars().take(PREVIEW_LEN).collect()
}

fn random_alphanumerics(n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        fill_random(&mut buf);
        // Rejection sampling keeps every character equally likely (256 is not a multiple of 62).
        for &b in &buf {
            if (b as usize) < 4 * ALPHANUMERIC.len() && out.len() < n {
                out.push(ALPHANUMERIC[b as usize % ALPHANUMERIC.len()] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape() {
        for env in [Environment::Live, Environment::Test] {
            let key = generate_key(env);
            assert_eq!(key.len(), 8 + 32);
            assert_eq!(key_environment(&key), Some(env));
        }
        let secret = generate_webhook_secret();
        assert!(secret.starts_with("whsec_") && secret.len() == 38);
    }

    #[test]
    fn key_shape_boundaries() {
        let rest = |n: usize| "a".repeat(n);
        assert_eq!(key_environment(&format!("dg_live_{}", rest(23))), None);
        assert_eq!(
            key_environment(&format!("dg_live_{}", rest(24))),
            Some(Environment::Live)
        );
        assert_eq!(
            key_environment(&format!("dg_test_{}", rest(120))),
            Some(Environment::Test)
        );
        assert_eq!(key_environment(&format!("dg_test_{}", rest(121))), None);
        assert_eq!(key_environment(&format!("dg_live_{}!", rest(30))), None);
        assert_eq!(key_environment(&format!("dg_prod_{}", rest(30))), None);
        assert_eq!(
            key_environment(&format!("Bearer dg_live_{}", rest(30))),
            None
        );
        assert_eq!(
            key_environment("dg_live_abc-DEF_123abc-DEF_123abc"),
            Some(Environment::Live)
        );
    }

    #[test]
    fn preview_is_sixteen_characters() {
        assert_eq!(preview("dg_live_ABCDEFGHIJKLMNOP"), "dg_live_ABCDEFGH");
    }
}
