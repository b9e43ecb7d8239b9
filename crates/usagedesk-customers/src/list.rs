//! The customer list and its filters.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use usagedesk_cache::{Cache, CacheError};
use usagedesk_domain::customer::{InstanceStatus, License, LicenseType};
use usagedesk_reporting::{activity, expires_within, is_expired};

/// What the list shows; every field narrows it (`None` / `false`: no filter).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CustomerFilter {
    /// Part of the account's name or id, or of a license id (case-insensitive).
    pub text: Option<String>,
    pub license_type: Option<LicenseType>,
    /// A license expires within this many days (already expired ones included).
    pub expiring_within_days: Option<u32>,
    /// At least one instance is not Ready (or has never checked in).
    pub not_ready: bool,
    /// At least one air-gapped instance is overdue with its usage file.
    pub reporting_overdue: bool,
}

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

fn severity(s: InstanceStatus) -> u8 {
    match s {
        InstanceStatus::Ready => 0,
        InstanceStatus::Updating => 1,
        InstanceStatus::Degraded => 2,
        InstanceStatus::Unavailable => 3,
        InstanceStatus::Missing => 4,
    }
}

/// Every customer matching `filter`, by name then id.
pub fn customers(
    cache: &Cache,
    now: DateTime<Utc>,
    filter: &CustomerFilter,
) -> Result<Vec<CustomerSummary>, CacheError> {
    let mut licenses: HashMap<String, Vec<License>> = HashMap::new();
    for l in cache.licenses()? {
        licenses.entry(l.account_id.clone()).or_default().push(l);
    }
    let reports: HashMap<String, _> = cache
        .instance_reports()?
        .into_iter()
        .map(|r| (r.instance_id.clone(), r))
        .collect();
    let mut by_account: HashMap<String, Vec<usagedesk_cache::InstanceRow>> = HashMap::new();
    let license_owner: HashMap<&str, &str> = licenses
        .iter()
        .flat_map(|(a, ls)| ls.iter().map(move |l| (l.id.as_str(), a.as_str())))
        .collect();
    for row in cache.instances()? {
        let owner = license_owner
            .get(row.instance.license_id.as_str())
            .map_or(row.instance.account_id.clone(), |a| (*a).to_owned());
        by_account.entry(owner).or_default().push(row);
    }
    let text = filter
        .text
        .as_deref()
        .map(str::to_lowercase)
        .filter(|t| !t.is_empty());
    let mut out = Vec::new();
    for (account_id, ls) in &licenses {
        let Some(account) = cache.account(account_id)? else {
            continue; // a license of an account outside this cache's view
        };
        let rows = by_account
            .get(account_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let (mut not_ready, mut inactive, mut overdue, mut worst) = (0, 0, false, None);
        for row in rows {
            overdue |= usagedesk_exchange::is_overdue(row, now);
            match reports.get(&row.instance.id) {
                Some(r) => {
                    let stale = activity(r.last_check_in, now).inactive;
                    inactive += u32::from(stale);
                    not_ready += u32::from(r.status != InstanceStatus::Ready);
                    if !stale && worst.is_none_or(|w| severity(r.status) > severity(w)) {
                        worst = Some(r.status);
                    }
                }
                None => not_ready += 1,
            }
        }
        let in_force: Vec<_> = ls.iter().filter(|l| !is_expired(l, now)).collect();
        let expires_at = match in_force.iter().filter_map(|l| l.expires_at).min() {
            Some(t) => Some(t),
            None if in_force.is_empty() => ls.iter().filter_map(|l| l.expires_at).max(),
            None => None,
        };
        let summary = CustomerSummary {
            account_id: account_id.clone(),
            account_name: account.name,
            expired: in_force.is_empty(),
            licenses: ls.clone(),
            expires_at,
            instances: rows.len() as u32,
            not_ready,
            inactive,
            reporting_overdue: overdue,
            worst_status: worst,
        };
        let keep = text.as_deref().is_none_or(|t| {
            summary.account_name.to_lowercase().contains(t)
                || summary.account_id.to_lowercase().contains(t)
                || summary
                    .licenses
                    .iter()
                    .any(|l| l.id.to_lowercase().contains(t))
        }) && filter
            .license_type
            .is_none_or(|ty| summary.licenses.iter().any(|l| l.license_type == ty))
            && filter.expiring_within_days.is_none_or(|d| {
                summary
                    .licenses
                    .iter()
                    .any(|l| expires_within(l, now, d) || is_expired(l, now))
            })
            && (!filter.not_ready || summary.not_ready > 0)
            && (!filter.reporting_overdue || summary.reporting_overdue);
        if keep {
            out.push(summary);
        }
    }
    out.sort_by(|a, b| {
        (a.account_name.as_str(), a.account_id.as_str())
            .cmp(&(b.account_name.as_str(), b.account_id.as_str()))
    });
    Ok(out)
}
