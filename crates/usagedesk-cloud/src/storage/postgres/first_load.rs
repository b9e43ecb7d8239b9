//! The daily rows of a first load (no daily or month-end rows stored), straight into their
//! tables: while the file lists its rows by account then date, each row goes to
//! `daily_usage` with `COPY`, and each (account, month)'s last row, known once the next key
//! starts, goes to `month_usage` with `COPY` too, with its feed position drawn in
//! (account, month) order. Nothing is staged, merged or sorted: a staging table and the
//! set-based merge cost more than the rows' own writes (measured at 10k accounts: 1.1 s to
//! merge and 1.7 s to derive the month ends, against 0.2 s for the copy).
//!
//! The rows go in chunks, each one `COPY` per table (a connection runs one `COPY` at a time),
//! so memory is bounded. At the first row out of that order (an earlier or repeated key)
//! the rest of the file is handed back for the staged path, which merges it over what was
//! copied (a later row of a date wins) and derives the month ends it touches again.
//!
//! Instance events into a database without any go the same way: with `COPY` into
//! `instance_events` and onto the feed, ids and positions drawn in file order. So do the
//! other entities' feed entries when the whole database was empty ([`append_new`]), and
//! the accounts, instances, licenses and reports of a load into tables without any
//! ([`copy_accounts`], [`copy_instances`], [`copy_licenses`], [`copy_reports`]): the file's rows are checked to be distinct first, so
//! the upsert's conflict handling has nothing to do.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use sqlx::postgres::PgConnection;
use usagedesk_domain::customer::{InstanceEvent, InstanceReport, License};
use usagedesk_domain::month::DateText;
use usagedesk_domain::{Account, PlanCatalog, UsageCounts};

use super::copy::Copy;
use super::customer_rows::license_type_text;
use crate::customers::rules::{feature_bits, seats_text, time_text as time_text_ms};
use crate::load::rules;
use crate::storage::{
    DailyRow, InstanceRow, LoadError, LoadStats, Located, RowError, RowStream, StoreError,
};

/// Daily rows copied per chunk.
const CHUNK: usize = 50_000;

fn store<T>(r: Result<T, StoreError>) -> Result<T, LoadError> {
    r.map_err(LoadError::Store)
}

/// A checked row, its texts borrowed from the accounts and the catalog.
#[derive(Clone, Copy)]
struct Row<'a> {
    account_id: &'a str,
    date: NaiveDate,
    plan: &'a str,
    counts: UsageCounts,
}

impl Row<'_> {
    fn month(&self) -> (i32, u32) {
        (self.date.year(), self.date.month())
    }

    fn same_month(&self, other: &Self) -> bool {
        self.account_id == other.account_id && self.month() == other.month()
    }
}

fn int(n: u64) -> i64 {
    n.min(i64::MAX as u64) as i64
}

/// Copies one chunk: its daily rows, then its finished month ends with feed positions drawn
/// for them (under the engine's write lock no other transaction draws meanwhile, so they are
/// consecutive), which the rows keep (month rows have no `feed` entry).
async fn flush(
    conn: &mut PgConnection,
    daily: &mut Vec<Row<'_>>,
    ends: &mut Vec<Row<'_>>,
    frozen: bool,
) -> Result<(), StoreError> {
    if !daily.is_empty() {
        let mut copy = Copy::start_frozen_if(
            frozen,
            conn,
            "daily_usage (account_id, date, plan, users_registered, users_with_token, \
             users_with_activity)",
        )
        .await?;
        for r in daily.iter() {
            copy.text(r.account_id)
                .text(DateText::new(r.date).as_str())
                .text(r.plan)
                .int(int(r.counts.users_registered))
                .int(int(r.counts.users_with_token))
                .int(int(r.counts.users_with_activity));
            copy.end_row().await?;
        }
        copy.finish().await?;
        daily.clear();
    }
    if ends.is_empty() {
        return Ok(());
    }
    let first = draw(conn, "'feed_seq'", ends.len()).await?;
    let month = |r: &Row<'_>| DateText::new(r.date).as_str()[..7].to_owned();
    let mut copy = Copy::start_frozen_if(
        frozen,
        conn,
        "month_usage (account_id, month, plan, snapshot_date, users_registered, \
         users_with_token, users_with_activity, seq)",
    )
    .await?;
    for (seq, r) in (first..).zip(ends.iter()) {
        copy.text(r.account_id)
            .text(&month(r))
            .text(r.plan)
            .text(DateText::new(r.date).as_str())
            .int(int(r.counts.users_registered))
            .int(int(r.counts.users_with_token))
            .int(int(r.counts.users_with_activity))
            .int(seq);
        copy.end_row().await?;
    }
    copy.finish().await?;
    ends.clear();
    Ok(())
}

