//! End-to-end checks: generate into a temporary folder, read the files back with the csv
//! crate, and check the load-format contract and the realism the app relies on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use usagedesk_domain::account::{validate_id, validate_name};
use usagedesk_domain::{PlanCatalog, YearMonth};

use super::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

const TODAY: &str = "2025-03-18";

const ALL_FILES: [&str; 9] = [
    ACCOUNTS_FILE,
    DAILY_USAGE_FILE,
    PLANS_FILE,
    INSTANCES_FILE,
    LICENSES_FILE,
    INSTANCE_REPORTS_FILE,
    INSTANCE_EVENTS_FILE,
    INSTALL_ATTEMPTS_FILE,
    INSTALL_STEPS_FILE,
];

fn opts(accounts: usize, months: u32, seed: u64, density: SnapshotDensity) -> DemoOptions {
    DemoOptions {
        accounts,
        months,
        seed,
        today: d(TODAY),
        snapshots_per_month: density,
    }
}

#[derive(Debug, Clone)]
struct Acc {
    id: String,
    name: String,
    parent_id: Option<String>,
    status: String,
    created_at: NaiveDate,
}

#[derive(Debug, Clone)]
struct Row {
    account_id: String,
    date: NaiveDate,
    plan: String,
    counts: [u64; 3],
}

struct Data {
    summary: DemoSummary,
    accounts: Vec<Acc>,
    rows: Vec<Row>,
    by_id: BTreeMap<String, usize>,
}

impl Data {
    fn rows_of(&self) -> BTreeMap<&str, Vec<&Row>> {
        let mut m: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
        for r in &self.rows {
            m.entry(r.account_id.as_str()).or_default().push(r);
        }
        m
    }

    fn depth(&self, i: usize) -> usize {
        let mut depth = 0;
        let mut cur = i;
        while let Some(p) = &self.accounts[cur].parent_id {
            cur = self.by_id[p];
            depth += 1;
            assert!(depth <= self.accounts.len(), "cycle through {}", p);
        }
        depth
    }
}

fn reader(path: &Path) -> csv::Reader<std::fs::File> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_back(dir: &Path, summary: DemoSummary) -> Data {
    let mut r = reader(&dir.join(ACCOUNTS_FILE));
    assert_eq!(
        r.headers().unwrap(),
        vec!["id", "name", "parent_id", "status", "created_at"]
    );
    let accounts: Vec<Acc> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            assert_eq!(rec.len(), 5, "{rec:?}");
            Acc {
                id: rec[0].to_string(),
                name: rec[1].to_string(),
                parent_id: (!rec[2].is_empty()).then(|| rec[2].to_string()),
                status: rec[3].to_string(),
                created_at: d(&rec[4]),
            }
        })
        .collect();
    let mut r = reader(&dir.join(DAILY_USAGE_FILE));
    assert_eq!(
        r.headers().unwrap(),
        vec![
            "account_id",
            "date",
            "plan",
            "users_registered",
            "users_with_token",
            "users_with_activity"
        ]
    );
    let rows: Vec<Row> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            assert_eq!(rec.len(), 6, "{rec:?}");
            Row {
                account_id: rec[0].to_string(),
                date: d(&rec[1]),
                plan: rec[2].to_string(),
                counts: [
                    rec[3].parse().unwrap(),
                    rec[4].parse().unwrap(),
                    rec[5].parse().unwrap(),
                ],
            }
        })
        .collect();
    let by_id: BTreeMap<String, usize> = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.clone(), i))
        .collect();
    assert_eq!(by_id.len(), accounts.len(), "account ids are unique");
    Data {
        summary,
        accounts,
        rows,
        by_id,
    }
}

fn generate(o: &DemoOptions) -> (tempfile::TempDir, Data) {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_demo(o, dir.path()).unwrap();
    let data = read_back(dir.path(), summary);
    (dir, data)
}

