//! Where the cloud keeps its data.
//!
//! The service talks to small per-concern traits, one file each: [`Tenants`] (plans,
//! loads, ingest, accounts), [`Feed`] (the change feed and the tree reads of reports),
//! [`Tokens`], [`AirGap`] (root key, cloud signer, delegations, online sync keys, accepted
//! files), [`InstanceIdentity`] (license files, enrollment keys, key events) and
//! [`Customers`] (check-ins, reports, events), and [`Rates`] (whether request budgets are
//! shared with other processes). An engine implements all seven and is then a
//! [`Store`] (a blanket supertrait): the service holds one `Arc<dyn Store>`, and a function
//! that needs one concern takes that trait (`&dyn Tokens`), which any `&dyn Store` coerces to.
//! A struct of seven handles would let one engine's parts be mixed with another's, which no
//! engine needs: every concern shares the engine's transactions (a usage file writes daily
//! rows, instances and the feed together).
//!
//! Engines only read and write, each call in one transaction. The rules live in the service
//! and are the same for every engine: what a load may contain ([`crate::load::rules`]),
//! cursors and their epochs ([`crate::feed`]), when a check-in is accepted and which events it
//! makes ([`crate::customers::check_in`]), when the vendor root key is created
//! ([`crate::airgap::keys::root_key`]), how a usage file's records count
//! ([`crate::airgap::records`]), a subtree's order ([`tree_order`]). Errors are
//! [`StoreError`]s, which name no driver type; an engine maps its driver's errors onto them
//! (busy or lost connections are [`StoreError::Unavailable`], answered 503 with
//! `Retry-After`) and says which [`Conflict`] a refused write met, in the service's words.
//!
//! **The traits are synchronous, and called only off the async runtime** (the HTTP layer runs
//! every call on tokio's blocking pool, the CLI calls them from its main thread). SQLite is
//! synchronous, so its engine runs there directly. The PostgreSQL engine ([`PgStorage`], over
//! sqlx) implements the same traits by running each call's future to completion on that
//! calling thread, while a small runtime of the engine's own drives the pool's sockets: the
//! server's worker threads never wait on the database, and no caller changes. Async traits were weighed and not chosen: the load
//! streams rows from a synchronous CSV reader, a usage file's verification key is signed by
//! a callback inside the write's transaction, and every caller (CLI, desktop demo, six
//! crates' tests) calls these directly; async traits would make the SQLite engine copy every
//! argument into `spawn_blocking` and every caller async, for no gain on SQLite. The cost
//! for an async engine is one blocking-pool thread per call in flight, which the server's
//! concurrency limit bounds.

mod airgap;
mod customers;
mod feed;
mod identity;
#[cfg(feature = "postgres")]
mod postgres;
mod rates;
mod sqlite;
mod tenants;
mod tokens;

pub use airgap::*;
pub use customers::*;
pub use feed::*;
pub use identity::*;
#[cfg(feature = "postgres")]
pub use postgres::{create_database, drop_database, is_postgres_url, redact_url, PgStorage};
pub use rates::*;
pub use sqlite::{backup, rotate_epoch, SqliteStorage};
pub use tenants::*;
pub use tokens::*;

/// Every trait of an engine, for `use usagedesk_cloud::storage::prelude::*`.
pub mod prelude {
    pub use super::{AirGap, Customers, Feed, InstanceIdentity, Rates, Store, Tenants, Tokens};
}

/// A storage engine: every per-concern trait. Implemented for any type that implements
/// them all, so an engine implements the seven traits and nothing else.
pub trait Store:
    Tenants + Feed + Tokens + AirGap + InstanceIdentity + Customers + Rates + Send + Sync + 'static
{
}

impl<T> Store for T where
    T: Tenants
        + Feed
        + Tokens
        + AirGap
        + InstanceIdentity
        + Customers
        + Rates
        + Send
        + Sync
        + 'static
{
}

/// Why a storage call failed, in words every engine can give: an engine maps its own
/// driver's errors onto these (see the SQLite engine's `From<rusqlite::Error>`), so nothing
/// above the engine names a driver type.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist (e.g. revoking an unknown token id).
    #[error("{0}")]
    NotFound(String),
    #[error("the database at {path} was written by a newer usagedesk-cloud (schema {found}, this build knows {known}); upgrade usagedesk-cloud")]
    NewerSchema {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("the cursor belongs to another dataset; start a full sync")]
    CursorExpired,
    /// The cursor given, never shown in a message (a mistyped one could be anything).
    #[error("the cursor was not issued by this service; start a full sync")]
    BadCursor(String),
    /// A write lost a race with another one (e.g. two first contacts pinning two keys), or
    /// was refused by what is stored (a check-in not later than the last). Nothing was
    /// written.
    #[error("{0}")]
    Conflict(#[from] Conflict),
    /// The cursor is beyond the feed's head: the database was restored from an older backup.
    #[error("the cursor is ahead of this service's change feed (its database was restored from an older backup); start a full sync")]
    CursorAhead,
    /// The database cannot serve now but may in a moment: every connection busy, a lock
    /// held too long, a connection lost. Nothing was written; the HTTP layer answers 503 with
    /// a retry hint.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: a failing disk, a corrupt row, a bug.
    #[error("storage failed: {0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What a write conflicted with. Engines say which; the words are the service's, the same for
/// every engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("instance '{instance}' was removed meanwhile")]
    InstanceRemoved { instance: String },
    /// The instance is pinned to another key than the one asking.
    #[error(
        "instance '{instance}' was just registered with another key; if this is the \
         instance's key, ask the vendor to reset the instance's key"
    )]
    OtherKeyPinned { instance: String },
    /// The instance has no key and no enrollment came with the request.
    #[error(
        "instance '{instance}' has no key any more (it was reset meanwhile): set the agent up \
         with the instance's license file and try again"
    )]
    KeyReset { instance: String },
    /// The enrollment's license file is revoked, or was never issued for the instance.
    #[error(
        "the license file this enrollment was made with was revoked meanwhile: ask the vendor \
         for a new license file for instance '{instance}'"
    )]
    EnrollmentRevoked { instance: String },
    /// Another usage data file (`other`, its SHA-256) answered the sync key already.
    #[error(
        "the sync key with nonce {nonce} was already answered by another usage data file \
         (sha256 {other}): a sync key is answered once; issue a new sync key and export again"
    )]
    NonceAnswered { nonce: String, other: String },
    /// An event of the same field and time is stored.
    #[error("instance '{instance}' checked in twice within the same millisecond; check in again")]
    SameMillisecond { instance: String },
    /// A refusal the service words itself.
    #[error("{0}")]
    Refused(String),
}

impl StoreError {
    /// An [`StoreError::Other`] with this message.
    pub fn other(message: impl Into<String>) -> Self {
        Self::Other(message.into().into())
    }
}
