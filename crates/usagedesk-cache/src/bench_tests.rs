//! `cargo test -p usagedesk-cache --release -- --ignored --nocapture bench_100k`

use std::time::{Duration, Instant};

use usagedesk_domain::api::{Change, MonthUsage};
use usagedesk_domain::{Account, AccountStatus, Metric, Scope, UsageCounts, YearMonth};

use crate::test_support::*;
use crate::{Cache, ChildSort};

const PAGE: usize = 5000;

struct Gen {
    accounts: Vec<Account>,
    plan: Vec<usize>,
}

/// 100k accounts, five levels: one root, 20 providers (the first with 1000 customers, the
/// others 200 each), 4 sub-accounts per customer, and ~4 leaves under each of those.
fn generate(rng: &mut Lcg) -> Gen {
    let total = 100_000usize;
    let mut parents: Vec<Option<usize>> = vec![None];
    let l1: Vec<usize> = (0..20).map(|_| push(&mut parents, Some(0))).collect();
    let mut l2 = Vec::new();
    for (k, p) in l1.iter().enumerate() {
        let n = if k == 0 { 1000 } else { 200 };
        l2.extend((0..n).map(|_| push(&mut parents, Some(*p))));
    }
    let mut l3 = Vec::new();
    for p in &l2 {
        l3.extend((0..4).map(|_| push(&mut parents, Some(*p))));
    }
    let left = total - parents.len();
    for i in 0..left {
        let p = l3[(i * 7919) % l3.len()];
        push(&mut parents, Some(p));
    }
    let ids: Vec<String> = (0..total)
        .map(|i| {
            format!(
                "acct-{:08x}",
                (i as u64).wrapping_mul(2_654_435_761) % 4_294_967_291
            )
        })
        .collect();
    let accounts = parents
        .iter()
        .enumerate()
        .map(|(i, p)| Account {
            id: ids[i].clone(),
            name: format!("Tenant {} {}", rng.below(50_000), i),
            parent_id: p.map(|p| ids[p].clone()),
            status: AccountStatus::Active,
            created_at: if rng.chance(3) {
                d("2023-07-01") + chrono::Duration::days(rng.below(360) as i64)
            } else {
                d("2020-01-01")
            },
        })
        .collect();
    let plan = (0..total).map(|_| rng.below(3) as usize).collect();
    Gen { accounts, plan }
}

fn push(parents: &mut Vec<Option<usize>>, p: Option<usize>) -> usize {
    parents.push(p);
    parents.len() - 1
}

fn time<T>(label: &str, runs: u32, mut f: impl FnMut() -> T) -> T {
    let t = Instant::now();
    let mut out = f();
    let first = t.elapsed();
    let t = Instant::now();
    for _ in 1..runs {
        out = f();
    }
    let rest = if runs > 1 {
        t.elapsed() / (runs - 1)
    } else {
        Duration::ZERO
    };
    println!(
        "{label:<58} first {:>9.3} ms   avg {:>9.3} ms",
        ms(first),
        ms(rest)
    );
    out
}

