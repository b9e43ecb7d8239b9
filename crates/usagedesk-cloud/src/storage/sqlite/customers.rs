//! Customer reporting in SQLite: reading licenses, instance reports and events, install
//! attempts and their steps back for the feed; writing check-ins; loading them ([`loading`]).

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use usagedesk_domain::customer::{
    ClusterDetails, Connectivity, InstallAttempt, InstallStatus, InstallStep, InstanceEvent,
    InstanceReport, InstanceStatus, License, LicenseType,
};

use super::touch;
use crate::customers::rules::{features_from_bits, seats_from_text, time_text};
use crate::storage::{
    CheckInRecord, CheckInWritten, Conflict, LastCheckIn, StoreError, TokenScope,
};

mod loading;

pub(super) use loading::{load, CustomerFiles};

// ---- Reading rows ----

fn conversion<E: std::error::Error + Send + Sync + 'static>(i: usize, e: E) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
}

#[derive(Debug)]
struct BadValue(String);

impl std::fmt::Display for BadValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unexpected stored value '{}'", self.0)
    }
}

impl std::error::Error for BadValue {}

fn bad(i: usize, s: &str) -> rusqlite::Error {
    conversion(i, BadValue(s.to_owned()))
}

pub(super) fn time_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<DateTime<Utc>> {
    let s: String = r.get(i)?;
    super::parse_time(&s).map_err(|e| conversion(i, e))
}

fn opt_time_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let s: Option<String> = r.get(i)?;
    s.map(|s| super::parse_time(&s).map_err(|e| conversion(i, e)))
        .transpose()
}

fn status_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<InstanceStatus> {
    let s: String = r.get(i)?;
    s.parse().map_err(|_| bad(i, &s))
}

fn opt_u32_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<u32>> {
    let v: Option<i64> = r.get(i)?;
    v.map(|n| u32::try_from(n).map_err(|_| bad(i, &n.to_string())))
        .transpose()
}

fn license_type_text(t: LicenseType) -> &'static str {
    match t {
        LicenseType::Prod => "prod",
        LicenseType::Trial => "trial",
        LicenseType::Dev => "dev",
        LicenseType::Community => "community",
    }
}

fn install_status_text(s: InstallStatus) -> &'static str {
    match s {
        InstallStatus::Succeeded => "succeeded",
        InstallStatus::Stalled => "stalled",
        InstallStatus::Failed => "failed",
    }
}

fn mode_text(c: Connectivity) -> &'static str {
    match c {
        Connectivity::Online => "online",
        Connectivity::Offline => "airgap",
    }
}

fn registry_text(c: Connectivity) -> &'static str {
    match c {
        Connectivity::Online => "online",
        Connectivity::Offline => "offline",
    }
}

/// The columns [`license_row`] reads after the id and account (table alias `l`).
pub(super) const LICENSE_COLS: &str =
    "l.type, l.channel, l.created_at, l.expires_at, l.features, l.seats";

/// A license from [`LICENSE_COLS`] starting at column `at`.
pub(super) fn license_row(
    r: &rusqlite::Row<'_>,
    at: usize,
    id: String,
    account_id: String,
) -> rusqlite::Result<License> {
    let t: String = r.get(at)?;
    let license_type = match t.as_str() {
        "prod" => LicenseType::Prod,
        "trial" => LicenseType::Trial,
        "dev" => LicenseType::Dev,
        "community" => LicenseType::Community,
        _ => return Err(bad(at, &t)),
    };
    let seats: String = r.get(at + 5)?;
    Ok(License {
        id,
        account_id,
        license_type,
        channel: r.get(at + 1)?,
        created_at: time_col(r, at + 2)?,
        expires_at: opt_time_col(r, at + 3)?,
        features: features_from_bits(r.get(at + 4)?),
        seats: seats_from_text(&seats).ok_or_else(|| bad(at + 5, &seats))?,
    })
}

/// The columns [`report_row`] reads after the instance id (table alias `r`).
pub(super) const REPORT_COLS: &str = "r.status, r.app_version, r.distribution, \
     r.kubernetes_version, r.embedded_cluster, r.nodes_ready, r.nodes_total, r.agent_version, \
     r.cloud_provider, r.region, r.first_check_in, r.last_check_in";

pub(super) fn report_row(
    r: &rusqlite::Row<'_>,
    at: usize,
    instance_id: String,
) -> rusqlite::Result<InstanceReport> {
    Ok(InstanceReport {
        instance_id,
        status: status_col(r, at)?,
        app_version: r.get(at + 1)?,
        cluster: ClusterDetails {
            distribution: r.get(at + 2)?,
            kubernetes_version: r.get(at + 3)?,
            embedded_cluster: r.get(at + 4)?,
            nodes_ready: opt_u32_col(r, at + 5)?,
            nodes_total: opt_u32_col(r, at + 6)?,
            agent_version: r.get(at + 7)?,
            cloud_provider: r.get(at + 8)?,
            region: r.get(at + 9)?,
        },
        first_check_in: time_col(r, at + 10)?,
        last_check_in: time_col(r, at + 11)?,
    })
}

