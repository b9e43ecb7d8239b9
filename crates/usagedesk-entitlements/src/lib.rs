//! Entitlements (`docs/entitlements.md`): a license's seats per plan against the month-end
//! values of the plan's seat metric over the accounts the license covers, from the local
//! cache. The cache computes seats and used seats per license, plan and month in SQL
//! (`usagedesk_cache::entitlements`); this crate derives what the definitions add:
//! utilization, overage, roll-ups up the tree, the trend and the forecast at renewal. The CLI
//! and the app both call it.

mod forecast;
mod views;

pub use forecast::{forecast_at, month_index, round1, FORECAST_MONTHS, MIN_FORECAST_MONTHS};
pub use usagedesk_cache::{EntitlementScope, LicenseFilter, MAX_LICENSE_PAGE};
pub use views::{
    card, each_entitlement, each_entitlement_everywhere, each_entitlement_over, license_list,
    rollup, Entitlement, EntitlementCard, EntitlementTrend, LicenseListItem, PlanRollup,
    RollupPoint, UsedPoint, MAX_OWN_ON_CARD, TREND_MONTHS,
};

use chrono::NaiveDate;
use usagedesk_cache::CacheError;
use usagedesk_domain::YearMonth;

/// Utilization: used / seats; `None` without seats (none for the plan, or 0).
pub fn utilization(used: u64, seats: Option<u64>) -> Option<f64> {
    seats.filter(|s| *s > 0).map(|s| used as f64 / s as f64)
}

/// Overage: `max(0, used − seats)`; without seats, any use.
pub fn overage(used: u64, seats: Option<u64>) -> u64 {
    used.saturating_sub(seats.unwrap_or(0))
}

/// Refuses a month that is not completed as of `today` (its month-end values are not final).
pub fn check_completed(month: YearMonth, today: NaiveDate) -> Result<(), CacheError> {
    if month.is_completed(today) {
        Ok(())
    } else {
        Err(CacheError::Invalid(format!(
            "{month} is not a completed month yet: entitlements use month-end values; the last \
             completed month is {}",
            YearMonth::last_completed(today)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utilization_and_overage_follow_the_definitions() {
        assert_eq!(utilization(45, Some(50)), Some(0.9));
        assert_eq!(utilization(45, None), None, "no seats: undefined");
        assert_eq!(utilization(45, Some(0)), None, "zero seats: undefined");
        assert_eq!(overage(45, Some(50)), 0);
        assert_eq!(overage(55, Some(50)), 5);
        assert_eq!(overage(7, None), 7, "no seats: any use is overage");
    }

    #[test]
    fn only_completed_months_are_asked_for() {
        let today = NaiveDate::from_ymd_opt(2024, 7, 15).unwrap();
        assert!(check_completed("2024-06".parse().unwrap(), today).is_ok());
        let err = check_completed("2024-07".parse().unwrap(), today).unwrap_err();
        assert!(err.to_string().contains("2024-06"), "{err}");
    }
}
