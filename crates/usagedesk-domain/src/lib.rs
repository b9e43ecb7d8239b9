//! The words of the UsageDesk domain (see `shared/DESIGN.md`) and the wire types of the
//! manager API. Shared by the cloud service, the local cache, the sync client, the CLI and
//! the desktop app, so that the definitions (month-end usage, availability, subtree
//! aggregates) exist exactly once.

pub mod account;
pub mod airgap_api;
pub mod api;
pub mod customer;
pub mod duration;
pub mod exchange_file;
pub mod feed_codec;
pub mod load_format;
pub mod month;
pub mod overdue;
pub mod plan;
pub mod redact;
pub mod rollup;
pub mod usage;

pub use account::{Account, AccountStatus};
pub use airgap_api::Instance;
pub use month::{Clock, FixedClock, SystemClock, YearMonth};
pub use plan::{Plan, PlanCatalog};
pub use usage::{AccountMonthUsage, Availability, Metric, Scope, UsageCounts};

/// The manager API version this build speaks. Bumped on any incompatible wire change.
pub const API_VERSION: u32 = 1;

/// A parse error for one of the domain's textual values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);