/// The columns [`event_row`] reads (table alias `e`).
pub(super) const EVENT_COLS: &str = "e.instance_id, e.field, e.previous, e.new, e.received_at";

pub(super) fn event_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<InstanceEvent> {
    Ok(InstanceEvent {
        instance_id: r.get(at)?,
        field: r.get(at + 1)?,
        previous: r.get(at + 2)?,
        new: r.get(at + 3)?,
        received_at: time_col(r, at + 4)?,
    })
}

/// The columns [`attempt_row`] reads after the id (table alias `t`).
pub(super) const ATTEMPT_COLS: &str =
    "t.license_id, t.status, t.started_at, t.user_email, t.environment, t.mode, t.registry";

/// An attempt without its steps (see [`steps_of`]).
pub(super) fn attempt_row(
    r: &rusqlite::Row<'_>,
    at: usize,
    id: String,
) -> rusqlite::Result<InstallAttempt> {
    let status: String = r.get(at + 1)?;
    let mode: String = r.get(at + 5)?;
    let registry: String = r.get(at + 6)?;
    Ok(InstallAttempt {
        id,
        license_id: r.get(at)?,
        status: match status.as_str() {
            "succeeded" => InstallStatus::Succeeded,
            "stalled" => InstallStatus::Stalled,
            "failed" => InstallStatus::Failed,
            _ => return Err(bad(at + 1, &status)),
        },
        started_at: time_col(r, at + 2)?,
        user_email: r.get(at + 3)?,
        environment: r.get(at + 4)?,
        mode: match mode.as_str() {
            "online" => Connectivity::Online,
            "airgap" => Connectivity::Offline,
            _ => return Err(bad(at + 5, &mode)),
        },
        registry: match registry.as_str() {
            "online" => Connectivity::Online,
            "offline" => Connectivity::Offline,
            _ => return Err(bad(at + 6, &registry)),
        },
        steps: Vec::new(),
    })
}

/// The steps of an attempt, in order.
pub(super) fn steps_of(conn: &Connection, attempt_id: &str) -> rusqlite::Result<Vec<InstallStep>> {
    conn.prepare_cached(
        "SELECT name, at FROM install_steps WHERE attempt_id = ?1 ORDER BY position",
    )?
    .query_map([attempt_id], |r| {
        Ok(InstallStep {
            name: r.get(0)?,
            at: time_col(r, 1)?,
        })
    })?
    .collect()
}

// ---- Keeping the feed ----

/// Sends the customer data of `account_id` again (its account moved into new scopes): its
/// licenses and their install attempts, and the reports and events of its instances.
pub(super) fn touch_customer_data_of(
    tx: &Transaction<'_>,
    account_id: &str,
) -> rusqlite::Result<()> {
    let keys = |sql: &str| -> rusqlite::Result<Vec<String>> {
        tx.prepare_cached(sql)?
            .query_map([account_id], |r| r.get(0))?
            .collect()
    };
    for id in keys("SELECT id FROM licenses WHERE account_id = ?1")? {
        touch(tx, "license", account_id, &id)?;
    }
    for id in keys(
        "SELECT t.id FROM install_attempts t JOIN licenses l ON l.id = t.license_id
         WHERE l.account_id = ?1",
    )? {
        touch(tx, "attempt", account_id, &id)?;
    }
    for id in keys(
        "SELECT r.instance_id FROM instance_reports r JOIN instances i ON i.id = r.instance_id
         WHERE i.account_id = ?1",
    )? {
        touch(tx, "report", account_id, &id)?;
    }
    for id in keys(
        "SELECT CAST(e.id AS TEXT) FROM instance_events e JOIN instances i ON i.id = e.instance_id
         WHERE i.account_id = ?1",
    )? {
        touch(tx, "event", account_id, &id)?;
    }
    Ok(())
}

/// Inserts or replaces `n` reports, keeping the signed time of the last check-in; bound by
/// [`bind_report`].
fn report_upsert_sql(n: usize) -> String {
    format!(
        "INSERT INTO instance_reports(instance_id, status, app_version, distribution,
           kubernetes_version, embedded_cluster, nodes_ready, nodes_total, agent_version,
           cloud_provider, region, first_check_in, last_check_in)
         VALUES {}
         ON CONFLICT(instance_id) DO UPDATE SET status = excluded.status,
           app_version = excluded.app_version, distribution = excluded.distribution,
           kubernetes_version = excluded.kubernetes_version,
           embedded_cluster = excluded.embedded_cluster, nodes_ready = excluded.nodes_ready,
           nodes_total = excluded.nodes_total, agent_version = excluded.agent_version,
           cloud_provider = excluded.cloud_provider, region = excluded.region,
           first_check_in = excluded.first_check_in, last_check_in = excluded.last_check_in",
        vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; n].join(", ")
    )
}

