//! The cache's features, one handle each: `cache.customers().rows(…)`,
//! `cache.outbox_mut().requeue(…)`. A handle borrows the cache for the length of a call
//! chain; reads take `&Cache`, writes (`…_mut`) `&mut Cache`. Each handle's methods live
//! beside the tables they read, in the module named for the feature.

use crate::Cache;

/// The tenant tree: accounts, children pages, paths, search, the tree order.
pub struct AccountsHandle<'c> {
    pub(crate) cache: &'c Cache,
}

/// Month-end usage: months, an account's month, usage rows, trends, export rows.
pub struct UsageHandle<'c> {
    pub(crate) cache: &'c Cache,
}

/// Customer reporting: the customer index and its pages, licenses, instances' reports, events and
/// install attempts.
pub struct CustomersHandle<'c> {
    pub(crate) cache: &'c Cache,
}

/// The air-gapped exchange as stored here: instances, the ledger, sync keys and imports.
pub struct AirgapHandle<'c> {
    pub(crate) cache: &'c Cache,
}

/// Writes of the air-gapped exchange: issued sync keys and imported files.
pub struct AirgapHandleMut<'c> {
    pub(crate) cache: &'c mut Cache,
}

/// Imported files kept until the cloud accepts them: what is queued, due and refused.
pub struct OutboxHandle<'c> {
    pub(crate) cache: &'c Cache,
}

/// Writes of the outbox: uploads, deferrals, refusals, retries and discards.
pub struct OutboxHandleMut<'c> {
    pub(crate) cache: &'c mut Cache,
}

/// Licensed seats against used seats, per license and month.
pub struct EntitlementsHandle<'c> {
    pub(crate) cache: &'c Cache,
}

/// Account health and the renewal calendar: the facts they are computed from, and the stored
/// scores.
pub struct HealthHandle<'c> {
    pub(crate) cache: &'c Cache,
}

/// Writes of account health: a day's scores and renewals.
pub struct HealthHandleMut<'c> {
    pub(crate) cache: &'c mut Cache,
}

/// What needs a manager's attention, and what reminders have already said.
pub struct AttentionHandle<'c> {
    pub(crate) cache: &'c Cache,
}

/// Writes of attention: the reminders noted as delivered.
pub struct AttentionHandleMut<'c> {
    pub(crate) cache: &'c mut Cache,
}

/// The sync's state: cursor, server, scope, last sync, the sync log, whether a rebuild is due.
pub struct SyncHandle<'c> {
    pub(crate) cache: &'c Cache,
}

/// The sync's writes: feed pages with their cursor, the rebuild of derived tables, checkpoints, the
/// state.
pub struct SyncHandleMut<'c> {
    pub(crate) cache: &'c mut Cache,
}

impl Cache {
    /// The tenant tree: accounts, children pages, paths, search, the tree order.
    pub fn accounts(&self) -> AccountsHandle<'_> {
        AccountsHandle { cache: self }
    }

    /// Month-end usage: months, an account's month, usage rows, trends, export rows.
    pub fn usage(&self) -> UsageHandle<'_> {
        UsageHandle { cache: self }
    }

    /// Customer reporting: the customer index and its pages, licenses, instances' reports, events
    /// and install attempts.
    pub fn customers(&self) -> CustomersHandle<'_> {
        CustomersHandle { cache: self }
    }

    /// The air-gapped exchange as stored here: instances, the ledger, sync keys and imports.
    pub fn airgap(&self) -> AirgapHandle<'_> {
        AirgapHandle { cache: self }
    }

    /// Writes of the air-gapped exchange: issued sync keys and imported files.
    pub fn airgap_mut(&mut self) -> AirgapHandleMut<'_> {
        AirgapHandleMut { cache: self }
    }

    /// Imported files kept until the cloud accepts them: what is queued, due and refused.
    pub fn outbox(&self) -> OutboxHandle<'_> {
        OutboxHandle { cache: self }
    }

    /// Writes of the outbox: uploads, deferrals, refusals, retries and discards.
    pub fn outbox_mut(&mut self) -> OutboxHandleMut<'_> {
        OutboxHandleMut { cache: self }
    }

    /// Licensed seats against used seats, per license and month.
    pub fn entitlements(&self) -> EntitlementsHandle<'_> {
        EntitlementsHandle { cache: self }
    }

    /// Account health and the renewal calendar: the facts they are computed from, and the stored
    /// scores.
    pub fn health(&self) -> HealthHandle<'_> {
        HealthHandle { cache: self }
    }

    /// Writes of account health: a day's scores and renewals.
    pub fn health_mut(&mut self) -> HealthHandleMut<'_> {
        HealthHandleMut { cache: self }
    }

    /// What needs a manager's attention, and what reminders have already said.
    pub fn attention(&self) -> AttentionHandle<'_> {
        AttentionHandle { cache: self }
    }

    /// Writes of attention: the reminders noted as delivered.
    pub fn attention_mut(&mut self) -> AttentionHandleMut<'_> {
        AttentionHandleMut { cache: self }
    }

    /// The sync's state: cursor, server, scope, last sync, the sync log, whether a rebuild is due.
    pub fn sync(&self) -> SyncHandle<'_> {
        SyncHandle { cache: self }
    }

    /// The sync's writes: feed pages with their cursor, the rebuild of derived tables, checkpoints,
    /// the state.
    pub fn sync_mut(&mut self) -> SyncHandleMut<'_> {
        SyncHandleMut { cache: self }
    }
}