/// The format contract, checked on any dataset.
fn check_contract(o: &DemoOptions, data: &Data) {
    let catalog = PlanCatalog::default();
    assert_eq!(data.summary.accounts, o.accounts);
    assert_eq!(data.accounts.len(), o.accounts);
    assert_eq!(data.summary.daily_rows, data.rows.len());

    let mut sorted: Vec<&str> = data.accounts.iter().map(|a| a.id.as_str()).collect();
    sorted.sort_unstable();
    assert!(
        data.accounts.iter().map(|a| a.id.as_str()).eq(sorted),
        "accounts are written in id order"
    );
    for (i, a) in data.accounts.iter().enumerate() {
        validate_id(&a.id).unwrap();
        validate_name(&a.name).unwrap();
        assert!(a.status == "active" || a.status == "disabled", "{a:?}");
        assert!(a.created_at < o.today, "{a:?} is created before today");
        if let Some(p) = &a.parent_id {
            let parent = &data.accounts[*data
                .by_id
                .get(p)
                .unwrap_or_else(|| panic!("parent {p} of {} is not an account", a.id))];
            assert!(
                parent.created_at <= a.created_at,
                "{} is created before its parent {}",
                a.id,
                p
            );
        }
        // Walking up ends at a root (panics on a cycle).
        data.depth(i);
    }

    let months: BTreeSet<YearMonth> = data.summary.months.iter().copied().collect();
    let mut last: Option<(&str, NaiveDate)> = None;
    let mut order = data.accounts.iter().map(|a| a.id.as_str()).peekable();
    for r in &data.rows {
        let a = &data.accounts[*data
            .by_id
            .get(&r.account_id)
            .unwrap_or_else(|| panic!("row for unknown account {}", r.account_id))];
        assert!(
            catalog.index_of(&r.plan).is_some(),
            "plan {} is in the catalog",
            r.plan
        );
        let [reg, tok, act] = r.counts;
        assert!(act <= tok && tok <= reg, "ordered counts in {r:?}");
        assert!(r.date >= a.created_at, "{r:?} is before {a:?} was created");
        assert!(r.date < o.today, "{r:?} is on or after today");
        assert!(
            months.contains(&YearMonth::of(r.date)),
            "{r:?} is in a covered month"
        );
        // Rows go by account (in file order), then strictly by date: one row per day.
        match last {
            Some((id, date)) if id == r.account_id => {
                assert!(date < r.date, "dates increase within {id}")
            }
            _ => {
                while order.peek().is_some_and(|&id| id != r.account_id) {
                    order.next();
                }
                assert!(
                    order.next().is_some(),
                    "rows of {} come in account file order",
                    r.account_id
                );
            }
        }
        last = Some((&r.account_id, r.date));
    }
}

fn expected_months(today: NaiveDate, months: u32) -> Vec<YearMonth> {
    let mut first = YearMonth::of(today);
    for _ in 0..months {
        first = first.prev();
    }
    let last = if today.day() > 1 {
        YearMonth::of(today)
    } else {
        YearMonth::of(today).prev()
    };
    first.through(last).collect()
}

#[test]
fn same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let read = |dir: &Path, f: &str| std::fs::read(dir.join(f)).unwrap();
    let o = opts(400, 4, 42, SnapshotDensity::MonthEndOnly);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let sa = write_demo(&o, a.path()).unwrap();
    let sb = write_demo(&o, b.path()).unwrap();
    assert_eq!(sa, sb);
    for f in ALL_FILES {
        assert!(
            read(a.path(), f) == read(b.path(), f),
            "{f} must be byte-identical for the same options"
        );
    }
    write_demo(&DemoOptions { seed: 43, ..o }, c.path()).unwrap();
    for f in ALL_FILES.into_iter().filter(|f| *f != PLANS_FILE) {
        assert!(
            read(a.path(), f) != read(c.path(), f),
            "{f} must change with the seed"
        );
    }
    assert_eq!(
        read(a.path(), PLANS_FILE),
        read(c.path(), PLANS_FILE),
        "the plan catalog does not depend on the seed"
    );
}

