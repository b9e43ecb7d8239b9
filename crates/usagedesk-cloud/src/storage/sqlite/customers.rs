//! Customer reporting in SQLite: loading licenses, instance reports and events, install
//! attempts and their steps; reading them back for the feed; recording check-ins.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use usagedesk_domain::customer::{
    ClusterDetails, Connectivity, InstallAttempt, InstallStatus, InstallStep, InstanceEvent,
    InstanceReport, InstanceStatus, License, LicenseType,
};
use usagedesk_domain::{Account, PlanCatalog};

use super::feed_writer::FeedWriter;
use super::touch;
use crate::customers::rules::{
    feature_bits, features_from_bits, seats_from_text, seats_text, time_text,
};
use crate::load::rules;
use crate::storage::{
    CheckInRecord, CheckInWritten, Conflict, Dataset, LastCheckIn, LoadError, LoadStats, Located,
    RowStream, StepRow, StoreError, TokenScope,
};

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

// ---- Loading ----

fn db<T>(r: rusqlite::Result<T>) -> Result<T, LoadError> {
    r.map_err(|e| LoadError::Store(StoreError::from(e)))
}

/// Whether `table` has no row: a load into it then need not look for stored versions (the
/// rows of the file are checked for duplicates on their own).
fn is_empty(tx: &Transaction<'_>, table: &str) -> Result<bool, LoadError> {
    db(tx.query_row(
        &format!("SELECT NOT EXISTS (SELECT 1 FROM {table})"),
        [],
        |r| r.get(0),
    ))
}

/// The customer-reporting part of a load, inside its transaction, after accounts and
/// instances: licenses, the instance→license check, reports, events, attempts, steps.
pub(super) fn load(
    tx: &Transaction<'_>,
    accounts: &HashMap<String, Account>,
    catalog: &PlanCatalog,
    dataset: CustomerFiles<'_>,
    changed_instances: &[String],
    today: NaiveDate,
    stats: &mut LoadStats,
) -> Result<(), LoadError> {
    let changed_licenses = load_licenses(tx, accounts, catalog, &dataset.licenses, today)?;
    stats.licenses_changed = changed_licenses.len();
    check_instance_licenses(tx, changed_instances, &changed_licenses, &dataset)?;

    let mut instance_accounts = InstanceAccounts::default();
    stats.reports_changed = load_reports(tx, &mut instance_accounts, &dataset.reports, today)?;
    stats.events_changed = load_events(tx, &mut instance_accounts, dataset.events, today)?;
    stats.attempts_changed = load_attempts(tx, &dataset.attempts, &dataset.steps, today)?;
    Ok(())
}

/// The account of every instance, read once when a report or event first needs it.
#[derive(Default)]
struct InstanceAccounts(Option<HashMap<String, String>>);

impl InstanceAccounts {
    fn get<'s>(&'s mut self, tx: &Transaction<'_>, id: &str) -> Result<Option<&'s str>, LoadError> {
        if self.0.is_none() {
            let mut map = HashMap::new();
            let mut stmt = db(tx.prepare("SELECT id, account_id FROM instances"))?;
            let rows = db(stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))))?;
            for row in rows {
                let (id, account): (String, String) = db(row)?;
                map.insert(id, account);
            }
            self.0 = Some(map);
        }
        Ok(self.0.as_ref().and_then(|m| m.get(id)).map(String::as_str))
    }
}

/// The customer-reporting files of a dataset.
pub(super) struct CustomerFiles<'a> {
    pub licenses: Vec<Located<License>>,
    pub reports: Vec<Located<InstanceReport>>,
    pub events: RowStream<'a, InstanceEvent>,
    pub attempts: Vec<Located<InstallAttempt>>,
    pub steps: Vec<Located<StepRow>>,
    /// Where each instance of `instances.csv` was, to place errors.
    pub instance_lines: HashMap<String, (String, u64)>,
}

impl<'a> CustomerFiles<'a> {
    pub fn take(dataset: &mut Dataset<'a>) -> Self {
        Self {
            licenses: std::mem::take(&mut dataset.licenses),
            reports: std::mem::take(&mut dataset.reports),
            events: std::mem::replace(&mut dataset.events, Box::new(std::iter::empty())),
            attempts: std::mem::take(&mut dataset.attempts),
            steps: std::mem::take(&mut dataset.steps),
            instance_lines: dataset
                .instances
                .iter()
                .map(|i| (i.row.id.clone(), (i.file.to_string(), i.line)))
                .collect(),
        }
    }
}

