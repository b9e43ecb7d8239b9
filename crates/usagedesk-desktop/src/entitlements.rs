//! The Entitlements card and the list of licenses over, near or under their seats (logic:
//! `usagedesk-entitlements`). The card is one account's (bounded by its own licenses and the
//! plan catalog); the list is one page at a time.

use usagedesk_cache::{CacheError, Page};
use usagedesk_domain::YearMonth;
use usagedesk_entitlements::{
    check_completed, EntitlementCard, LicenseFilter, LicenseListItem, MAX_LICENSE_PAGE,
};

use crate::{AppError, Desk};

impl Desk {
    /// The account view's Entitlements card for a completed month.
    pub fn entitlement_card(
        &self,
        account_id: &str,
        month: &str,
    ) -> Result<EntitlementCard, AppError> {
        let month = self.completed(month)?;
        self.read_subtree(|c| {
            if c.accounts().get(account_id)?.is_none() {
                return Err(CacheError::UnknownAccount {
                    id: account_id.to_string(),
                });
            }
            usagedesk_entitlements::card(c, account_id, month)
        })
    }

    /// One page (`limit` 1..=500) of the licenses of a completed month that `filter` selects,
    /// held in `account_id`'s subtree, or anywhere in the cache without one.
    pub fn license_list(
        &self,
        account_id: Option<&str>,
        month: &str,
        filter: LicenseFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Page<LicenseListItem>, AppError> {
        let month = self.completed(month)?;
        let limit = (limit as usize).clamp(1, MAX_LICENSE_PAGE);
        let offset = usize::try_from(offset).map_err(|_| AppError::invalid("offset too large"))?;
        self.read_subtree(|c| {
            if let Some(id) = account_id {
                if c.accounts().get(id)?.is_none() {
                    return Err(CacheError::UnknownAccount { id: id.to_string() });
                }
            }
            usagedesk_entitlements::license_list(c, account_id, month, filter, offset, limit)
        })
    }

    fn completed(&self, month: &str) -> Result<YearMonth, AppError> {
        let month: YearMonth = month.parse()?;
        check_completed(month, self.clock().today())
            .map_err(|e| AppError::invalid(e.to_string()))?;
        Ok(month)
    }
}
