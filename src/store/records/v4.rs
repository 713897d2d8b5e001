//! The stored shape of formats 2 to 4 that format 5 replaced: a delivery without the seq
//! of its check's id (format 5's check ids carry one). The migration to format 5 decodes
//! it (and the one from format 1 writes it first).

use serde::{Deserialize, Serialize};

use super::{StoredAttempt, StoredDeliveryStatus};

/// A delivery of formats 2 to 4.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDelivery {
    pub(super) id: u128,
    pub(super) seq: u64,
    pub(super) account: u64,
    pub(super) webhook_id: u128,
    pub(super) check_id: Option<u128>,
    pub(super) status: StoredDeliveryStatus,
    pub(super) failures: u32,
    pub(super) next_attempt_at: Option<i64>,
    pub(super) attempts: Vec<StoredAttempt>,
    pub(super) created_at: i64,
    pub(super) finished_at: Option<i64>,
}

impl From<StoredDelivery> for super::StoredDelivery {
    /// Every check id of formats 2 to 4 is found through the `ids` index: no seq.
    fn from(v4: StoredDelivery) -> Self {
        super::StoredDelivery {
            id: v4.id,
            seq: v4.seq,
            account: v4.account,
            webhook_id: v4.webhook_id,
            check_id: v4.check_id,
            status: v4.status,
            failures: v4.failures,
            next_attempt_at: v4.next_attempt_at,
            attempts: v4.attempts,
            created_at: v4.created_at,
            finished_at: v4.finished_at,
            check_seq: 0,
        }
    }
}