/// Writes the changed licenses; returns their ids.
fn load_licenses(
    tx: &Transaction<'_>,
    accounts: &HashMap<String, Account>,
    catalog: &PlanCatalog,
    rows: &[Located<License>],
    today: NaiveDate,
) -> Result<Vec<String>, LoadError> {
    let mut seen = HashSet::new();
    let mut changed = Vec::new();
    let empty = is_empty(tx, "licenses")?;
    let mut feed = db(FeedWriter::new(tx))?;
    for row in rows {
        let l = &row.row;
        rules::check_license(row, &mut seen, accounts, catalog, today)?;
        let old: Option<License> = if empty {
            None
        } else {
            db(tx
                .prepare_cached(&format!(
                    "SELECT l.id, l.account_id, {LICENSE_COLS} FROM licenses l WHERE l.id = ?1"
                ))
                .and_then(|mut s| {
                    s.query_row([&l.id], |r| license_row(r, 2, r.get(0)?, r.get(1)?))
                        .optional()
                }))?
        };
        if let Some(old) = &old {
            rules::check_license_account(row, &old.account_id)?;
            if old == l {
                continue;
            }
        }
        db(tx
            .prepare_cached(
                "INSERT INTO licenses(id, account_id, type, channel, created_at, expires_at,
                   features, seats)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(id) DO UPDATE SET type = excluded.type, channel = excluded.channel,
                   created_at = excluded.created_at, expires_at = excluded.expires_at,
                   features = excluded.features, seats = excluded.seats",
            )
            .and_then(|mut s| {
                s.execute(params![
                    l.id,
                    l.account_id,
                    license_type_text(l.license_type),
                    l.channel,
                    time_text(&l.created_at),
                    l.expires_at.as_ref().map(time_text),
                    feature_bits(&l.features),
                    seats_text(&l.seats)
                ])
            }))?;
        db(feed.touch("license", &l.account_id, &l.id))?;
        changed.push(l.id.clone());
    }
    db(feed.finish())?;
    Ok(changed)
}

/// An instance's license, when the cloud has it, must belong to the instance's account or
/// one of its ancestors. Checked for the instances and licenses this load changed.
fn check_instance_licenses(
    tx: &Transaction<'_>,
    changed_instances: &[String],
    changed_licenses: &[String],
    files: &CustomerFiles<'_>,
) -> Result<(), LoadError> {
    const MISMATCH: &str = "SELECT i.id, i.account_id, l.id, l.account_id
         FROM instances i JOIN licenses l ON l.id = i.license_id
         WHERE NOT EXISTS (SELECT 1 FROM closure c
                           WHERE c.ancestor = l.account_id AND c.descendant = i.account_id)";
    type Mismatch = (String, String, String, String);
    let read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Mismatch> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    };
    if (changed_instances.is_empty() && changed_licenses.is_empty()) || is_empty(tx, "licenses")? {
        return Ok(());
    }
    let mut found: Option<Mismatch> = None;
    if changed_instances.len() + changed_licenses.len() > 10_000 {
        // A big load: one pass over every instance beats a query per row.
        found = db(tx
            .prepare(&format!("{MISMATCH} LIMIT 1"))
            .and_then(|mut s| s.query_row([], read).optional()))?;
    } else {
        for id in changed_instances {
            found = db(tx
                .prepare_cached(&format!("{MISMATCH} AND i.id = ?1"))
                .and_then(|mut s| s.query_row([id], read).optional()))?;
            if found.is_some() {
                break;
            }
        }
    }
    if found.is_none() && changed_instances.len() + changed_licenses.len() <= 10_000 {
        for id in changed_licenses {
            found = db(tx
                .prepare_cached(&format!("{MISMATCH} AND l.id = ?1 LIMIT 1"))
                .and_then(|mut s| s.query_row([id], read).optional()))?;
            if found.is_some() {
                break;
            }
        }
    }
    let Some((instance, instance_account, license, license_account)) = found else {
        return Ok(());
    };
    Err(rules::LicenseMismatch {
        instance: &instance,
        instance_account: &instance_account,
        license: &license,
        license_account: &license_account,
    }
    .error(&files.instance_lines, &files.licenses))
}

