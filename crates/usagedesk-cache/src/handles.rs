//! The cache's features, one handle each: `cache.customers().rows(…)`,
//! `cache.outbox_mut().requeue(…)`. A handle borrows the cache for the length of a call
//! chain; reads take `&Cache`, writes (`…_mut`) `&mut Cache`. Each handle's methods live
//! beside the tables they read, in the module named for the feature.

use crate::Cache;

/// Declares each handle (`accessor -> Handle (mut?)`) and its accessor on [`Cache`].
macro_rules! handles {
    ($($(#[doc = $doc:literal])+ $accessor:ident -> $handle:ident ($($mutable:tt)?);)+) => {
        $(
            $(#[doc = $doc])+
            pub struct $handle<'c> {
                pub(crate) cache: &'c $($mutable)? Cache,
            }
        )+

        impl Cache {
            $(
                $(#[doc = $doc])+
                pub fn $accessor(&$($mutable)? self) -> $handle<'_> {
                    $handle { cache: self }
                }
            )+
        }
    };
}

handles! {
    /// The tenant tree: accounts, children pages, paths, search, the tree order.
    accounts -> AccountsHandle ();
    /// Month-end usage: months, an account's month, usage rows, trends, export rows.
    usage -> UsageHandle ();
    /// Customer reporting: the customer index and its pages, licenses, instances' reports, events and
    /// install attempts.
    customers -> CustomersHandle ();
    /// The air-gapped exchange as stored here: instances, the ledger, sync keys and imports.
    airgap -> AirgapHandle ();
    /// Writes of the air-gapped exchange: issued sync keys and imported files.
    airgap_mut -> AirgapHandleMut (mut);
    /// Imported files kept until the cloud accepts them: what is queued, due and refused.
    outbox -> OutboxHandle ();
    /// Writes of the outbox: uploads, deferrals, refusals, retries and discards.
    outbox_mut -> OutboxHandleMut (mut);
    /// Licensed seats against used seats, per license and month.
    entitlements -> EntitlementsHandle ();
    /// Account health and the renewal calendar: the facts they are computed from, and the stored
    /// scores.
    health -> HealthHandle ();
    /// Writes of account health: a day's scores and renewals.
    health_mut -> HealthHandleMut (mut);
    /// What needs a manager's attention, and what reminders have already said.
    attention -> AttentionHandle ();
    /// Writes of attention: the reminders noted as delivered.
    attention_mut -> AttentionHandleMut (mut);
    /// The sync's state: cursor, server, scope, last sync, the sync log, whether a rebuild is due.
    sync -> SyncHandle ();
    /// The sync's writes: feed pages with their cursor, the rebuild of derived tables, checkpoints, the
    /// state.
    sync_mut -> SyncHandleMut (mut);
}
