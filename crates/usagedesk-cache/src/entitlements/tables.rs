//! The derived tables the entitlement questions read besides `month_usage` (migration 0006):
//! `ent_licenses` (each license's months in force and holder), `ent_seats` (its seats per
//! plan) and `ent_cover` (every account with each ancestor-or-self holding a license, by
//! distance), rebuilt whole from `licenses` and the tree in one pass over each: every license
//! body is decoded once, and the tree is walked in memory instead of by a recursive query
//! (at 100,000 accounts 0.9-1.4 s in SQL, JSON functions and a join per step).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use rusqlite::Connection;
use serde::Deserialize;
use usagedesk_sqlite::{insert_batched, values};

use crate::{CacheError, Result};

/// How far below a holder `ent_cover` goes (a deeper tree, or a cycle a half-applied
/// reparenting left, stops there).
const MAX_DEPTH: i64 = 1000;

/// What the tables read of a stored `License`: its times as the feed sent them (RFC 3339 in
/// UTC) and its seats.
#[derive(Deserialize)]
struct Terms<'a> {
    #[serde(borrow)]
    created_at: Cow<'a, str>,
    #[serde(borrow, default)]
    expires_at: Option<Cow<'a, str>>,
    #[serde(default)]
    seats: BTreeMap<String, u64>,
}

/// One `ent_licenses` row.
struct Held {
    license_id: String,
    account_k: i64,
    first_month: String,
    last_month: Option<String>,
    expires_at: Option<String>,
}

/// The first month of a license in force: the month of its creation, the first seven
/// characters of the time as stored.
fn first_month(created_at: &str) -> String {
    created_at.chars().take(7).collect()
}

/// The last month a license is in force: that of its expiry when it expires on the month's
/// last day (UTC), else the month before. `None` when the date cannot be read (the feed
/// always sends one that can).
fn last_month(expires_at: &str) -> Option<String> {
    let date = NaiveDate::parse_from_str(expires_at.get(..10)?, "%Y-%m-%d").ok()?;
    let last = if date.succ_opt()?.day() == 1 {
        date
    } else {
        date.with_day(1)?.pred_opt()?
    };
    Some(format!("{:04}-{:02}", last.year(), last.month()))
}

/// A seat count as SQLite's JSON functions store it: an integer, or a real beyond `i64`.
fn seat_value(seats: u64) -> rusqlite::types::Value {
    match i64::try_from(seats) {
        Ok(n) => rusqlite::types::Value::Integer(n),
        Err(_) => rusqlite::types::Value::Real(seats as f64),
    }
}

/// Rebuilds the three tables (inside the caller's write transaction). Licenses of an account
/// outside the cache hold nothing here.
pub(super) fn rebuild(conn: &Connection) -> Result<()> {
    conn.execute_batch("DELETE FROM ent_licenses; DELETE FROM ent_seats; DELETE FROM ent_cover;")?;
    let mut held: Vec<Held> = Vec::new();
    let mut seats: Vec<(usize, String, rusqlite::types::Value)> = Vec::new();
    {
        let mut read = conn.prepare(
            "SELECT l.id, a.k, l.body FROM licenses l JOIN accounts a ON a.id = l.account_id
             ORDER BY l.id",
        )?;
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            let license_id: String = r.get(0)?;
            let terms: Terms<'_> = serde_json::from_str(r.get_ref(2)?.as_str()?).map_err(|e| {
                CacheError::corrupt(format!("the stored license {license_id}: {e}"))
            })?;
            let at = held.len();
            seats.extend(
                terms
                    .seats
                    .into_iter()
                    .map(|(plan, n)| (at, plan, seat_value(n))),
            );
            held.push(Held {
                license_id,
                account_k: r.get(1)?,
                first_month: first_month(&terms.created_at),
                last_month: terms.expires_at.as_deref().and_then(last_month),
                expires_at: terms.expires_at.map(Cow::into_owned),
            });
        }
    }
    let cover = cover(conn, &held)?;
    // Holders covering another account than themselves.
    let shared: std::collections::HashSet<i64> = cover
        .iter()
        .filter(|(account, _, holder)| account != holder)
        .map(|(_, _, holder)| *holder)
        .collect();
    insert_batched(
        conn,
        |n| {
            format!(
                "INSERT INTO ent_licenses
                     (license_id, account_k, first_month, last_month, expires_at, shared)
                 VALUES {}",
                values(n, 6)
            )
        },
        6,
        &held,
        |st, at, h| {
            st.raw_bind_parameter(at, &h.license_id)?;
            st.raw_bind_parameter(at + 1, h.account_k)?;
            st.raw_bind_parameter(at + 2, &h.first_month)?;
            st.raw_bind_parameter(at + 3, &h.last_month)?;
            st.raw_bind_parameter(at + 4, &h.expires_at)?;
            st.raw_bind_parameter(at + 5, shared.contains(&h.account_k))
        },
    )?;
    insert_batched(
        conn,
        |n| {
            format!(
                "INSERT INTO ent_seats (license_id, plan, seats) VALUES {}",
                values(n, 3)
            )
        },
        3,
        &seats,
        |st, at, (license, plan, n)| {
            st.raw_bind_parameter(at, &held[*license].license_id)?;
            st.raw_bind_parameter(at + 1, plan)?;
            st.raw_bind_parameter(at + 2, n)
        },
    )?;
    insert_batched(
        conn,
        |n| {
            format!(
                "INSERT INTO ent_cover (account_k, depth, holder_k) VALUES {}",
                values(n, 3)
            )
        },
        3,
        &cover,
        |st, at, (account, depth, holder)| {
            st.raw_bind_parameter(at, account)?;
            st.raw_bind_parameter(at + 1, depth)?;
            st.raw_bind_parameter(at + 2, holder)
        },
    )?;
    Ok(())
}

