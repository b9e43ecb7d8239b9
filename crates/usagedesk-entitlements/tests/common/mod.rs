//! Helpers shared by the entitlements crate's integration tests.

use usagedesk_cache::{Cache, CacheError};
use usagedesk_domain::YearMonth;
use usagedesk_entitlements::{each_entitlement, Entitlement, EntitlementScope};

/// Every entitlement [`each_entitlement`] gives for `account`, `scope` and `month`
/// (`YYYY-MM`), with a 12-month trend, in its order.
pub fn entitlements_of(
    cache: &Cache,
    account: &str,
    scope: EntitlementScope,
    month: &str,
) -> Vec<Entitlement> {
    let mut got = Vec::new();
    each_entitlement(
        cache,
        account,
        scope,
        month.parse::<YearMonth>().unwrap(),
        12,
        |e| {
            got.push(e.entitlement);
            Ok::<(), CacheError>(())
        },
    )
    .unwrap();
    got
}
