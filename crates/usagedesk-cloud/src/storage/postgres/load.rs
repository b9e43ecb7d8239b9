//! A load on PostgreSQL, in one transaction holding the write lock: the accounts merged by the
//! service's rules, the closure table, tombstones and resends of moved subtrees, then
//! instances, customer files and daily rows. Every row is checked by
//! [`crate::load::rules`] before it is written; the first refusal rolls everything back.
//!
//! Bulk paths: stored rows a file may change are read once into memory (not one query per
//! row); changed rows go in with one statement per 10,000 (arrays through `unnest`); the
//! streamed files (daily rows, events) go through `COPY` into a temporary table, and
//! set-based statements merge them: daily rows (of one date given twice, the later wins),
//! then every touched month's end derived in SQL, written when it changed and moved to the
//! head of the feed in (account, month) order. Into a database without daily rows or without
//! events (a first load), the rows in file order skip the staging and go straight into their
//! tables and onto the feed ([`first_load`]).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use sqlx::postgres::PgConnection;
use usagedesk_domain::customer::{InstallAttempt, InstanceReport, License};
use usagedesk_domain::{Account, PlanCatalog};

use super::copy::Copy;
use super::customer_rows::{
    self as rows, install_status_text, license_type_text, mode_text, registry_text, ATTEMPT_COLS,
    LICENSE_COLS, REPORT_COLS,
};
use super::customers as cust;
use super::feed::{touch, touch_all};
use super::{account_row, bulk_indexes, col, daily, first_load, time_text, ACCOUNT_COLS};
use crate::customers::rules::{feature_bits, seats_text};
use crate::load::rules;
use crate::storage::{
    Dataset, InstanceRow, LoadError, LoadStats, Located, RowStream, StepRow, StoreError,
};

/// Rows per array statement.
const CHUNK: usize = 10_000;

