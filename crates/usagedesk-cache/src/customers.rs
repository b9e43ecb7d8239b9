//! Customer reporting as synced (schema in `migrations/0003_customers.sql`): licenses,
//! instance reports, instance events and install attempts, stored as the feed sends them.
//! The computations on them (status, uptime, time to install) are `usagedesk_domain::customer`'s.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use usagedesk_domain::api::Change;
use usagedesk_domain::customer::{InstallAttempt, InstanceEvent, InstanceReport, License};

use crate::customer_index::Marks;
use crate::{CacheError, CustomersHandle, Result};

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| CacheError::Invalid(format!("cannot store a value: {e}")))
}

fn from_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| CacheError::corrupt(format!("a stored record: {e}")))
}

/// Times as the feed's RFC 3339 with seconds and `Z`, so they sort as text.
fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Stores one customer-reporting change from the feed (instance events go through
/// [`Events`], many per statement).
pub(crate) fn apply(conn: &Connection, change: &Change, marks: Marks) -> Result<()> {
    match change {
        Change::License(l) => {
            marks.license(conn, &l.id, &l.account_id)?;
            conn.prepare_cached(
                "INSERT OR REPLACE INTO licenses (id, account_id, body) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![l.id, l.account_id, json(l)?])?;
        }
        Change::InstanceReport(r) => {
            marks.instance(conn, &r.instance_id)?;
            conn.prepare_cached(
                "INSERT OR REPLACE INTO instance_reports (instance_id, body) VALUES (?1, ?2)",
            )?
            .execute(params![r.instance_id, json(r)?])?;
        }
        Change::InstallAttempt(a) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO install_attempts (id, license_id, started_at, body)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![a.id, a.license_id, time(a.started_at), json(a)?])?;
        }
        _ => {}
    }
    Ok(())
}

/// Instance events waiting to be stored, many per statement. A full sync brings hundreds
/// of thousands of them; one statement each cost most of applying them. Stored in the order
/// pushed, as one statement each would (a later event of the same key replaces an earlier
/// one); [`Events::flush`] before anything else is applied.
#[derive(Default)]
pub(crate) struct Events<'a>(Vec<&'a InstanceEvent>);

impl<'a> Events<'a> {
    pub(crate) fn push(&mut self, e: &'a InstanceEvent) {
        self.0.push(e);
    }

    /// Stores the events waiting.
    pub(crate) fn flush(&mut self, conn: &Connection) -> Result<()> {
        let sql = |n| {
            format!(
                "INSERT OR REPLACE INTO instance_events
                     (instance_id, received_at, field, previous, new)
                 VALUES {}",
                usagedesk_sqlite::values(n, 5)
            )
        };
        usagedesk_sqlite::insert_batched(conn, sql, 5, &self.0, |st, at, e| {
            st.raw_bind_parameter(at, &e.instance_id)?;
            st.raw_bind_parameter(at + 1, time(e.received_at))?;
            st.raw_bind_parameter(at + 2, &e.field)?;
            st.raw_bind_parameter(at + 3, &e.previous)?;
            st.raw_bind_parameter(at + 4, &e.new)
        })?;
        self.0.clear();
        Ok(())
    }
}

/// An account left the view (tombstone): its licenses, their install attempts, and its
/// instances with their reports and events go with it.
pub(crate) fn forget_account(conn: &Connection, account_id: &str) -> Result<()> {
    crate::customer_index::mark_forgotten(conn, account_id)?;
    conn.prepare_cached(
        "DELETE FROM install_attempts WHERE license_id IN
             (SELECT id FROM licenses WHERE account_id = ?1)",
    )?
    .execute([account_id])?;
    conn.prepare_cached("DELETE FROM licenses WHERE account_id = ?1")?
        .execute([account_id])?;
    for table in ["instance_reports", "instance_events"] {
        conn.prepare_cached(&format!(
            "DELETE FROM {table} WHERE instance_id IN
                 (SELECT id FROM instances WHERE account_id = ?1)"
        ))?
        .execute([account_id])?;
    }
    conn.prepare_cached("DELETE FROM instances WHERE account_id = ?1")?
        .execute([account_id])?;
    Ok(())
}

impl CustomersHandle<'_> {
    /// Every license, by account then id.
    pub fn licenses(&self) -> Result<Vec<License>> {
        self.bodies(
            "SELECT body FROM licenses ORDER BY account_id, id",
            params![],
        )
    }

    /// The licenses of one account.
    pub fn licenses_of(&self, account_id: &str) -> Result<Vec<License>> {
        self.bodies(
            "SELECT body FROM licenses WHERE account_id = ?1 ORDER BY id",
            params![account_id],
        )
    }

    /// Every instance's latest report.
    pub fn instance_reports(&self) -> Result<Vec<InstanceReport>> {
        self.bodies(
            "SELECT body FROM instance_reports ORDER BY instance_id",
            params![],
        )
    }

    pub fn instance_report(&self, instance_id: &str) -> Result<Option<InstanceReport>> {
        self.cache
            .conn
            .prepare_cached("SELECT body FROM instance_reports WHERE instance_id = ?1")?
            .query_row([instance_id], |r| r.get::<_, String>(0))
            .optional()?
            .map(|b| from_json(&b))
            .transpose()
    }

    /// An instance's events from `since` on (all when `None`), oldest first.
    pub fn instance_events(
        &self,
        instance_id: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<InstanceEvent>> {
        let since = since.map(time).unwrap_or_default();
        let mut st = self.cache.conn.prepare_cached(
            "SELECT field, previous, new, received_at FROM instance_events
             WHERE instance_id = ?1 AND received_at >= ?2 ORDER BY received_at, field",
        )?;
        let mut rows = st.query(params![instance_id, since])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(InstanceEvent {
                instance_id: instance_id.to_owned(),
                field: r.get(0)?,
                previous: r.get(1)?,
                new: r.get(2)?,
                received_at: crate::codec::parse_time(r.get_ref(3)?.as_str()?)?,
            });
        }
        Ok(out)
    }

    /// The install attempts of a license, newest first.
    pub fn install_attempts(&self, license_id: &str) -> Result<Vec<InstallAttempt>> {
        self.bodies(
            "SELECT body FROM install_attempts WHERE license_id = ?1 ORDER BY started_at DESC",
            params![license_id],
        )
    }

    fn bodies<T: DeserializeOwned>(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<T>> {
        let mut st = self.cache.conn.prepare_cached(sql)?;
        let mut rows = st.query(p)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(from_json(r.get_ref(0)?.as_str()?)?);
        }
        Ok(out)
    }
}
