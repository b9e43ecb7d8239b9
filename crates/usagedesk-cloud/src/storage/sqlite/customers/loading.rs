//! The customer-reporting part of a load, inside its transaction: licenses, the
//! instance→license check, reports, events, install attempts and their steps. Every row is
//! checked by the service's rules ([`crate::load::rules`]) before it is written.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, OptionalExtension, Transaction};
use usagedesk_domain::customer::{
    InstallAttempt, InstallStep, InstanceEvent, InstanceReport, License,
};
use usagedesk_domain::{Account, PlanCatalog};

use super::{
    attempt_row, bind_report, install_status_text, license_row, license_type_text, mode_text,
    registry_text, report_row, report_upsert_sql, steps_of, time_col, ATTEMPT_COLS, LICENSE_COLS,
    REPORT_COLS,
};
use crate::customers::rules::{feature_bits, seats_text, time_text};
use crate::load::rules;
use crate::storage::sqlite::feed_writer::FeedWriter;
use crate::storage::{Dataset, LoadError, LoadStats, Located, RowStream, StepRow, StoreError};

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
pub(in crate::storage::sqlite) fn load(
    tx: &Transaction<'_>,
    accounts: &HashMap<String, Account>,
    catalog: &PlanCatalog,
    dataset: CustomerFiles<'_>,
    changed_instances: &[String],
    today: NaiveDate,
    stats: &mut LoadStats,
) -> Result<(), LoadError> {
    let started = std::time::Instant::now();
    let lap = |what: &str| {
        tracing::debug!("load: {what}, {:.2} s", started.elapsed().as_secs_f64());
    };
    let changed_licenses = load_licenses(tx, accounts, catalog, &dataset.licenses, today)?;
    stats.licenses_changed = changed_licenses.len();
    lap("licenses");
    check_instance_licenses(tx, changed_instances, &changed_licenses, &dataset)?;
    lap("instance licenses checked");

    let mut instance_accounts = InstanceAccounts::default();
    stats.reports_changed = load_reports(tx, &mut instance_accounts, &dataset.reports, today)?;
    lap("reports");
    stats.events_changed = load_events(tx, &mut instance_accounts, dataset.events, today)?;
    lap("events");
    stats.attempts_changed = load_attempts(tx, &dataset.attempts, &dataset.steps, today)?;
    lap("attempts");
    Ok(())
}

/// The account of every instance, read once when a report or event first needs it.
#[derive(Default)]
struct InstanceAccounts(Option<HashMap<String, String>>);

impl InstanceAccounts {
    fn get<'s>(&'s mut self, tx: &Transaction<'_>, id: &str) -> Result<Option<&'s str>, LoadError> {
        Ok(self.all(tx)?.get(id).map(String::as_str))
    }

    /// Instance id → account id, read on the first call.
    fn all<'s>(
        &'s mut self,
        tx: &Transaction<'_>,
    ) -> Result<&'s HashMap<String, String>, LoadError> {
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
        Ok(self.0.get_or_insert_with(HashMap::new))
    }
}

/// The customer-reporting files of a dataset.
pub(in crate::storage::sqlite) struct CustomerFiles<'a> {
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
    let mut full = db(tx.prepare(&license_upsert_sql(LICENSE_BATCH)))?;
    let mut pending: Vec<&License> = Vec::with_capacity(LICENSE_BATCH);
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
        pending.push(l);
        if pending.len() == LICENSE_BATCH {
            db(write_licenses(&mut full, &pending))?;
            pending.clear();
        }
        db(feed.touch("license", &l.account_id, &l.id))?;
        changed.push(l.id.clone());
    }
    if !pending.is_empty() {
        let mut rest = db(tx.prepare(&license_upsert_sql(pending.len())))?;
        db(write_licenses(&mut rest, &pending))?;
    }
    db(feed.finish())?;
    Ok(changed)
}

/// Licenses written by one statement.
const LICENSE_BATCH: usize = 64;

fn license_upsert_sql(n: usize) -> String {
    format!(
        "INSERT INTO licenses(id, account_id, type, channel, created_at, expires_at, features,
           seats)
         VALUES {}
         ON CONFLICT(id) DO UPDATE SET type = excluded.type, channel = excluded.channel,
           created_at = excluded.created_at, expires_at = excluded.expires_at,
           features = excluded.features, seats = excluded.seats",
        vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; n].join(", ")
    )
}

