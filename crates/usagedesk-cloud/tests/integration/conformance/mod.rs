//! The storage conformance suite: every behaviour the service relies on, written against the
//! storage traits only, so any engine runs it unchanged. An engine's test target opens a fresh,
//! empty store per test and names the suite once:
//!
//! ```ignore
//! #[macro_use]
//! mod conformance;
//! conformance_suite!(|dir: &std::path::Path| SqliteStorage::open(&dir.join("cloud.db")).unwrap());
//! ```
//!
//! Expected values are computed here from the inputs (the month-end of a month is its
//! latest-dated daily row; a scope sees its subtree), never by calling the code under test.

#![allow(dead_code)]

pub mod airgap;
pub mod customers;
pub mod feed;
pub mod rates;
pub mod tenants;
pub mod tokens;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use usagedesk_airgap::RootKey;
use usagedesk_cloud::storage::prelude::*;
use usagedesk_cloud::storage::{DailyRow, Dataset, InstanceRow, Located, RowError};
use usagedesk_domain::api::Change;
use usagedesk_domain::customer::{License, LicenseFeatures, LicenseType};
use usagedesk_domain::{Account, AccountStatus, UsageCounts, YearMonth};

/// A fresh, empty store of the engine under test, with whatever it needs kept alive.
pub struct Fresh {
    pub store: Box<dyn Store>,
    _dir: tempfile::TempDir,
}

impl Fresh {
    pub fn new<S: Store>(open: impl FnOnce(&std::path::Path) -> S) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = Box::new(open(dir.path()));
        Self { store, _dir: dir }
    }
}

/// Instantiates every behaviour of the suite for one engine: `$open` opens a fresh store in the
/// (empty, temporary) folder it is given.
#[macro_export]
macro_rules! conformance_suite {
    ($open:expr) => {
        conformance_suite!(ready: || true, open: $open);
    };
    // `$ready` says whether the engine can run here (a test it refuses is skipped; it prints
    // why, or panics where skipping is not allowed).
    (ready: $ready:expr, open: $open:expr) => {
        fn ready() -> bool {
            ($ready)()
        }
        fn fresh() -> $crate::conformance::Fresh {
            $crate::conformance::Fresh::new($open)
        }
        conformance_suite!(@tests
            tenants::a_load_writes_accounts_month_ends_and_the_tree,
            tenants::a_refused_load_writes_nothing,
            tenants::a_cycle_is_refused_and_writes_nothing,
            tenants::ingest_replaces_a_day_and_keeps_the_latest_as_month_end,
            tenants::accounts_are_seen_only_inside_their_scope,
            tenants::refused_instances_and_licenses_write_nothing,
            tenants::a_loaded_last_report_moves_forward_only,
            feed::pages_after_cursors_read_every_change_once,
            feed::a_scope_reads_only_its_subtree,
            feed::a_move_tombstones_the_old_scope_and_resends_to_the_new,
            feed::cursor_rules_bad_foreign_and_ahead,
            feed::remaining_counts_what_follows,
            feed::interleaved_kinds_read_alike_in_pages_of_every_size,
            tokens::tokens_authenticate_by_hash_and_are_listed_oldest_first,
            tokens::revoked_and_expired_tokens_still_authenticate_with_their_state,
            tokens::a_token_for_an_unknown_account_is_refused_and_not_stored,
            airgap::the_root_key_is_created_once,
            airgap::the_cloud_signer_is_replaced_and_delegations_recorded,
            airgap::a_usage_file_pins_counts_and_replays,
            airgap::online_sync_keys_pin_once_and_refuse_another_key,
            airgap::a_reset_revokes_license_files_and_refuses_their_pin,
            customers::check_ins_replace_the_report_and_append_events,
            customers::a_stale_or_duplicate_check_in_writes_nothing,
            customers::the_service_refuses_a_check_in_not_signed_later,
            customers::a_check_in_verified_with_a_key_no_longer_pinned_writes_nothing,
            rates::shared_budgets_give_a_burst_then_refuse_for_at_most_an_interval,
            rates::shared_budgets_count_concurrent_requests_once_each
        );
    };
    (@tests $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                if ready() {
                    $crate::conformance::$module::$name(&fresh);
                }
            }
        )*
    };
}

pub type Open<'a> = &'a dyn Fn() -> Fresh;

/// The day loads are run on.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 15).expect("a date")
}

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

pub fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .expect("a time")
}

pub fn account(id: &str, name: &str, parent: Option<&str>) -> Account {
    Account {
        id: id.into(),
        name: name.into(),
        parent_id: parent.map(Into::into),
        status: AccountStatus::Active,
        created_at: day(2025, 1, 1),
    }
}

pub fn located<T>(file: &str, rows: Vec<T>) -> Vec<Located<T>> {
    let file: Arc<str> = Arc::from(file);
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| Located {
            file: file.clone(),
            // Line 1 is the header.
            line: i as u64 + 2,
            row,
        })
        .collect()
}

pub fn daily(account_id: &str, date: NaiveDate, plan: &str, n: u64) -> DailyRow {
    DailyRow {
        account_id: account_id.into(),
        date,
        plan: plan.into(),
        counts: UsageCounts::new(n, n / 2, n / 4),
    }
}