/// Writes the changed reports; returns how many changed.
fn load_reports(
    tx: &Transaction<'_>,
    instance_accounts: &mut InstanceAccounts,
    rows: &[Located<InstanceReport>],
    today: NaiveDate,
) -> Result<usize, LoadError> {
    let mut seen = HashSet::new();
    let mut changed = 0;
    let empty = is_empty(tx, "instance_reports")?;
    let mut feed = db(FeedWriter::new(tx))?;
    for row in rows {
        let r = &row.row;
        let account = instance_accounts
            .get(tx, &r.instance_id)?
            .map(str::to_owned);
        rules::check_report(row, &mut seen, account.is_some(), today)?;
        let account = account.unwrap_or_default();
        let old: Option<InstanceReport> = if empty {
            None
        } else {
            db(tx
                .prepare_cached(&format!(
                    "SELECT {REPORT_COLS} FROM instance_reports r WHERE r.instance_id = ?1"
                ))
                .and_then(|mut s| {
                    s.query_row([&r.instance_id], |x| {
                        report_row(x, 0, r.instance_id.clone())
                    })
                    .optional()
                }))?
        };
        if old.as_ref() == Some(r) {
            continue;
        }
        db(write_report(tx, r))?;
        db(feed.touch("report", &account, &r.instance_id))?;
        changed += 1;
    }
    db(feed.finish())?;
    Ok(changed)
}

/// Inserts or replaces a report, keeping the signed time of the last check-in.
fn write_report(tx: &Transaction<'_>, r: &InstanceReport) -> rusqlite::Result<()> {
    let c = &r.cluster;
    tx.prepare_cached(
        "INSERT INTO instance_reports(instance_id, status, app_version, distribution,
           kubernetes_version, embedded_cluster, nodes_ready, nodes_total, agent_version,
           cloud_provider, region, first_check_in, last_check_in)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT(instance_id) DO UPDATE SET status = excluded.status,
           app_version = excluded.app_version, distribution = excluded.distribution,
           kubernetes_version = excluded.kubernetes_version,
           embedded_cluster = excluded.embedded_cluster, nodes_ready = excluded.nodes_ready,
           nodes_total = excluded.nodes_total, agent_version = excluded.agent_version,
           cloud_provider = excluded.cloud_provider, region = excluded.region,
           first_check_in = excluded.first_check_in, last_check_in = excluded.last_check_in",
    )?
    .execute(params![
        r.instance_id,
        r.status.as_str(),
        r.app_version,
        c.distribution,
        c.kubernetes_version,
        c.embedded_cluster,
        c.nodes_ready,
        c.nodes_total,
        c.agent_version,
        c.cloud_provider,
        c.region,
        time_text(&r.first_check_in),
        time_text(&r.last_check_in)
    ])?;
    Ok(())
}

/// Inserts new events, rewrites the values of events loaded before (same instance, time and
/// field); returns how many were new or changed.
fn load_events(
    tx: &Transaction<'_>,
    instance_accounts: &mut InstanceAccounts,
    rows: RowStream<'_, InstanceEvent>,
    today: NaiveDate,
) -> Result<usize, LoadError> {
    // Events inserted by this load get ids above this: a conflict with one of them is a
    // duplicate row in the file.
    let before: i64 = db(tx.query_row(
        "SELECT COALESCE(MAX(id), 0) FROM instance_events",
        [],
        |r| r.get(0),
    ))?;
    let mut insert = db(tx.prepare_cached(
        "INSERT INTO instance_events(instance_id, field, previous, new, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(instance_id, received_at, field) DO NOTHING",
    ))?;
    let mut existing = db(tx.prepare_cached(
        "SELECT id, previous, new FROM instance_events
         WHERE instance_id = ?1 AND received_at = ?2 AND field = ?3",
    ))?;
    let mut update =
        db(tx.prepare_cached("UPDATE instance_events SET previous = ?2, new = ?3 WHERE id = ?1"))?;
    let mut feed = db(FeedWriter::new(tx))?;
    let mut changed = 0;
    for row in rows {
        let row = row?;
        let e = &row.row;
        let account = instance_accounts.get(tx, &e.instance_id)?;
        rules::check_event(&row, account.is_some(), today)?;
        let account = account.unwrap_or_default();
        let at = time_text(&e.received_at);
        let id = if db(insert.execute(params![e.instance_id, e.field, e.previous, e.new, at]))? == 1
        {
            tx.last_insert_rowid()
        } else {
            let (id, previous, new): (i64, Option<String>, String) = db(existing
                .query_row(params![e.instance_id, at, e.field], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                }))?;
            if id > before {
                return Err(rules::duplicate_event(&row));
            }
            if previous == e.previous && new == e.new {
                continue;
            }
            db(update.execute(params![id, e.previous, e.new]))?;
            id
        };
        db(feed.touch("event", account, &id.to_string()))?;
        changed += 1;
    }
    db(feed.finish())?;
    Ok(changed)
}