/// Copies the rows of `rows` while they come in (account, date) order, each checked first by
/// [`rules::check_daily`]. Returns the rest of the stream, from the first row out of that
/// order, or `None` when every row went in. Adds to `stats.daily_rows` and
/// `stats.months_changed`.
pub(super) async fn copy_sorted<'r>(
    conn: &mut PgConnection,
    rows: RowStream<'r, DailyRow>,
    accounts: &HashMap<String, Account>,
    catalog: &PlanCatalog,
    today: NaiveDate,
    stats: &mut LoadStats,
    frozen: bool,
) -> Result<Option<RowStream<'r, DailyRow>>, LoadError> {
    let mut rows = rows;
    let mut daily: Vec<Row<'_>> = Vec::with_capacity(CHUNK);
    let mut ends: Vec<Row<'_>> = Vec::new();
    // The latest row: it ends its month unless the next row is of the same month.
    let mut prev: Option<Row<'_>> = None;
    let mut rest: Option<Located<DailyRow>> = None;
    for row in rows.by_ref() {
        let row = row?;
        let (account_id, plan) =
            rules::check_daily(&row.row, accounts, catalog, today).map_err(|m| row.error(m))?;
        let next = Row {
            account_id,
            date: row.row.date,
            plan,
            counts: row.row.counts,
        };
        if let Some(p) = prev {
            if (p.account_id, p.date) >= (next.account_id, next.date) {
                rest = Some(row);
                break;
            }
            if !p.same_month(&next) {
                ends.push(p);
                stats.months_changed += 1;
            }
        }
        prev = Some(next);
        daily.push(next);
        stats.daily_rows += 1;
        if daily.len() == CHUNK {
            store(flush(conn, &mut daily, &mut ends, frozen).await)?;
        }
    }
    // The latest row copied ends its month so far; rows handed back that change that month
    // derive it again.
    if let Some(p) = prev {
        ends.push(p);
        stats.months_changed += 1;
    }
    store(flush(conn, &mut daily, &mut ends, frozen).await)?;
    Ok(rest.map(|r| -> RowStream<'r, DailyRow> {
        Box::new(std::iter::once(Ok::<_, RowError>(r)).chain(rows))
    }))
}

