//! The customer page (a header, then its instances and install attempts page by page) and an
//! instance's details (its event history page by page, newest first).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use usagedesk_cache::{Cache, CacheError, IndexedInstance, InstanceCounts, Page};
use usagedesk_domain::customer::{
    activity, short_id, time_to_install, uptime, uptime_graph, Activity, StatusTimeline,
    TimeToInstall, Uptime, UptimeBar,
};
use usagedesk_domain::customer::{InstallAttempt, InstanceEvent, InstanceReport, License};
use usagedesk_domain::Account;

use crate::list::overdue_after;
use crate::UPTIME_DAYS;

/// The most instance cards one page may hold (each carries a 14-bar graph).
pub const MAX_INSTANCE_PAGE: u64 = 100;
/// The most install attempts or events one page may hold.
pub const MAX_RECORD_PAGE: u64 = 500;

/// One instance as the customer page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InstanceCard {
    pub instance_id: String,
    /// The first seven characters of the id.
    pub short_id: String,
    pub license_id: String,
    pub airgapped: bool,
    /// The latest check-in (`None`: never checked in).
    pub report: Option<InstanceReport>,
    /// Whether it still checks in, and how stale its last status is.
    pub activity: Option<Activity>,
    /// The last 14 days.
    pub uptime: Option<Uptime>,
    /// One bar a day, oldest first.
    pub graph: Vec<UptimeBar>,
    /// Air-gapped and no verified usage file for more than 31 days.
    pub reporting_overdue: bool,
}

/// The customer page's header; its instances ([`customer_instances`]) and install attempts
/// ([`install_attempts`]) come page by page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CustomerPage {
    pub account: Account,
    /// Root first, the account last.
    pub path: Vec<Account>,
    pub licenses: Vec<License>,
    /// For the instance that most recently reached its first Ready (`None`: no Ready
    /// instance).
    pub time_to_install: Option<TimeToInstall>,
    /// Its instances at `now`.
    pub counts: InstanceCounts,
    /// How many install attempts its licenses have.
    pub install_attempt_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InstanceDetail {
    pub card: InstanceCard,
    pub account_id: String,
    pub account_name: Option<String>,
    /// How many changes are recorded ([`instance_events`] pages through them).
    pub event_count: u64,
}

fn page<T>(items: Vec<T>, total: u64, offset: u64, limit: u64) -> Page<T> {
    Page {
        items,
        total,
        offset: usize::try_from(offset).unwrap_or(usize::MAX),
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
    }
}

/// An instance's timeline from its report and every recorded change.
fn timeline(
    cache: &Cache,
    report: &InstanceReport,
) -> Result<(StatusTimeline, Vec<InstanceEvent>), CacheError> {
    let events = cache
        .customers()
        .instance_events(&report.instance_id, None)?;
    Ok((StatusTimeline::from_report(report, &events), events))
}

fn card(
    cache: &Cache,
    row: &IndexedInstance,
    now: DateTime<Utc>,
) -> Result<InstanceCard, CacheError> {
    let id = &row.instance_id;
    let report = cache.customers().instance_report(id)?;
    let window = Duration::days(UPTIME_DAYS);
    let (activity, uptime, graph) = match &report {
        Some(r) => {
            let (timeline, events) = timeline(cache, r)?;
            let recent: Vec<InstanceEvent> = events
                .into_iter()
                .filter(|e| e.received_at >= now - window)
                .collect();
            (
                Some(activity(r.last_check_in, now)),
                Some(uptime(&timeline, now, window)),
                uptime_graph(&timeline, &recent, now, window, UPTIME_DAYS as usize),
            )
        }
        None => (None, None, Vec::new()),
    };
    Ok(InstanceCard {
        short_id: short_id(id).to_owned(),
        instance_id: id.clone(),
        license_id: row.license_id.clone(),
        airgapped: row.airgapped,
        report,
        activity,
        uptime,
        graph,
        reporting_overdue: row.reporting_overdue,
    })
}

fn known_account(cache: &Cache, account_id: &str) -> Result<Account, CacheError> {
    cache
        .accounts()
        .get(account_id)?
        .ok_or_else(|| CacheError::UnknownAccount {
            id: account_id.to_owned(),
        })
}