#[test]
fn plans_file_is_the_default_catalog() {
    let dir = tempfile::tempdir().unwrap();
    write_demo(&opts(10, 1, 1, SnapshotDensity::Weekly), dir.path()).unwrap();
    let text = std::fs::read_to_string(dir.path().join(PLANS_FILE)).unwrap();
    assert_eq!(
        text,
        "id,name,seat_metric\r\nbasic,Basic,users_registered\r\n\
         standard,Standard,users_with_token\r\npremium,Premium,users_with_activity\r\n",
        "RFC 4180: CRLF line ends; each plan's seats count another metric"
    );
    let catalog = PlanCatalog::default();
    let ids: Vec<&str> = catalog.ids().collect();
    assert_eq!(
        ids,
        usage::PLAN_IDS,
        "rows use the catalog's ids in catalog order"
    );
}

#[test]
fn tenant_tree_is_a_deep_forest_whose_parents_may_come_later() {
    for seed in [1, 2, 3, 4, 5] {
        for n in [200, 1_000] {
            let o = opts(n, 2, seed, SnapshotDensity::MonthEndOnly);
            let (_dir, data) = generate(&o);
            check_contract(&o, &data);
            let roots = data
                .accounts
                .iter()
                .filter(|a| a.parent_id.is_none())
                .count();
            assert!(
                roots >= 3,
                "at least three service providers at {n} accounts, got {roots}"
            );
            let max_depth = (0..n).map(|i| data.depth(i)).max().unwrap();
            assert!(
                (4..=6).contains(&max_depth),
                "depth {max_depth} at {n} accounts (seed {seed}): at least 4, at most 6"
            );
            let pos: BTreeMap<&str, usize> = data
                .accounts
                .iter()
                .enumerate()
                .map(|(i, a)| (a.id.as_str(), i))
                .collect();
            assert!(
                data.accounts
                    .iter()
                    .enumerate()
                    .any(|(i, a)| a.parent_id.as_deref().is_some_and(|p| pos[p] > i)),
                "the loader must cope with parents after children: the demo exercises it"
            );
        }
    }
}

/// Every edge case the app has to show, from one dataset (they are forced onto accounts,
/// so they appear at any seed, in both densities, from small sizes up).
#[test]
fn every_edge_case_appears() {
    let small: Vec<u64> = (0..40).collect();
    for (n, months, density, seeds) in [
        (20, 3, SnapshotDensity::Weekly, &small[..]),
        (20, 3, SnapshotDensity::MonthEndOnly, &small[..]),
        (300, 6, SnapshotDensity::MonthEndOnly, &[7, 8, 9][..]),
        (300, 6, SnapshotDensity::Weekly, &[7, 8, 9][..]),
        (3_000, 12, SnapshotDensity::MonthEndOnly, &[7, 8, 9][..]),
    ] {
        for &seed in seeds {
            let o = opts(n, months, seed, density);
            let (_dir, data) = generate(&o);
            check_contract(&o, &data);
            let what = format!("{n} accounts, {months} months, {density:?}, seed {seed}");
            let rows = data.rows_of();
            let covered = &data.summary.months;

            let plans: BTreeSet<&str> = data.rows.iter().map(|r| r.plan.as_str()).collect();
            assert_eq!(plans.len(), 3, "all three plans appear ({what})");

            assert!(
                rows.values()
                    .any(|rs| rs.iter().any(|r| r.plan != rs[0].plan)),
                "some account changes plan ({what})"
            );
            assert!(
                data.accounts.iter().any(|a| a.status == "disabled"),
                "some account is disabled ({what})"
            );
            assert!(
                data.accounts
                    .iter()
                    .any(|a| a.created_at > covered[0].last_day()),
                "some account is created after the first covered month, so it is \
                 non-existent there ({what})"
            );

            // Not available: an existing account without a snapshot in a month, between
            // two months in which it has some.
            let gap = rows.values().any(|rs| {
                let ms: BTreeSet<YearMonth> = rs.iter().map(|r| YearMonth::of(r.date)).collect();
                let (first, last) = (*ms.first().unwrap(), *ms.last().unwrap());
                first.through(last).any(|m| !ms.contains(&m))
            });
            assert!(gap, "some account misses a month between reports ({what})");
            assert!(
                data.accounts
                    .iter()
                    .any(|a| a.created_at < covered[0].first_day()
                        && !rows.contains_key(a.id.as_str())),
                "some account existed all along and never reports ({what})"
            );

            // Churn: activity fell to zero after having been positive.
            let churn = rows.values().any(|rs| {
                let first_active = rs.iter().position(|r| r.counts[2] > 0);
                first_active
                    .is_some_and(|k| rs[k..].iter().any(|r| r.counts[2] == 0 && r.counts[0] > 0))
            });
            assert!(churn, "some account declines to zero activity ({what})");

            let names = || data.accounts.iter().map(|a| a.name.as_str());
            assert!(
                names().any(|s| s.contains(',')),
                "a name with a comma ({what})"
            );
            assert!(
                names().any(|s| s.contains('"')),
                "a name with a quote ({what})"
            );
            assert!(
                names().any(|s| s.contains('\n')),
                "a name with a line break ({what})"
            );
            assert!(names().any(|s| !s.is_ascii()), "a non-ASCII name ({what})");
        }
    }
}

