//! One attention item as the app and the CLI show it: what, whose, since when, what next.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use usagedesk_cache::{AttentionKind, AttentionRow};
use usagedesk_domain::overdue::overdue_after;
use usagedesk_domain::YearMonth;

use crate::EXPIRING_DAYS;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AttentionItem {
    pub kind: AttentionKind,
    /// The customer: the instance's account (overdue) or the license holder.
    pub account_id: String,
    /// `None`: the account is not in the cache.
    pub account_name: Option<String>,
    pub license_id: String,
    /// Overdue: the instance.
    pub instance_id: Option<String>,
    /// Over seats: the plan.
    pub plan: Option<String>,
    /// When the condition began: 31 days after the last verified exchange (overdue; `None`
    /// when the instance never reported), 30 days before the expiry (expiring), the day after
    /// the month's end (over seats).
    pub since: Option<DateTime<Utc>>,
    /// Overdue: the last verified exchange (`None`: never).
    pub last_exchange_at: Option<DateTime<Utc>>,
    /// Expiring: the expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Over seats: the month, the seats (`None`: none for the plan), used and over.
    pub month: Option<YearMonth>,
    pub seats: Option<u64>,
    pub used: Option<u64>,
    pub overage: Option<u64>,
    /// One line: what happened.
    pub title: String,
    /// One line: what to do next.
    pub next_step: String,
    /// Tells occurrences of this subject's condition apart (see docs/attention.md).
    pub occurrence: String,
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

impl AttentionItem {
    pub fn from_row(row: AttentionRow) -> Self {
        let who = row
            .account_name
            .clone()
            .unwrap_or_else(|| row.account_id.clone());
        let mut item = AttentionItem {
            kind: row.kind,
            account_id: row.account_id,
            account_name: row.account_name,
            license_id: row.license_id,
            instance_id: None,
            plan: None,
            since: None,
            last_exchange_at: None,
            expires_at: None,
            month: None,
            seats: None,
            used: None,
            overage: None,
            title: String::new(),
            next_step: String::new(),
            occurrence: row.occurrence.clone(),
        };
        match row.kind {
            AttentionKind::Overdue => {
                let instance = row.subject;
                item.since = row.last_exchange_at.map(|t| t + overdue_after());
                item.last_exchange_at = row.last_exchange_at;
                item.title = match row.last_exchange_at {
                    Some(t) => format!(
                        "Instance {instance} is overdue: no usage data file since {}",
                        day(t)
                    ),
                    None => {
                        format!("Instance {instance} is overdue: it never sent a usage data file")
                    }
                };
                item.next_step = format!(
                    "Issue a sync key for {instance} (Air-gapped view) and ask {who} for the usage data file it answers"
                );
                item.instance_id = Some(instance);
            }
            AttentionKind::Expiring => {
                item.expires_at = row.expires_at;
                item.since = row.expires_at.map(|t| t - Duration::days(EXPIRING_DAYS));
                let when = row.expires_at.map_or_else(|| "soon".to_owned(), day);
                item.title = format!("License {} of {who} expires on {when}", item.license_id);
                item.next_step = format!(
                    "Talk to {who} about renewing license {} before {when}",
                    item.license_id
                );
            }
            AttentionKind::OverSeats => {
                let plan = row.plan.unwrap_or_default();
                let used = row.used.unwrap_or(0);
                let over = used.saturating_sub(row.seats.unwrap_or(0));
                let month: Option<YearMonth> = row.occurrence.parse().ok();
                item.since = month.map(|m| m.next().first_day().and_time(NaiveTime::MIN).and_utc());
                let m = month.map_or_else(|| row.occurrence.clone(), |m| m.to_string());
                item.title = match row.seats {
                    Some(s) => format!(
                        "License {}: {used} {plan} seats used of {s} in {m} ({over} over)",
                        item.license_id
                    ),
                    None => format!(
                        "License {}: {used} {plan} seats used in {m}, none licensed",
                        item.license_id
                    ),
                };
                item.next_step = format!(
                    "Bill {who} for the {over} extra {plan} seats, or offer a license with more"
                );
                item.month = month;
                item.seats = row.seats;
                item.used = Some(used);
                item.overage = Some(over);
                item.plan = Some(plan);
            }
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row(kind: AttentionKind) -> AttentionRow {
        AttentionRow {
            kind,
            subject: "s-1".into(),
            plan: None,
            occurrence: String::new(),
            account_id: "acme".into(),
            account_name: Some("Acme".into()),
            license_id: "lic-1".into(),
            last_exchange_at: None,
            expires_at: None,
            seats: None,
            used: None,
        }
    }

    #[test]
    fn since_is_when_each_condition_began() {
        let t = Utc.with_ymd_and_hms(2026, 1, 10, 8, 0, 0).unwrap();
        let overdue = AttentionItem::from_row(AttentionRow {
            last_exchange_at: Some(t),
            ..row(AttentionKind::Overdue)
        });
        assert_eq!(
            overdue.since,
            Some(Utc.with_ymd_and_hms(2026, 2, 10, 8, 0, 0).unwrap()),
            "31 days later"
        );
        assert_eq!(overdue.instance_id.as_deref(), Some("s-1"));
        assert!(
            overdue.title.contains("since 2026-01-10"),
            "{}",
            overdue.title
        );
        let never = AttentionItem::from_row(row(AttentionKind::Overdue));
        assert_eq!(never.since, None, "never reported: no start to tell");
        assert!(never.title.contains("never"), "{}", never.title);

        let expiring = AttentionItem::from_row(AttentionRow {
            expires_at: Some(t),
            ..row(AttentionKind::Expiring)
        });
        assert_eq!(
            expiring.since,
            Some(Utc.with_ymd_and_hms(2025, 12, 11, 8, 0, 0).unwrap()),
            "30 days before"
        );
        assert!(
            expiring.next_step.contains("Acme"),
            "{}",
            expiring.next_step
        );

        let over = AttentionItem::from_row(AttentionRow {
            plan: Some("premium".into()),
            occurrence: "2026-01".into(),
            seats: Some(10),
            used: Some(13),
            ..row(AttentionKind::OverSeats)
        });
        assert_eq!(
            over.since,
            Some(Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap()),
            "the day after the month"
        );
        assert_eq!(over.overage, Some(3));
        assert!(
            over.title
                .contains("13 premium seats used of 10 in 2026-01 (3 over)"),
            "{}",
            over.title
        );
        let no_seats = AttentionItem::from_row(AttentionRow {
            plan: Some("basic".into()),
            occurrence: "2026-01".into(),
            used: Some(4),
            ..row(AttentionKind::OverSeats)
        });
        assert_eq!(no_seats.overage, Some(4), "no seats: any use is overage");
    }
}
