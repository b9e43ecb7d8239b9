//! A load into an empty database takes its own paths on a real server
//! (`USAGEDESK_TEST_POSTGRES_URL`; skipped when unset, failed when `CI` is set too): the
//! foreign keys dropped and added back, instances, licenses and reports copied, feed entries
//! appended without a conflict check. What it stores must be what the general path (upserts,
//! `touch_all`, keys checked row by row) stores for the same files.

use std::path::Path;

use chrono::NaiveDate;
use sqlx::Row;

use super::fence_tests::{fresh, from_env};
use super::*;
use crate::storage::Tenants;

const TODAY: (i32, u32, u32) = (2026, 3, 10);

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(TODAY.0, TODAY.1, TODAY.2).expect("date")
}

/// The rows of `sql` (every column read as text), in the query's order.
fn rows(store: &PgStorage, sql: &str) -> Vec<Vec<Option<String>>> {
    store
        .run(async { sqlx::query(sql).fetch_all(&store.pool).await })
        .expect(sql)
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.get::<Option<String>, _>(i))
                .collect()
        })
        .collect()
}

fn execute(store: &PgStorage, sql: &str) {
    store
        .run(async { sqlx::raw_sql(sql).execute(&store.pool).await })
        .expect(sql);
}

/// One account with a license, an instance and its report, written directly (no feed
/// entries): with them stored, a load takes the general path for every table they are in.
const SEED: &str = "
    INSERT INTO accounts(id, name, parent_id, status, created_at)
        VALUES ('zz-seed', 'Seed', NULL, 'active', '2024-01-01');
    INSERT INTO licenses(id, account_id, type, channel, created_at, expires_at, features, seats)
        VALUES ('zz-license', 'zz-seed', 'prod', 'stable', '2024-01-01T00:00:00.000Z', NULL, 0, '');
    INSERT INTO instances(id, license_id, account_id, airgapped, public_key, last_report_at)
        VALUES ('zz-instance', 'zz-license', 'zz-seed', false, NULL, NULL);
    INSERT INTO instance_reports(instance_id, status, app_version, distribution,
            kubernetes_version, embedded_cluster, nodes_ready, nodes_total, agent_version,
            cloud_provider, region, first_check_in, last_check_in)
        VALUES ('zz-instance', 'ready', '1.0.0', 'k3s', '1.30', false, NULL, NULL, '1.0', NULL,
            NULL, '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z');";

/// What a load stored of the dataset (the seed left out): each table's rows with every column
/// but generated ids and the wall-clock time of key events, and the feed's entries (month rows
/// included) in order.
fn stored(store: &PgStorage) -> Vec<(&'static str, Vec<Vec<Option<String>>>)> {
    let not_seed = "NOT LIKE 'zz-%'";
    let queries: [(&str, String); 7] = [
        (
            "instances",
            format!("SELECT id, license_id, account_id, airgapped::text, public_key, last_report_at FROM instances WHERE id {not_seed} ORDER BY id"),
        ),
        (
            "licenses",
            format!("SELECT id, account_id, type, channel, created_at, expires_at, features::text, seats FROM licenses WHERE id {not_seed} ORDER BY id"),
        ),
        (
            "instance_reports",
            format!("SELECT r::text FROM instance_reports r WHERE instance_id {not_seed} ORDER BY instance_id"),
        ),
        (
            "instance_key_events",
            format!("SELECT instance_id, event, actor, public_key, detail FROM instance_key_events WHERE instance_id {not_seed} ORDER BY id"),
        ),
        (
            "feed",
            // Month rows keep their position on the row alone.
            format!(
                "SELECT kind, account_id, key FROM (
                     SELECT seq, kind, account_id, key FROM feed
                     UNION ALL SELECT seq, 'month', account_id, month FROM month_usage) e
                 WHERE account_id {not_seed} ORDER BY seq"
            ),
        ),
        (
            // Every index the load dropped (the feed's, the closure's, the large tables') is
            // built again.
            "indexes",
            INDEXES.into(),
        ),
        (
            "foreign keys",
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' ORDER BY 1, 2".into(),
        ),
    ];
    queries
        .into_iter()
        .map(|(name, sql)| (name, rows(store, &sql)))
        .collect()
}

/// Every index of the schema, with its definition.
const INDEXES: &str =
    "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1, 2";

/// A generated dataset (`usagedesk-demo`) of `accounts` accounts and `months` months.
fn demo(accounts: usize, months: u32, seed: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = usagedesk_demo::DemoOptions::new(accounts, months, seed, today());
    usagedesk_demo::write_demo(&opts, dir.path()).expect("demo dataset");
    dir
}

fn load(store: &PgStorage, dir: &Path) {
    store
        .load(crate::load::read_dataset(dir).expect("dataset"), today())
        .expect("load");
}