type Touches = Vec<(&'static str, String, String)>;

/// The tables whose foreign keys a load into an empty database drops
/// ([`bulk_indexes::drop_foreign_keys_if_alone`]): the accounts and the customer files'.
const KEYED_TABLES: &[&str] = &[
    "accounts",
    "instances",
    "licenses",
    "instance_reports",
    "instance_key_events",
    "install_attempts",
    "install_steps",
];

/// How a load moves the entities it wrote to the feed's head.
#[derive(Clone, Copy)]
enum FeedPath {
    /// The database had no account and no feed entry: every touch is of a new entry
    /// ([`first_load::append_new`]).
    New,
    /// Entries may exist: each is moved ([`touch_all`]).
    Stored,
}

impl FeedPath {
    async fn touch(self, tx: &mut PgConnection, touches: &Touches) -> Result<(), LoadError> {
        store(match self {
            FeedPath::New => first_load::append_new(tx, touches).await,
            FeedPath::Stored => touch_all(tx, touches).await,
        })
    }
}

fn store<T>(r: Result<T, StoreError>) -> Result<T, LoadError> {
    r.map_err(LoadError::Store)
}

fn db<T>(r: Result<T, sqlx::Error>) -> Result<T, LoadError> {
    r.map_err(|e| LoadError::Store(e.into()))
}

async fn is_empty(tx: &mut PgConnection, table: &str) -> Result<bool, LoadError> {
    db(
        sqlx::query_scalar(&format!("SELECT NOT EXISTS (SELECT 1 FROM {table})"))
            .fetch_one(&mut *tx)
            .await,
    )
}

pub(super) async fn catalog(conn: &mut PgConnection) -> Result<PlanCatalog, StoreError> {
    let rows = sqlx::query("SELECT id, name, seat_metric FROM plans ORDER BY position")
        .fetch_all(&mut *conn)
        .await?;
    Ok(PlanCatalog(
        rows.iter()
            .map(|r| {
                let metric: String = col(r, 2)?;
                // The column's CHECK admits only the three names.
                let metric = usagedesk_domain::Metric::from_column(&metric)
                    .ok_or_else(|| StoreError::Invalid(format!("seat metric '{metric}' stored")))?;
                Ok(
                    usagedesk_domain::Plan::new(col::<String>(r, 0)?, col::<String>(r, 1)?)
                        .with_seat_metric(metric),
                )
            })
            .collect::<Result<_, StoreError>>()?,
    ))
}

/// The body of [`crate::storage::Tenants::load`].
pub(super) async fn load_dataset(
    tx: &mut PgConnection,
    mut dataset: Dataset<'_>,
    today: NaiveDate,
) -> Result<LoadStats, LoadError> {
    let started = std::time::Instant::now();
    let mut stats = LoadStats::default();
    // The load's sorts (daily rows by key, month-ends, the indexes of a first load) in memory
    // rather than on disk.
    db(
        sqlx::raw_sql("SET LOCAL work_mem = '256MB'; SET LOCAL maintenance_work_mem = '256MB'")
            .execute(&mut *tx)
            .await,
    )?;
    if let Some(plans) = &dataset.plans {
        for (i, p) in plans.iter().enumerate() {
            db(sqlx::query(
                "INSERT INTO plans(id, name, position, seat_metric) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, position = excluded.position,
                     seat_metric = excluded.seat_metric",
            )
            .bind(&p.id)
            .bind(&p.name)
            .bind(i as i64)
            .bind(p.seat_metric.as_str())
            .execute(&mut *tx)
            .await)?;
        }
    }
    let catalog = store(catalog(tx).await)?;
    let feed = if is_empty(tx, "accounts").await? && is_empty(tx, "feed").await? {
        FeedPath::New
    } else {
        FeedPath::Stored
    };
    // Into an empty database the rows, each checked by the rules, go in without the per-row
    // checks of their foreign keys; the keys are added back (checking every row at once)
    // after the customer files. Every feed entry is new too: appended without the feed's
    // indexes, which are built once, after the last (the customer files'; month rows have no
    // feed entry).
    let (foreign_keys, feed_indexes) = match feed {
        FeedPath::New => (
            store(bulk_indexes::drop_foreign_keys_if_alone(tx, KEYED_TABLES).await)?,
            store(bulk_indexes::drop_indexes_if_alone(tx, &["feed"]).await)?,
        ),
        FeedPath::Stored => (None, None),
    };

    let stored = db(
        sqlx::query(&format!("SELECT {ACCOUNT_COLS} FROM accounts a"))
            .fetch_all(&mut *tx)
            .await,
    )?
    .iter()
    .map(|r| account_row(r, 0).map(|a| (a.id.clone(), a)))
    .collect::<Result<HashMap<_, _>, _>>()?;
    // Into a table without accounts every row is new: copied (its rows are distinct, checked
    // by the merge), not upserted.
    let stored_none = stored.is_empty();
    let merge = rules::merge_accounts(stored, &dataset.accounts)?;
    let all = &merge.all;
    let mut moved_subtrees = Vec::new();
    for old in &merge.moved {
        let anc: Vec<String> = db(sqlx::query_scalar(
            "SELECT ancestor FROM closure WHERE descendant = $1",
        )
        .bind(&old.id)
        .fetch_all(&mut *tx)
        .await)?;
        store(tombstone(tx, &old.id, &anc).await)?;
        moved_subtrees.push(old.id.clone());
    }
    let changed: Vec<&Account> = merge.changed.iter().map(|a| &a.row).collect();
    if stored_none {
        store(first_load::copy_accounts(tx, &changed).await)?;
    } else {
        for rows in changed.chunks(CHUNK) {
            db(sqlx::query(
                "INSERT INTO accounts(id, name, parent_id, status, created_at)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, parent_id = excluded.parent_id,
                   status = excluded.status, created_at = excluded.created_at",
            )
            .bind(rows.iter().map(|a| a.id.as_str()).collect::<Vec<_>>())
            .bind(rows.iter().map(|a| a.name.as_str()).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|a| a.parent_id.as_deref())
                    .collect::<Vec<_>>(),
            )
            .bind(rows.iter().map(|a| a.status.as_str()).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|a| a.created_at.to_string())
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *tx)
            .await)?;
        }
    }
    let touches: Touches = changed
        .iter()
        .map(|a| ("account", a.id.clone(), String::new()))
        .collect();
    feed.touch(tx, &touches).await?;
    stats.accounts_changed = merge.changed.len();
    if merge.tree_changed {
        // Into an empty database, without the closure's indexes (one is in descendant order,
        // the rows come in ancestor order), built once after.
        let indexes = match feed {
            FeedPath::New => store(bulk_indexes::drop_indexes_if_alone(tx, &["closure"]).await)?,
            FeedPath::Stored => None,
        };
        store(rebuild_closure(tx, all).await)?;
        if let Some(indexes) = indexes {
            store(indexes.restore(tx).await)?;
        }
    }
    for id in &moved_subtrees {
        store(resend_subtree(tx, id).await)?;
    }
    tracing::debug!("load: accounts, {:.2} s", started.elapsed().as_secs_f64());

    let changed_instances = load_instances(tx, feed, all, &dataset.instances, today).await?;
    stats.instances_changed = changed_instances.len();
    tracing::debug!("load: instances, {:.2} s", started.elapsed().as_secs_f64());
    let instance_lines: HashMap<String, (String, u64)> = dataset
        .instances
        .iter()
        .map(|i| (i.row.id.clone(), (i.file.to_string(), i.line)))
        .collect();
    let licenses = std::mem::take(&mut dataset.licenses);
    let changed_licenses = load_licenses(tx, feed, all, &catalog, &licenses, today).await?;
    stats.licenses_changed = changed_licenses.len();
    tracing::debug!("load: licenses, {:.2} s", started.elapsed().as_secs_f64());
    check_instance_licenses(
        tx,
        &changed_instances,
        &changed_licenses,
        &instance_lines,
        &licenses,
    )
    .await?;
    let instance_accounts: HashMap<String, String> = {
        let rows = db(sqlx::query("SELECT id, account_id FROM instances")
            .fetch_all(&mut *tx)
            .await)?;
        rows.iter()
            .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
            .collect::<Result<_, StoreError>>()?
    };
    stats.reports_changed =
        load_reports(tx, feed, &instance_accounts, &dataset.reports, today).await?;
    tracing::debug!("load: reports, {:.2} s", started.elapsed().as_secs_f64());
    let events = std::mem::replace(&mut dataset.events, Box::new(std::iter::empty()));
    stats.events_changed = load_events(tx, &instance_accounts, events, today).await?;
    tracing::debug!("load: events, {:.2} s", started.elapsed().as_secs_f64());
    stats.attempts_changed =
        load_attempts(tx, feed, &dataset.attempts, &dataset.steps, today).await?;
    if let Some(keys) = foreign_keys {
        store(keys.restore(tx).await)?;
    }
    if let Some(indexes) = feed_indexes {
        store(indexes.restore(tx).await)?;
    }
    tracing::debug!(
        "load: instances and customer data, {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let daily = std::mem::replace(&mut dataset.daily, Box::new(std::iter::empty()));
    load_daily(tx, daily, all, &catalog, today, &mut stats).await?;
    tracing::debug!("load: daily rows, {:.2} s", started.elapsed().as_secs_f64());
    // A load can change a table's size many times over: fresh statistics keep the plans of
    // the reads that follow (feed pages, subtrees) on their indexes.
    db(sqlx::query(
        "ANALYZE accounts, closure, daily_usage, month_usage, feed, tombstone_scope, instances,
             licenses, instance_reports, instance_events, install_attempts, install_steps",
    )
    .execute(&mut *tx)
    .await)?;
    tracing::debug!("load: analyzed, {:.2} s", started.elapsed().as_secs_f64());
    Ok(stats)
}