/// CPU time of this process (user + system): the numbers that hold on a busy machine.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command name: utime and stime are the 12th and 13th fields (14 and 15 of
    // proc(5)), in clock ticks of 10 ms.
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((tick(11) + tick(12)) * 10)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[test]
#[ignore = "benchmark: cargo test -p usagedesk-cache --release -- --ignored --nocapture bench_100k"]
fn bench_100k() {
    let mut rng = Lcg::new(42);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.sqlite");
    let mut cache = Cache::open(&path).unwrap();
    let g = generate(&mut rng);
    let months: Vec<YearMonth> = ym("2022-07").through(ym("2024-06")).collect();
    let plan_ids = ["basic", "standard", "premium"];

    // Accounts in a shuffled order (children before parents), then month rows month by month.
    let mut order: Vec<usize> = (0..g.accounts.len()).collect();
    rng.shuffle(&mut order);
    let cpu_start = cpu();
    let mut applied = Duration::ZERO;
    let mut rows = 0u64;
    let mut pages = 0;
    for chunk in order.chunks(PAGE) {
        let page: Vec<Change> = chunk
            .iter()
            .map(|i| Change::Account(g.accounts[*i].clone()))
            .collect();
        let t = Instant::now();
        cache
            .sync_mut()
            .apply_changes(&page, &plans(), &format!("p{pages}"), now())
            .unwrap();
        applied += t.elapsed();
        rows += page.len() as u64;
        pages += 1;
    }
    let accounts_time = applied;
    let mut plan = g.plan.clone();
    let mut buffer: Vec<Change> = Vec::with_capacity(PAGE);
    let mut flush = |cache: &mut Cache, buffer: &mut Vec<Change>, pages: &mut usize| {
        let t = Instant::now();
        cache
            .sync_mut()
            .apply_changes(buffer, &plans(), &format!("p{pages}"), now())
            .unwrap();
        applied += t.elapsed();
        rows += buffer.len() as u64;
        *pages += 1;
        buffer.clear();
    };
    for m in &months {
        for (i, a) in g.accounts.iter().enumerate() {
            if a.created_at > m.last_day() || rng.chance(2) {
                continue; // non-existent or not available
            }
            if rng.chance(3) {
                plan[i] = rng.below(3) as usize;
            }
            let r = rng.below(500);
            buffer.push(Change::MonthUsage(MonthUsage {
                account_id: a.id.clone(),
                month: *m,
                plan: plan_ids[plan[i]].into(),
                snapshot_date: m.last_day(),
                counts: UsageCounts::new(r, r * 6 / 10, r * 3 / 10),
            }));
            if buffer.len() == PAGE {
                flush(&mut cache, &mut buffer, &mut pages);
            }
        }
    }
    if !buffer.is_empty() {
        flush(&mut cache, &mut buffer, &mut pages);
    }
    println!(
        "apply: {rows} changes in {pages} pages of {PAGE}: {:.2} s ({:.0} rows/s; accounts {:.2} s)",
        applied.as_secs_f64(),
        rows as f64 / applied.as_secs_f64(),
        accounts_time.as_secs_f64()
    );
    let cpu_applied = cpu() - cpu_start;
    println!("apply CPU time: {:.2} s", cpu_applied.as_secs_f64());
    let t = Instant::now();
    let cpu_start = cpu();
    let stats = cache.sync_mut().rebuild_aggregates().unwrap();
    println!(
        "rebuild: {:.2} s, CPU {:.2} s (folded {} rows, {} months, {} aggregate rows)",
        t.elapsed().as_secs_f64(),
        (cpu() - cpu_start).as_secs_f64(),
        stats.rows_folded,
        stats.months.len(),
        stats.aggregate_rows
    );
    println!(
        "cache part of a full sync: {:.2} s",
        (applied + t.elapsed()).as_secs_f64()
    );
    let s = cache.stats().unwrap();
    println!(
        "stats: {} accounts, {} month rows, {} aggregate rows, {:.0} MB",
        s.accounts,
        s.month_rows,
        s.aggregate_rows,
        s.db_bytes as f64 / 1e6
    );

    let month = ym("2024-05");
    let root = g.accounts[0].id.clone();
    let big = g.accounts[1].id.clone(); // 1000 children
    let mid = g.accounts[2].id.clone(); // 200 children
    let small = g.accounts[21].id.clone(); // 4 children
    let by_name = ChildSort::Name;
    let by_total = ChildSort::SubtreeTotal(Metric::UsersWithActivity);
    let p = time("children(root: 20 children), by name, 50", 20, || {
        cache
            .accounts()
            .children(Some(&root), month, 0, 50, by_name)
            .unwrap()
    });
    assert_eq!(p.total, 20);
    time("children(root), by subtree total", 20, || {
        cache
            .accounts()
            .children(Some(&root), month, 0, 50, by_total)
            .unwrap()
    });
    let p = time(
        "children(1000-children node), by name, first 50",
        20,
        || {
            cache
                .accounts()
                .children(Some(&big), month, 0, 50, by_name)
                .unwrap()
        },
    );
    assert_eq!(p.total, 1000);
    time(
        "children(1000-children node), by name, offset 900",
        20,
        || {
            cache
                .accounts()
                .children(Some(&big), month, 900, 50, by_name)
                .unwrap()
        },
    );
    time(
        "children(1000-children node), by subtree total, 50",
        20,
        || {
            cache
                .accounts()
                .children(Some(&big), month, 0, 50, by_total)
                .unwrap()
        },
    );
    time("children(1000-children node), by name, all 1000", 5, || {
        cache
            .accounts()
            .children(Some(&big), month, 0, 1000, by_name)
            .unwrap()
    });
    time("children(mid-level: 200 children), by name, 50", 20, || {
        cache
            .accounts()
            .children(Some(&mid), month, 0, 50, by_name)
            .unwrap()
    });
    time(
        "children(mid-level: 200 children), by subtree total",
        20,
        || {
            cache
                .accounts()
                .children(Some(&mid), month, 0, 50, by_total)
                .unwrap()
        },
    );
    time("children(level-2: 4 children)", 20, || {
        cache
            .accounts()
            .children(Some(&small), month, 0, 50, by_name)
            .unwrap()
    });
    time("children(None: roots)", 20, || {
        cache
            .accounts()
            .children(None, month, 0, 50, by_name)
            .unwrap()
    });
    let deep = &g.accounts[99_999].id;
    time("account_month(leaf)", 20, || {
        cache.usage().account_month(deep, month).unwrap()
    });
    time("account_month(root)", 20, || {
        cache.usage().account_month(&root, month).unwrap()
    });
    time("path(leaf)", 20, || cache.accounts().path(deep).unwrap());
    time("search(id prefix 'acct-0012', 20)", 20, || {
        cache.accounts().search("acct-0012", 20).unwrap()
    });
    time("search(name 'tenant 4242', 20)", 20, || {
        cache.accounts().search("tenant 4242", 20).unwrap()
    });
    time("months()", 20, || cache.usage().months().unwrap());
    time("trend(root, 12 months)", 20, || {
        cache.usage().trend(&root, &months[12..]).unwrap()
    });
    let r = time("usage_rows(mid-level, tree scope)", 3, || {
        cache.usage().rows(&mid, month, Scope::Tree).unwrap()
    });
    println!("    ({} rows)", r.len());
    let r = time("usage_rows(root, tree scope: all accounts)", 1, || {
        cache.usage().rows(&root, month, Scope::Tree).unwrap()
    });
    assert_eq!(r.len(), 100_000);
    time("tree_order(None, all)", 1, || {
        cache.accounts().tree_order(None, None).unwrap().len()
    });

    // An incremental sync: this month's rows for 5000 accounts.
    let page: Vec<Change> = g.accounts[..PAGE]
        .iter()
        .filter(|a| a.created_at <= month.last_day())
        .map(|a| usage(&a.id, "2024-06", "basic", 7))
        .collect();
    let t = Instant::now();
    cache
        .sync_mut()
        .apply_changes(&page, &plans(), "inc", now())
        .unwrap();
    let s = cache.sync_mut().rebuild_aggregates().unwrap();
    println!(
        "incremental: {} rows applied + rebuild of {:?}: {:.3} s",
        page.len(),
        s.months.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        t.elapsed().as_secs_f64()
    );
    drop(cache);
    let t = Instant::now();
    let cache = Cache::open(&path).unwrap();
    println!("re-open: {:.3} ms", ms(t.elapsed()));
    drop(cache);
}
