//! Who is calling, and may they: API-key authentication, rate limits, and the coalesced
//! `last_used_at` bookkeeping.
//!
//! The hot path never touches the disk for a known key: active keys are cached by hash
//! (the cache is invalidated when a key is revoked or deleted through the API), and uses
//! are collected in memory and written in one transaction every few seconds.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, RwLock};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hyper::HeaderMap;

use super::error::ApiError;
use crate::clock::UnixMs;
use crate::credentials::{self, Environment, KeyHash};
use crate::ids::{AccountId, KeyId};
use crate::model::ApiKey;
use crate::store::{KeyUse, Store};
use crate::sync::{lock, read, write};

/// The authenticated caller of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Owner of everything the request may touch.
    pub account: AccountId,
    /// The key used.
    pub key_id: KeyId,
    /// Live keys spend credits.
    pub environment: Environment,
}

/// Active keys by hash, and a counter of forgets: a cache fill loses to any forget that
/// happened while its store read was in flight.
#[derive(Default)]
struct KeyCache {
    keys: HashMap<KeyHash, Caller>,
    generation: u64,
}

/// Authentication and rate limiting state shared by all connections.
pub struct Auth {
    store: Store,
    /// Active keys by hash. A std lock: it is never held across an await.
    active_keys: RwLock<KeyCache>,
    /// Per key: `limits.requests_per_minute`, and that rate. Replaced whole by a reload
    /// that changes the rate.
    requests: RwLock<(NonZeroU32, Arc<DefaultKeyedRateLimiter<KeyId>>)>,
    /// Per account: `limits.key_creations_per_hour`, and that rate.
    key_creations: RwLock<(NonZeroU32, Arc<DefaultKeyedRateLimiter<AccountId>>)>,
    /// Latest use of each key since the last flush.
    pending_uses: Mutex<HashMap<(AccountId, KeyId), UnixMs>>,
}

impl Auth {
    /// Builds the limiter state from the configured rates (both at least 1).
    pub fn new(
        store: Store,
        requests_per_minute: NonZeroU32,
        key_creations_per_hour: NonZeroU32,
    ) -> Auth {
        Auth {
            store,
            active_keys: RwLock::new(KeyCache::default()),
            requests: RwLock::new(per_minute(requests_per_minute)),
            key_creations: RwLock::new(per_hour(key_creations_per_hour)),
            pending_uses: Mutex::new(HashMap::new()),
        }
    }

