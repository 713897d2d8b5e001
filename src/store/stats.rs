//! What the console's overview counts (SPEC 6.3), kept as records are written so that
//! answering never scans checks: checks per account and day by verdict (`DAILY_CHECKS`),
//! each contract's latest check (`LAST_CHECKS`), deliveries per account, creation hour and
//! webhook by where they stand (`DELIVERY_HOURS`). The check pass keeps the first two; the
//! queue keeps the third at every change of a delivery's status.

use std::collections::HashMap;

use redb::{ReadTransaction, ReadableTable, Table, WriteTransaction};

use super::tables::*;
use super::{Store, StoreError};
use crate::clock::UnixMs;
use crate::drift::Verdict;
use crate::ids::{AccountId, CheckId, WebhookId};
use crate::model::{
    Account, DayCounts, Delivery, DeliveryCounts, DeliveryStatus, DisabledReason, LastCheck,
    Overview, VerdictCounts, Webhook,
};

type Result<T> = std::result::Result<T, StoreError>;

/// Days in the overview's chart.
pub const CHART_DAYS: u32 = 30;
/// Hours the overview's delivery counts cover.
pub const DELIVERY_WINDOW_HOURS: u32 = 24;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// The verdicts in the order the counters hold them.
pub const VERDICTS: [Verdict; 3] = [Verdict::Pass, Verdict::Warning, Verdict::Breaking];

/// A verdict's index in [`VERDICTS`].
pub fn verdict_index(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Pass => 0,
        Verdict::Warning => 1,
        Verdict::Breaking => 2,
    }
}

/// UTC days since the epoch.
pub fn day_of(at: UnixMs) -> u32 {
    u32::try_from(at.0.max(0) / DAY_MS).unwrap_or(u32::MAX)
}

/// Hours since the epoch.
pub fn hour_of(at: UnixMs) -> u32 {
    u32::try_from(at.0.max(0) / HOUR_MS).unwrap_or(u32::MAX)
}

/// A `LAST_CHECKS` value.
pub type LastCheckRow = (u128, u64, u8, u8, i64);

/// The `LAST_CHECKS` value of a check.
pub fn last_check_row(id: CheckId, verdict: Verdict, severity: u8, at: UnixMs) -> LastCheckRow {
    let seq = id.seq().unwrap_or(0);
    (id.raw(), seq, verdict_index(verdict), severity, at.0)
}

fn last_check((raw, seq, verdict, severity, at): LastCheckRow) -> LastCheck {
    LastCheck {
        id: CheckId::stored(raw, seq),
        verdict: VERDICTS[usize::from(verdict.min(2))],
        severity,
        created_at: UnixMs(at),
    }
}

/// Adds `counts` (pass, warning, breaking) to an account's day.
pub fn add_day(
    table: &mut Table<'_, (u64, u32), (u64, u64, u64)>,
    key: (u64, u32),
    counts: [u64; 3],
) -> Result<()> {
    let (p, w, b) = table.get(key)?.map_or((0, 0, 0), |v| v.value());
    table.insert(key, (p + counts[0], w + counts[1], b + counts[2]))?;
    Ok(())
}

/// A `DELIVERY_HOURS` key: (account, creation hour, webhook id).
pub type HourKey = (u64, u32, u128);

/// A `DELIVERY_HOURS` value: (delivered, abandoned, pending).
pub type HourCounts = (u64, u64, u64);

/// The `DELIVERY_HOURS` key a delivery is counted under.
pub fn hour_key(delivery: &Delivery) -> HourKey {
    (
        delivery.account.0,
        hour_of(delivery.created_at),
        delivery.webhook_id.raw(),
    )
}

/// Counts a delivery into `hours` (the migration fills `DELIVERY_HOURS` so;
/// `check-store` compares).
pub fn tally(hours: &mut HashMap<HourKey, HourCounts>, delivery: &Delivery) {
    let counts = hours.entry(hour_key(delivery)).or_default();
    match delivery.status {
        DeliveryStatus::Delivered => counts.0 += 1,
        DeliveryStatus::Abandoned => counts.1 += 1,
        DeliveryStatus::Pending => counts.2 += 1,
    }
}

/// Moves one delivery from status `from` to `to` in its creation hour (`None`: it did not
/// exist / no longer does). Only a new delivery starts a row: an hour that was dropped is
/// not brought back by a later change of one of its deliveries, so every row counts all
/// the deliveries of its key (what `check-store` verifies).
pub fn move_delivery(
    txn: &WriteTransaction,
    delivery: &Delivery,
    from: Option<DeliveryStatus>,
    to: Option<DeliveryStatus>,
) -> Result<()> {
    if from == to {
        return Ok(());
    }
    let mut table = txn.open_table(DELIVERY_HOURS)?;
    let key = hour_key(delivery);
    if from.is_some() && table.get(key)?.is_none() {
        return Ok(());
    }
    let mut counts = hour_row(&mut table, key)?;
    for (status, add) in [(from, false), (to, true)] {
        let slot = match status {
            Some(DeliveryStatus::Delivered) => &mut counts.0,
            Some(DeliveryStatus::Abandoned) => &mut counts.1,
            Some(DeliveryStatus::Pending) => &mut counts.2,
            None => continue,
        };
        *slot = if add {
            slot.saturating_add(1)
        } else {
            slot.saturating_sub(1)
        };
    }
    table.insert(key, counts)?;
    Ok(())
}

