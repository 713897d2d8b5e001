//! Webhooks: registrations, their secrets (with a rotation's grace period), pausing and
//! resuming (which takes their pending deliveries out of the queue and puts them back).

use std::collections::HashMap;

use redb::{ReadTransaction, WriteTransaction};

use super::tables::*;
use super::{Store, StoreError};
use crate::clock::UnixMs;
use crate::drift::Verdict;
use crate::ids::{AccountId, ContractId, WebhookId};
use crate::model::{
    DeliveryCounts, DisabledReason, PreviousSecret, Webhook, WebhookFilter, WebhookFormat,
};

type Result<T> = std::result::Result<T, StoreError>;

/// The store's webhooks. A borrow of the [`Store`]: get one with [`Store::webhooks`].
#[derive(Clone, Copy)]
pub struct Webhooks<'s> {
    store: &'s Store,
}

impl Store {
    /// The webhooks of every account.
    pub fn webhooks(&self) -> Webhooks<'_> {
        Webhooks { store: self }
    }
}

impl Webhooks<'_> {
    /// Registers a webhook; [`StoreError::Invalid`] if its contract is not the account's,
    /// [`StoreError::Conflict`] if the account has `max_webhooks` already.
    pub async fn create(
        &self,
        account: AccountId,
        webhook: NewWebhook,
        max_webhooks: usize,
    ) -> Result<Webhook> {
        let now = self.store.clock().now();
        self.store
            .write(move |txn| create_webhook(txn, account, webhook, max_webhooks, now))
            .await
    }

    /// One webhook of the account.
    pub async fn get(&self, account: AccountId, id: WebhookId) -> Result<Webhook> {
        self.store.read(move |txn| webhook(txn, account, id)).await
    }

    /// The deliveries of each of the account's webhooks created in the last 24 hours, by
    /// where they stand (a webhook with none is absent), from the counters.
    pub async fn deliveries_24h(
        &self,
        account: AccountId,
    ) -> Result<HashMap<WebhookId, DeliveryCounts>> {
        let now = self.store.clock().now();
        self.store
            .read(move |txn| super::stats::deliveries_24h(txn, account, now))
            .await
    }

    /// One page of the account's webhooks, oldest first.
    pub async fn list(&self, account: AccountId, page: PageRequest) -> Result<Page<Webhook>> {
        self.store
            .read(move |txn| list(txn, WEBHOOKS, account, Order::OldestFirst, page))
            .await
    }

    /// Applies a `PATCH` to a webhook (pausing or resuming its pending deliveries, due at
    /// once).
    pub async fn update(
        &self,
        account: AccountId,
        id: WebhookId,
        update: WebhookUpdate,
    ) -> Result<Webhook> {
        let due = self.store.clock().steady();
        let (webhook, resumed) = self
            .store
            .write(move |txn| update_webhook(txn, account, id, update, due))
            .await?;
        if resumed {
            self.store.signal_due();
        }
        Ok(webhook)
    }

    /// Replaces a webhook's secret; the old one keeps signing for `grace`.
    pub async fn rotate_secret(
        &self,
        account: AccountId,
        id: WebhookId,
        secret: String,
        grace: std::time::Duration,
    ) -> Result<Webhook> {
        let now = self.store.clock().now();
        self.store
            .write(move |txn| rotate_secret(txn, account, id, secret, grace, now))
            .await
    }

    /// Drops previous secrets whose grace period has ended; returns how many.
    pub async fn drop_expired_secrets(&self) -> Result<usize> {
        let now = self.store.clock().now();
        self.store
            .write(move |txn| drop_expired_secrets(txn, now))
            .await
    }

    /// Deletes a webhook and its deliveries.
    pub async fn delete(&self, account: AccountId, id: WebhookId) -> Result<Webhook> {
        self.store
            .write(move |txn| delete_webhook(txn, account, id))
            .await
    }
}

/// A validated webhook registration.
#[derive(Clone, Debug)]
pub struct NewWebhook {
    /// Absolute `https://` URL.
    pub url: String,
    /// Without duplicates.
    pub events: Vec<Verdict>,
    /// Must be one of the account's contracts when given.
    pub contract_id: Option<ContractId>,
    /// `whsec_…`.
    pub secret: String,
    /// The body's format.
    pub format: WebhookFormat,
    /// What a check must also be to fire it.
    pub filter: Option<WebhookFilter>,
    /// PagerDuty's routing key (required by, and only kept for, the `pagerduty` format).
    pub routing_key: Option<String>,
}

