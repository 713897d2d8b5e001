//! Every redb table, and the small typed helpers the operations use on them.
//!
//! Records owned by an account are keyed `(account, seq)`, where `seq` is a store-wide
//! counter: an account's records are one contiguous key range in creation order (lists
//! are range reads), and inserts land at the right edge of the B-tree. The `ids` table
//! maps a public id to `(account, seq)`; a lookup that finds another account's id answers
//! "not found", exactly like an unknown id.

use redb::{ReadableTable, Table, TableDefinition};
use serde::{de::DeserializeOwned, Serialize};

use super::codec::{decode, encode};
use super::StoreError;
use crate::model::AccountId;

/// `format_version` and counters such as `next_account_id`.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Account number → `Account`.
pub const ACCOUNTS: TableDefinition<u64, &[u8]> = TableDefinition::new("accounts");
/// Account name → account number (names are unique).
pub const ACCOUNT_NAMES: TableDefinition<&str, u64> = TableDefinition::new("account_names");
/// Public id (contract, check, webhook, key) → `(account, seq)`.
pub const IDS: TableDefinition<u128, (u64, u64)> = TableDefinition::new("ids");
/// `(account, seq)` → `ApiKey`.
pub const KEYS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("keys");
/// SHA-256 of a key → `(account, seq)`: the authentication lookup.
pub const KEY_HASHES: TableDefinition<[u8; 32], (u64, u64)> = TableDefinition::new("key_hashes");
/// `(account, seq)` → `Contract`.
pub const CONTRACTS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("contracts");
/// `(account, contract name)` → contract id (names are unique per account).
pub const CONTRACT_NAMES: TableDefinition<(u64, &str), u128> =
    TableDefinition::new("contract_names");
/// `(account, seq)` → `Check`.
pub const CHECKS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("checks");
/// `(account, seq)` → `Webhook`.
pub const WEBHOOKS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("webhooks");

/// `(webhook id, seq)` → `Delivery`. Webhook ids are unique across accounts, and the API
/// reaches them only after loading the webhook with the caller's account.
pub const DELIVERIES: TableDefinition<(u128, u64), &[u8]> = TableDefinition::new("deliveries");
/// The persisted timer wheel: `(due unix ms, delivery seq)` → webhook id. A pending
/// delivery whose webhook is active has exactly one entry here; the earliest due is the
/// first key, and deliveries due at the same millisecond go in creation order.
pub const DUE: TableDefinition<(u64, u64), u128> = TableDefinition::new("due");
/// `(finished unix ms, delivery seq)` → webhook id: finished deliveries in the order they
/// expire from the history.
pub const FINISHED: TableDefinition<(u64, u64), u128> = TableDefinition::new("finished");

/// Meta key holding the on-disk format version.
pub const FORMAT_VERSION_KEY: &str = "format_version";
/// Meta key set (to 1) once the first start has created the `default` account.
pub const BOOTSTRAPPED_KEY: &str = "bootstrapped";
/// Meta key holding the next `seq` to hand out.
pub const NEXT_SEQ_KEY: &str = "next_seq";
/// Meta key holding the next account number to hand out.
pub const NEXT_ACCOUNT_KEY: &str = "next_account_id";

/// Which end of an account's key range a listing starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Contracts, webhooks, keys.
    OldestFirst,
    /// Checks (and deliveries).
    NewestFirst,
}

/// One page of a listing: at most `limit` records after the `cursor`.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    /// The `seq` of the last record of the previous page.
    pub cursor: Option<u64>,
    /// 1–1000.
    pub limit: usize,
}

/// Records of one page, and whether more follow.
#[derive(Clone, Debug)]
pub struct Page<T> {
    /// The records, in listing order.
    pub items: Vec<T>,
    /// The cursor of the next page, if there is one.
    pub next: Option<u64>,
}

/// Reads and decodes one record.
pub fn get<K, T>(
    table: &impl ReadableTable<K, &'static [u8]>,
    key: impl std::borrow::Borrow<K::SelfType<'static>>,
) -> Result<Option<T>, StoreError>
where
    K: redb::Key + 'static,
    T: DeserializeOwned,
{
    match table.get(key)? {
        Some(bytes) => decode(bytes.value()).map(Some),
        None => Ok(None),
    }
}

