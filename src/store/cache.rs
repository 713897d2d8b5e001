//! The contract cache that checks score against: immutable `(contract, version)` entries,
//! bounded by an estimate of their size in bytes.
//!
//! An entry is an `Arc` of one [`ContractVersion`], which never changes: a check holds the
//! version it scores against for as long as it needs it, so an update can never change
//! what a concurrent check sees half-way. The *current* version of a contract is the entry
//! under `version: None`; an update replaces it whole (the newer version always wins, so a
//! slow reader cannot put back an older one). Versions named explicitly by a check are
//! entries of their own.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::ids::{AccountId, ContractId};
use crate::model::ContractVersion;
use crate::sync::{read, write};

/// Which entry: a contract's current version (`None`) or a given one.
type Key = (AccountId, ContractId, Option<u32>);

/// Contract versions in memory, at most `max_bytes` of them (estimated).
pub struct ContractCache {
    entries: RwLock<Entries>,
    max_bytes: usize,
}

#[derive(Default)]
struct Entries {
    map: HashMap<Key, Arc<ContractVersion>>,
    bytes: usize,
}

/// What an entry costs in memory, roughly: the record, its key and map slot, and every
/// column with its name (the names dominate).
pub fn estimated_bytes(version: &ContractVersion) -> usize {
    const ENTRY_OVERHEAD: usize = 96;
    ENTRY_OVERHEAD
        + std::mem::size_of::<ContractVersion>()
        + version.name.len()
        + version
            .columns
            .iter()
            .map(|c| std::mem::size_of_val(c) + c.name.len())
            .sum::<usize>()
}

impl ContractCache {
    /// An empty cache that holds at most `max_bytes` (estimated).
    pub fn new(max_bytes: usize) -> Self {
        ContractCache {
            entries: RwLock::new(Entries::default()),
            max_bytes,
        }
    }

    /// The cached version (`None`: the current one) of the account's contract.
    pub fn get(
        &self,
        account: AccountId,
        id: ContractId,
        version: Option<u32>,
    ) -> Option<Arc<ContractVersion>> {
        read(&self.entries)
            .map
            .get(&(account, id, version))
            .cloned()
    }

    /// Offers `current` as the contract's current version: kept unless the cache already
    /// holds a newer one (a reader that raced an update must not put the old one back).
    pub fn offer_current(&self, account: AccountId, id: ContractId, current: Arc<ContractVersion>) {
        let mut entries = write(&self.entries);
        let newer_cached = entries
            .map
            .get(&(account, id, None))
            .is_some_and(|cached| cached.version >= current.version);
        if !newer_cached {
            self.insert(&mut entries, (account, id, None), current);
        }
    }

    /// Caches a version named explicitly (versions never change).
    pub fn insert_version(
        &self,
        account: AccountId,
        id: ContractId,
        version: Arc<ContractVersion>,
    ) {
        let key = (account, id, Some(version.version));
        self.insert(&mut write(&self.entries), key, version);
    }

    /// Forgets every version of a deleted contract.
    pub fn remove_contract(&self, account: AccountId, id: ContractId) {
        self.forget(|key| (key.0, key.1) == (account, id));
    }

    /// Forgets the versions of a contract older than `oldest` (pruned from its history);
    /// its current version stays.
    pub fn forget_versions_before(&self, account: AccountId, id: ContractId, oldest: u32) {
        self.forget(|key| (key.0, key.1) == (account, id) && key.2.is_some_and(|v| v < oldest));
    }

    fn forget(&self, forgotten: impl Fn(&Key) -> bool) {
        let mut entries = write(&self.entries);
        let Entries { map, bytes } = &mut *entries;
        map.retain(|key, version| {
            let keep = !forgotten(key);
            if !keep {
                *bytes -= estimated_bytes(version);
            }
            keep
        });
    }

    /// Estimated bytes held.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        read(&self.entries).bytes
    }

    fn insert(&self, entries: &mut Entries, key: Key, version: Arc<ContractVersion>) {
        let size = estimated_bytes(&version);
        if size > self.max_bytes {
            return; // larger than the whole cache: scored from the store each time
        }
        if let Some(old) = entries.map.remove(&key) {
            entries.bytes -= estimated_bytes(&old);
        }
        // Evict arbitrary entries (a HashMap's order) until the new one fits: cheap, and
        // a contract evicted by mistake costs one read.
        while entries.bytes + size > self.max_bytes {
            let Some(victim) = entries.map.keys().next().copied() else {
                break;
            };
            if let Some(old) = entries.map.remove(&victim) {
                entries.bytes -= estimated_bytes(&old);
            }
        }
        entries.bytes += size;
        entries.map.insert(key, version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::UnixMs;
    use crate::drift::{Column, ColumnType, Rules};

    fn version(n: u32, columns: usize) -> Arc<ContractVersion> {
        Arc::new(ContractVersion {
            version: n,
            name: "c".into(),
            columns: (0..columns)
                .map(|i| Column {
                    name: format!("column_{i:04}"),
                    column_type: ColumnType::String,
                    required: true,
                    severity_override: None,
                })
                .collect(),
            rules: Rules::default(),
            compatibility: Default::default(),
            created_at: UnixMs(0),
        })
    }

    const A: AccountId = AccountId(1);

    #[test]
    fn the_newest_current_version_wins() {
        let cache = ContractCache::new(1 << 20);
        let id = ContractId::from_raw(1);
        cache.offer_current(A, id, version(2, 1));
        cache.offer_current(A, id, version(1, 1));
        assert_eq!(cache.get(A, id, None).map(|v| v.version), Some(2));
        cache.offer_current(A, id, version(3, 1));
        assert_eq!(cache.get(A, id, None).map(|v| v.version), Some(3));
        assert!(cache.get(AccountId(2), id, None).is_none(), "per account");
    }

    #[test]
    fn a_held_entry_never_changes_under_its_holder() {
        let cache = ContractCache::new(1 << 20);
        let id = ContractId::from_raw(1);
        cache.offer_current(A, id, version(1, 3));
        let held = cache.get(A, id, None).expect("cached");
        cache.offer_current(A, id, version(2, 5));
        assert_eq!((held.version, held.columns.len()), (1, 3));
    }

    #[test]
    fn the_cache_is_bounded_by_bytes_and_forgets_deleted_contracts() {
        let one = estimated_bytes(&version(1, 100));
        let cache = ContractCache::new(one * 3 + one / 2);
        for i in 0..10 {
            cache.offer_current(A, ContractId::from_raw(i), version(1, 100));
            assert!(cache.bytes() <= one * 3 + one / 2);
        }
        assert_eq!(cache.bytes(), one * 3);
        let id = ContractId::from_raw(9);
        cache.insert_version(A, id, version(1, 100));
        cache.remove_contract(A, id);
        assert!(cache.get(A, id, None).is_none() && cache.get(A, id, Some(1)).is_none());
        // Too large for the whole cache: not kept at all.
        let small = ContractCache::new(100);
        small.offer_current(A, id, version(1, 100));
        assert_eq!(small.bytes(), 0);
    }
}