/// Puts entities that have no feed entry yet on the feed's head, in the order given (an
/// entity given twice ends where its last touch puts it, as with `touch_all`), with `COPY`:
/// positions drawn in one call, no per-row conflict check. For a load into a database that
/// had no account and no feed entry, where each kind is touched by one call; a repeated
/// entry still fails on the feed's unique key (when it is built again, if the load dropped
/// it). Month rows and events keep their positions on their rows and take other paths.
pub(super) async fn append_new(
    conn: &mut PgConnection,
    touches: &[(&'static str, String, String)],
) -> Result<(), StoreError> {
    if touches.is_empty() {
        return Ok(());
    }
    if let Some((kind, _, _)) = touches.iter().find(|t| t.0 == "month" || t.0 == "event") {
        return Err(StoreError::other(format!(
            "the {kind} entries keep their positions on their rows: not appended to the feed alone"
        )));
    }
    let kept = super::feed::last_touches(touches);
    let first = draw(conn, "'feed_seq'", kept.len()).await?;
    let mut copy = Copy::start(conn, "feed (seq, kind, account_id, key)").await?;
    for (seq, (kind, account, key)) in (first..).zip(kept) {
        copy.int(seq).text(kind).text(account).text(key);
        copy.end_row().await?;
    }
    copy.finish().await?;
    Ok(())
}

/// Instances into a table without any, with the key each keeps (`None`: none) and whether
/// the load registers it; a registered key is recorded as an `instance_key_events` row at
/// `now`, in the rows' order.
pub(super) async fn copy_instances(
    conn: &mut PgConnection,
    rows: &[(&Located<InstanceRow>, Option<String>, bool)],
    now: &str,
) -> Result<(), StoreError> {
    let mut copy = Copy::start(
        conn,
        "instances (id, license_id, account_id, airgapped, public_key, last_report_at)",
    )
    .await?;
    for (located, key, _) in rows {
        let r = &located.row;
        copy.text(&r.id)
            .text(&r.license_id)
            .text(&r.account_id)
            .bool(r.airgapped)
            .opt_text(key.as_deref())
            .opt_text(r.last_report_at.as_ref().map(super::time_text).as_deref());
        copy.end_row().await?;
    }
    copy.finish().await?;
    let mut copy = Copy::start(
        conn,
        "instance_key_events (instance_id, at, event, actor, public_key, detail)",
    )
    .await?;
    for (located, key, _) in rows.iter().filter(|r| r.2) {
        copy.text(&located.row.id)
            .text(now)
            .text("registered")
            .text("instances.csv")
            .opt_text(key.as_deref())
            .text(&format!("loaded from {}", located.file));
        copy.end_row().await?;
    }
    copy.finish().await?;
    Ok(())
}

/// Accounts into a table without any.
pub(super) async fn copy_accounts(
    conn: &mut PgConnection,
    rows: &[&Account],
) -> Result<(), StoreError> {
    let mut copy = Copy::start(conn, "accounts (id, name, parent_id, status, created_at)").await?;
    for a in rows {
        copy.text(&a.id)
            .text(&a.name)
            .opt_text(a.parent_id.as_deref())
            .text(a.status.as_str())
            .text(&a.created_at.to_string());
        copy.end_row().await?;
    }
    copy.finish().await?;
    Ok(())
}

/// Licenses into a table without any.
pub(super) async fn copy_licenses(
    conn: &mut PgConnection,
    rows: &[&License],
) -> Result<(), StoreError> {
    let mut copy = Copy::start(
        conn,
        "licenses (id, account_id, type, channel, created_at, expires_at, features, seats)",
    )
    .await?;
    for l in rows {
        copy.text(&l.id)
            .text(&l.account_id)
            .text(license_type_text(l.license_type))
            .text(&l.channel)
            .text(&time_text_ms(&l.created_at))
            .opt_text(l.expires_at.as_ref().map(time_text_ms).as_deref())
            .int(feature_bits(&l.features))
            .text(&seats_text(&l.seats));
        copy.end_row().await?;
    }
    copy.finish().await?;
    Ok(())
}

/// Instance reports into a table without any.
pub(super) async fn copy_reports(
    conn: &mut PgConnection,
    rows: &[&InstanceReport],
) -> Result<(), StoreError> {
    let mut copy = Copy::start(
        conn,
        "instance_reports (instance_id, status, app_version, distribution, kubernetes_version,
             embedded_cluster, nodes_ready, nodes_total, agent_version, cloud_provider, region,
             first_check_in, last_check_in)",
    )
    .await?;
    for r in rows {
        let c = &r.cluster;
        copy.text(&r.instance_id)
            .text(r.status.as_str())
            .text(&r.app_version)
            .text(&c.distribution)
            .text(&c.kubernetes_version)
            .bool(c.embedded_cluster)
            .opt_int(c.nodes_ready.map(i64::from))
            .opt_int(c.nodes_total.map(i64::from))
            .text(&c.agent_version)
            .opt_text(c.cloud_provider.as_deref())
            .opt_text(c.region.as_deref())
            .text(&time_text_ms(&r.first_check_in))
            .text(&time_text_ms(&r.last_check_in));
        copy.end_row().await?;
    }
    copy.finish().await?;
    Ok(())
}

/// Events copied per chunk.
const EVENT_CHUNK: usize = 20_000;

/// Draws `n` consecutive values of the sequence `seq` (under the engine's write lock no other
/// transaction draws meanwhile); returns the first.
async fn draw(conn: &mut PgConnection, seq: &str, n: usize) -> Result<i64, StoreError> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    let last: i64 = sqlx::query_scalar(&format!("SELECT setval({seq}, nextval({seq}) + $1 - 1)"))
        .bind(n)
        .fetch_one(&mut *conn)
        .await?;
    Ok(last - n + 1)
}