/// Encodes and writes one record.
pub fn put<'k, K, T>(
    table: &mut Table<K, &'static [u8]>,
    key: impl std::borrow::Borrow<K::SelfType<'k>>,
    record: &T,
) -> Result<(), StoreError>
where
    K: redb::Key + 'static,
    T: Serialize,
{
    table.insert(key, encode(record)?.as_slice())?;
    Ok(())
}

/// One page of the records under `prefix` in a table keyed `(prefix, seq)`, e.g. an
/// account's contracts or a webhook's deliveries.
pub fn page<P, T>(
    table: &impl ReadableTable<(P, u64), &'static [u8]>,
    prefix: P,
    order: Order,
    request: PageRequest,
) -> Result<Page<T>, StoreError>
where
    P: redb::Key + Copy + 'static,
    (P, u64): for<'a> std::borrow::Borrow<<(P, u64) as redb::Value>::SelfType<'a>>,
    T: DeserializeOwned,
{
    let empty = || {
        Ok(Page {
            items: Vec::new(),
            next: None,
        })
    };
    let rows = match (order, request.cursor) {
        (Order::OldestFirst, None) => table.range((prefix, 0)..=(prefix, u64::MAX))?,
        (Order::OldestFirst, Some(after)) => match after.checked_add(1) {
            Some(next) => table.range((prefix, next)..=(prefix, u64::MAX))?,
            None => return empty(),
        },
        (Order::NewestFirst, None) => table.range((prefix, 0)..=(prefix, u64::MAX))?,
        (Order::NewestFirst, Some(before)) => table.range((prefix, 0)..(prefix, before))?,
    };
    let rows: Box<dyn Iterator<Item = _>> = match order {
        Order::OldestFirst => Box::new(rows),
        Order::NewestFirst => Box::new(rows.rev()),
    };
    // One extra row tells whether a next page exists.
    let mut items = Vec::with_capacity(request.limit.min(128) + 1);
    let mut last_seq = None;
    let mut more = false;
    for row in rows.take(request.limit + 1) {
        let (key, value) = row?;
        if items.len() == request.limit {
            more = true;
            break;
        }
        last_seq = Some(key.value().1);
        items.push(decode(value.value())?);
    }
    Ok(Page {
        items,
        next: last_seq.filter(|_| more),
    })
}

/// Hands out the next `seq`: store-wide, strictly increasing, never reused.
pub fn next_seq(txn: &redb::WriteTransaction) -> Result<u64, StoreError> {
    take_seq(&mut txn.open_table(META)?)
}

/// [`next_seq`] on an already open `meta` table (hot paths open each table once).
pub fn take_seq(meta: &mut Table<&'static str, u64>) -> Result<u64, StoreError> {
    let seq = meta.get(NEXT_SEQ_KEY)?.map_or(1, |v| v.value());
    meta.insert(NEXT_SEQ_KEY, seq + 1)?;
    Ok(seq)
}

/// Where an owned record lives: `(account, seq)`.
pub type Location = (u64, u64);

/// Where the record with public id `id` lives, if `account` owns it.
pub fn locate(
    ids: &impl ReadableTable<u128, (u64, u64)>,
    account: AccountId,
    id: u128,
) -> Result<Option<Location>, StoreError> {
    let location = ids.get(id)?.map(|v| v.value());
    Ok(location.filter(|&(owner, _)| owner == account))
}

/// Reads the record with public id `id` from `table` if `account` owns it, with its key.
pub fn get_owned<T: DeserializeOwned>(
    ids: &impl ReadableTable<u128, (u64, u64)>,
    table: &impl ReadableTable<(u64, u64), &'static [u8]>,
    account: AccountId,
    id: u128,
) -> Result<Option<(Location, T)>, StoreError> {
    match locate(ids, account, id)? {
        Some(key) => Ok(get(table, key)?.map(|record| (key, record))),
        None => Ok(None),
    }
}