/// Writes licenses with a [`license_upsert_sql`] statement of their number.
fn write_licenses(stmt: &mut rusqlite::Statement<'_>, rows: &[&License]) -> rusqlite::Result<()> {
    for (i, l) in rows.iter().enumerate() {
        let at = i * 8;
        stmt.raw_bind_parameter(at + 1, &l.id)?;
        stmt.raw_bind_parameter(at + 2, &l.account_id)?;
        stmt.raw_bind_parameter(at + 3, license_type_text(l.license_type))?;
        stmt.raw_bind_parameter(at + 4, &l.channel)?;
        stmt.raw_bind_parameter(at + 5, time_text(&l.created_at))?;
        stmt.raw_bind_parameter(at + 6, l.expires_at.as_ref().map(time_text))?;
        stmt.raw_bind_parameter(at + 7, feature_bits(&l.features))?;
        stmt.raw_bind_parameter(at + 8, seats_text(&l.seats))?;
    }
    stmt.raw_execute()?;
    Ok(())
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

/// Reports written by one statement.
const REPORT_BATCH: usize = 64;

/// Writes the changed reports, [`REPORT_BATCH`] per statement; returns how many changed.
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
    let mut full = db(tx.prepare(&report_upsert_sql(REPORT_BATCH)))?;
    let mut pending: Vec<&InstanceReport> = Vec::with_capacity(REPORT_BATCH);
    let write = |stmt: &mut rusqlite::Statement<'_>, rows: &[&InstanceReport]| {
        for (i, r) in rows.iter().enumerate() {
            bind_report(stmt, i, r)?;
        }
        stmt.raw_execute().map(drop)
    };
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
        pending.push(r);
        if pending.len() == REPORT_BATCH {
            db(write(&mut full, &pending))?;
            pending.clear();
        }
        db(feed.touch("report", &account, &r.instance_id))?;
        changed += 1;
    }
    if !pending.is_empty() {
        let mut rest = db(tx.prepare(&report_upsert_sql(pending.len())))?;
        db(write(&mut rest, &pending))?;
    }
    db(feed.finish())?;
    Ok(changed)
}

/// Events written by one statement while the table had none before the load.
const EVENT_BATCH: usize = 64;

/// `OR FAIL`: a statement that stops keeps the rows before, so SQLite needs no statement
/// journal (a copy of each page before the statement changes it); [`EventBatch::flush`]
/// deletes those rows itself.
fn event_insert_sql(n: usize) -> String {
    format!(
        "INSERT OR FAIL INTO instance_events(instance_id, field, previous, new, received_at)
         VALUES {}",
        vec!["(?, ?, ?, ?, ?)"; n].join(", ")
    )
}

/// Inserts new events, rewrites the values of events loaded before (same instance, time and
/// field); returns how many were new or changed.
///
/// Into a table without events (a first load) the rows go in [`EVENT_BATCH`] per statement.
/// A statement that meets a uniqueness conflict (a row repeated in the file) is undone, and
/// its rows go in again one by one, which names the first repeated row. The
/// new events then go on the feed in one statement, in id (file) order.
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
    let fresh = is_empty(tx, "instance_events")?;
    let mut single = SingleEvents {
        tx,
        before,
        insert: db(tx.prepare_cached(
            "INSERT INTO instance_events(instance_id, field, previous, new, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(instance_id, received_at, field) DO NOTHING",
        ))?,
        existing: db(tx.prepare_cached(
            "SELECT id, previous, new FROM instance_events
             WHERE instance_id = ?1 AND received_at = ?2 AND field = ?3",
        ))?,
        update: db(
            tx.prepare_cached("UPDATE instance_events SET previous = ?2, new = ?3 WHERE id = ?1")
        )?,
    };
    let mut batch = EventBatch {
        full: db(tx.prepare(&event_insert_sql(EVENT_BATCH)))?,
        rows: Vec::with_capacity(EVENT_BATCH),
        written: before,
    };
    let mut rows = rows.peekable();
    if rows.peek().is_none() {
        return Ok(0);
    }
    let accounts = instance_accounts.all(tx)?;
    let mut feed = db(FeedWriter::new(tx))?;
    let mut changed = 0;
    for row in rows {
        let row = row?;
        let e = &row.row;
        let account = accounts.get(&e.instance_id).map(String::as_str);
        if let Err(refused) = rules::check_event(&row, account.is_some(), today) {
            // A repeated row before this one is the first refusal.
            batch.flush(tx, &mut single)?;
            return Err(refused);
        }
        let account = account.unwrap_or_default();
        let at = time_text(&e.received_at);
        if fresh {
            batch.rows.push((row, at));
            if batch.rows.len() == EVENT_BATCH {
                changed += batch.flush(tx, &mut single)?;
            }
            continue;
        }
        if let Some(id) = single.write(&row, &at)? {
            db(feed.touch("event", account, &id.to_string()))?;
            changed += 1;
        }
    }
    changed += batch.flush(tx, &mut single)?;
    db(feed.finish())?;
    if fresh {
        // Every event is this load's: all go on the feed in id order (the file's).
        db(tx.execute(
            "INSERT OR REPLACE INTO feed (kind, account_id, key)
             SELECT 'event', i.account_id, e.id FROM instance_events e
             JOIN instances i ON i.id = e.instance_id ORDER BY e.id",
            [],
        ))?;
    }
    Ok(changed)
}