/// Records that `id`'s subtree left the view of every scope that saw it through
/// `old_ancestors` (its one tombstone moves to the head, keeping the scopes of the earlier).
async fn tombstone(
    tx: &mut PgConnection,
    id: &str,
    old_ancestors: &[String],
) -> Result<(), StoreError> {
    let earlier: Option<i64> = sqlx::query_scalar(
        "SELECT seq FROM feed WHERE kind = 'tombstone' AND account_id = $1 AND key = ''",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let seq = touch(tx, "tombstone", id, "").await?;
    if let Some(earlier) = earlier {
        sqlx::query(
            "INSERT INTO tombstone_scope(ancestor, seq)
             SELECT ancestor, $2 FROM tombstone_scope WHERE seq = $1
             ON CONFLICT DO NOTHING",
        )
        .bind(earlier)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM tombstone_scope WHERE seq = $1")
            .bind(earlier)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO tombstone_scope(ancestor, seq) SELECT a, $2 FROM unnest($1::text[]) AS u(a)
         ON CONFLICT DO NOTHING",
    )
    .bind(old_ancestors)
    .bind(seq)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Rebuilds the closure table from the full account set (validated to be a forest), by COPY.
async fn rebuild_closure(
    tx: &mut PgConnection,
    accounts: &HashMap<String, Account>,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM closure").execute(&mut *tx).await?;
    // In key order, each row lands at the end of the primary key's index.
    let mut rows: Vec<(&str, &str, i64)> = Vec::with_capacity(accounts.len() * 4);
    for a in accounts.values() {
        let mut at = Some(a);
        let mut depth = 0i64;
        while let Some(node) = at {
            rows.push((&node.id, &a.id, depth));
            depth += 1;
            at = node.parent_id.as_ref().and_then(|p| accounts.get(p));
        }
    }
    rows.sort_unstable();
    let mut copy = Copy::start(tx, "closure (ancestor, descendant, depth)").await?;
    for (ancestor, descendant, depth) in rows {
        copy.text(ancestor).text(descendant).int(depth);
        copy.end_row().await?;
    }
    copy.finish().await?;
    Ok(())
}

/// Sends a moved subtree again, in full, to the scopes that now see it.
async fn resend_subtree(tx: &mut PgConnection, id: &str) -> Result<(), StoreError> {
    let descendants: Vec<String> =
        sqlx::query_scalar("SELECT descendant FROM closure WHERE ancestor = $1")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
    for d in descendants {
        touch(tx, "account", &d, "").await?;
        let months: Vec<String> =
            sqlx::query_scalar("SELECT month FROM month_usage WHERE account_id = $1")
                .bind(&d)
                .fetch_all(&mut *tx)
                .await?;
        let mut touches: Touches = months
            .into_iter()
            .map(|m| ("month", d.clone(), m))
            .collect();
        let instances: Vec<String> =
            sqlx::query_scalar("SELECT id FROM instances WHERE account_id = $1")
                .bind(&d)
                .fetch_all(&mut *tx)
                .await?;
        touches.extend(instances.into_iter().map(|i| ("instance", d.clone(), i)));
        touch_all(tx, &touches).await?;
        cust::touch_customer_data_of(tx, &d).await?;
    }
    Ok(())
}

/// Validates the instance rows and writes the changed ones (see the SQLite engine's
/// `instances::load` for the rules of keys); returns the ids that changed.
async fn load_instances(
    tx: &mut PgConnection,
    feed: FeedPath,
    accounts: &HashMap<String, Account>,
    rows: &[Located<InstanceRow>],
    today: NaiveDate,
) -> Result<Vec<String>, LoadError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    type Stored = (String, String, bool, Option<String>, Option<String>);
    let empty = is_empty(tx, "instances").await?;
    let stored: HashMap<String, Stored> = if empty {
        HashMap::new()
    } else {
        let rows = db(sqlx::query(
            "SELECT id, license_id, account_id, airgapped, public_key, last_report_at FROM instances",
        )
        .fetch_all(&mut *tx)
        .await)?;
        rows.iter()
            .map(|r| {
                Ok((
                    col(r, 0)?,
                    (col(r, 1)?, col(r, 2)?, col(r, 3)?, col(r, 4)?, col(r, 5)?),
                ))
            })
            .collect::<Result<_, StoreError>>()?
    };
    let mut seen = HashSet::new();
    let mut changed: Vec<(&Located<InstanceRow>, Option<String>, bool)> = Vec::new();
    for located in rows {
        let r = &located.row;
        let old = stored.get(&r.id);
        rules::check_instance(
            located,
            &mut seen,
            accounts,
            old.map(|o| o.1.as_str()),
            today,
        )?;
        let old_key = old.and_then(|o| o.3.as_deref());
        let key = r.public_key.as_deref().or(old_key);
        if let Some(o) = old {
            // Times are stored as `time_text`, which orders as text.
            let report_moves = r
                .last_report_at
                .is_some_and(|t| o.4.as_deref().is_none_or(|s| time_text(&t).as_str() > s));
            if !report_moves
                && (o.0.as_str(), o.1.as_str(), o.2, o.3.as_deref())
                    == (
                        r.license_id.as_str(),
                        r.account_id.as_str(),
                        r.airgapped,
                        key,
                    )
            {
                continue;
            }
        }
        let registers = r.public_key.as_deref().is_some_and(|k| Some(k) != old_key);
        changed.push((located, key.map(str::to_owned), registers));
    }
    // The load runs as of the wall clock, like the rest of what it writes.
    let now = time_text(&chrono::Utc::now());
    if empty {
        store(first_load::copy_instances(tx, &changed, &now).await)?;
    } else {
        for chunk in changed.chunks(CHUNK) {
            db(sqlx::query(
                "INSERT INTO instances(id, license_id, account_id, airgapped, public_key, last_report_at)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::text[],
                                      $6::text[])
                 ON CONFLICT (id) DO UPDATE SET license_id = excluded.license_id,
                   airgapped = excluded.airgapped, public_key = excluded.public_key,
                   last_report_at = CASE
                     WHEN instances.last_report_at IS NULL
                       OR excluded.last_report_at > instances.last_report_at
                     THEN coalesce(excluded.last_report_at, instances.last_report_at)
                     ELSE instances.last_report_at END",
            )
            .bind(
                chunk
                    .iter()
                    .map(|c| c.0.row.id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                chunk
                    .iter()
                    .map(|c| c.0.row.license_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                chunk
                    .iter()
                    .map(|c| c.0.row.account_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(chunk.iter().map(|c| c.0.row.airgapped).collect::<Vec<_>>())
            .bind(chunk.iter().map(|c| c.1.as_deref()).collect::<Vec<_>>())
            .bind(
                chunk
                    .iter()
                    .map(|c| c.0.row.last_report_at.as_ref().map(time_text))
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *tx)
            .await)?;
            let registered: Vec<_> = chunk.iter().filter(|c| c.2).collect();
            if !registered.is_empty() {
                db(sqlx::query(
                    "INSERT INTO instance_key_events(instance_id, at, event, actor, public_key, detail)
                     SELECT i, $2, 'registered', 'instances.csv', k, d
                     FROM unnest($1::text[], $3::text[], $4::text[]) WITH ORDINALITY AS u(i, k, d, n)
                     ORDER BY n",
                )
                .bind(
                    registered
                        .iter()
                        .map(|c| c.0.row.id.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind(&now)
                .bind(
                    registered
                        .iter()
                        .map(|c| c.1.as_deref())
                        .collect::<Vec<_>>(),
                )
                .bind(
                    registered
                        .iter()
                        .map(|c| format!("loaded from {}", c.0.file))
                        .collect::<Vec<_>>(),
                )
                .execute(&mut *tx)
                .await)?;
            }
        }
    }
    let touches: Touches = changed
        .iter()
        .map(|c| ("instance", c.0.row.account_id.clone(), c.0.row.id.clone()))
        .collect();
    feed.touch(tx, &touches).await?;
    Ok(changed.iter().map(|c| c.0.row.id.clone()).collect())
}

async fn load_licenses(
    tx: &mut PgConnection,
    feed: FeedPath,
    accounts: &HashMap<String, Account>,
    catalog: &PlanCatalog,
    rows: &[Located<License>],
    today: NaiveDate,
) -> Result<Vec<String>, LoadError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let empty = is_empty(tx, "licenses").await?;
    let stored: HashMap<String, License> = if empty {
        HashMap::new()
    } else {
        let rows = db(sqlx::query(&format!(
            "SELECT l.id, l.account_id, {LICENSE_COLS} FROM licenses l"
        ))
        .fetch_all(&mut *tx)
        .await)?;
        rows.iter()
            .map(|r| {
                let l = rows::license_row(r, 2, col(r, 0)?, col(r, 1)?)?;
                Ok((l.id.clone(), l))
            })
            .collect::<Result<_, StoreError>>()?
    };
    let mut seen = HashSet::new();
    let mut changed: Vec<&License> = Vec::new();
    for row in rows {
        rules::check_license(row, &mut seen, accounts, catalog, today)?;
        if let Some(old) = stored.get(&row.row.id) {
            rules::check_license_account(row, &old.account_id)?;
            if *old == row.row {
                continue;
            }
        }
        changed.push(&row.row);
    }
    if empty {
        store(first_load::copy_licenses(tx, &changed).await)?;
    } else {
        for chunk in changed.chunks(CHUNK) {
            db(sqlx::query(
                "INSERT INTO licenses(id, account_id, type, channel, created_at, expires_at, features,
                   seats)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                      $6::text[], $7::bigint[], $8::text[])
                 ON CONFLICT (id) DO UPDATE SET type = excluded.type, channel = excluded.channel,
                   created_at = excluded.created_at, expires_at = excluded.expires_at,
                   features = excluded.features, seats = excluded.seats",
            )
            .bind(chunk.iter().map(|l| l.id.as_str()).collect::<Vec<_>>())
            .bind(
                chunk
                    .iter()
                    .map(|l| l.account_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                chunk
                    .iter()
                    .map(|l| license_type_text(l.license_type))
                    .collect::<Vec<_>>(),
            )
            .bind(chunk.iter().map(|l| l.channel.as_str()).collect::<Vec<_>>())
            .bind(
                chunk
                    .iter()
                    .map(|l| time_text_ms(&l.created_at))
                    .collect::<Vec<_>>(),
            )
            .bind(
                chunk
                    .iter()
                    .map(|l| l.expires_at.as_ref().map(time_text_ms))
                    .collect::<Vec<_>>(),
            )
            .bind(
                chunk
                    .iter()
                    .map(|l| feature_bits(&l.features))
                    .collect::<Vec<_>>(),
            )
            .bind(
                chunk
                    .iter()
                    .map(|l| seats_text(&l.seats))
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *tx)
            .await)?;
        }
    }
    let touches: Touches = changed
        .iter()
        .map(|l| ("license", l.account_id.clone(), l.id.clone()))
        .collect();
    feed.touch(tx, &touches).await?;
    Ok(changed.iter().map(|l| l.id.clone()).collect())
}

/// Customer tables keep times with milliseconds.
fn time_text_ms(t: &chrono::DateTime<chrono::Utc>) -> String {
    crate::customers::rules::time_text(t)
}

/// An instance's license, when the cloud has it, must belong to the instance's account or one
/// of its ancestors: checked for the instances and licenses this load changed.
async fn check_instance_licenses(
    tx: &mut PgConnection,
    changed_instances: &[String],
    changed_licenses: &[String],
    instance_lines: &HashMap<String, (String, u64)>,
    licenses: &[Located<License>],
) -> Result<(), LoadError> {
    if changed_instances.is_empty() && changed_licenses.is_empty() {
        return Ok(());
    }
    let found = db(sqlx::query(
        "SELECT i.id, i.account_id, l.id, l.account_id
         FROM instances i JOIN licenses l ON l.id = i.license_id
         WHERE (i.id = ANY($1) OR l.id = ANY($2))
           AND NOT EXISTS (SELECT 1 FROM closure c
                           WHERE c.ancestor = l.account_id AND c.descendant = i.account_id)
         ORDER BY i.id LIMIT 1",
    )
    .bind(changed_instances)
    .bind(changed_licenses)
    .fetch_optional(&mut *tx)
    .await)?;
    let Some(r) = found else {
        return Ok(());
    };
    let (instance, instance_account, license, license_account): (String, String, String, String) =
        (col(&r, 0)?, col(&r, 1)?, col(&r, 2)?, col(&r, 3)?);
    Err(rules::LicenseMismatch {
        instance: &instance,
        instance_account: &instance_account,
        license: &license,
        license_account: &license_account,
    }
    .error(instance_lines, licenses))
}

async fn load_reports(
    tx: &mut PgConnection,
    feed: FeedPath,
    instance_accounts: &HashMap<String, String>,
    rows: &[Located<InstanceReport>],
    today: NaiveDate,
) -> Result<usize, LoadError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let empty = is_empty(tx, "instance_reports").await?;
    let stored: HashMap<String, InstanceReport> = if empty {
        HashMap::new()
    } else {
        let rows = db(sqlx::query(&format!(
            "SELECT r.instance_id, {REPORT_COLS} FROM instance_reports r"
        ))
        .fetch_all(&mut *tx)
        .await)?;
        rows.iter()
            .map(|r| {
                let id: String = col(r, 0)?;
                Ok((id.clone(), rows::report_row(r, 1, id)?))
            })
            .collect::<Result<_, StoreError>>()?
    };
    let mut seen = HashSet::new();
    let mut touches: Touches = Vec::new();
    let mut changed: Vec<&InstanceReport> = Vec::new();
    for row in rows {
        let r = &row.row;
        let account = instance_accounts.get(&r.instance_id);
        rules::check_report(row, &mut seen, account.is_some(), today)?;
        if stored.get(&r.instance_id) == Some(r) {
            continue;
        }
        changed.push(r);
        touches.push((
            "report",
            account.cloned().unwrap_or_default(),
            r.instance_id.clone(),
        ));
    }
    if empty {
        store(first_load::copy_reports(tx, &changed).await)?;
    } else {
        for chunk in changed.chunks(CHUNK) {
            let text =
                |f: fn(&InstanceReport) -> &str| chunk.iter().map(|r| f(r)).collect::<Vec<_>>();
            let opt = |f: fn(&InstanceReport) -> Option<&str>| {
                chunk.iter().map(|r| f(r)).collect::<Vec<_>>()
            };
            let nodes = |f: fn(&InstanceReport) -> Option<u32>| {
                chunk
                    .iter()
                    .map(|r| f(r).map(i64::from))
                    .collect::<Vec<_>>()
            };
            db(sqlx::query(
                "INSERT INTO instance_reports(instance_id, status, app_version, distribution,
                   kubernetes_version, embedded_cluster, nodes_ready, nodes_total, agent_version,
                   cloud_provider, region, first_check_in, last_check_in)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                     $6::bool[], $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[],
                     $12::text[], $13::text[])
                 ON CONFLICT (instance_id) DO UPDATE SET status = excluded.status,
                   app_version = excluded.app_version, distribution = excluded.distribution,
                   kubernetes_version = excluded.kubernetes_version,
                   embedded_cluster = excluded.embedded_cluster, nodes_ready = excluded.nodes_ready,
                   nodes_total = excluded.nodes_total, agent_version = excluded.agent_version,
                   cloud_provider = excluded.cloud_provider, region = excluded.region,
                   first_check_in = excluded.first_check_in, last_check_in = excluded.last_check_in",
            )
            .bind(text(|r| &r.instance_id))
            .bind(text(|r| r.status.as_str()))
            .bind(text(|r| &r.app_version))
            .bind(text(|r| &r.cluster.distribution))
            .bind(text(|r| &r.cluster.kubernetes_version))
            .bind(
                chunk
                    .iter()
                    .map(|r| r.cluster.embedded_cluster)
                    .collect::<Vec<_>>(),
            )
            .bind(nodes(|r| r.cluster.nodes_ready))
            .bind(nodes(|r| r.cluster.nodes_total))
            .bind(text(|r| &r.cluster.agent_version))
            .bind(opt(|r| r.cluster.cloud_provider.as_deref()))
            .bind(opt(|r| r.cluster.region.as_deref()))
            .bind(
                chunk
                    .iter()
                    .map(|r| time_text_ms(&r.first_check_in))
                    .collect::<Vec<_>>(),
            )
            .bind(
                chunk
                    .iter()
                    .map(|r| time_text_ms(&r.last_check_in))
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *tx)
            .await)?;
        }
    }
    feed.touch(tx, &touches).await?;
    Ok(touches.len())
}

/// Inserts new events and rewrites the values of events loaded before (same instance, time
/// and field), through COPY; returns how many were new or changed. A second row of one
/// instance, time and field in the file is refused (the first such row is named).
async fn load_events(
    tx: &mut PgConnection,
    instance_accounts: &HashMap<String, String>,
    rows: RowStream<'_, usagedesk_domain::customer::InstanceEvent>,
    today: NaiveDate,
) -> Result<usize, LoadError> {
    let mut rows = rows.peekable();
    if rows.peek().is_none() {
        return Ok(0);
    }
    if is_empty(tx, "instance_events").await? {
        // Its unique key (instance, time, field) takes rows in no order: built once after,
        // when the table is this load's alone.
        let dropped = store(bulk_indexes::drop_indexes_if_alone(tx, &["instance_events"]).await)?;
        let written =
            first_load::copy_new_events(tx, instance_accounts, Box::new(rows), today).await?;
        if let Some(dropped) = dropped {
            store(dropped.restore(tx).await)?;
        }
        return Ok(written);
    }
    db(sqlx::raw_sql(
        "DROP TABLE IF EXISTS pg_temp.load_events;
         CREATE TEMP TABLE load_events (
             ord         BIGINT NOT NULL,
             instance_id TEXT COLLATE \"C\" NOT NULL,
             field       TEXT COLLATE \"C\" NOT NULL,
             previous    TEXT,
             new         TEXT NOT NULL,
             received_at TEXT COLLATE \"C\" NOT NULL
         ) ON COMMIT DROP",
    )
    .execute(&mut *tx)
    .await)?;
    let mut seen: HashSet<(String, String, String)> = HashSet::new();
    {
        let mut copy = store(
            Copy::start(
                tx,
                "load_events (ord, instance_id, field, previous, new, received_at)",
            )
            .await,
        )?;
        for (ord, row) in rows.enumerate() {
            let row = row?;
            let e = &row.row;
            rules::check_event(&row, instance_accounts.contains_key(&e.instance_id), today)?;
            let at = time_text_ms(&e.received_at);
            if !seen.insert((e.instance_id.clone(), at.clone(), e.field.clone())) {
                return Err(rules::duplicate_event(&row));
            }
            copy.int(ord as i64)
                .text(&e.instance_id)
                .text(&e.field)
                .opt_text(e.previous.as_deref())
                .text(&e.new)
                .text(&at);
            store(copy.end_row().await)?;
        }
        store(copy.finish().await)?;
    }
    drop(seen);
    // Positions drawn from here on are this statement's (under the write lock).
    let before: i64 = db(sqlx::query_scalar(super::feed::HEAD)
        .fetch_one(&mut *tx)
        .await)?;
    // New events get ids in file order; every new or changed one goes on the feed in file
    // order.
    let changed = db(sqlx::query(
        "WITH written AS (
             INSERT INTO instance_events AS e (instance_id, field, previous, new, received_at)
             SELECT instance_id, field, previous, new, received_at FROM load_events ORDER BY ord
             ON CONFLICT (instance_id, received_at, field) DO UPDATE
               SET previous = excluded.previous, new = excluded.new
               WHERE (e.previous, e.new) IS DISTINCT FROM (excluded.previous, excluded.new)
             RETURNING e.id, e.instance_id, e.received_at, e.field)
         INSERT INTO feed(seq, kind, account_id, key)
         SELECT nextval('feed_seq'), 'event', account_id, key FROM (
             SELECT i.account_id, CAST(w.id AS TEXT) AS key
             FROM written w
             JOIN load_events s ON s.instance_id = w.instance_id
                  AND s.received_at = w.received_at AND s.field = w.field
             JOIN instances i ON i.id = w.instance_id
             ORDER BY s.ord) t
         ON CONFLICT (account_id, kind, key) DO UPDATE SET seq = excluded.seq",
    )
    .execute(&mut *tx)
    .await)?
    .rows_affected();
    // Each event keeps its position. A separate statement: rows the one above inserted are
    // not visible to its own parts.
    db(sqlx::query(
        "UPDATE instance_events e SET seq = f.seq FROM feed f
         WHERE f.seq > $1 AND f.kind = 'event'
           AND e.id = CASE WHEN f.kind = 'event' THEN CAST(f.key AS BIGINT) END",
    )
    .bind(before)
    .execute(&mut *tx)
    .await)?;
    Ok(changed as usize)
}