#[test]
fn realistic_proportions_at_scale() {
    let o = opts(20_000, 6, 11, SnapshotDensity::MonthEndOnly);
    let (_dir, data) = generate(&o);
    check_contract(&o, &data);
    let n = data.accounts.len() as f64;
    let share = |k: usize| k as f64 / n;

    let disabled = data
        .accounts
        .iter()
        .filter(|a| a.status == "disabled")
        .count();
    assert!(
        (0.03..0.08).contains(&share(disabled)),
        "about 5% disabled, got {disabled}"
    );
    let start = data.summary.months[0].first_day();
    let new = data
        .accounts
        .iter()
        .filter(|a| a.created_at > start)
        .count();
    assert!(
        (0.05..0.30).contains(&share(new)),
        "a minority created during the period, got {new}"
    );

    let mut children: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &data.accounts {
        if let Some(p) = &a.parent_id {
            *children.entry(p.as_str()).or_default() += 1;
        }
    }
    let wide = children.values().filter(|&&c| c >= 100).count();
    let narrow = children.values().filter(|&&c| c <= 3).count();
    assert!(
        wide >= 5 && narrow > children.len() / 3,
        "uneven branching: {wide} parents with >= 100 children, {narrow} with <= 3, of {}",
        children.len()
    );

    let rows = data.rows_of();
    let reporting = rows.len();
    assert!(
        (0.75..0.97).contains(&share(reporting)),
        "most accounts report, some never do: {reporting}"
    );
    // Growth: across accounts that report in the first and last completed month, more
    // registered users at the end than at the start.
    let (first, last) = (
        data.summary.months[0],
        data.summary.months[data.summary.months.len() - 2],
    );
    let month_end = |rs: &[&Row], m: YearMonth| {
        rs.iter()
            .rev()
            .find(|r| YearMonth::of(r.date) == m)
            .map(|r| r.counts[0])
    };
    let (mut before, mut after) = (0u64, 0u64);
    for rs in rows.values() {
        if let (Some(a), Some(b)) = (month_end(rs, first), month_end(rs, last)) {
            before += a;
            after += b;
        }
    }
    assert!(after > before, "the base grows: {before} -> {after} users");

    for plan in ["basic", "standard", "premium"] {
        let k = rows
            .values()
            .filter(|rs| rs.last().unwrap().plan == plan)
            .count();
        assert!(
            share(k) > 0.1,
            "{plan} is a real share of the base, not a token: {k}"
        );
    }
}

