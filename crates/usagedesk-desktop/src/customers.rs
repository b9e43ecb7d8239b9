//! The Customers view's operations (logic: `usagedesk-customers`).

use usagedesk_customers::{CustomerFilter, CustomerPage, CustomerSummary, InstanceDetail};

use crate::{AppError, Desk};

impl Desk {
    pub fn customers(&self, filter: &CustomerFilter) -> Result<Vec<CustomerSummary>, AppError> {
        let now = self.clock().now();
        Ok(usagedesk_customers::customers(
            &*self.reader()?,
            now,
            filter,
        )?)
    }

    pub fn customer(&self, account_id: &str) -> Result<CustomerPage, AppError> {
        let now = self.clock().now();
        Ok(usagedesk_customers::customer(
            &*self.reader()?,
            account_id,
            now,
        )?)
    }

    pub fn instance_detail(&self, instance_id: &str) -> Result<InstanceDetail, AppError> {
        let now = self.clock().now();
        Ok(usagedesk_customers::instance(
            &*self.reader()?,
            instance_id,
            now,
        )?)
    }
}
