//! The Customers view's operations (logic: `usagedesk-customers`), each one page of a list
//! or one bounded header: no answer grows with the number of customers, instances, attempts
//! or events.

use usagedesk_cache::Page;
use usagedesk_customers::{
    CustomerCounts, CustomerFilter, CustomerPage, CustomerSort, CustomerSummary, InstanceCard,
    InstanceDetail,
};
use usagedesk_domain::customer::{InstallAttempt, InstanceEvent};

use crate::{AppError, Desk};

/// The longest search text the list takes.
const MAX_TEXT: usize = 200;

impl Desk {
    /// One page of the customer list (`limit` at most `usagedesk_customers::MAX_LIST_PAGE`).
    pub fn customers(
        &self,
        filter: &CustomerFilter,
        sort: CustomerSort,
        offset: u64,
        limit: u64,
    ) -> Result<Page<CustomerSummary>, AppError> {
        if filter.text.as_ref().is_some_and(|t| t.len() > MAX_TEXT) {
            return Err(AppError::invalid("search for at most 200 characters"));
        }
        let now = self.clock().now();
        self.read(|c| usagedesk_customers::customers(c, now, filter, sort, offset, limit))
    }

    /// Badges: how many customers, how many need attention.
    pub fn customer_counts(&self) -> Result<CustomerCounts, AppError> {
        let now = self.clock().now();
        self.read(|c| usagedesk_customers::customer_counts(c, now))
    }

    /// The customer page's header.
    pub fn customer(&self, account_id: &str) -> Result<CustomerPage, AppError> {
        let now = self.clock().now();
        self.read(|c| usagedesk_customers::customer(c, account_id, now))
    }

    /// One page of a customer's instances.
    pub fn customer_instances(
        &self,
        account_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Page<InstanceCard>, AppError> {
        let now = self.clock().now();
        self.read(|c| usagedesk_customers::customer_instances(c, account_id, now, offset, limit))
    }

    /// One page of a customer's install attempts, newest first.
    pub fn install_attempts(
        &self,
        account_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Page<InstallAttempt>, AppError> {
        self.read(|c| usagedesk_customers::install_attempts(c, account_id, offset, limit))
    }

    pub fn instance_detail(&self, instance_id: &str) -> Result<InstanceDetail, AppError> {
        let now = self.clock().now();
        self.read(|c| usagedesk_customers::instance(c, instance_id, now))
    }

    /// One page of an instance's events, newest first.
    pub fn instance_events(
        &self,
        instance_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Page<InstanceEvent>, AppError> {
        let now = self.clock().now();
        self.read(|c| usagedesk_customers::instance_events(c, instance_id, now, offset, limit))
    }
}