#[test]
fn month_end_only_keeps_rows_modest_and_ends_near_month_end() {
    let o = opts(3_000, 12, 5, SnapshotDensity::MonthEndOnly);
    let (_dir, data) = generate(&o);
    check_contract(&o, &data);
    let mut per_month: BTreeMap<(&str, YearMonth), Vec<NaiveDate>> = BTreeMap::new();
    for r in &data.rows {
        per_month
            .entry((&r.account_id, YearMonth::of(r.date)))
            .or_default()
            .push(r.date);
    }
    let max = per_month.values().map(Vec::len).max().unwrap();
    assert!(
        max <= 3,
        "at most three snapshots an account-month, got {max}"
    );
    let avg = data.rows.len() as f64 / per_month.len() as f64;
    assert!(
        (1.5..=2.5).contains(&avg),
        "about two snapshots per reported account-month, got {avg:.2}"
    );
    let per_account_month =
        data.rows.len() as f64 / (o.accounts as f64 * data.summary.months.len() as f64);
    assert!(
        per_account_month <= 3.0,
        "{per_account_month:.2} rows per account-month"
    );

    let today = o.today;
    for ((id, m), dates) in &per_month {
        let last = *dates.last().unwrap();
        let a = &data.accounts[data.by_id[*id]];
        let end = m.last_day().min(today.pred_opt().unwrap());
        // Accounts created in the last days of a month report from their creation day.
        let earliest = (end - chrono::Days::new(3)).max(a.created_at);
        assert!(
            last >= earliest,
            "{id} in {m}: month-end snapshot {last} is near the end of the month ({end})"
        );
    }
}

#[test]
fn weekly_snapshots_keep_a_seven_day_rhythm() {
    let o = opts(300, 4, 3, SnapshotDensity::Weekly);
    let (_dir, data) = generate(&o);
    check_contract(&o, &data);
    let start = data.summary.months[0].first_day();
    for (id, rs) in data.rows_of() {
        let a = &data.accounts[data.by_id[id]];
        if a.created_at >= start {
            continue;
        }
        for w in rs.windows(2) {
            let days = (w[1].date - w[0].date).num_days();
            assert!(
                days % 7 == 0,
                "{id}: {} then {} are not on the same weekday",
                w[0].date,
                w[1].date
            );
        }
        let mut per_month: BTreeMap<YearMonth, usize> = BTreeMap::new();
        for r in &rs {
            *per_month.entry(YearMonth::of(r.date)).or_default() += 1;
        }
        for (m, k) in per_month {
            if m < YearMonth::of(o.today) {
                assert!(
                    (4..=5).contains(&k),
                    "{id} has {k} weekly snapshots in the complete month {m}"
                );
            }
        }
    }
}

#[test]
fn covered_months_are_the_completed_ones_plus_the_running_month() {
    let o = opts(50, 3, 1, SnapshotDensity::Weekly);
    let (_dir, data) = generate(&o);
    check_contract(&o, &data);
    assert_eq!(data.summary.months, expected_months(o.today, 3));
    let names: Vec<String> = data.summary.months.iter().map(|m| m.to_string()).collect();
    assert_eq!(names, ["2024-12", "2025-01", "2025-02", "2025-03"]);
    assert!(
        data.rows
            .iter()
            .any(|r| YearMonth::of(r.date).to_string() == "2025-03"),
        "the running month already has data up to yesterday"
    );

    // On the first of a month the running month has no day yet, so it is not covered.
    let o = DemoOptions {
        today: d("2025-03-01"),
        ..o
    };
    let (_dir, data) = generate(&o);
    check_contract(&o, &data);
    assert_eq!(data.summary.months, expected_months(o.today, 3));
    assert_eq!(data.summary.months.last().unwrap().to_string(), "2025-02");
}

#[test]
fn ten_accounts_and_one_month_work() {
    for density in [SnapshotDensity::Weekly, SnapshotDensity::MonthEndOnly] {
        for seed in 0..20 {
            let o = opts(10, 1, seed, density);
            let (_dir, data) = generate(&o);
            check_contract(&o, &data);
            assert_eq!(data.summary.months.len(), 2, "February plus March so far");
            assert!(
                !data.rows.is_empty(),
                "seed {seed}: a demo without any usage is useless"
            );
            assert!(data.accounts.iter().any(|a| a.parent_id.is_none()));
            assert!(data.accounts.iter().any(|a| a.parent_id.is_some()));
        }
    }
}

