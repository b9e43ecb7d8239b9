//! Subtree aggregates (DESIGN.md): for account A, month M and plan P, the sum of month-end
//! values over A and all its descendants whose month-end plan is P. Not-available and
//! non-existent accounts add 0 and are counted as such.
//!
//! Pure and allocation-light: accounts are dense indexes, a [`Tree`] is built once and each
//! month is rolled up in one pass from the leaves to the roots.

use crate::{Availability, UsageCounts};

/// Accounts as dense indexes with their parents, ordered so children come before parents.
#[derive(Debug, Clone)]
pub struct Tree {
    parent: Vec<Option<u32>>,
    leaves_first: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("account #{0} is its own ancestor (a parent cycle)")]
    Cycle(usize),
    #[error("account #{0} names a parent #{1} that does not exist")]
    MissingParent(usize, usize),
}

impl Tree {
    pub fn new(parent: Vec<Option<usize>>) -> Result<Self, TreeError> {
        let n = parent.len();
        let mut depth: Vec<Option<u32>> = vec![None; n];
        for start in 0..n {
            let mut path = Vec::new();
            let mut at = start;
            let base = loop {
                if let Some(d) = depth[at] {
                    break d + 1;
                }
                if path.len() > n {
                    return Err(TreeError::Cycle(start));
                }
                path.push(at);
                match parent[at] {
                    None => break 0,
                    Some(p) if p >= n => return Err(TreeError::MissingParent(at, p)),
                    Some(p) => at = p,
                }
            };
            for (i, node) in path.iter().rev().enumerate() {
                depth[*node] = Some(base + i as u32);
            }
        }
        let depth: Vec<u32> = depth.into_iter().map(|d| d.unwrap_or(0)).collect();
        let mut leaves_first: Vec<u32> = (0..n as u32).collect();
        leaves_first.sort_by_key(|&i| std::cmp::Reverse(depth[i as usize]));
        Ok(Self {
            parent: parent.into_iter().map(|p| p.map(|p| p as u32)).collect(),
            leaves_first,
        })
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }
}

/// One account's own month-end value for the month being rolled up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Own {
    NonExistent,
    NotAvailable,
    Ok { plan: usize, counts: UsageCounts },
}

impl Own {
    pub fn availability(&self) -> Availability {
        match self {
            Own::NonExistent => Availability::NonExistent,
            Own::NotAvailable => Availability::NotAvailable,
            Own::Ok { .. } => Availability::Ok,
        }
    }
}

/// How many accounts of a subtree had each availability in the month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AvailabilityCounts {
    pub ok: u32,
    pub not_available: u32,
    pub non_existent: u32,
}

impl AvailabilityCounts {
    fn add(&mut self, o: &Self) {
        self.ok += o.ok;
        self.not_available += o.not_available;
        self.non_existent += o.non_existent;
    }
}

/// The subtree aggregates of every account for one month.
#[derive(Debug, Clone)]
pub struct Rollup {
    plans: usize,
    totals: Vec<UsageCounts>,
    counts: Vec<AvailabilityCounts>,
}

impl Rollup {
    /// Totals per plan (catalog order) over account `i`'s subtree.
    pub fn totals(&self, i: usize) -> &[UsageCounts] {
        &self.totals[i * self.plans..(i + 1) * self.plans]
    }

    pub fn counts(&self, i: usize) -> AvailabilityCounts {
        self.counts[i]
    }
}

/// Rolls one month up the tree. `own[i]` is account `i`'s own value; `plans` is the catalog
/// size and every `Own::Ok` plan index must be below it.
pub fn rollup(tree: &Tree, own: &[Own], plans: usize) -> Rollup {
    assert_eq!(tree.len(), own.len(), "one value per account");
    let n = tree.len();
    let mut totals = vec![UsageCounts::default(); n * plans];
    let mut counts = vec![AvailabilityCounts::default(); n];
    for (i, o) in own.iter().enumerate() {
        match *o {
            Own::NonExistent => counts[i].non_existent = 1,
            Own::NotAvailable => counts[i].not_available = 1,
            Own::Ok { plan, counts: c } => {
                counts[i].ok = 1;
                totals[i * plans + plan] = c;
            }
        }
    }
    for &i in &tree.leaves_first {
        let i = i as usize;
        if let Some(p) = tree.parent[i] {
            let p = p as usize;
            let c = counts[i];
            counts[p].add(&c);
            for k in 0..plans {
                let v = totals[i * plans + k];
                totals[p * plans + k] += v;
            }
        }
    }
    Rollup {
        plans,
        totals,
        counts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(plan: usize, r: u64) -> Own {
        Own::Ok {
            plan,
            counts: UsageCounts::new(r, r / 2, r / 4),
        }
    }

    #[test]
    fn sums_each_plan_over_the_subtree() {
        // 0 ─┬─ 1 ─── 3
        //    └─ 2
        // 4 (a second root)
        let tree = Tree::new(vec![None, Some(0), Some(0), Some(1), None]).unwrap();
        let own = [
            ok(0, 100),
            ok(1, 40),
            Own::NotAvailable,
            ok(1, 8),
            Own::NonExistent,
        ];
        let r = rollup(&tree, &own, 2);
        assert_eq!(
            r.totals(0)[0],
            UsageCounts::new(100, 50, 25),
            "only the root is on plan 0"
        );
        assert_eq!(
            r.totals(0)[1],
            UsageCounts::new(48, 24, 12),
            "accounts 1 and 3 are on plan 1"
        );
        assert_eq!(r.totals(1)[1], UsageCounts::new(48, 24, 12));
        assert_eq!(
            r.totals(2),
            [UsageCounts::default(); 2],
            "not available adds 0"
        );
        assert_eq!(
            r.counts(0),
            AvailabilityCounts {
                ok: 3,
                not_available: 1,
                non_existent: 0
            }
        );
        assert_eq!(r.counts(4).non_existent, 1, "the other root is separate");
    }

    #[test]
    fn parents_may_come_after_children() {
        let tree = Tree::new(vec![Some(2), Some(0), None]).unwrap();
        let r = rollup(&tree, &[ok(0, 4), ok(0, 8), ok(0, 16)], 1);
        assert_eq!(r.totals(2)[0].users_registered, 28);
        assert_eq!(r.totals(0)[0].users_registered, 12);
    }

    #[test]
    fn cycles_and_dangling_parents_are_refused() {
        assert_eq!(
            Tree::new(vec![Some(1), Some(0)]).unwrap_err(),
            TreeError::Cycle(0)
        );
        assert_eq!(Tree::new(vec![Some(0)]).unwrap_err(), TreeError::Cycle(0));
        assert_eq!(
            Tree::new(vec![Some(5)]).unwrap_err(),
            TreeError::MissingParent(0, 5)
        );
    }

    #[test]
    fn deep_chains_do_not_recurse() {
        let n = 100_000;
        let parents = (0..n)
            .map(|i| if i == 0 { None } else { Some(i - 1) })
            .collect();
        let tree = Tree::new(parents).unwrap();
        let own = vec![ok(0, 1); n];
        let r = rollup(&tree, &own, 1);
        assert_eq!(r.totals(0)[0].users_registered, n as u64);
        assert_eq!(r.counts(0).ok, n as u32);
    }
}
