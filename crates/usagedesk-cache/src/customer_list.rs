//! The customer list and the customer page, one page at a time (schema: migration 0004,
//! kept by `customer_index.rs`). Filters, search and sort run in SQL; facts that depend on
//! the time of asking are computed against the `now` passed in.
//!
//! Two ways to page: by offset (the UI's virtual list asks for the rows it shows), or after
//! a [`CustomerCursor`] (the CLI's stream): the rows after the last one already shown in the
//! same sort, so a sync that lands between two pages neither repeats a row nor skips one that
//! was there before and after it.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{named_params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use usagedesk_domain::customer::{InstallAttempt, InstanceEvent, InstanceStatus, LicenseType};

use crate::codec::saturating_i64;
use crate::customer_index::{license_type_bit, nanos, status_of_severity};
use crate::{codec, CacheError, CustomersHandle, Result};

/// An instance is inactive after this long without a check-in
/// (`usagedesk_domain::customer::INACTIVE_AFTER`, which the customers crate checks is the same).
pub const INACTIVE_AFTER_HOURS: i64 = 24;

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

/// The order of the list; ties always go by name, then account id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CustomerSort {
    /// By name, then account id.
    #[default]
    Name,
    /// Soonest end first (the customer's `expires_at`: expired ones by their latest end);
    /// customers whose licenses never end last.
    Expiry,
    /// Most instances not Ready first.
    Attention,
}

/// Where a page starts: after this row of the previous page (same filter, sort and `now`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerCursor {
    /// The sort's own key (0 by name, the end in ns by expiry, not-ready count by attention).
    pub key: i64,
    pub name: String,
    pub account_id: String,
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStart {
    Offset(u64),
    After(CustomerCursor),
}

/// A question to the customer list.
#[derive(Debug, Clone)]
pub struct CustomerQuery<'a> {
    pub filter: &'a CustomerFilter,
    pub sort: CustomerSort,
    pub now: DateTime<Utc>,
    /// An air-gapped instance is overdue once its latest usage file is older than this
    /// (`usagedesk_domain::overdue`).
    pub overdue_after: Duration,
}

/// One customer of a page: the indexed facts, with those that depend on `now` computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerIndexRow {
    pub account_id: String,
    pub name: String,
    pub instances: u32,
    pub not_ready: u32,
    /// Instances whose last check-in is 24 hours old or more.
    pub inactive: u32,
    /// The worst status among the instances still checking in.
    pub worst_status: Option<InstanceStatus>,
    pub reporting_overdue: bool,
    pub cursor: CustomerCursor,
}

/// Counts over a customer's instances at `now`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InstanceCounts {
    pub instances: u32,
    /// Not Ready, or never checked in.
    pub not_ready: u32,
    /// No check-in for 24 hours or more.
    pub inactive: u32,
    /// Air-gapped and overdue with their usage file.
    pub reporting_overdue: u32,
    pub airgapped: u32,
}

/// Counts over every customer at `now` (badges).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CustomerCounts {
    pub customers: u64,
    /// With at least one instance not Ready.
    pub not_ready: u64,
    /// With at least one air-gapped instance overdue.
    pub reporting_overdue: u64,
    /// Every license expired.
    pub expired: u64,
}

/// One instance as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedInstance {
    pub instance_id: String,
    /// The customer it belongs to.
    pub owner: String,
    /// Its own account (the one it reports for).
    pub account_id: String,
    pub license_id: String,
    pub airgapped: bool,
    pub reporting_overdue: bool,
}

const FILTER: &str = "(:text IS NULL OR instr(s.search, :text) > 0)
    AND (:types IS NULL OR (s.license_types & :types) <> 0)
    AND (:horizon IS NULL OR s.expiry_min <= :horizon)
    AND (:not_ready = 0 OR s.not_ready > 0)
    AND (:overdue = 0 OR s.airgap_never > 0 OR s.airgap_oldest < :overdue_before)";

/// The customer's `expires_at` in ns (`i64::MAX`: none ends), as
/// `usagedesk_customers::CustomerSummary` defines it: the soonest end of a license still in
/// force, else (all expired) the latest end.
const EXPIRY_KEY: &str = "coalesce(CASE
        WHEN s.expiry_min IS NULL THEN NULL
        WHEN s.expiry_min > :now THEN s.expiry_min
        WHEN s.expiry_max <= :now THEN CASE WHEN s.no_expiry > 0 THEN NULL ELSE s.expiry_max END
        ELSE (SELECT min(value) FROM json_each(s.expiries) WHERE value > :now)
    END, 9223372036854775807)";