/// A dataset of these accounts and daily rows and nothing else.
pub fn dataset(accounts: Vec<Account>, rows: Vec<DailyRow>) -> Dataset<'static> {
    let rows: Vec<Result<Located<DailyRow>, RowError>> = located("daily_usage.csv", rows)
        .into_iter()
        .map(Ok)
        .collect();
    Dataset {
        plans: None,
        accounts: located("accounts.csv", accounts),
        instances: Vec::new(),
        daily: Box::new(rows.into_iter()),
        licenses: Vec::new(),
        reports: Vec::new(),
        events: Box::new(std::iter::empty()),
        attempts: Vec::new(),
        steps: Vec::new(),
    }
}

/// The tree every behaviour starts from: `r` (Root) with children `a` (Alpha) and `b`
/// (Beta); `a1` (A-one) under `a`.
pub fn tree() -> Vec<Account> {
    vec![
        account("r", "Root", None),
        account("a", "Alpha", Some("r")),
        account("b", "Beta", Some("r")),
        account("a1", "A-one", Some("a")),
    ]
}

/// Daily rows of every account of [`tree`]: two in January (the 20th is the month-end), one
/// in February.
pub fn tree_rows() -> Vec<DailyRow> {
    let mut rows = Vec::new();
    for (i, id) in ["r", "a", "b", "a1"].iter().enumerate() {
        let n = 10 * (i as u64 + 1);
        rows.push(daily(id, day(2026, 1, 5), "basic", n));
        rows.push(daily(id, day(2026, 1, 20), "standard", n + 1));
        rows.push(daily(id, day(2026, 2, 10), "basic", n + 2));
    }
    rows
}

/// The month-end rows `rows` make, by definition: per (account, month) the latest-dated row
/// (of one date, the later in the input).
pub fn month_ends(
    rows: &[DailyRow],
) -> BTreeMap<(String, YearMonth), (NaiveDate, String, UsageCounts)> {
    let mut out: BTreeMap<(String, YearMonth), (NaiveDate, String, UsageCounts)> = BTreeMap::new();
    for r in rows {
        let key = (r.account_id.clone(), YearMonth::of(r.date));
        let later = out.get(&key).is_none_or(|(d, _, _)| r.date >= *d);
        if later {
            out.insert(key, (r.date, r.plan.clone(), r.counts));
        }
    }
    out
}

/// A store holding [`tree`] and [`tree_rows`].
pub fn loaded(open: Open<'_>) -> Fresh {
    let fresh = open();
    fresh
        .store
        .load(dataset(tree(), tree_rows()), today())
        .expect("the base dataset loads");
    fresh
}

/// Every change of `scope` after `cursor`, read in pages of `limit`, and the last cursor.
pub fn read_all(
    store: &dyn Store,
    scope: &usagedesk_cloud::TokenScope,
    cursor: Option<String>,
    limit: usize,
) -> (Vec<Change>, String) {
    let mut cursor = cursor;
    let mut out = Vec::new();
    loop {
        let page = store
            .changes(scope, cursor.as_deref(), limit, false)
            .expect("a feed page");
        assert!(
            page.changes.len() <= limit,
            "a page holds at most its limit"
        );
        out.extend(page.changes);
        cursor = Some(page.next_cursor);
        if !page.has_more {
            return (out, cursor.unwrap_or_default());
        }
    }
}

/// A license of `account_id` (for instances to belong to).
pub fn license(id: &str, account_id: &str) -> License {
    License {
        id: id.into(),
        account_id: account_id.into(),
        license_type: LicenseType::Prod,
        channel: "Stable".into(),
        created_at: at(2025, 6, 1, 0),
        expires_at: None,
        features: LicenseFeatures::default(),
        seats: BTreeMap::new(),
    }
}

pub fn instance_row(id: &str, license_id: &str, account_id: &str) -> InstanceRow {
    InstanceRow {
        id: id.into(),
        license_id: license_id.into(),
        account_id: account_id.into(),
        airgapped: true,
        public_key: None,
        last_report_at: None,
    }
}

/// [`loaded`] with license `lic-a` of account `a` and its air-gapped instance `inst-a`, no key.
pub fn with_instance(open: Open<'_>) -> Fresh {
    let fresh = loaded(open);
    let mut data = dataset(Vec::new(), Vec::new());
    data.licenses = located("licenses.csv", vec![license("lic-a", "a")]);
    data.instances = located("instances.csv", vec![instance_row("inst-a", "lic-a", "a")]);
    fresh.store.load(data, today()).expect("the instance loads");
    fresh
}

/// A public key text (`ed25519:…`), different for each seed.
pub fn public_key(seed: u64) -> String {
    RootKey::generate(&mut ChaCha20Rng::seed_from_u64(seed))
        .public_key()
        .to_string()
}

/// [`with_instance`], with `inst-a` pinned to `public_key(seed)`.
pub fn with_keyed_instance(open: Open<'_>, seed: u64) -> Fresh {
    let fresh = loaded(open);
    let mut data = dataset(Vec::new(), Vec::new());
    data.licenses = located("licenses.csv", vec![license("lic-a", "a")]);
    let mut instance = instance_row("inst-a", "lic-a", "a");
    instance.public_key = Some(public_key(seed));
    data.instances = located("instances.csv", vec![instance]);
    fresh.store.load(data, today()).expect("the instance loads");
    fresh
}