/// Writes the changed attempts and the steps of the attempts the steps file names; returns
/// how many attempts changed (row or steps).
fn load_attempts(
    tx: &Transaction<'_>,
    attempts: &[Located<InstallAttempt>],
    steps: &[Located<StepRow>],
    today: NaiveDate,
) -> Result<usize, LoadError> {
    let license_account = |id: &str| -> Result<Option<String>, LoadError> {
        db(tx
            .prepare_cached("SELECT account_id FROM licenses WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional()))
    };
    let stored = |id: &str| -> Result<Option<InstallAttempt>, LoadError> {
        db(tx
            .prepare_cached(&format!(
                "SELECT {ATTEMPT_COLS} FROM install_attempts t WHERE t.id = ?1"
            ))
            .and_then(|mut s| {
                s.query_row([id], |r| attempt_row(r, 0, id.to_owned()))
                    .optional()
            }))
    };
    // attempt id → (account, started_at, changed)
    let mut known: HashMap<String, (String, DateTime<Utc>, bool)> = HashMap::new();
    for row in attempts {
        let a = &row.row;
        let seen = known.contains_key(&a.id);
        let account = if seen {
            None
        } else {
            license_account(&a.license_id)?
        };
        let old = match &account {
            Some(_) => stored(&a.id)?,
            None => None,
        };
        rules::check_attempt(
            row,
            seen,
            account.is_some(),
            old.as_ref().map(|o| o.license_id.as_str()),
            today,
        )?;
        let account = account.unwrap_or_default();
        let changed = old.as_ref() != Some(a);
        if changed {
            db(tx
                .prepare_cached(
                    "INSERT INTO install_attempts(id, license_id, status, started_at, user_email,
                       environment, mode, registry)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT(id) DO UPDATE SET status = excluded.status,
                       started_at = excluded.started_at, user_email = excluded.user_email,
                       environment = excluded.environment, mode = excluded.mode,
                       registry = excluded.registry",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        a.id,
                        a.license_id,
                        install_status_text(a.status),
                        time_text(&a.started_at),
                        a.user_email,
                        a.environment,
                        mode_text(a.mode),
                        registry_text(a.registry)
                    ])
                }))?;
        }
        known.insert(a.id.clone(), (account, a.started_at, changed));
    }

    // Steps: the file's steps of an attempt replace its stored ones.
    let mut order: Vec<&str> = Vec::new();
    let mut grouped: HashMap<&str, Vec<&Located<StepRow>>> = HashMap::new();
    for row in steps {
        let id = row.row.attempt_id.as_str();
        if !known.contains_key(id) {
            let attempt = db(tx
                .prepare_cached(
                    "SELECT l.account_id, t.started_at FROM install_attempts t
                     JOIN licenses l ON l.id = t.license_id WHERE t.id = ?1",
                )
                .and_then(|mut s| {
                    s.query_row([id], |r| Ok((r.get::<_, String>(0)?, time_col(r, 1)?)))
                        .optional()
                }))?;
            let Some((account, started)) = attempt else {
                return Err(rules::unknown_attempt(row));
            };
            known.insert(id.to_owned(), (account, started, false));
        }
        let list = grouped.entry(id).or_insert_with(|| {
            order.push(id);
            Vec::new()
        });
        let (_, started, _) = &known[id];
        rules::check_step(row, started, list.last().copied(), today)?;
        list.push(row);
    }
    for id in order {
        let new: Vec<InstallStep> = grouped[id].iter().map(|r| r.row.step.clone()).collect();
        let old = db(steps_of(tx, id))?;
        if old == new {
            continue;
        }
        db(tx.execute("DELETE FROM install_steps WHERE attempt_id = ?1", [id]))?;
        let mut ins = db(tx.prepare_cached(
            "INSERT INTO install_steps(attempt_id, position, name, at) VALUES (?1, ?2, ?3, ?4)",
        ))?;
        for (i, s) in new.iter().enumerate() {
            db(ins.execute(params![id, i as i64, s.name, time_text(&s.at)]))?;
        }
        if let Some(k) = known.get_mut(id) {
            k.2 = true;
        }
    }
    let mut changed = 0;
    let mut feed = db(FeedWriter::new(tx))?;
    for (id, (account, _, was_changed)) in &known {
        if *was_changed {
            db(feed.touch("attempt", account, id))?;
            changed += 1;
        }
    }
    db(feed.finish())?;
    Ok(changed)
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
    let account: Option<String> = tx
        .prepare_cached("SELECT account_id FROM instances WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    let Some(account) = account else {
        return Err(Conflict::InstanceRemoved {
            instance: id.clone(),
        }
        .into());
    };
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