/// Writes the changed attempts and the steps of the attempts the steps file names; returns
/// how many attempts changed (row or steps).
async fn load_attempts(
    tx: &mut PgConnection,
    feed: FeedPath,
    attempts: &[Located<InstallAttempt>],
    steps: &[Located<StepRow>],
    today: NaiveDate,
) -> Result<usize, LoadError> {
    if attempts.is_empty() && steps.is_empty() {
        return Ok(0);
    }
    let license_accounts: HashMap<String, String> = {
        let rows = db(sqlx::query("SELECT id, account_id FROM licenses")
            .fetch_all(&mut *tx)
            .await)?;
        rows.iter()
            .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
            .collect::<Result<_, StoreError>>()?
    };
    let stored: HashMap<String, InstallAttempt> = if is_empty(tx, "install_attempts").await? {
        HashMap::new()
    } else {
        let rows = db(sqlx::query(&format!(
            "SELECT t.id, {ATTEMPT_COLS} FROM install_attempts t"
        ))
        .fetch_all(&mut *tx)
        .await)?;
        rows.iter()
            .map(|r| {
                let id: String = col(r, 0)?;
                Ok((id.clone(), rows::attempt_row(r, 1, id)?))
            })
            .collect::<Result<_, StoreError>>()?
    };
    // attempt id → (account, started_at, changed), in the order first met.
    let mut order: Vec<String> = Vec::new();
    let mut known: HashMap<String, (String, chrono::DateTime<chrono::Utc>, bool)> = HashMap::new();
    let mut write: Vec<&InstallAttempt> = Vec::new();
    for row in attempts {
        let a = &row.row;
        let seen = known.contains_key(&a.id);
        let account = if seen {
            None
        } else {
            license_accounts.get(&a.license_id)
        };
        let old = account.and(stored.get(&a.id));
        rules::check_attempt(
            row,
            seen,
            account.is_some(),
            old.map(|o| o.license_id.as_str()),
            today,
        )?;
        let changed = old != Some(a);
        if changed {
            write.push(a);
        }
        order.push(a.id.clone());
        known.insert(
            a.id.clone(),
            (account.cloned().unwrap_or_default(), a.started_at, changed),
        );
    }
    for chunk in write.chunks(CHUNK) {
        db(sqlx::query(
            "INSERT INTO install_attempts(id, license_id, status, started_at, user_email,
               environment, mode, registry)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::text[], $8::text[])
             ON CONFLICT (id) DO UPDATE SET status = excluded.status,
               started_at = excluded.started_at, user_email = excluded.user_email,
               environment = excluded.environment, mode = excluded.mode,
               registry = excluded.registry",
        )
        .bind(chunk.iter().map(|a| a.id.as_str()).collect::<Vec<_>>())
        .bind(
            chunk
                .iter()
                .map(|a| a.license_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            chunk
                .iter()
                .map(|a| install_status_text(a.status))
                .collect::<Vec<_>>(),
        )
        .bind(
            chunk
                .iter()
                .map(|a| time_text_ms(&a.started_at))
                .collect::<Vec<_>>(),
        )
        .bind(
            chunk
                .iter()
                .map(|a| a.user_email.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            chunk
                .iter()
                .map(|a| a.environment.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(chunk.iter().map(|a| mode_text(a.mode)).collect::<Vec<_>>())
        .bind(
            chunk
                .iter()
                .map(|a| registry_text(a.registry))
                .collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await)?;
    }

    // Steps: the file's steps of an attempt replace its stored ones.
    let mut step_order: Vec<&str> = Vec::new();
    let mut grouped: HashMap<&str, Vec<&Located<StepRow>>> = HashMap::new();
    for row in steps {
        let id = row.row.attempt_id.as_str();
        if !known.contains_key(id) {
            let attempt = db(sqlx::query(
                "SELECT l.account_id, t.started_at FROM install_attempts t
                 JOIN licenses l ON l.id = t.license_id WHERE t.id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await)?;
            let Some(attempt) = attempt else {
                return Err(rules::unknown_attempt(row));
            };
            order.push(id.to_owned());
            known.insert(
                id.to_owned(),
                (col(&attempt, 0)?, super::time_col(&attempt, 1)?, false),
            );
        }
        let list = grouped.entry(id).or_insert_with(|| {
            step_order.push(id);
            Vec::new()
        });
        let (_, started, _) = &known[id];
        rules::check_step(row, started, list.last().copied(), today)?;
        list.push(row);
    }
    let steps_stored = !is_empty(tx, "install_steps").await?;
    let (mut ids, mut positions, mut names, mut ats) = (vec![], vec![], vec![], vec![]);
    let mut replaced: Vec<&str> = Vec::new();
    for id in step_order {
        let new: Vec<_> = grouped[id].iter().map(|r| r.row.step.clone()).collect();
        if steps_stored && store(rows::steps_of(tx, id).await)? == new {
            continue;
        }
        replaced.push(id);
        for (i, s) in new.iter().enumerate() {
            ids.push(id);
            positions.push(i as i64);
            names.push(s.name.clone());
            ats.push(time_text_ms(&s.at));
        }
        if let Some(k) = known.get_mut(id) {
            k.2 = true;
        }
    }
    if !replaced.is_empty() {
        db(
            sqlx::query("DELETE FROM install_steps WHERE attempt_id = ANY($1)")
                .bind(&replaced)
                .execute(&mut *tx)
                .await,
        )?;
        db(sqlx::query(
            "INSERT INTO install_steps(attempt_id, position, name, at)
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[])",
        )
        .bind(&ids)
        .bind(&positions)
        .bind(&names)
        .bind(&ats)
        .execute(&mut *tx)
        .await)?;
    }
    let mut done = HashSet::new();
    let touches: Touches = order
        .iter()
        .filter(|id| done.insert(id.as_str()))
        .filter_map(|id| {
            let (account, _, changed) = &known[id];
            changed.then(|| ("attempt", account.clone(), id.clone()))
        })
        .collect();
    feed.touch(tx, &touches).await?;
    Ok(touches.len())
}

/// A checked daily row waiting to be copied: it is known to end its (account, month) in the
/// file once the next row is seen.
struct Staged<'a> {
    ord: i64,
    account_id: &'a str,
    date: NaiveDate,
    plan: &'a str,
    counts: usagedesk_domain::UsageCounts,
}

impl Staged<'_> {
    fn month(&self) -> (i32, u32) {
        use chrono::Datelike;
        (self.date.year(), self.date.month())
    }

    async fn copy(&self, copy: &mut Copy<'_>, last_of_month: bool) -> Result<(), StoreError> {
        let int = |n: u64| n.min(i64::MAX as u64) as i64;
        copy.int(self.ord)
            .text(self.account_id)
            .text(usagedesk_domain::month::DateText::new(self.date).as_str())
            .text(self.plan)
            .int(int(self.counts.users_registered))
            .int(int(self.counts.users_with_token))
            .int(int(self.counts.users_with_activity))
            .text(if last_of_month { "t" } else { "f" });
        copy.end_row().await
    }
}

/// Streams the daily rows through COPY (each checked first by [`rules::check_daily`]), merges
/// them into `daily_usage`, then derives the month-end rows they touch, set-based.
///
/// Files usually list rows by account then date. The stream notes whether they are (strictly
/// increasing keys) and marks each (account, month)'s last row as it goes; then no sort is
/// needed: the rows go into `daily_usage` as they are, and the marked rows are the file's
/// month-end candidates. Otherwise the rows are sorted in SQL (of one date given twice, the
/// later wins; a month's latest date ends it).
async fn load_daily(
    tx: &mut PgConnection,
    rows: RowStream<'_, crate::storage::DailyRow>,
    accounts: &HashMap<String, Account>,
    catalog: &PlanCatalog,
    today: NaiveDate,
    stats: &mut LoadStats,
) -> Result<(), LoadError> {
    let started = std::time::Instant::now();
    let mut rows = rows.peekable();
    if rows.peek().is_none() {
        return Ok(());
    }
    // Into a database without daily rows (a first load), a month's end is the file's latest
    // row of the month; else a stored later row of the month may still win.
    let mut first = is_empty(tx, "daily_usage").await?;
    let mut copied_first = false;
    let rows: RowStream<'_, crate::storage::DailyRow> =
        if first && is_empty(tx, "month_usage").await? {
            // With the tables to itself, the copy goes in without indexes (built after it) and
            // the month and daily rows frozen; else row by row into the indexed tables.
            let tables = ["month_usage", "daily_usage"];
            let dropped = store(bulk_indexes::drop_indexes_if_alone(tx, &tables).await)?;
            let bulk = dropped.is_some();
            if bulk {
                // Empty, and truncated so that their rows can be copied frozen.
                db(sqlx::query("TRUNCATE daily_usage, month_usage")
                    .execute(&mut *tx)
                    .await)?;
            }
            let rest =
                first_load::copy_sorted(tx, Box::new(rows), accounts, catalog, today, stats, bulk)
                    .await?;
            tracing::debug!(
                "load: {} daily rows copied, {:.2} s",
                stats.daily_rows,
                started.elapsed().as_secs_f64()
            );
            if let Some(dropped) = dropped {
                // Before the staged path for rows out of order, which needs the keys.
                store(dropped.restore(tx).await)?;
                tracing::debug!(
                    "load: their indexes built, {:.2} s",
                    started.elapsed().as_secs_f64()
                );
            }
            match rest {
                None => return Ok(()),
                // Rows out of order: merged over the ones copied.
                Some(rest) => {
                    first = false;
                    copied_first = true;
                    rest
                }
            }
        } else {
            Box::new(rows)
        };
    db(sqlx::raw_sql(
        "DROP TABLE IF EXISTS pg_temp.load_daily;
         CREATE TEMP TABLE load_daily (
             ord                 BIGINT NOT NULL,
             account_id          TEXT COLLATE \"C\" NOT NULL,
             date                TEXT COLLATE \"C\" NOT NULL,
             plan                TEXT COLLATE \"C\" NOT NULL,
             users_registered    BIGINT NOT NULL,
             users_with_token    BIGINT NOT NULL,
             users_with_activity BIGINT NOT NULL,
             last_of_month       BOOLEAN NOT NULL
         ) ON COMMIT DROP",
    )
    .execute(&mut *tx)
    .await)?;
    let mut sorted = true;
    {
        let mut copy = store(
            Copy::start(
                tx,
                "load_daily (ord, account_id, date, plan, users_registered, users_with_token, \
                 users_with_activity, last_of_month)",
            )
            .await,
        )?;
        let mut pending: Option<Staged<'_>> = None;
        for (ord, row) in rows.enumerate() {
            let row = row?;
            let r = &row.row;
            let (account_id, plan) =
                rules::check_daily(r, accounts, catalog, today).map_err(|m| row.error(m))?;
            let next = Staged {
                ord: ord as i64,
                account_id,
                date: r.date,
                plan,
                counts: r.counts,
            };
            if let Some(prev) = pending.take() {
                sorted &= (prev.account_id, prev.date) < (next.account_id, next.date);
                let last = (prev.account_id, prev.month()) != (next.account_id, next.month());
                store(prev.copy(&mut copy, last).await)?;
            }
            pending = Some(next);
        }
        if let Some(prev) = pending {
            store(prev.copy(&mut copy, true).await)?;
        }
        stats.daily_rows += store(copy.finish().await)? as usize;
    }
    tracing::debug!(
        "load: {} daily rows copied, {:.2} s",
        stats.daily_rows,
        started.elapsed().as_secs_f64()
    );
    let (daily_sql, candidates) = if sorted {
        (
            "INSERT INTO daily_usage (account_id, date, plan, users_registered, users_with_token,
                 users_with_activity)
             SELECT account_id, date, plan, users_registered, users_with_token,
                 users_with_activity
             FROM load_daily",
            "SELECT account_id, left(date, 7), plan, date, users_registered, users_with_token,
                 users_with_activity
             FROM load_daily WHERE last_of_month",
        )
    } else {
        (
            "INSERT INTO daily_usage (account_id, date, plan, users_registered, users_with_token,
                 users_with_activity)
             SELECT DISTINCT ON (account_id, date) account_id, date, plan, users_registered,
                 users_with_token, users_with_activity
             FROM load_daily ORDER BY account_id, date, ord DESC",
            "SELECT DISTINCT ON (account_id, left(date, 7)) account_id, left(date, 7), plan,
                 date, users_registered, users_with_token, users_with_activity
             FROM load_daily ORDER BY account_id, left(date, 7), date DESC, ord DESC",
        )
    };
    db(sqlx::query(&format!(
        "{daily_sql}
         ON CONFLICT (account_id, date) DO UPDATE SET plan = excluded.plan,
             users_registered = excluded.users_registered,
             users_with_token = excluded.users_with_token,
             users_with_activity = excluded.users_with_activity"
    ))
    .execute(&mut *tx)
    .await)?;
    tracing::debug!(
        "load: daily rows merged, {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let sql = if first {
        daily::month_ends_sql(candidates)
    } else if sorted {
        daily::refresh_sql(
            "(SELECT account_id, left(date, 7) AS month FROM load_daily WHERE last_of_month)",
        )
    } else {
        daily::refresh_sql("(SELECT DISTINCT account_id, left(date, 7) AS month FROM load_daily)")
    };
    stats.months_changed += db(sqlx::query(&sql).execute(&mut *tx).await)?.rows_affected() as usize;
    if copied_first {
        // Into a database that had no month-end rows, each one stored is new (the merge
        // above may have rewritten some of those copied first).
        let stored: i64 = db(sqlx::query_scalar("SELECT COUNT(*) FROM month_usage")
            .fetch_one(&mut *tx)
            .await)?;
        stats.months_changed = stored.max(0) as usize;
    }
    Ok(())
}