    /// Authenticates `X-API-Key`. The key's shape is checked before any lookup.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let Some(header) = headers.get("x-api-key") else {
            return Err(ApiError::Unauthorized(
                if headers.contains_key(hyper::header::AUTHORIZATION) {
                    "send the API key in the X-API-Key header; Authorization is not accepted"
                } else {
                    "missing X-API-Key header"
                },
            ));
        };
        let key = header
            .to_str()
            .ok()
            .filter(|k| credentials::key_environment(k).is_some())
            .ok_or(ApiError::Unauthorized("malformed API key"))?;
        let hash = credentials::hash_key(key);

        let (cached, generation) = {
            let cache = read(&self.active_keys);
            (cache.keys.get(&hash).copied(), cache.generation)
        };
        let caller = match cached {
            Some(caller) => caller,
            None => {
                let key = self.store.keys().by_hash(hash).await?;
                let caller = key
                    .filter(|k| k.active)
                    .map(|k| Caller {
                        account: k.account,
                        key_id: k.id,
                        environment: k.environment,
                    })
                    .ok_or(ApiError::Unauthorized("unknown or revoked API key"))?;
                self.remember(generation, hash, caller);
                caller
            }
        };
        let now = self.store.clock().now();
        lock(&self.pending_uses).insert((caller.account, caller.key_id), now);
        Ok(caller)
    }

    /// Applies the per-key request limit.
    pub fn check_rate(&self, caller: &Caller) -> Result<(), ApiError> {
        read(&self.requests)
            .1
            .check_key(&caller.key_id)
            .map_err(|not_until| ApiError::RateLimited {
                message: "too many requests for this API key",
                retry_after: retry_after_secs(&not_until),
            })
    }

    /// Applies the per-account key-creation limit (counts one creation).
    pub fn check_key_creation(&self, account: AccountId) -> Result<(), ApiError> {
        read(&self.key_creations)
            .1
            .check_key(&account)
            .map_err(|not_until| ApiError::RateLimited {
                message: "too many keys created for this account",
                retry_after: retry_after_secs(&not_until),
            })
    }

    /// Applies new limits (a reload). A limit that changed starts every bucket full
    /// again; one that did not keeps them (a SIGHUP is no way around a rate limit).
    pub fn set_limits(&self, requests_per_minute: NonZeroU32, key_creations_per_hour: NonZeroU32) {
        let mut requests = write(&self.requests);
        if requests.0 != requests_per_minute {
            *requests = per_minute(requests_per_minute);
        }
        drop(requests);
        let mut key_creations = write(&self.key_creations);
        if key_creations.0 != key_creations_per_hour {
            *key_creations = per_hour(key_creations_per_hour);
        }
    }

    /// Caches an active key read from the store — unless a key was forgotten since the
    /// read began (`generation` changed): that read may be of a key now revoked, and
    /// caching it would let the revoked key work until the next restart.
    fn remember(&self, generation: u64, hash: KeyHash, caller: Caller) {
        let mut cache = write(&self.active_keys);
        if cache.generation == generation {
            cache.keys.insert(hash, caller);
        }
    }

    /// Drops a key from the cache; call after revoking or deleting it (after its commit).
    pub fn forget(&self, key: &ApiKey) {
        let mut cache = write(&self.active_keys);
        cache.keys.remove(&key.hash);
        cache.generation += 1;
    }

    /// The freshest `last_used_at` of a key: an unflushed use wins over the stored one.
    pub fn last_used_at(&self, key: &ApiKey) -> Option<UnixMs> {
        let pending = lock(&self.pending_uses)
            .get(&(key.account, key.id))
            .copied();
        pending.max(key.last_used_at)
    }

    /// Writes the collected key uses in one transaction and trims idle limiter state.
    pub async fn flush(&self) {
        let uses: Vec<KeyUse> = std::mem::take(&mut *lock(&self.pending_uses))
            .into_iter()
            .map(|((account, key_id), at)| KeyUse {
                account,
                key_id,
                at,
            })
            .collect();
        read(&self.requests).1.retain_recent();
        read(&self.key_creations).1.retain_recent();
        if uses.is_empty() {
            return;
        }
        if let Err(e) = self.store.keys().record_use(uses).await {
            // Only a timestamp is lost; the next use records it again.
            tracing::warn!(error = %e, "cannot record API key use");
        }
    }
}

/// A limiter of `rate` per minute for each key, with its rate.
fn per_minute<K: std::hash::Hash + Eq + Clone>(
    rate: NonZeroU32,
) -> (NonZeroU32, Arc<DefaultKeyedRateLimiter<K>>) {
    (rate, Arc::new(RateLimiter::keyed(Quota::per_minute(rate))))
}

/// A limiter of `rate` per hour for each key, with its rate.
fn per_hour<K: std::hash::Hash + Eq + Clone>(
    rate: NonZeroU32,
) -> (NonZeroU32, Arc<DefaultKeyedRateLimiter<K>>) {
    (rate, Arc::new(RateLimiter::keyed(Quota::per_hour(rate))))
}

fn retry_after_secs(not_until: &governor::NotUntil<governor::clock::QuantaInstant>) -> u64 {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    // Whole seconds, rounded up, at least 1.
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::generate_key;

    /// Issue 9: a request whose key is not cached reads it (active) from the store; a
    /// revoke commits and forgets the key; then the request fills the cache. The fill
    /// must lose, or the revoked key works until the next restart.
    #[tokio::test]
    async fn a_cache_fill_loses_to_a_revoke_that_raced_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let key = generate_key(Environment::Live);
        store
            .accounts()
            .bootstrap(10, key.clone())
            .await
            .expect("bootstrap");
        let limit = NonZeroU32::new(100).expect("100");
        let auth = Auth::new(store.clone(), limit, limit);
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", key.parse().expect("header"));

        // The request's read, as `authenticate` makes it on a cache miss…
        let generation = read(&auth.active_keys).generation;
        let record = store
            .keys()
            .by_hash(credentials::hash_key(&key))
            .await
            .expect("read")
            .expect("the key");
        // …the revoke commits and forgets the key…
        store
            .keys()
            .set_active(record.account, record.id, false, Environment::Live)
            .await
            .expect("revoke");
        auth.forget(&record);
        // …then the request fills the cache with what it read.
        let caller = Caller {
            account: record.account,
            key_id: record.id,
            environment: record.environment,
        };
        auth.remember(generation, record.hash, caller);

        assert!(auth.authenticate(&headers).await.is_err(), "revoked");
        store.close();
    }
}