/// `ent_cover`'s rows, `(account_k, depth, holder_k)` in key order: from each account holding
/// a license, itself at depth 0 and the accounts below it (those naming it as parent) one
/// level deeper each, down to [`MAX_DEPTH`].
fn cover(conn: &Connection, held: &[Held]) -> Result<Vec<(i64, i64, i64)>> {
    let mut keys: HashMap<String, i64> = HashMap::new();
    let mut parents: Vec<(i64, String)> = Vec::new();
    {
        let mut read = conn.prepare("SELECT k, id, parent_id FROM accounts")?;
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            let k: i64 = r.get(0)?;
            keys.insert(r.get(1)?, k);
            if let Some(parent) = r.get_ref(2)?.as_str_or_null()? {
                parents.push((k, parent.to_owned()));
            }
        }
    }
    let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
    for (k, parent) in &parents {
        if let Some(p) = keys.get(parent) {
            children.entry(*p).or_default().push(*k);
        }
    }
    let mut holders: Vec<i64> = held.iter().map(|h| h.account_k).collect();
    holders.sort_unstable();
    holders.dedup();
    let mut out = Vec::new();
    for holder in holders {
        let mut level = vec![holder];
        let mut depth = 0;
        while !level.is_empty() {
            out.extend(level.iter().map(|k| (*k, depth, holder)));
            if depth >= MAX_DEPTH {
                break;
            }
            level = level
                .iter()
                .filter_map(|k| children.get(k))
                .flatten()
                .copied()
                .collect();
            depth += 1;
        }
    }
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};
    use usagedesk_domain::api::Change;
    use usagedesk_domain::customer::{License, LicenseFeatures, LicenseType};

    use super::*;
    use crate::test_support::*;
    use crate::Cache;

    /// The tables' definitions in SQL, as they were first written (migration 0006 and
    /// `shared` from 0010): the reference the pass above must agree with.
    const REFERENCE: &str = "
        DELETE FROM ent_licenses; DELETE FROM ent_seats; DELETE FROM ent_cover;
        INSERT INTO ent_licenses (license_id, account_k, first_month, last_month, expires_at)
        SELECT l.id, a.k, substr(json_extract(l.body, '$.created_at'), 1, 7),
               CASE WHEN e.at IS NULL THEN NULL
                    WHEN strftime('%d', substr(e.at, 1, 10), '+1 day') = '01'
                        THEN substr(e.at, 1, 7)
                    ELSE strftime('%Y-%m', substr(e.at, 1, 10), 'start of month', '-1 day')
               END,
               e.at
        FROM licenses l
        JOIN accounts a ON a.id = l.account_id
        JOIN (SELECT id, json_extract(body, '$.expires_at') AS at FROM licenses) e
            ON e.id = l.id;
        INSERT INTO ent_seats (license_id, plan, seats)
        SELECT l.id, j.key, j.value
        FROM licenses l JOIN ent_licenses el ON el.license_id = l.id,
             json_each(l.body, '$.seats') j;
        INSERT INTO ent_cover (account_k, depth, holder_k)
        WITH RECURSIVE c(account_k, depth, holder_k) AS (
            SELECT DISTINCT account_k, 0, account_k FROM ent_licenses
            UNION ALL
            SELECT ch.k, c.depth + 1, c.holder_k
            FROM c JOIN accounts p ON p.k = c.account_k JOIN accounts ch ON ch.parent_id = p.id
            WHERE c.depth < 1000
        )
        SELECT account_k, depth, holder_k FROM c;
        UPDATE ent_licenses SET shared = 1
        WHERE account_k IN (SELECT holder_k FROM ent_cover WHERE account_k <> holder_k);";

    fn tables(cache: &Cache) -> Vec<String> {
        let mut out = Vec::new();
        for sql in [
            "SELECT license_id, account_k, first_month, last_month, expires_at, shared
             FROM ent_licenses ORDER BY license_id",
            "SELECT license_id, plan, seats, typeof(seats) FROM ent_seats ORDER BY 1, 2",
            "SELECT account_k, depth, holder_k FROM ent_cover ORDER BY 1, 2",
        ] {
            let mut st = cache.conn.prepare(sql).unwrap();
            let n = st.column_count();
            let rows = st
                .query_map([], |r| {
                    Ok((0..n)
                        .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                        .collect::<Vec<_>>()
                        .join(" | "))
                })
                .unwrap()
                .collect::<rusqlite::Result<Vec<_>>>()
                .unwrap();
            out.push(format!("-- {sql}"));
            out.extend(rows);
        }
        out
    }

    /// A tree of 60 accounts in three levels, one parented to itself, two in a cycle, one
    /// under a parent outside the cache; licenses created and expiring on every kind of day
    /// (a month's first, its last, Feb 29th, the last second of a year, never), some of an
    /// account outside the cache, seats up to beyond `i64`.
    fn world() -> Vec<Change> {
        let mut rng = Lcg::new(5);
        let mut changes = Vec::new();
        for i in 0..60 {
            let parent = match i {
                0 => None,
                1 => Some("a01".to_owned()),
                2 => Some("a03".to_owned()),
                3 => Some("a02".to_owned()),
                4 => Some("nowhere".to_owned()),
                i if i < 12 => Some("a00".to_owned()),
                i => Some(format!("a{:02}", 5 + rng.below(i as u64 - 5))),
            };
            changes.push(acc(
                &format!("a{i:02}"),
                &format!("A{i}"),
                parent.as_deref(),
                "2023-01-01",
            ));
        }
        let base = Utc.with_ymd_and_hms(2024, 1, 31, 23, 59, 59).unwrap();
        let expiries = [
            None,
            Some(base),
            Some(Utc.with_ymd_and_hms(2024, 2, 29, 0, 0, 0).unwrap()),
            Some(Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap()),
            Some(Utc.with_ymd_and_hms(2025, 12, 31, 23, 59, 59).unwrap()),
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()),
            Some(base + Duration::days(200)),
        ];
        for n in 0..90 {
            let holder = match n {
                0 => "a01".to_owned(),
                1 => "a02".to_owned(),
                n if n % 17 == 16 => "ghost".to_owned(),
                _ => format!("a{:02}", rng.below(60)),
            };
            let mut seats = BTreeMap::new();
            for plan in ["basic", "premium", "enterprise"] {
                if rng.chance(50) {
                    seats.insert(plan.to_owned(), rng.below(500));
                }
            }
            if n == 7 {
                seats.insert("basic".to_owned(), u64::MAX);
                seats.insert("premium".to_owned(), i64::MAX as u64 + 1);
            }
            changes.push(Change::License(License {
                id: format!("L{n:03}"),
                account_id: holder,
                license_type: LicenseType::Prod,
                channel: "stable".into(),
                created_at: base - Duration::days(rng.below(900) as i64),
                expires_at: expiries[n % expiries.len()],
                features: LicenseFeatures::default(),
                seats,
            }));
        }
        changes
    }

    #[test]
    fn the_pass_writes_what_the_sql_definitions_give() {
        let mut cache = Cache::open_in_memory().unwrap();
        sync(&mut cache, &world(), "c1");
        let tx = cache.conn.unchecked_transaction().unwrap();
        rebuild(&tx).unwrap();
        tx.commit().unwrap();
        let ours = tables(&cache);
        cache.conn.execute_batch(REFERENCE).unwrap();
        let reference = tables(&cache);
        assert!(
            reference.len() > 200,
            "licenses, seats and cover rows: {}",
            reference.len()
        );
        assert!(
            reference.iter().any(|r| r.contains("Real")),
            "a seat count beyond i64 is a real, as SQLite's JSON gives it"
        );
        assert!(
            reference.iter().any(|r| r.contains("| Integer(1000) |")),
            "the self-parented account and the cycle go down to the depth limit"
        );
        assert_eq!(ours, reference);
    }

    #[test]
    fn the_last_month_in_force_is_that_of_an_expiry_on_its_last_day_else_the_one_before() {
        assert_eq!(
            last_month("2024-01-31T23:59:59Z").as_deref(),
            Some("2024-01")
        );
        assert_eq!(
            last_month("2024-02-29T00:00:00Z").as_deref(),
            Some("2024-02")
        );
        assert_eq!(
            last_month("2023-02-28T00:00:00Z").as_deref(),
            Some("2023-02")
        );
        assert_eq!(
            last_month("2024-02-28T12:00:00Z").as_deref(),
            Some("2024-01")
        );
        assert_eq!(
            last_month("2024-03-01T00:00:00Z").as_deref(),
            Some("2024-02")
        );
        assert_eq!(
            last_month("2026-01-01T00:00:00Z").as_deref(),
            Some("2025-12")
        );
        assert_eq!(last_month("+10000-01-01T00:00:00Z"), None);
        assert_eq!(last_month("soon"), None);
        assert_eq!(first_month("2026-10-25T22:47:34Z"), "2026-10");
    }
}
