//! The feed's fence on a real server (`USAGEDESK_TEST_POSTGRES_URL`; skipped when unset,
//! failed when `CI` is set too): while a writer holds positions it has not committed, no
//! reader sees any later position, so no reader can page past it.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use usagedesk_domain::api::Change;
use usagedesk_domain::{Account, AccountStatus, UsageCounts};

use super::*;
use crate::storage::{DailyRow, Dataset, Feed, Located, Tenants, TokenScope};

/// The test environment's `var`: `None` (the test is skipped, saying so) when unset, and a
/// failure when `CI` is set too, where every test must run.
pub(super) fn from_env(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{var} is not set and CI is: the {test} must run")
        }
        _ => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "skipped the {test}: set {var}");
            None
        }
    }
}

fn server() -> Option<String> {
    from_env("USAGEDESK_TEST_POSTGRES_URL", "feed fence test")
}

pub(super) fn fresh(server: &str) -> PgStorage {
    let name = format!("fence_{}_{:08x}", std::process::id(), rand::random::<u32>());
    PgStorage::open(&create_database(server, &name).expect("a database")).expect("open")
}

pub(super) fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, d).expect("date")
}

pub(super) fn account(id: &str) -> Located<Account> {
    Located {
        file: "accounts.csv".into(),
        line: 2,
        row: Account {
            id: id.into(),
            name: id.into(),
            parent_id: None,
            status: AccountStatus::Active,
            created_at: day(1),
        },
    }
}

pub(super) fn row(account: &str, d: u32) -> DailyRow {
    DailyRow {
        account_id: account.into(),
        date: day(d),
        plan: "basic".into(),
        counts: UsageCounts::new(3, 2, 1),
    }
}

/// Root accounts named `accounts` and the daily rows `daily` (in file order), as a load's input.
pub(super) fn dataset(accounts: &[&str], daily: Vec<DailyRow>) -> Dataset<'static> {
    let daily: Vec<Located<DailyRow>> = daily
        .into_iter()
        .enumerate()
        .map(|(i, row)| Located {
            file: "daily_usage.csv".into(),
            line: i as u64 + 2,
            row,
        })
        .collect();
    Dataset {
        plans: None,
        accounts: accounts.iter().map(|a| account(a)).collect(),
        instances: Vec::new(),
        daily: Box::new(daily.into_iter().map(Ok)),
        licenses: Vec::new(),
        reports: Vec::new(),
        events: Box::new(std::iter::empty()),
        attempts: Vec::new(),
        steps: Vec::new(),
    }
}

/// The keys of every change after `after`, in feed order, and the last position.
pub(super) fn after(store: &PgStorage, after: u64) -> (Vec<String>, u64) {
    let rows = store
        .feed_after(&TokenScope::All, after, 1000, false)
        .expect("feed");
    let keys = rows
        .changes
        .iter()
        .map(|c| match c {
            Change::Account(a) => format!("account {}", a.id),
            Change::MonthUsage(m) => format!("month {} {}", m.account_id, m.month),
            other => format!("{other:?}"),
        })
        .collect();
    (keys, rows.last_seq)
}

