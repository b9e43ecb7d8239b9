//! Builders, a deterministic generator and table dumps for the tests.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use usagedesk_domain::api::{Change, MonthUsage};
use usagedesk_domain::{Account, AccountStatus, Plan, PlanCatalog, UsageCounts, YearMonth};

use crate::Cache;

/// A small linear congruential generator: deterministic, no dependencies.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn ym(s: &str) -> YearMonth {
    s.parse().unwrap()
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 7, 1, 9, 0, 0).unwrap()
}

pub fn plans() -> Vec<Plan> {
    PlanCatalog::default().0
}

pub fn account(id: &str, name: &str, parent: Option<&str>, created: &str) -> Account {
    Account {
        id: id.into(),
        name: name.into(),
        parent_id: parent.map(Into::into),
        status: AccountStatus::Active,
        created_at: d(created),
    }
}

pub fn acc(id: &str, name: &str, parent: Option<&str>, created: &str) -> Change {
    Change::Account(account(id, name, parent, created))
}

pub fn usage(id: &str, month: &str, plan: &str, r: u64) -> Change {
    let month = ym(month);
    Change::MonthUsage(MonthUsage {
        account_id: id.into(),
        month,
        plan: plan.into(),
        snapshot_date: month.last_day(),
        counts: UsageCounts::new(r, r / 2, r / 4),
    })
}

pub fn tomb(id: &str) -> Change {
    Change::Tombstone {
        account_id: id.into(),
    }
}

/// Applies `changes` as one page with cursor `cursor`, then rebuilds.
pub fn sync(cache: &mut Cache, changes: &[Change], cursor: &str) {
    cache
        .sync_mut()
        .apply_changes(changes, &plans(), cursor, now())
        .unwrap();
    cache.sync_mut().rebuild_aggregates().unwrap();
}

/// Every row of every table, as text, in key order: two caches with equal dumps hold the
/// same data.
pub fn dump(cache: &Cache) -> Vec<String> {
    let tables = [
        ("accounts", "id"),
        ("month_usage", "account_k, month"),
        ("staged_pages", "seq"),
        ("months", "month"),
        ("subtree_month", "month, account_k"),
        ("subtree_plan", "month, account_k, plan"),
        ("dirty_months", "month"),
        ("plans", "position"),
        ("sync_state", "key"),
    ];
    let mut out = Vec::new();
    for (table, order) in tables {
        let mut st = cache
            .conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
            .unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            let cells: Vec<String> = (0..n)
                .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                .collect();
            out.push(format!("{table}: {}", cells.join(" | ")));
        }
    }
    out
}