#[test]
fn degenerate_sizes_still_write_valid_files() {
    for n in [0, 1, 2, 3, 5] {
        for months in [0, 1] {
            // The 1st of a month with no completed month asked for covers nothing at all.
            for today in [TODAY, "2025-03-01", "2024-02-29"] {
                for density in [SnapshotDensity::MonthEndOnly, SnapshotDensity::Weekly] {
                    let o = DemoOptions {
                        today: d(today),
                        ..opts(n, months, 1, density)
                    };
                    let (_dir, data) = generate(&o);
                    check_contract(&o, &data);
                    assert_eq!(data.summary.months, expected_months(o.today, months));
                }
            }
        }
    }
}

#[test]
fn output_folder_is_created_and_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/demo");
    write_demo(&opts(10, 1, 1, SnapshotDensity::Weekly), &nested).unwrap();
    for f in [ACCOUNTS_FILE, DAILY_USAGE_FILE, PLANS_FILE] {
        assert!(nested.join(f).is_file(), "{f} written");
    }

    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let err = write_demo(&opts(10, 1, 1, SnapshotDensity::Weekly), &file).unwrap_err();
    assert!(
        matches!(err, DemoError::Io { ref path, .. } if path == &file),
        "{err:?}"
    );
    assert!(err.to_string().contains("not-a-dir"), "{err}");

    let err = write_demo(&opts(10, 5000, 1, SnapshotDensity::Weekly), dir.path()).unwrap_err();
    assert!(matches!(err, DemoError::InvalidOptions(_)), "{err:?}");
}

/// `cargo test -p usagedesk-demo --release -- --ignored --nocapture`
#[test]
#[ignore = "timing at full scale; run in release"]
fn timing_100k_accounts_24_months() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(100_000, 24, 2024, SnapshotDensity::MonthEndOnly);
    let t = std::time::Instant::now();
    let s = write_demo(&o, dir.path()).unwrap();
    let elapsed = t.elapsed();
    let size = |f: &str| std::fs::metadata(dir.path().join(f)).unwrap().len();
    println!(
        "accounts={} months={} ({} covered) daily_rows={} ({:.2} per account-month) in {:.2?}",
        s.accounts,
        o.months,
        s.months.len(),
        s.daily_rows,
        s.daily_rows as f64 / (s.accounts as f64 * s.months.len() as f64),
        elapsed
    );
    println!(
        "instances={} licenses={} reports={} events={} attempts={}",
        s.instances, s.licenses, s.instance_reports, s.instance_events, s.install_attempts
    );
    for f in ALL_FILES {
        println!(
            "{f}: {:.1} MiB ({} bytes)",
            size(f) as f64 / 1048576.0,
            size(f)
        );
    }
    assert_eq!(s.accounts, 100_000);
    assert!(
        s.daily_rows as f64 <= 3.0 * s.accounts as f64 * s.months.len() as f64,
        "at most ~3 rows per account-month"
    );
}

#[derive(Debug, Clone)]
struct Inst {
    id: String,
    license_id: String,
    account_id: String,
    airgapped: bool,
    public_key: Option<String>,
}

fn read_instances(dir: &Path) -> Vec<Inst> {
    let mut r = reader(&dir.join(INSTANCES_FILE));
    assert_eq!(
        r.headers().unwrap(),
        vec![
            "id",
            "license_id",
            "account_id",
            "airgapped",
            "public_key",
            "last_report_at"
        ]
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            assert_eq!(rec.len(), 6, "{rec:?}");
            Inst {
                id: rec[0].to_string(),
                license_id: rec[1].to_string(),
                account_id: rec[2].to_string(),
                airgapped: match &rec[3] {
                    "true" => true,
                    "false" => false,
                    other => panic!("airgapped is true or false, not {other}"),
                },
                public_key: (!rec[4].is_empty()).then(|| rec[4].to_string()),
            }
        })
        .collect()
}