/// Binds the `i`th (0-based) report of a [`report_upsert_sql`] statement.
fn bind_report(
    stmt: &mut rusqlite::Statement<'_>,
    i: usize,
    r: &InstanceReport,
) -> rusqlite::Result<()> {
    let c = &r.cluster;
    let at = i * 13;
    stmt.raw_bind_parameter(at + 1, &r.instance_id)?;
    stmt.raw_bind_parameter(at + 2, r.status.as_str())?;
    stmt.raw_bind_parameter(at + 3, &r.app_version)?;
    stmt.raw_bind_parameter(at + 4, &c.distribution)?;
    stmt.raw_bind_parameter(at + 5, &c.kubernetes_version)?;
    stmt.raw_bind_parameter(at + 6, c.embedded_cluster)?;
    stmt.raw_bind_parameter(at + 7, c.nodes_ready)?;
    stmt.raw_bind_parameter(at + 8, c.nodes_total)?;
    stmt.raw_bind_parameter(at + 9, &c.agent_version)?;
    stmt.raw_bind_parameter(at + 10, &c.cloud_provider)?;
    stmt.raw_bind_parameter(at + 11, &c.region)?;
    stmt.raw_bind_parameter(at + 12, time_text(&r.first_check_in))?;
    stmt.raw_bind_parameter(at + 13, time_text(&r.last_check_in))?;
    Ok(())
}

/// Inserts or replaces a report, keeping the signed time of the last check-in.
fn write_report(tx: &Transaction<'_>, r: &InstanceReport) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(&report_upsert_sql(1))?;
    bind_report(&mut stmt, 0, r)?;
    stmt.raw_execute()?;
    Ok(())
}

// ---- Check-ins ----

/// The body of [`crate::storage::Customers::last_check_in`].
pub(super) fn last_check_in(
    conn: &Connection,
    instance_id: &str,
) -> Result<Option<LastCheckIn>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {REPORT_COLS}, r.signed_at FROM instance_reports r WHERE r.instance_id = ?1"
        ))?
        .query_row([instance_id], |r| {
            Ok(LastCheckIn {
                report: report_row(r, 0, instance_id.to_owned())?,
                signed_at: opt_time_col(r, 12)?,
            })
        })
        .optional()?)
}

/// The body of [`crate::storage::Customers::write_check_in`].
pub(super) fn write_check_in(
    conn: &mut Connection,
    c: &CheckInRecord,
) -> Result<CheckInWritten, StoreError> {
    let id = &c.report.instance_id;
    let tx = conn.transaction()?;
    let row: Option<(String, Option<String>)> = tx
        .prepare_cached("SELECT account_id, public_key FROM instances WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((account, pinned)) = row else {
        return Err(Conflict::InstanceRemoved {
            instance: id.clone(),
        }
        .into());
    };
    // The key was checked before this transaction; a reset since then voids the signature.
    c.still_pinned(pinned.as_deref())?;
    if last_check_in(&tx, id)? != c.judged_against {
        return Ok(CheckInWritten::Stale);
    }
    write_report(&tx, &c.report)?;
    tx.execute(
        "UPDATE instance_reports SET signed_at = ?2 WHERE instance_id = ?1",
        params![id, time_text(&c.signed_at)],
    )?;
    touch(&tx, "report", &account, id)?;
    for e in &c.events {
        let inserted = tx
            .prepare_cached(
                "INSERT INTO instance_events(instance_id, field, previous, new, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(instance_id, received_at, field) DO NOTHING",
            )?
            .execute(params![
                e.instance_id,
                e.field,
                e.previous,
                e.new,
                time_text(&e.received_at)
            ])?;
        if inserted == 0 {
            return Err(Conflict::SameMillisecond {
                instance: id.clone(),
            }
            .into());
        }
        let event_id = tx.last_insert_rowid();
        touch(&tx, "event", &account, &event_id.to_string())?;
    }
    tx.commit()?;
    Ok(CheckInWritten::Written)
}

// ---- Reading for the API ----

fn visible_instance_sql(scope: &TokenScope) -> (&'static str, Option<&str>) {
    match scope {
        TokenScope::All => (
            "EXISTS (SELECT 1 FROM instances i WHERE i.id = ?1) AND ?2 IS NULL",
            None,
        ),
        TokenScope::Subtree(root) => (
            "EXISTS (SELECT 1 FROM instances i JOIN closure c
                     ON c.descendant = i.account_id AND c.ancestor = ?2 WHERE i.id = ?1)",
            Some(root.as_str()),
        ),
    }
}

pub(super) fn instance_report(
    conn: &Connection,
    scope: &TokenScope,
    instance_id: &str,
) -> Result<Option<InstanceReport>, StoreError> {
    let (visible, root) = visible_instance_sql(scope);
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {REPORT_COLS} FROM instance_reports r WHERE r.instance_id = ?1 AND {visible}"
        ))?
        .query_row(params![instance_id, root], |r| {
            report_row(r, 0, instance_id.to_owned())
        })
        .optional()?)
}

pub(super) fn instance_events(
    conn: &Connection,
    scope: &TokenScope,
    instance_id: &str,
) -> Result<Vec<InstanceEvent>, StoreError> {
    let (visible, root) = visible_instance_sql(scope);
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLS} FROM instance_events e WHERE e.instance_id = ?1 AND {visible}
             ORDER BY e.received_at, e.id"
        ))?
        .query_map(params![instance_id, root], |r| event_row(r, 0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
