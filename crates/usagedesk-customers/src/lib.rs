//! Customer reporting (seed `001`) from the local cache, page by page: the customer
//! list with its filters, search and sorts, the customer page (a header with license and
//! features, time to install and counts; its instances with the 14-day uptime graph and
//! ratio; its install attempts) and an instance's details with its event history.
//! Computations: `usagedesk_domain::customer`; storage and paging: `usagedesk_cache::customers`,
//! `customer_index` and `customer_list`. A customer is an account that holds at least one
//! license.

mod list;
mod page;

pub use list::{
    customer_counts, customer_total, customers, customers_after, each_customer, CustomerSummary,
    MAX_LIST_PAGE,
};
pub use page::{
    customer, customer_instances, install_attempts, instance, instance_events, CustomerPage,
    InstanceCard, InstanceDetail, MAX_INSTANCE_PAGE, MAX_RECORD_PAGE,
};
pub use usagedesk_cache::{
    CustomerCounts, CustomerCursor, CustomerFilter, CustomerSort, InstanceCounts, Page,
};

/// The uptime window and graph: two weeks, one bar a day.
pub const UPTIME_DAYS: i64 = 14;

#[cfg(test)]
mod tests {
    #[test]
    fn the_cache_counts_inactivity_as_the_reporting_crate_does() {
        assert_eq!(
            chrono::Duration::hours(usagedesk_cache::INACTIVE_AFTER_HOURS),
            usagedesk_domain::customer::INACTIVE_AFTER
        );
    }
}
