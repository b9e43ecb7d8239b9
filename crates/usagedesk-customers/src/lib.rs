//! Customer reporting (issue 6, seed `001`) from the local cache: the customer list with its
//! filters, the customer page (license and features, time to install, instances with the
//! 14-day uptime graph and ratio, install attempts) and an instance's details with its event
//! history. Computations: `usagedesk-reporting`; storage: `usagedesk_cache::customers`.
//! A customer is an account that holds at least one license.

mod list;
mod page;

pub use list::{customers, CustomerFilter, CustomerSummary};
pub use page::{customer, instance, CustomerPage, InstanceCard, InstanceDetail};

/// The uptime window and graph: two weeks, one bar a day.
pub const UPTIME_DAYS: i64 = 14;