#[test]
fn no_reader_sees_past_a_position_not_yet_committed() {
    let Some(server) = server() else { return };
    // Writer A's transaction is held here: dropped (on a failed assertion too) in the
    // engine's runtime context, as the engine's own calls drop theirs.
    let _enter = runtime().enter();
    let store = fresh(&server);
    store
        .load(dataset(&["early", "late"], Vec::new()), day(31))
        .expect("load");
    let (_, start) = after(&store, 0);

    // Writer A draws a position (a month-end row of "early") and does not commit yet.
    let mut a = store
        .run(async { store.write_tx().await })
        .expect("writer A's transaction");
    store
        .run(async {
            let rows = [row("early", 5)];
            let refs: Vec<&DailyRow> = rows.iter().collect();
            let mut touched = BTreeSet::new();
            daily::write_daily(&mut a, &refs, &mut touched).await?;
            daily::refresh_month_usage(&mut a, &touched).await
        })
        .expect("writer A writes");

    std::thread::scope(|s| {
        // Writer B writes after A drew its position, and would commit a later one.
        let b = s.spawn(|| store.ingest(&[row("late", 6)]).expect("writer B"));
        // Until B has either committed or is waiting for A: whichever happens, the reader
        // must not see B's later position while A's earlier one is uncommitted.
        loop {
            let waiting: i64 = store
                .run(async {
                    sqlx::query_scalar(
                        "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
                    )
                    .fetch_one(&store.pool)
                    .await
                })
                .expect("pg_locks");
            if waiting > 0 || b.is_finished() {
                break;
            }
            std::thread::yield_now();
        }
        let (seen, _) = after(&store, start);
        assert!(
            seen.is_empty(),
            "a reader saw {seen:?} while an earlier position was uncommitted: paging past it \
             would skip writer A's change for good"
        );
        store.run(a.commit()).expect("writer A commits");
        b.join().expect("writer B");
    });
    let (seen, _) = after(&store, start);
    assert_eq!(
        seen,
        vec![
            "month early 2024-01".to_string(),
            "month late 2024-01".to_string()
        ],
        "both changes, in the order their writers committed"
    );
}

/// The CA that signed the test server's certificate (`scripts/postgres.sh` makes one per run
/// and `scripts/test.sh` passes it as `USAGEDESK_TEST_POSTGRES_CA`).
fn server_ca() -> Option<String> {
    from_env("USAGEDESK_TEST_POSTGRES_CA", "TLS test")
}

/// Whether the storage's connections are encrypted, as the server sees them.
fn encrypted(store: &PgStorage) -> bool {
    store
        .run(async {
            sqlx::query_scalar::<_, bool>(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            )
            .fetch_one(&store.pool)
            .await
        })
        .expect("pg_stat_ssl")
}

#[test]
fn sslmode_is_honoured_and_a_refusal_names_tls_without_the_password() {
    let (Some(server), Some(ca)) = (server(), server_ca()) else {
        return;
    };
    let password = server
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(user, _)| user.split_once(':'))
        .map(|(_, p)| p.to_owned())
        .expect("the test server's URL has a password");
    let name = format!("tls_{}_{:08x}", std::process::id(), rand::random::<u32>());
    let fresh = create_database(&server, &name).expect("a database");
    // The server's certificate names `localhost`, signed by the run's CA.
    let by_name = fresh.replace("@127.0.0.1:", "@localhost:");
    assert_ne!(by_name, fresh, "the test server listens on 127.0.0.1");

    let verified = PgStorage::open(&format!("{by_name}?sslmode=verify-full&sslrootcert={ca}"))
        .expect("verify-full accepts the server's certificate for the name it holds");
    assert!(encrypted(&verified), "verify-full connections are TLS");

    let refusals = [
        (
            format!("{fresh}?sslmode=verify-full&sslrootcert={ca}"),
            "verify-full: the certificate holds `localhost`, not 127.0.0.1",
        ),
        (
            format!("{by_name}?sslmode=verify-ca&sslrootcert=/etc/ssl/certs/ca-certificates.crt"),
            "verify-ca: the public CAs did not sign the server's certificate",
        ),
    ];
    for (url, why) in refusals {
        if why.starts_with("verify-ca")
            && !std::path::Path::new("/etc/ssl/certs/ca-certificates.crt").exists()
        {
            continue;
        }
        let err = PgStorage::open(&url)
            .err()
            .unwrap_or_else(|| panic!("refused, {why}"));
        let text = err.to_string();
        assert!(
            text.contains("TLS") || text.contains("certificate"),
            "the refusal says it is about TLS ({why}): {text}"
        );
        assert!(!text.contains(&password), "no password in: {text}");
    }

    // `require` encrypts without checking the name; `disable` does not encrypt.
    let required = PgStorage::open(&format!("{fresh}?sslmode=require")).expect("require");
    assert!(encrypted(&required), "require connections are TLS");
    let plain = PgStorage::open(&format!("{fresh}?sslmode=disable")).expect("disable");
    assert!(!encrypted(&plain), "disable connections are plain text");
}