/// Copies one chunk of new events with ids and feed positions drawn in file order (each event
/// keeps its position, `instance_events.seq`), then their feed entries in the same order.
async fn flush_events(
    conn: &mut PgConnection,
    chunk: &mut Vec<(Located<InstanceEvent>, String, &str)>,
) -> Result<(), StoreError> {
    if chunk.is_empty() {
        return Ok(());
    }
    let ids = draw(
        conn,
        "pg_get_serial_sequence('instance_events', 'id')",
        chunk.len(),
    )
    .await?;
    let seqs = draw(conn, "'feed_seq'", chunk.len()).await?;
    let mut copy = Copy::start(
        conn,
        "instance_events (id, instance_id, field, previous, new, received_at, seq)",
    )
    .await?;
    for ((seq, id), (row, at, _)) in (seqs..).zip(ids..).zip(chunk.iter()) {
        let e = &row.row;
        copy.int(id)
            .text(&e.instance_id)
            .text(&e.field)
            .opt_text(e.previous.as_deref())
            .text(&e.new)
            .text(at)
            .int(seq);
        copy.end_row().await?;
    }
    copy.finish().await?;
    let mut copy = Copy::start(conn, "feed (seq, kind, account_id, key)").await?;
    for ((seq, id), (_, _, account)) in (seqs..).zip(ids..).zip(chunk.iter()) {
        copy.int(seq)
            .text("event")
            .text(account)
            .text(&id.to_string());
        copy.end_row().await?;
    }
    copy.finish().await?;
    chunk.clear();
    Ok(())
}

/// The events of a load into a database without events, straight into `instance_events` and
/// the feed with `COPY`, ids and positions in file order (as the staged path gives them),
/// each row checked first by [`rules::check_event`]; a second row of one instance, time and
/// field is refused. Returns how many were written.
pub(super) async fn copy_new_events(
    conn: &mut PgConnection,
    instance_accounts: &HashMap<String, String>,
    rows: RowStream<'_, InstanceEvent>,
    today: NaiveDate,
) -> Result<usize, LoadError> {
    let mut seen: HashSet<(String, String, String)> = HashSet::new();
    let mut chunk = Vec::with_capacity(EVENT_CHUNK);
    let mut written = 0;
    for row in rows {
        let row = row?;
        let account = instance_accounts.get(&row.row.instance_id);
        rules::check_event(&row, account.is_some(), today)?;
        let at = crate::customers::rules::time_text(&row.row.received_at);
        let e = &row.row;
        if !seen.insert((e.instance_id.clone(), at.clone(), e.field.clone())) {
            return Err(rules::duplicate_event(&row));
        }
        chunk.push((row, at, account.map_or("", String::as_str)));
        written += 1;
        if chunk.len() == EVENT_CHUNK {
            store(flush_events(conn, &mut chunk).await)?;
        }
    }
    store(flush_events(conn, &mut chunk).await)?;
    Ok(written)
}