/// The time to install of a customer: per license, the instance whose first Ready is the
/// latest (ties: the smallest id), then the latest of those over the licenses. One
/// instance's timeline is held at a time, plus the best one per license.
fn customer_time_to_install(
    cache: &Cache,
    account_id: &str,
    licenses: &[License],
) -> Result<Option<TimeToInstall>, CacheError> {
    let mut best: Vec<Option<(DateTime<Utc>, StatusTimeline)>> = vec![None; licenses.len()];
    cache
        .customers()
        .each_instance(account_id, |instance_id, license_id| {
            let Some(i) = licenses.iter().position(|l| l.id == license_id) else {
                return Ok(());
            };
            let Some(report) = cache.customers().instance_report(instance_id)? else {
                return Ok(());
            };
            let (tl, _) = timeline(cache, &report)?;
            if let Some(at) = tl.first_ready_at() {
                // Instances come by id: a tie keeps the smaller id.
                if best[i].as_ref().is_none_or(|(b, _)| at > *b) {
                    best[i] = Some((at, tl));
                }
            }
            Ok(())
        })?;
    Ok(licenses
        .iter()
        .zip(&best)
        .filter_map(|(l, b)| time_to_install(l, b.as_ref().map(|(_, tl)| tl)))
        .max_by_key(|t| t.first_ready_at))
}

/// The customer page's header for `account_id`.
pub fn customer(
    cache: &Cache,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<CustomerPage, CacheError> {
    cache.read_snapshot(|c| {
        let account = known_account(c, account_id)?;
        let licenses = c.customers().licenses_of(account_id)?;
        Ok(CustomerPage {
            path: c.accounts().path(account_id)?,
            time_to_install: customer_time_to_install(c, account_id, &licenses)?,
            counts: c
                .customers()
                .instance_counts(account_id, now, overdue_after())?,
            install_attempt_count: c.customers().install_attempt_count(account_id)?,
            account,
            licenses,
        })
    })
}

/// A page of a customer's instances: those still checking in first, then by id. `limit` is
/// capped at [`MAX_INSTANCE_PAGE`].
pub fn customer_instances(
    cache: &Cache,
    account_id: &str,
    now: DateTime<Utc>,
    offset: u64,
    limit: u64,
) -> Result<Page<InstanceCard>, CacheError> {
    let limit = limit.min(MAX_INSTANCE_PAGE);
    cache.read_snapshot(|c| {
        known_account(c, account_id)?;
        let total = c
            .customers()
            .instance_counts(account_id, now, overdue_after())?
            .instances;
        let items = c
            .customers()
            .instance_page(account_id, now, overdue_after(), offset, limit)?
            .iter()
            .map(|row| card(c, row, now))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page(items, u64::from(total), offset, limit))
    })
}

/// A page of a customer's install attempts, newest first. `limit` is capped at
/// [`MAX_RECORD_PAGE`].
pub fn install_attempts(
    cache: &Cache,
    account_id: &str,
    offset: u64,
    limit: u64,
) -> Result<Page<InstallAttempt>, CacheError> {
    let limit = limit.min(MAX_RECORD_PAGE);
    cache.read_snapshot(|c| {
        known_account(c, account_id)?;
        let total = c.customers().install_attempt_count(account_id)?;
        let items = c
            .customers()
            .install_attempt_page(account_id, offset, limit)?;
        Ok(page(items, total, offset, limit))
    })
}

fn known_instance(
    cache: &Cache,
    instance_id: &str,
    now: DateTime<Utc>,
) -> Result<IndexedInstance, CacheError> {
    cache
        .customers().indexed_instance(instance_id, now, overdue_after())?
        .ok_or_else(|| {
            CacheError::Invalid(format!(
                "instance '{instance_id}' is not in the local cache: check the id (the customer page lists its instances), or sync"
            ))
        })
}

/// One instance: its card and how many events it has.
pub fn instance(
    cache: &Cache,
    instance_id: &str,
    now: DateTime<Utc>,
) -> Result<InstanceDetail, CacheError> {
    cache.read_snapshot(|c| {
        let row = known_instance(c, instance_id, now)?;
        Ok(InstanceDetail {
            card: card(c, &row, now)?,
            account_name: c.accounts().get(&row.account_id)?.map(|a| a.name),
            account_id: row.account_id,
            event_count: c.customers().instance_event_count(instance_id)?,
        })
    })
}

/// A page of an instance's events, newest first. `limit` is capped at [`MAX_RECORD_PAGE`].
pub fn instance_events(
    cache: &Cache,
    instance_id: &str,
    now: DateTime<Utc>,
    offset: u64,
    limit: u64,
) -> Result<Page<InstanceEvent>, CacheError> {
    let limit = limit.min(MAX_RECORD_PAGE);
    cache.read_snapshot(|c| {
        known_instance(c, instance_id, now)?;
        let total = c.customers().instance_event_count(instance_id)?;
        let items = c
            .customers()
            .instance_event_page(instance_id, offset, limit)?;
        Ok(page(items, total, offset, limit))
    })
}
