//! The monthly usage summary of an account (the analogue of STA's monthlyUsageSummary):
//! one row per (account in scope, month) with own month-end usage and subtree aggregates.

use std::collections::HashMap;

use indexmap::IndexMap;
use usagedesk_domain::rollup::{rollup, Own, Tree};
use usagedesk_domain::{
    AccountMonthUsage, Availability, PlanCatalog, Scope, UsageCounts, YearMonth,
};

use crate::storage::{MonthRow, SubtreeAccount};

/// Computes the summary rows from a subtree (in tree order, root first) and its month rows.
/// Totals always cover the whole subtree; `scope` only selects which rows are returned.
pub fn summarize(
    subtree: &[SubtreeAccount],
    month_rows: &[MonthRow],
    catalog: &PlanCatalog,
    scope: Scope,
    from: YearMonth,
    to: YearMonth,
) -> Vec<AccountMonthUsage> {
    let index: HashMap<&str, usize> = subtree
        .iter()
        .enumerate()
        .map(|(i, a)| (a.account.id.as_str(), i))
        .collect();
    let parents = subtree
        .iter()
        .map(|a| {
            a.account
                .parent_id
                .as_deref()
                .and_then(|p| index.get(p).copied())
        })
        .collect();
    let tree = Tree::new(parents).expect("a subtree read from the closure table is a tree");
    let mut by_month: HashMap<YearMonth, Vec<&MonthRow>> = HashMap::new();
    for r in month_rows {
        by_month.entry(r.month).or_default().push(r);
    }
    let in_scope: Vec<usize> = (0..subtree.len())
        .filter(|&i| {
            scope
                .max_depth()
                .is_none_or(|d| subtree[i].depth as usize <= d)
        })
        .collect();
    let months: Vec<YearMonth> = from.through(to).collect();
    let mut per_month = Vec::with_capacity(months.len());
    for &m in &months {
        let mut own: Vec<Own> = subtree
            .iter()
            .map(|a| match Availability::of(a.account.created_at, m, false) {
                Availability::NonExistent => Own::NonExistent,
                _ => Own::NotAvailable,
            })
            .collect();
        for r in by_month.get(&m).into_iter().flatten() {
            if let (Some(&i), Some(plan)) =
                (index.get(r.account_id.as_str()), catalog.index_of(&r.plan))
            {
                if own[i] != Own::NonExistent {
                    own[i] = Own::Ok {
                        plan,
                        counts: r.counts,
                    };
                }
            }
        }
        let totals = rollup(&tree, &own, catalog.len());
        per_month.push((own, totals));
    }
    let mut out = Vec::with_capacity(in_scope.len() * months.len());
    for &i in &in_scope {
        let a = &subtree[i].account;
        for (k, &m) in months.iter().enumerate() {
            let (own, totals) = &per_month[k];
            let (plan, counts) = match own[i] {
                Own::Ok { plan, counts } => (Some(catalog.0[plan].id.clone()), Some(counts)),
                _ => (None, None),
            };
            let totals: IndexMap<String, UsageCounts> = catalog
                .ids()
                .zip(totals.totals(i))
                .map(|(p, c)| (p.to_string(), *c))
                .collect();
            out.push(AccountMonthUsage {
                account_id: a.id.clone(),
                account_name: a.name.clone(),
                parent_id: a.parent_id.clone(),
                month: m,
                status: a.status,
                availability: own[i].availability(),
                plan,
                own: counts,
                totals,
            });
        }
    }
    out
}