/// Adds `pending` new deliveries per key (the check pass's queued ones).
pub fn add_pending(txn: &WriteTransaction, pending: &HashMap<HourKey, u64>) -> Result<()> {
    let mut table = txn.open_table(DELIVERY_HOURS)?;
    for (&key, &n) in pending {
        let (delivered, abandoned, queued) = hour_row(&mut table, key)?;
        table.insert(key, (delivered, abandoned, queued + n))?;
    }
    Ok(())
}

/// The counts of a key; starting a new row drops the account's hours
/// [`DELIVERY_HOURS_KEPT`] before its hour (the overview reads 24).
fn hour_row(table: &mut Table<'_, HourKey, HourCounts>, key: HourKey) -> Result<HourCounts> {
    if let Some(counts) = table.get(key)? {
        return Ok(counts.value());
    }
    let (account, hour, _) = key;
    let oldest = hour.saturating_sub(DELIVERY_HOURS_KEPT);
    table.retain_in((account, 0, 0)..(account, oldest, 0), |_, _| false)?;
    Ok((0, 0, 0))
}

/// The deliveries of an account created in the last [`DELIVERY_WINDOW_HOURS`] hours
/// before `now` (the current hour included), per webhook.
pub fn deliveries_24h(
    txn: &ReadTransaction,
    account: AccountId,
    now: UnixMs,
) -> Result<HashMap<WebhookId, DeliveryCounts>> {
    let hour = hour_of(now);
    let from = hour.saturating_sub(DELIVERY_WINDOW_HOURS - 1);
    let mut counts: HashMap<WebhookId, DeliveryCounts> = HashMap::new();
    for entry in txn
        .open_table(DELIVERY_HOURS)?
        .range((account.0, from, 0)..=(account.0, hour, u128::MAX))?
    {
        let (key, value) = entry?;
        let (delivered, abandoned, pending) = value.value();
        *counts
            .entry(WebhookId::from_raw(key.value().2))
            .or_default() += DeliveryCounts {
            delivered,
            abandoned,
            pending,
        };
    }
    Ok(counts)
}

impl Store {
    /// The overview of an account at `now` (`GET /overview`): one read transaction over
    /// counters and the account's contracts and webhooks — no check is read.
    pub async fn overview(&self, account: AccountId) -> Result<Overview> {
        let now = self.clock().now();
        self.read(move |txn| overview(txn, account, now)).await
    }
}

/// Each listed contract's latest check, by the contracts' raw ids (`None`: never checked).
pub fn last_checks(
    txn: &ReadTransaction,
    account: AccountId,
    contracts: &[u128],
) -> Result<Vec<Option<LastCheck>>> {
    let ids = txn.open_table(IDS)?;
    let last = txn.open_table(LAST_CHECKS)?;
    contracts
        .iter()
        .map(|&id| match locate(&ids, account, id)? {
            Some(location) => Ok(last.get(location)?.map(|v| last_check(v.value()))),
            None => Ok(None),
        })
        .collect()
}

fn overview(txn: &ReadTransaction, account: AccountId, now: UnixMs) -> Result<Overview> {
    let row: Account = ACCOUNTS
        .read(txn)?
        .get(account.0)?
        .ok_or(StoreError::NotFound)?;
    let today = day_of(now);
    let first = today.saturating_sub(CHART_DAYS - 1);
    let days_table = txn.open_table(DAILY_CHECKS)?;
    let mut counted: HashMap<u32, (u64, u64, u64)> = HashMap::new();
    for entry in days_table.range((account.0, first)..=(account.0, today))? {
        let (key, value) = entry?;
        counted.insert(key.value().1, value.value());
    }
    let checks_by_day = (first..=today)
        .map(|day| {
            let (pass, warning, breaking) = counted.get(&day).copied().unwrap_or_default();
            DayCounts {
                day_start: UnixMs(i64::from(day) * DAY_MS),
                counts: VerdictCounts {
                    pass,
                    warning,
                    breaking,
                },
            }
        })
        .collect();

    // Contracts: their keys (no row is decoded) and their latest checks.
    let contracts = txn.open_table(CONTRACTS.definition())?;
    let total = contracts
        .range((account.0, 0)..=(account.0, u64::MAX))?
        .count() as u64;
    let mut by_last_result = VerdictCounts::default();
    for entry in txn
        .open_table(LAST_CHECKS)?
        .range((account.0, 0)..=(account.0, u64::MAX))?
    {
        let (_, value) = entry?;
        match value.value().2 {
            0 => by_last_result.pass += 1,
            1 => by_last_result.warning += 1,
            _ => by_last_result.breaking += 1,
        }
    }
    let never_checked = total.saturating_sub(by_last_result.total());

    let mut webhooks = crate::model::WebhookCounts::default();
    for entry in WEBHOOKS
        .read(txn)?
        .range((account.0, 0)..=(account.0, u64::MAX))?
    {
        let (_, webhook): (_, Webhook) = entry?;
        webhooks.total += 1;
        match webhook.disabled_reason {
            _ if webhook.active => webhooks.active += 1,
            Some(DisabledReason::Failing) => webhooks.failing += 1,
            Some(DisabledReason::Gone) => webhooks.gone += 1,
            Some(DisabledReason::Paused) | None => webhooks.paused += 1,
        }
    }

    let mut deliveries = DeliveryCounts::default();
    for webhook in deliveries_24h(txn, account, now)?.into_values() {
        deliveries += webhook;
    }
    Ok(Overview {
        account: row,
        checks_by_day,
        contracts_total: total,
        contracts_by_last_result: by_last_result,
        contracts_never_checked: never_checked,
        webhooks,
        deliveries_24h: deliveries,
    })
}
