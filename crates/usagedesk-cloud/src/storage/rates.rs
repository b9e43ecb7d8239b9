//! Request budgets shared by every process serving one database.
//!
//! Each `serve` process limits requests by client address and by instance in memory
//! ([`crate::http`]'s rate limits). Behind a load balancer, several processes on one
//! PostgreSQL database would each give a client its whole budget; so an engine that can be
//! served by several processes keeps the budgets in the database too, and a request passes
//! only when both its process and the database say yes. A SQLite file is served by one
//! process (`docs/deploy.md`), whose own budgets are exact: it shares none.

use std::time::Duration;

use super::StoreError;
use crate::limits::RateLimit;

/// What the shared budget of a key says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Within budget (and, when spending, one request spent).
    Allowed,
    /// Over budget: the next request is allowed after this long.
    Denied(Duration),
}

/// Budgets kept in the database (the generic cell rate algorithm, one instant per key, on
/// the database's clock so that every process agrees).
pub trait SharedBudgets: Send + Sync {
    /// Spends one request of `key` under `limit`, or says when it may come.
    fn spend(&self, key: &str, limit: &RateLimit) -> Result<Budget, StoreError>;
    /// Whether `key` has budget left, without spending any.
    fn peek(&self, key: &str, limit: &RateLimit) -> Result<Budget, StoreError>;
}

/// Whether this engine's rate budgets are shared with other processes.
pub trait Rates {
    /// The shared budgets, or `None` when the engine is served by one process only.
    fn shared_budgets(&self) -> Option<&dyn SharedBudgets>;
}