fn sort_sql(sort: CustomerSort) -> (String, &'static str, &'static str) {
    match sort {
        CustomerSort::Name => (
            "0".to_owned(),
            "(s.name, s.account_id) > (:c_name, :c_id)",
            "s.name, s.account_id",
        ),
        CustomerSort::Expiry => (
            EXPIRY_KEY.to_owned(),
            "(k, s.name, s.account_id) > (:c_key, :c_name, :c_id)",
            "k, s.name, s.account_id",
        ),
        CustomerSort::Attention => (
            "s.not_ready".to_owned(),
            "(s.not_ready < :c_key OR (s.not_ready = :c_key
                AND (s.name, s.account_id) > (:c_name, :c_id)))",
            "s.not_ready DESC, s.name, s.account_id",
        ),
    }
}

fn count_u32(v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| CacheError::corrupt(format!("count {v}")))
}

/// The filter's and clock's parameters, bound by name in every list query.
struct Bound {
    text: Option<String>,
    types: Option<i64>,
    horizon: Option<i64>,
    not_ready: bool,
    overdue: bool,
    now: i64,
    overdue_before: i64,
    stale: i64,
}

impl Bound {
    fn of(q: &CustomerQuery<'_>) -> Bound {
        let now = q.now;
        let later = |d: Duration| {
            now.checked_add_signed(d)
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        };
        let earlier = |d: Duration| {
            now.checked_sub_signed(d)
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        };
        Bound {
            text: q
                .filter
                .text
                .as_deref()
                .map(str::to_lowercase)
                .filter(|t| !t.is_empty()),
            types: q.filter.license_type.map(license_type_bit),
            horizon: q
                .filter
                .expiring_within_days
                .map(|d| nanos(later(Duration::days(i64::from(d))))),
            not_ready: q.filter.not_ready,
            overdue: q.filter.reporting_overdue,
            now: nanos(now),
            overdue_before: nanos(earlier(q.overdue_after)),
            stale: nanos(earlier(Duration::hours(INACTIVE_AFTER_HOURS))),
        }
    }
}