/// A validated `PATCH` of a webhook: each field given replaces the webhook's.
#[derive(Clone, Debug, Default)]
pub struct WebhookUpdate {
    /// Absolute `https://` URL.
    pub url: Option<String>,
    /// Without duplicates.
    pub events: Option<Vec<Verdict>>,
    /// `Some(None)`: every contract; `Some(Some(id))`: one of the account's contracts.
    pub contract_id: Option<Option<ContractId>>,
    /// The body's format.
    pub format: Option<WebhookFormat>,
    /// `Some(None)`: no filter.
    pub filter: Option<Option<WebhookFilter>>,
    /// A new PagerDuty routing key.
    pub routing_key: Option<String>,
    /// Pause (`paused`) or resume (which also clears the failure count).
    pub active: Option<bool>,
}

/// The one rule tying the routing key to the format, on create and PATCH alike (on the
/// webhook as it would be, `given` whether the body set a key): a `pagerduty` webhook has
/// a key; no other format takes one, or keeps one (a switch away drops it).
fn routing_key_goes_with_format(webhook: &mut Webhook, given: bool) -> Result<()> {
    if webhook.format != WebhookFormat::PagerDuty {
        if given {
            return Err(StoreError::Invalid(format!(
                "routing_key: only a pagerduty webhook takes one (this one's format is {})",
                webhook.format.as_str()
            )));
        }
        webhook.routing_key = None; // a key stays only where it is used
        return Ok(());
    }
    if webhook.routing_key.is_none() {
        return Err(StoreError::Invalid(
            "routing_key: required with format pagerduty (the 32-character integration key)".into(),
        ));
    }
    Ok(())
}

// ---- transaction bodies ----

/// Registers a webhook after checking that its contract is one of the account's
/// contracts and that the account has fewer than `max_webhooks`.
pub fn create_webhook(
    txn: &WriteTransaction,
    account: AccountId,
    new: NewWebhook,
    max_webhooks: usize,
    now: UnixMs,
) -> Result<Webhook> {
    check_scope(txn, account, new.contract_id)?;
    let existing = WEBHOOKS
        .write(txn)?
        .range((account.0, 0)..=(account.0, u64::MAX))?
        .take(max_webhooks)
        .count();
    if existing >= max_webhooks {
        return Err(StoreError::Conflict(format!(
            "the account has {existing} webhooks, the most limits.max_webhooks allows; delete one first"
        )));
    }
    let mut webhook = Webhook {
        id: WebhookId::generate(now),
        url: new.url,
        events: new.events,
        contract_id: new.contract_id,
        active: true,
        secret: new.secret,
        created_at: now,
        format: new.format,
        disabled_reason: None,
        consecutive_failures: 0,
        previous_secret: None,
        filter: new.filter,
        routing_key: new.routing_key,
    };
    let given = webhook.routing_key.is_some();
    routing_key_goes_with_format(&mut webhook, given)?;
    let location = new_location(txn, account, webhook.id.raw())?;
    WEBHOOKS.write(txn)?.insert(location, &webhook)?;
    Ok(webhook)
}

/// The one rule for a webhook's scope, on create and on PATCH alike: no contract (every
/// contract), or one of the account's contracts — else `Invalid`, naming the field.
fn check_scope(
    txn: &WriteTransaction,
    account: AccountId,
    scope: Option<ContractId>,
) -> Result<()> {
    match scope {
        Some(id) if !is_contract_of(txn, account, id)? => Err(StoreError::Invalid(
            "contract_id: no such contract in this account".into(),
        )),
        _ => Ok(()),
    }
}

/// Whether `id` names one of the account's contracts. The id's prefix only says what the
/// caller meant: the `ids` table holds every kind of record, so the location must also be
/// a row of `contracts` (`ctr_` + a check's id body is not a contract).
pub fn is_contract_of(txn: &WriteTransaction, account: AccountId, id: ContractId) -> Result<bool> {
    match locate(&txn.open_table(IDS)?, account, id.raw())? {
        Some(location) => Ok(CONTRACTS.write(txn)?.get(location)?.is_some()),
        None => Ok(false),
    }
}

/// One webhook of the account.
pub fn webhook(txn: &ReadTransaction, account: AccountId, id: WebhookId) -> Result<Webhook> {
    owned(txn, WEBHOOKS, account, id.raw())
}