/// Each foreign key of the tables a first load may drop, and its constraint's oid (new when
/// the key was dropped and added back).
fn keys(store: &PgStorage) -> Vec<Vec<Option<String>>> {
    rows(
        store,
        "SELECT conname::text, oid::text FROM pg_constraint
         WHERE contype = 'f' AND conrelid::regclass::text IN ('accounts', 'instances',
             'licenses', 'instance_reports', 'instance_key_events', 'install_attempts',
             'install_steps')
         ORDER BY conname",
    )
}

#[test]
fn a_load_into_an_empty_database_stores_what_the_general_path_stores() {
    let Some(server) = from_env("USAGEDESK_TEST_POSTGRES_URL", "first load test") else {
        return;
    };
    let dir = demo(120, 3, 7);

    let empty = fresh(&server);
    let keys_before = keys(&empty);
    load(&empty, dir.path());
    let seeded = fresh(&server);
    execute(&seeded, SEED);
    let seeded_keys = keys(&seeded);
    load(&seeded, dir.path());
    // The empty database's load took its own path (its keys were dropped and made again),
    // the seeded one's the general path (its keys untouched).
    let keys_after = keys(&empty);
    assert_eq!(keys_before.len(), 7, "{keys_before:?}");
    for (before, after) in keys_before.iter().zip(&keys_after) {
        assert_eq!(before[0], after[0]);
        assert_ne!(before[1], after[1], "{:?} was not made again", before[0]);
    }
    assert_eq!(keys(&seeded), seeded_keys);

    assert_eq!(
        rows(&empty, INDEXES),
        rows(&fresh(&server), INDEXES),
        "every index the load dropped is back, as the schema defines it"
    );

    let (first, general) = (stored(&empty), stored(&seeded));
    for ((table, a), (_, b)) in first.iter().zip(&general) {
        assert!(!a.is_empty(), "the dataset fills {table}");
        assert_eq!(a, b, "{table}: the empty database's load differs");
    }
    // The keys were added back, and check rows again: a license of an unknown account is
    // refused by its key, not only by the loader's rules.
    let orphan = "INSERT INTO licenses(id, account_id, type, channel, created_at, features, seats)
         VALUES ('orphan', 'nobody', 'prod', 'stable', '2024-01-01T00:00:00.000Z', 0, '')";
    let refused = empty.run(async { sqlx::raw_sql(orphan).execute(&empty.pool).await });
    assert!(
        matches!(&refused, Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23503")),
        "{refused:?}"
    );
}

#[test]
fn a_first_load_without_daily_rows_builds_the_feeds_indexes_again() {
    let Some(server) = from_env("USAGEDESK_TEST_POSTGRES_URL", "first load test") else {
        return;
    };
    let dir = demo(40, 2, 3);
    let daily = dir
        .path()
        .join(usagedesk_domain::load_format::DAILY_USAGE_FILE);
    let header = std::fs::read_to_string(&daily).expect("daily rows");
    let header = header.lines().next().expect("a header");
    std::fs::write(&daily, format!("{header}\n")).expect("no daily rows");
    let empty = fresh(&server);
    load(&empty, dir.path());
    assert_eq!(
        rows(&empty, "SELECT COUNT(*)::text FROM daily_usage"),
        [[Some("0".to_owned())]]
    );
    assert_eq!(
        rows(&empty, INDEXES),
        rows(&fresh(&server), INDEXES),
        "the feed's indexes, dropped at the load's start, are back"
    );
}

#[test]
fn a_refused_load_into_an_empty_database_leaves_it_empty_with_its_keys() {
    let Some(server) = from_env("USAGEDESK_TEST_POSTGRES_URL", "first load test") else {
        return;
    };
    let dir = demo(40, 2, 3);
    // A report of an instance the files do not hold: refused by the rules after the keys were
    // dropped and the accounts, instances and licenses written.
    let reports = dir.path().join(crate::load::INSTANCE_REPORTS_FILE);
    let text = std::fs::read_to_string(&reports).expect("reports");
    let last = text.lines().last().expect("a report");
    let (_, rest) = last.split_once(',').expect("a field");
    std::fs::write(&reports, format!("{text}inst-nobody,{rest}\n")).expect("write");

    let store = fresh(&server);
    let before = keys(&store);
    let refused = store.load(
        crate::load::read_dataset(dir.path()).expect("dataset"),
        today(),
    );
    assert!(
        matches!(&refused, Err(crate::storage::LoadError::Row(e)) if e.to_string().contains("inst-nobody")),
        "{:?}",
        refused.err()
    );
    assert_eq!(
        keys(&store),
        before,
        "the dropped keys came back with the rollback"
    );
    for table in ["accounts", "instances", "licenses", "feed"] {
        let n = rows(&store, &format!("SELECT COUNT(*)::text FROM {table}"));
        assert_eq!(n, [[Some("0".to_string())]], "{table} is empty");
    }
}
