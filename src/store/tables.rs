//! Every redb table, and the small typed helpers the operations use on them.
//!
//! Records owned by an account are keyed `(account, id)`: a lookup with the caller's
//! account can only ever find the caller's records (foreign ids are simply absent), and an
//! account's records are one contiguous, time-ordered key range for listing.

use redb::{ReadableTable, Table, TableDefinition};
use serde::{de::DeserializeOwned, Serialize};

use super::codec::{decode, encode};
use super::StoreError;

/// `format_version` and counters such as `next_account_id`.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Account number → `Account`.
pub const ACCOUNTS: TableDefinition<u64, &[u8]> = TableDefinition::new("accounts");
/// Account name → account number (names are unique).
pub const ACCOUNT_NAMES: TableDefinition<&str, u64> = TableDefinition::new("account_names");
/// `(account, key id)` → `ApiKey`.
pub const KEYS: TableDefinition<(u64, u128), &[u8]> = TableDefinition::new("keys");
/// SHA-256 of a key → `(account, key id)`: the authentication lookup.
pub const KEY_HASHES: TableDefinition<[u8; 32], (u64, u128)> = TableDefinition::new("key_hashes");
/// `(account, contract id)` → `Contract`.
pub const CONTRACTS: TableDefinition<(u64, u128), &[u8]> = TableDefinition::new("contracts");
/// `(account, contract name)` → contract id (names are unique per account).
pub const CONTRACT_NAMES: TableDefinition<(u64, &str), u128> =
    TableDefinition::new("contract_names");
/// `(account, check id)` → `Check`.
pub const CHECKS: TableDefinition<(u64, u128), &[u8]> = TableDefinition::new("checks");
/// `(account, webhook id)` → `Webhook`.
pub const WEBHOOKS: TableDefinition<(u64, u128), &[u8]> = TableDefinition::new("webhooks");

/// `(webhook id, delivery id)` → `Delivery`. Webhook ids are unique across accounts, and
/// every access first loads the webhook with the caller's account.
pub const DELIVERIES: TableDefinition<(u128, u128), &[u8]> = TableDefinition::new("deliveries");
/// The persisted timer wheel: `(due unix ms, delivery id)` → webhook id. A pending
/// delivery whose webhook is active has exactly one entry here; the earliest due is the
/// first key.
pub const DUE: TableDefinition<(u64, u128), u128> = TableDefinition::new("due");
/// `(finished unix ms, delivery id)` → webhook id: finished deliveries in the order they
/// expire from the history.
pub const FINISHED: TableDefinition<(u64, u128), u128> = TableDefinition::new("finished");

/// Meta key holding the on-disk format version.
pub const FORMAT_VERSION_KEY: &str = "format_version";
/// Meta key set (to 1) once the first start has created the `default` account.
pub const BOOTSTRAPPED_KEY: &str = "bootstrapped";
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

/// One page of a listing: at most `limit` records after the `cursor` id.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    /// The id of the last record of the previous page.
    pub cursor: Option<u128>,
    /// 1–1000.
    pub limit: usize,
}

/// Records of one page, and whether more follow.
#[derive(Clone, Debug)]
pub struct Page<T> {
    /// The records, in listing order.
    pub items: Vec<T>,
    /// True if a next page exists (its cursor is the last item's id).
    pub more: bool,
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

/// One page of the records under `prefix` in a table keyed `(prefix, id)`, e.g. an
/// account's contracts or a webhook's deliveries.
pub fn page<P, T>(
    table: &impl ReadableTable<(P, u128), &'static [u8]>,
    prefix: P,
    order: Order,
    request: PageRequest,
) -> Result<Page<T>, StoreError>
where
    P: redb::Key + Copy + 'static,
    (P, u128): for<'a> std::borrow::Borrow<<(P, u128) as redb::Value>::SelfType<'a>>,
    T: DeserializeOwned,
{
    let rows = match (order, request.cursor) {
        (Order::OldestFirst, None) => table.range((prefix, 0)..=(prefix, u128::MAX))?,
        (Order::OldestFirst, Some(after)) => match after.checked_add(1) {
            Some(next) => table.range((prefix, next)..=(prefix, u128::MAX))?,
            None => {
                return Ok(Page {
                    items: Vec::new(),
                    more: false,
                })
            }
        },
        (Order::NewestFirst, None) => table.range((prefix, 0)..=(prefix, u128::MAX))?,
        (Order::NewestFirst, Some(before)) => table.range((prefix, 0)..(prefix, before))?,
    };
    let rows: Box<dyn Iterator<Item = _>> = match order {
        Order::OldestFirst => Box::new(rows),
        Order::NewestFirst => Box::new(rows.rev()),
    };
    // One extra row tells whether a next page exists.
    let mut items = Vec::with_capacity(request.limit.min(128) + 1);
    for row in rows.take(request.limit + 1) {
        let (_, value) = row?;
        items.push(decode(value.value())?);
    }
    let more = items.len() > request.limit;
    items.truncate(request.limit);
    Ok(Page { items, more })
}