impl CustomersHandle<'_> {
    /// How many customers match the query's filter.
    pub fn count(&self, q: &CustomerQuery<'_>) -> Result<u64> {
        let b = Bound::of(q);
        let n: i64 = self
            .cache
            .conn
            .prepare_cached(&format!("SELECT count(*) FROM customers s WHERE {FILTER}"))?
            .query_row(
                named_params! {
                    ":text": b.text, ":types": b.types, ":horizon": b.horizon,
                    ":not_ready": b.not_ready, ":overdue": b.overdue,
                    ":overdue_before": b.overdue_before,
                },
                |r| r.get(0),
            )?;
        codec::count(n)
    }

    /// One page of customers matching the query, in its order: `limit` rows from `start`.
    pub fn rows(
        &self,
        q: &CustomerQuery<'_>,
        start: &PageStart,
        limit: u64,
    ) -> Result<Vec<CustomerIndexRow>> {
        let b = Bound::of(q);
        let (key, after, order) = sort_sql(q.sort);
        let (offset, cursor) = match start {
            PageStart::Offset(o) => (*o, None),
            PageStart::After(c) => (0, Some(c)),
        };
        let after = if cursor.is_some() { after } else { "1" };
        // The key is computed in an inner query so the cursor condition can name it.
        let sql = format!(
            "SELECT * FROM (SELECT s.account_id, s.name, s.instances, s.not_ready,
                    (s.airgap_never > 0 OR coalesce(s.airgap_oldest < :overdue_before, 0)), {key} AS k
                 FROM customers s WHERE {FILTER}) AS s
             WHERE {after} ORDER BY {order} LIMIT :limit OFFSET :offset"
        );
        let mut st = self.cache.conn.prepare_cached(&sql)?;
        let mut params: Vec<(&str, &dyn rusqlite::ToSql)> = vec![
            (":text", &b.text),
            (":types", &b.types),
            (":horizon", &b.horizon),
            (":not_ready", &b.not_ready),
            (":overdue", &b.overdue),
            (":overdue_before", &b.overdue_before),
        ];
        let limit = saturating_i64(limit);
        let offset = saturating_i64(offset);
        params.push((":limit", &limit));
        params.push((":offset", &offset));
        if q.sort == CustomerSort::Expiry {
            params.push((":now", &b.now));
        }
        if let Some(c) = cursor {
            params.push((":c_name", &c.name));
            params.push((":c_id", &c.account_id));
            if q.sort != CustomerSort::Name {
                params.push((":c_key", &c.key));
            }
        }
        let mut rows = st.query(params.as_slice())?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let account_id: String = r.get(0)?;
            let name: String = r.get(1)?;
            let (inactive, worst) = self.activity_of(&account_id, b.stale)?;
            out.push(CustomerIndexRow {
                instances: count_u32(r.get(2)?)?,
                not_ready: count_u32(r.get(3)?)?,
                reporting_overdue: r.get(4)?,
                inactive,
                worst_status: worst,
                cursor: CustomerCursor {
                    key: r.get(5)?,
                    name: name.clone(),
                    account_id: account_id.clone(),
                },
                account_id,
                name,
            });
        }
        Ok(out)
    }

    /// Badges: customers, and how many need attention, at `now`.
    pub fn counts(&self, now: DateTime<Utc>, overdue_after: Duration) -> Result<CustomerCounts> {
        let filter = CustomerFilter::default();
        let b = Bound::of(&CustomerQuery {
            filter: &filter,
            sort: CustomerSort::Name,
            now,
            overdue_after,
        });
        let (customers, not_ready, overdue, expired): (i64, i64, i64, i64) = self
            .cache
            .conn
            .prepare_cached(
                "SELECT count(*), count(*) FILTER (WHERE not_ready > 0),
                    count(*) FILTER (WHERE airgap_never > 0 OR airgap_oldest < :overdue_before),
                    count(*) FILTER (WHERE no_expiry = 0 AND expiry_max <= :now)
                 FROM customers",
            )?
            .query_row(
                named_params! { ":overdue_before": b.overdue_before, ":now": b.now },
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
        Ok(CustomerCounts {
            customers: codec::count(customers)?,
            not_ready: codec::count(not_ready)?,
            reporting_overdue: codec::count(overdue)?,
            expired: codec::count(expired)?,
        })
    }

    /// Whether an account is a customer (holds a license and is in the cache).
    pub fn contains(&self, account_id: &str) -> Result<bool> {
        Ok(self
            .cache
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM customers WHERE account_id = ?1)")?
            .query_row([account_id], |r| r.get(0))?)
    }

    /// Counts over the instances a customer owns, at `now`.
    pub fn instance_counts(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        overdue_after: Duration,
    ) -> Result<InstanceCounts> {
        let earlier = |d: Duration| {
            nanos(
                now.checked_sub_signed(d)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
            )
        };
        let r: (i64, i64, i64, i64, i64) = self
            .cache
            .conn
            .prepare_cached(
                "SELECT count(*), count(*) FILTER (WHERE NOT ready),
                    count(*) FILTER (WHERE has_report AND last_check_in <= :stale),
                    count(*) FILTER (WHERE airgapped
                        AND (verified_at IS NULL OR verified_at < :overdue_before)),
                    count(*) FILTER (WHERE airgapped)
                 FROM customer_instances WHERE owner = :owner",
            )?
            .query_row(
                named_params! {
                    ":owner": owner,
                    ":stale": earlier(Duration::hours(INACTIVE_AFTER_HOURS)),
                    ":overdue_before": earlier(overdue_after),
                },
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?;
        Ok(InstanceCounts {
            instances: count_u32(r.0)?,
            not_ready: count_u32(r.1)?,
            inactive: count_u32(r.2)?,
            reporting_overdue: count_u32(r.3)?,
            airgapped: count_u32(r.4)?,
        })
    }

    /// A page of the instances a customer owns: those still checking in first, then by id.
    pub fn instance_page(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        overdue_after: Duration,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<IndexedInstance>> {
        let earlier = |d: Duration| {
            nanos(
                now.checked_sub_signed(d)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
            )
        };
        let mut st = self.cache.conn.prepare_cached(
            "SELECT c.instance_id, c.owner, c.license_id, c.airgapped,
                    c.airgapped AND (c.verified_at IS NULL OR c.verified_at < :overdue_before),
                    i.account_id
             FROM customer_instances c JOIN instances i ON i.id = c.instance_id
             WHERE c.owner = :owner
             ORDER BY (NOT c.has_report OR c.last_check_in <= :stale), c.instance_id
             LIMIT :limit OFFSET :offset",
        )?;
        let rows = st.query_map(
            named_params! {
                ":owner": owner,
                ":stale": earlier(Duration::hours(INACTIVE_AFTER_HOURS)),
                ":overdue_before": earlier(overdue_after),
                ":limit": saturating_i64(limit),
                ":offset": saturating_i64(offset),
            },
            indexed_instance,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every instance a customer owns, by id, one at a time (bounded memory).
    pub fn each_instance(
        &self,
        owner: &str,
        mut f: impl FnMut(&str, &str) -> Result<()>,
    ) -> Result<()> {
        let mut st = self.cache.conn.prepare_cached(
            "SELECT instance_id, license_id FROM customer_instances WHERE owner = ?1
             ORDER BY instance_id",
        )?;
        let mut rows = st.query([owner])?;
        while let Some(r) = rows.next()? {
            f(r.get_ref(0)?.as_str()?, r.get_ref(1)?.as_str()?)?;
        }
        Ok(())
    }

    /// One instance as the index knows it, with its overdue mark at `now`.
    pub fn indexed_instance(
        &self,
        instance_id: &str,
        now: DateTime<Utc>,
        overdue_after: Duration,
    ) -> Result<Option<IndexedInstance>> {
        let before = nanos(
            now.checked_sub_signed(overdue_after)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        );
        Ok(self
            .cache
            .conn
            .prepare_cached(
                "SELECT c.instance_id, c.owner, c.license_id, c.airgapped,
                        c.airgapped AND (c.verified_at IS NULL OR c.verified_at < :overdue_before),
                        i.account_id
                 FROM customer_instances c JOIN instances i ON i.id = c.instance_id
                 WHERE c.instance_id = :id",
            )?
            .query_row(
                named_params! { ":id": instance_id, ":overdue_before": before },
                indexed_instance,
            )
            .optional()?)
    }

    /// How many install attempts a customer's licenses have.
    pub fn install_attempt_count(&self, account_id: &str) -> Result<u64> {
        let n: i64 = self
            .cache
            .conn
            .prepare_cached(
                "SELECT count(*) FROM install_attempts
                 WHERE license_id IN (SELECT id FROM licenses WHERE account_id = ?1)",
            )?
            .query_row([account_id], |r| r.get(0))?;
        codec::count(n)
    }

    /// A page of a customer's install attempts, newest first (ties by id).
    pub fn install_attempt_page(
        &self,
        account_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<InstallAttempt>> {
        let mut st = self.cache.conn.prepare_cached(
            "SELECT body FROM install_attempts
             WHERE license_id IN (SELECT id FROM licenses WHERE account_id = ?1)
             ORDER BY started_at DESC, id LIMIT ?2 OFFSET ?3",
        )?;
        let mut rows = st.query(rusqlite::params![
            account_id,
            saturating_i64(limit),
            saturating_i64(offset)
        ])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(
                serde_json::from_str(r.get_ref(0)?.as_str()?)
                    .map_err(|e| CacheError::corrupt(format!("an install attempt: {e}")))?,
            );
        }
        Ok(out)
    }

    /// How many events an instance has.
    pub fn instance_event_count(&self, instance_id: &str) -> Result<u64> {
        let n: i64 = self
            .cache
            .conn
            .prepare_cached("SELECT count(*) FROM instance_events WHERE instance_id = ?1")?
            .query_row([instance_id], |r| r.get(0))?;
        codec::count(n)
    }

    /// A page of an instance's events, newest first (ties by field, last first: the
    /// reverse of [`CustomersHandle::instance_events`]).
    pub fn instance_event_page(
        &self,
        instance_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<InstanceEvent>> {
        let mut st = self.cache.conn.prepare_cached(
            "SELECT field, previous, new, received_at FROM instance_events
             WHERE instance_id = ?1 ORDER BY received_at DESC, field DESC LIMIT ?2 OFFSET ?3",
        )?;
        let mut rows = st.query(rusqlite::params![
            instance_id,
            saturating_i64(limit),
            saturating_i64(offset)
        ])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(InstanceEvent {
                instance_id: instance_id.to_owned(),
                field: r.get(0)?,
                previous: r.get(1)?,
                new: r.get(2)?,
                received_at: codec::parse_time(r.get_ref(3)?.as_str()?)?,
            });
        }
        Ok(out)
    }

    /// Inactive instances and the worst status among the others, for one owner.
    fn activity_of(&self, owner: &str, stale: i64) -> Result<(u32, Option<InstanceStatus>)> {
        let (inactive, worst): (i64, Option<u8>) = self
            .cache
            .conn
            .prepare_cached(
                "SELECT count(*) FILTER (WHERE has_report AND last_check_in <= ?2),
                        max(severity) FILTER (WHERE has_report AND last_check_in > ?2)
                 FROM customer_instances WHERE owner = ?1",
            )?
            .query_row(rusqlite::params![owner, stale], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        Ok((count_u32(inactive)?, worst.and_then(status_of_severity)))
    }
}

fn indexed_instance(r: &Row<'_>) -> rusqlite::Result<IndexedInstance> {
    Ok(IndexedInstance {
        instance_id: r.get(0)?,
        owner: r.get(1)?,
        account_id: r.get(5)?,
        license_id: r.get(2)?,
        airgapped: r.get(3)?,
        reporting_overdue: r.get(4)?,
    })
}