#[test]
fn instances_run_at_customer_leaves_and_a_fifth_are_air_gapped() {
    let o = opts(20_000, 6, 11, SnapshotDensity::MonthEndOnly);
    let dir = tempfile::tempdir().unwrap();
    let summary = write_demo(&o, dir.path()).unwrap();
    let instances = read_instances(dir.path());
    let data = read_back(dir.path(), summary);
    assert_eq!(data.summary.instances, instances.len());

    let parents: BTreeSet<&str> = data
        .accounts
        .iter()
        .filter_map(|a| a.parent_id.as_deref())
        .collect();
    let roots: BTreeSet<&str> = data
        .accounts
        .iter()
        .filter(|a| a.parent_id.is_none())
        .map(|a| a.id.as_str())
        .collect();
    let reporting: BTreeSet<&str> = data.rows.iter().map(|r| r.account_id.as_str()).collect();
    let mut per_account: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    let mut last_account: Option<&str> = None;
    for i in &instances {
        validate_id(&i.id).unwrap();
        validate_id(&i.license_id).unwrap();
        assert!(
            ids.insert(i.id.as_str()),
            "instance ids are unique: {}",
            i.id
        );
        assert!(
            data.by_id.contains_key(&i.account_id),
            "{} runs at a known account",
            i.id
        );
        assert!(
            !parents.contains(i.account_id.as_str()) && !roots.contains(i.account_id.as_str()),
            "{} runs at a leaf customer or division, not at {}",
            i.id,
            i.account_id
        );
        assert!(
            last_account <= Some(i.account_id.as_str()),
            "instances come in account order"
        );
        last_account = Some(&i.account_id);
        *per_account.entry(&i.account_id).or_default() += 1;
        if let Some(key) = &i.public_key {
            assert!(
                !i.airgapped,
                "{}: only online instances are pinned before their first file",
                i.id
            );
            let parsed: usagedesk_airgap::PublicKey =
                key.parse().unwrap_or_else(|e| panic!("{}: {e}", i.id));
            assert_eq!(parsed.to_string(), *key, "keys are written canonically");
            assert!(
                reporting.contains(i.account_id.as_str()),
                "{}: a pinned key means the instance reported",
                i.id
            );
        }
    }
    let leaves = data
        .accounts
        .iter()
        .filter(|a| a.parent_id.is_some() && !parents.contains(a.id.as_str()))
        .count();
    assert!(
        per_account.values().all(|&n| (1..=2).contains(&n)),
        "one or two instances per account"
    );
    let per_leaf = instances.len() as f64 / per_account.len() as f64;
    assert!(
        (1.2..1.5).contains(&per_leaf),
        "about one or two per account: {per_leaf:.2}"
    );
    assert!(
        per_account.len() as f64 > 0.8 * leaves as f64,
        "most leaves run the product: {} of {leaves}",
        per_account.len()
    );
    let airgapped = instances.iter().filter(|i| i.airgapped).count() as f64;
    let share = airgapped / instances.len() as f64;
    assert!(
        (0.15..0.28).contains(&share),
        "about a fifth air-gapped: {share:.3}"
    );
    assert!(
        instances
            .iter()
            .any(|i| !i.airgapped && i.public_key.is_none()),
        "some online instances have not been pinned yet"
    );
    // The two instances of an account share its license.
    for w in instances.windows(2) {
        if w[0].account_id == w[1].account_id {
            assert_eq!(w[0].license_id, w[1].license_id);
        }
    }
}

#[test]
fn a_small_demo_has_both_kinds_of_instances() {
    let o = opts(40, 3, 3, SnapshotDensity::Weekly);
    let dir = tempfile::tempdir().unwrap();
    write_demo(&o, dir.path()).unwrap();
    let instances = read_instances(dir.path());
    assert!(
        instances.iter().any(|i| i.airgapped) && instances.iter().any(|i| !i.airgapped),
        "even a small demo shows air-gapped and online instances: {instances:?}"
    );
}

mod customers;
mod entitlements;