/// Applies a `PATCH` to a webhook. Pausing takes its pending deliveries out of the queue
/// (`disabled_reason: "paused"`); resuming puts them back, due at `due`, and clears the
/// disabled reason and the failure count. Returns the webhook and whether deliveries
/// became due.
pub fn update_webhook(
    txn: &WriteTransaction,
    account: AccountId,
    id: WebhookId,
    update: WebhookUpdate,
    due: UnixMs,
) -> Result<(Webhook, bool)> {
    let mut webhooks = WEBHOOKS.write(txn)?;
    let ids = txn.open_table(IDS)?;
    let (location, mut webhook) =
        get_owned(&ids, &webhooks, account, id.raw())?.ok_or(StoreError::NotFound)?;
    drop(ids);
    check_scope(txn, account, update.contract_id.flatten())?;
    let before = webhook.clone();
    if let Some(url) = update.url {
        webhook.url = url;
    }
    if let Some(events) = update.events {
        webhook.events = events;
    }
    if let Some(contract_id) = update.contract_id {
        webhook.contract_id = contract_id;
    }
    if let Some(format) = update.format {
        webhook.format = format;
    }
    if let Some(filter) = update.filter {
        webhook.filter = filter;
    }
    let given = update.routing_key.is_some();
    if let Some(key) = update.routing_key {
        webhook.routing_key = Some(key);
    }
    routing_key_goes_with_format(&mut webhook, given)?;
    let was_active = webhook.active;
    match update.active {
        Some(true) => {
            webhook.active = true;
            webhook.disabled_reason = None;
            webhook.consecutive_failures = 0;
        }
        Some(false) => {
            webhook.active = false;
            webhook.disabled_reason = Some(DisabledReason::Paused);
        }
        None => {}
    }
    if webhook != before {
        webhooks.insert(location, &webhook)?;
    }
    drop(webhooks);
    if before.format == WebhookFormat::PagerDuty && webhook.format != WebhookFormat::PagerDuty {
        super::queue::forget_incidents(txn, id)?;
    }
    let mut resumed = false;
    if webhook.active != was_active {
        let changed = super::queue::set_paused(txn, id, !webhook.active, due)?;
        resumed = webhook.active && changed > 0;
    }
    Ok((webhook, resumed))
}

/// Replaces a webhook's secret with `secret`. The old one keeps signing (as the previous
/// secret) until `now + grace`; with no grace it is dropped at once. Only one previous
/// secret is kept: an earlier one is replaced.
pub fn rotate_secret(
    txn: &WriteTransaction,
    account: AccountId,
    id: WebhookId,
    secret: String,
    grace: std::time::Duration,
    now: UnixMs,
) -> Result<Webhook> {
    let mut webhooks = WEBHOOKS.write(txn)?;
    let (location, mut webhook) = get_owned(&txn.open_table(IDS)?, &webhooks, account, id.raw())?
        .ok_or(StoreError::NotFound)?;
    let old = std::mem::replace(&mut webhook.secret, secret);
    webhook.previous_secret = (!grace.is_zero()).then(|| PreviousSecret {
        secret: old,
        expires_at: now + grace,
    });
    webhooks.insert(location, &webhook)?;
    Ok(webhook)
}

/// Drops previous secrets whose grace period ended by `now`, in every account. Returns
/// how many.
pub fn drop_expired_secrets(txn: &WriteTransaction, now: UnixMs) -> Result<usize> {
    let mut webhooks = WEBHOOKS.write(txn)?;
    let expired: Vec<(Location, Webhook)> = {
        let mut expired = Vec::new();
        for row in webhooks.all()? {
            let (key, webhook) = row?;
            if webhook
                .previous_secret
                .as_ref()
                .is_some_and(|p| p.expires_at <= now)
            {
                expired.push((key.value(), webhook));
            }
        }
        expired
    };
    for (location, mut webhook) in expired.iter().cloned() {
        webhook.previous_secret = None;
        webhooks.insert(location, &webhook)?;
    }
    Ok(expired.len())
}

/// Deletes a webhook.
pub fn delete_webhook(
    txn: &WriteTransaction,
    account: AccountId,
    id: WebhookId,
) -> Result<Webhook> {
    let mut webhooks = WEBHOOKS.write(txn)?;
    let mut ids = txn.open_table(IDS)?;
    let (location, webhook) =
        get_owned(&ids, &webhooks, account, id.raw())?.ok_or(StoreError::NotFound)?;
    webhooks.remove(location)?;
    ids.remove(id.raw())?;
    // Deliveries stop at once: their due entries go in this same transaction.
    super::queue::remove_all(txn, id)?;
    Ok(webhook)
}
