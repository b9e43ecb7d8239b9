//! The customer list, one page at a time: filters, search and sort run in the cache's SQL
//! (`usagedesk_cache::customer_list`); each row of a page is completed here with its
//! licenses and the facts that depend on `now`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use usagedesk_cache::{
    Cache, CacheError, CustomerCounts, CustomerCursor, CustomerFilter, CustomerIndexRow,
    CustomerQuery, CustomerSort, Page, PageStart,
};
use usagedesk_domain::customer::is_expired;
use usagedesk_domain::customer::{InstanceStatus, License};

/// The most rows one page of the list may hold (a page is well under 1 MB).
pub const MAX_LIST_PAGE: u64 = 500;

/// One customer in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CustomerSummary {
    pub account_id: String,
    pub account_name: String,
    pub licenses: Vec<License>,
    /// The soonest end of a license still in force, else the latest end (`None`: none ends).
    pub expires_at: Option<DateTime<Utc>>,
    pub expired: bool,
    pub instances: u32,
    /// Instances not Ready (or never checked in).
    pub not_ready: u32,
    /// Instances with no check-in for 24 hours.
    pub inactive: u32,
    pub reporting_overdue: bool,
    /// The worst status among its active instances (`None`: no instance checked in).
    pub worst_status: Option<InstanceStatus>,
}

pub(crate) use usagedesk_domain::overdue::overdue_after;

fn query(filter: &CustomerFilter, sort: CustomerSort, now: DateTime<Utc>) -> CustomerQuery<'_> {
    CustomerQuery {
        filter,
        sort,
        now,
        overdue_after: overdue_after(),
    }
}

/// A row of the index with its licenses, and the expiry facts computed from them.
fn summary(
    cache: &Cache,
    row: CustomerIndexRow,
    now: DateTime<Utc>,
) -> Result<CustomerSummary, CacheError> {
    let licenses = cache.customers().licenses_of(&row.account_id)?;
    let in_force: Vec<&License> = licenses.iter().filter(|l| !is_expired(l, now)).collect();
    let expires_at = match in_force.iter().filter_map(|l| l.expires_at).min() {
        Some(t) => Some(t),
        None if in_force.is_empty() => licenses.iter().filter_map(|l| l.expires_at).max(),
        None => None,
    };
    Ok(CustomerSummary {
        account_id: row.account_id,
        account_name: row.name,
        expired: in_force.is_empty(),
        licenses,
        expires_at,
        instances: row.instances,
        not_ready: row.not_ready,
        inactive: row.inactive,
        reporting_overdue: row.reporting_overdue,
        worst_status: row.worst_status,
    })
}

/// One page of the customers matching `filter`, in `sort` order, with the total, read from
/// one state of the cache. `limit` is capped at [`MAX_LIST_PAGE`].
pub fn customers(
    cache: &Cache,
    now: DateTime<Utc>,
    filter: &CustomerFilter,
    sort: CustomerSort,
    offset: u64,
    limit: u64,
) -> Result<Page<CustomerSummary>, CacheError> {
    let q = query(filter, sort, now);
    let limit = limit.min(MAX_LIST_PAGE);
    cache.read_snapshot(|c| {
        let total = c.customers().count(&q)?;
        let items = c
            .customers()
            .rows(&q, &PageStart::Offset(offset), limit)?
            .into_iter()
            .map(|r| summary(c, r, now))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            items,
            total,
            offset: usize::try_from(offset).unwrap_or(usize::MAX),
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
        })
    })
}

/// The customers after `after` (from the start when `None`), at most `limit` of them, each
/// with the cursor to continue after it. Pages read this way never repeat a customer nor
/// skip one that was in the list before and after a sync landed between them.
pub fn customers_after(
    cache: &Cache,
    now: DateTime<Utc>,
    filter: &CustomerFilter,
    sort: CustomerSort,
    after: Option<&CustomerCursor>,
    limit: u64,
) -> Result<Vec<(CustomerSummary, CustomerCursor)>, CacheError> {
    let q = query(filter, sort, now);
    let start = match after {
        Some(c) => PageStart::After(c.clone()),
        None => PageStart::Offset(0),
    };
    cache.read_snapshot(|c| {
        c.customers()
            .rows(&q, &start, limit.min(MAX_LIST_PAGE))?
            .into_iter()
            .map(|r| {
                let cursor = r.cursor.clone();
                Ok((summary(c, r, now)?, cursor))
            })
            .collect()
    })
}

/// Calls `f` with the customers matching `filter` in `sort` order, from the `offset`-th on,
/// `limit` of them at most (all when `None`), all read from one state of the cache in pages
/// (memory stays bounded however many there are). Returns how many `f` was given.
#[allow(clippy::too_many_arguments)]
pub fn each_customer<E: From<CacheError>>(
    cache: &Cache,
    now: DateTime<Utc>,
    filter: &CustomerFilter,
    sort: CustomerSort,
    offset: u64,
    limit: Option<u64>,
    mut f: impl FnMut(CustomerSummary) -> Result<(), E>,
) -> Result<u64, E> {
    let q = query(filter, sort, now);
    cache.read_snapshot(|c| {
        let mut start = PageStart::Offset(offset);
        let mut given = 0;
        loop {
            let want = limit.map_or(MAX_LIST_PAGE, |l| (l - given).min(MAX_LIST_PAGE));
            if want == 0 {
                return Ok(given);
            }
            let rows = c.customers().rows(&q, &start, want)?;
            let Some(last) = rows.last() else {
                return Ok(given);
            };
            start = PageStart::After(last.cursor.clone());
            for r in rows {
                f(summary(c, r, now)?)?;
                given += 1;
            }
        }
    })
}

/// How many customers match `filter` at `now`.
pub fn customer_total(
    cache: &Cache,
    now: DateTime<Utc>,
    filter: &CustomerFilter,
) -> Result<u64, CacheError> {
    cache
        .customers()
        .count(&query(filter, CustomerSort::Name, now))
}

/// Badges: every customer, those with an instance not Ready, overdue, expired.
pub fn customer_counts(cache: &Cache, now: DateTime<Utc>) -> Result<CustomerCounts, CacheError> {
    cache.customers().counts(now, overdue_after())
}
