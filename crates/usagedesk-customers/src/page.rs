//! The customer page and an instance's details.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use usagedesk_cache::{Cache, CacheError, InstanceRow};
use usagedesk_domain::customer::{InstallAttempt, InstanceEvent, InstanceReport, License};
use usagedesk_domain::Account;
use usagedesk_reporting::{
    activity, short_id, time_to_install, uptime, uptime_graph, Activity, StatusTimeline,
    TimeToInstall, Uptime, UptimeBar,
};

use crate::UPTIME_DAYS;

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
    pub instances: Vec<InstanceCard>,
    /// Newest first.
    pub install_attempts: Vec<InstallAttempt>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InstanceDetail {
    pub card: InstanceCard,
    pub account_id: String,
    pub account_name: Option<String>,
    /// Every recorded change, newest first.
    pub events: Vec<InstanceEvent>,
}

fn card(
    cache: &Cache,
    row: &InstanceRow,
    now: DateTime<Utc>,
) -> Result<(InstanceCard, Option<StatusTimeline>), CacheError> {
    let id = &row.instance.id;
    let report = cache.instance_report(id)?;
    let window = Duration::days(UPTIME_DAYS);
    let (activity, uptime, graph, timeline) = match &report {
        Some(r) => {
            let events = cache.instance_events(id, None)?;
            let timeline = StatusTimeline::from_report(r, &events);
            let recent: Vec<InstanceEvent> = events
                .into_iter()
                .filter(|e| e.received_at >= now - window)
                .collect();
            (
                Some(activity(r.last_check_in, now)),
                Some(uptime(&timeline, now, window)),
                uptime_graph(&timeline, &recent, now, window, UPTIME_DAYS as usize),
                Some(timeline),
            )
        }
        None => (None, None, Vec::new(), None),
    };
    Ok((
        InstanceCard {
            short_id: short_id(id).to_owned(),
            instance_id: id.clone(),
            license_id: row.instance.license_id.clone(),
            airgapped: row.instance.airgapped,
            report,
            activity,
            uptime,
            graph,
            reporting_overdue: usagedesk_exchange::is_overdue(row, now),
        },
        timeline,
    ))
}

/// The customer page of `account_id`.
pub fn customer(
    cache: &Cache,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<CustomerPage, CacheError> {
    let account = cache
        .account(account_id)?
        .ok_or_else(|| CacheError::UnknownAccount {
            id: account_id.to_owned(),
        })?;
    let licenses = cache.licenses_of(account_id)?;
    let mut instances = Vec::new();
    let mut timelines = Vec::new();
    for row in cache.instances()? {
        let mine = row.instance.account_id == account_id
            || licenses.iter().any(|l| l.id == row.instance.license_id);
        if mine {
            let (c, t) = card(cache, &row, now)?;
            instances.push(c);
            timelines.extend(t);
        }
    }
    // Active instances first, then by id.
    instances.sort_by(|a, b| {
        let inactive = |c: &InstanceCard| c.activity.is_none_or(|a| a.inactive);
        inactive(a)
            .cmp(&inactive(b))
            .then_with(|| a.instance_id.cmp(&b.instance_id))
    });
    let time_to_install = licenses
        .iter()
        .filter_map(|l| {
            time_to_install(
                l,
                timelines.iter().filter(|t| {
                    instances
                        .iter()
                        .any(|c| c.instance_id == t.instance_id() && c.license_id == l.id)
                }),
            )
        })
        .max_by_key(|t| t.first_ready_at);
    let mut install_attempts = Vec::new();
    for l in &licenses {
        install_attempts.extend(cache.install_attempts(&l.id)?);
    }
    install_attempts.sort_by_key(|a| std::cmp::Reverse(a.started_at));
    Ok(CustomerPage {
        path: cache.path(account_id)?,
        account,
        licenses,
        time_to_install,
        instances,
        install_attempts,
    })
}

/// One instance with its full event history.
pub fn instance(
    cache: &Cache,
    instance_id: &str,
    now: DateTime<Utc>,
) -> Result<InstanceDetail, CacheError> {
    let row = cache.instance(instance_id)?.ok_or_else(|| {
        CacheError::Invalid(format!(
            "instance '{instance_id}' is not in the local cache: check the id (the customer page lists its instances), or sync"
        ))
    })?;
    let (card, _) = card(cache, &row, now)?;
    let mut events = cache.instance_events(instance_id, None)?;
    events.reverse();
    Ok(InstanceDetail {
        account_id: row.instance.account_id.clone(),
        account_name: row.account_name.clone(),
        card,
        events,
    })
}