/// One event at a time: insert, or rewrite the values of an event loaded before.
struct SingleEvents<'t> {
    tx: &'t Transaction<'t>,
    before: i64,
    insert: rusqlite::CachedStatement<'t>,
    existing: rusqlite::CachedStatement<'t>,
    update: rusqlite::CachedStatement<'t>,
}

impl SingleEvents<'_> {
    /// Writes the event; returns its id when it is new or changed.
    fn write(&mut self, row: &Located<InstanceEvent>, at: &str) -> Result<Option<i64>, LoadError> {
        let e = &row.row;
        if db(self
            .insert
            .execute(params![e.instance_id, e.field, e.previous, e.new, at]))?
            == 1
        {
            return Ok(Some(self.tx.last_insert_rowid()));
        }
        let (id, previous, new): (i64, Option<String>, String) = db(self
            .existing
            .query_row(params![e.instance_id, at, e.field], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            }))?;
        if id > self.before {
            return Err(rules::duplicate_event(row));
        }
        if previous == e.previous && new == e.new {
            return Ok(None);
        }
        db(self.update.execute(params![id, e.previous, e.new]))?;
        Ok(Some(id))
    }
}

/// Checked events waiting for one multi-row statement, with their time text. They go on
/// the feed all together after the last one.
struct EventBatch<'t> {
    full: rusqlite::Statement<'t>,
    rows: Vec<(Located<InstanceEvent>, String)>,
    /// The highest event id before the waiting rows: a statement that stops has written
    /// exactly the ids above it.
    written: i64,
}

impl<'t> EventBatch<'t> {
    /// Writes the waiting rows; returns how many were written.
    fn flush(
        &mut self,
        tx: &'t Transaction<'_>,
        single: &mut SingleEvents<'_>,
    ) -> Result<usize, LoadError> {
        let n = self.rows.len();
        if n == 0 {
            return Ok(0);
        }
        let mut rest;
        let stmt = if n == EVENT_BATCH {
            &mut self.full
        } else {
            rest = db(tx.prepare(&event_insert_sql(n)))?;
            &mut rest
        };
        for (i, (row, at)) in self.rows.iter().enumerate() {
            let e = &row.row;
            let p = i * 5;
            db(stmt.raw_bind_parameter(p + 1, &e.instance_id))?;
            db(stmt.raw_bind_parameter(p + 2, &e.field))?;
            db(stmt.raw_bind_parameter(p + 3, &e.previous))?;
            db(stmt.raw_bind_parameter(p + 4, &e.new))?;
            db(stmt.raw_bind_parameter(p + 5, at))?;
        }
        match stmt.raw_execute() {
            Ok(_) => self.written = tx.last_insert_rowid(),
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
                db(tx.execute("DELETE FROM instance_events WHERE id > ?1", [self.written]))?;
                for (row, at) in &self.rows {
                    single.write(row, at)?;
                }
                self.written = db(tx.query_row(
                    "SELECT COALESCE(MAX(id), 0) FROM instance_events",
                    [],
                    |r| r.get(0),
                ))?;
            }
            Err(e) => return Err(LoadError::Store(StoreError::from(e))),
        }
        self.rows.clear();
        Ok(n)
    }
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
