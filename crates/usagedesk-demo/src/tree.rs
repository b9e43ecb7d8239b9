//! The shape of the tenant tree: service providers, resellers, customers and their divisions.
//!
//! The tree is grown top-down by splitting a budget of accounts: every node keeps a share of
//! its budget as direct leaf children and hands the rest, in Pareto-skewed shares, to a few
//! sub-parents. The skew is what makes a real customer base: a handful of resellers with
//! thousands of direct customers next to many with two or three.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Deepest level a node can sit at (roots are depth 0).
pub(crate) const MAX_DEPTH: u8 = 6;

/// What an account is in the vendor's customer base; it drives names and usage sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A root: a service provider selling the vendor's product.
    Provider,
    /// A reseller or MSP under a provider (has children of its own).
    Reseller,
    /// An end customer.
    Customer,
    /// A division, site or team of a customer.
    Division,
}

/// Parent links (parents always come before their children) and the derived facts.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    pub parent: Vec<Option<u32>>,
    pub children: Vec<u32>,
    pub role: Vec<Role>,
}

impl Shape {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    #[cfg(test)]
    pub fn depth(&self, mut i: usize) -> u8 {
        let mut depth = 0;
        while let Some(p) = self.parent[i] {
            i = p as usize;
            depth += 1;
        }
        depth
    }

    pub fn roots(&self) -> usize {
        self.parent.iter().take_while(|p| p.is_none()).count()
    }
}

/// How many service providers a base of `n` accounts has.
pub(crate) fn root_count(n: usize) -> usize {
    match n {
        0 => 0,
        1..=19 => (n / 5).clamp(1, 2),
        _ => (n / 15_000).clamp(3, 12),
    }
}

/// Grows a tree of exactly `n` accounts.
pub(crate) fn grow(n: usize, rng: &mut ChaCha8Rng) -> Shape {
    let roots = root_count(n);
    let mut b = Builder {
        parent: Vec::with_capacity(n),
        depth: Vec::with_capacity(n),
        rng,
    };
    for _ in 0..roots {
        b.push(None, 0);
    }
    if roots > 0 {
        // Providers differ in size, but less wildly than resellers do. The biggest comes
        // first and carries one branch down to the deepest level.
        let mut weights: Vec<f64> = (0..roots).map(|_| b.rng.gen_range(0.4..2.0)).collect();
        weights.sort_by(|a, b| b.total_cmp(a));
        let shares = split(n - roots, &weights);
        for (r, share) in shares.into_iter().enumerate() {
            let must_reach = if r == 0 {
                // A pure chain would look odd in a tiny dataset: ask for depth only as far as
                // leaves can still hang off the way.
                let max = if share >= 12 { share } else { share / 2 };
                (MAX_DEPTH as usize).min(max) as u8
            } else if share >= 1_000 {
                // Big providers each have a branch or two that goes all the way down.
                MAX_DEPTH - 1 + (r % 2) as u8
            } else {
                0
            };
            b.grow(r as u32, 0, share, must_reach);
        }
    }
    let Builder { parent, depth, .. } = b;
    debug_assert_eq!(parent.len(), n);
    let mut children = vec![0u32; n];
    for p in parent.iter().flatten() {
        children[*p as usize] += 1;
    }
    let mut role = Vec::with_capacity(n);
    for i in 0..n {
        let r = match parent[i] {
            None => Role::Provider,
            Some(p) => match role[p as usize] {
                Role::Provider | Role::Reseller if children[i] > 0 && depth[i] <= 2 => {
                    Role::Reseller
                }
                Role::Provider | Role::Reseller => Role::Customer,
                Role::Customer | Role::Division => Role::Division,
            },
        };
        role.push(r);
    }
    Shape {
        parent,
        children,
        role,
    }
}

struct Builder<'a> {
    parent: Vec<Option<u32>>,
    depth: Vec<u8>,
    rng: &'a mut ChaCha8Rng,
}

impl Builder<'_> {
    fn push(&mut self, parent: Option<u32>, depth: u8) -> u32 {
        self.parent.push(parent);
        self.depth.push(depth);
        (self.parent.len() - 1) as u32
    }

    /// Places `budget` descendants under `node`, reaching at least `must_reach` levels below
    /// it (callers make sure `must_reach <= budget` and that it fits under [`MAX_DEPTH`]).
    fn grow(&mut self, node: u32, depth: u8, budget: usize, must_reach: u8) {
        if budget == 0 {
            return;
        }
        let child_depth = depth + 1;
        if child_depth == MAX_DEPTH {
            for _ in 0..budget {
                self.push(Some(node), child_depth);
            }
            return;
        }
        // Share of the budget that becomes direct leaf children.
        let leafy = match depth {
            0 => self.rng.gen_range(0.05..0.30),
            1 if self.rng.gen_bool(0.35) => self.rng.gen_range(0.90..1.0),
            1 => self.rng.gen_range(0.30..0.80),
            2 => self.rng.gen_range(0.50..1.0),
            _ => self.rng.gen_range(0.55..1.0),
        };
        let need = if must_reach >= 2 {
            must_reach as usize
        } else {
            0
        };
        let mut rest = budget - ((leafy * budget as f64).round() as usize).min(budget);
        rest = rest.max(need);
        let leaves = budget - rest;
        for _ in 0..leaves {
            self.push(Some(node), child_depth);
        }
        if rest == 0 {
            return;
        }
        // Sub-parents: roughly rest^0.6 of them, each taking one account for itself.
        let reserve = need.saturating_sub(1);
        let mut m = ((rest as f64).powf(0.6) * self.rng.gen_range(0.3..1.0)).ceil() as usize;
        m = m.clamp(1, rest - reserve);
        let pool = rest - m - reserve;
        let weights: Vec<f64> = (0..m)
            .map(|_| {
                // Pareto(alpha = 1.1): most sub-parents are small, a few are huge.
                let u: f64 = self.rng.gen_range(0.0..1.0);
                (1.0 - u).powf(-1.0 / 1.1).min(1e4)
            })
            .collect();
        let mut shares = split(pool, &weights);
        shares[0] += reserve;
        for (k, share) in shares.into_iter().enumerate() {
            let child = self.push(Some(node), child_depth);
            let reach = if k == 0 {
                must_reach.saturating_sub(1)
            } else {
                0
            };
            self.grow(child, child_depth, share, reach);
        }
    }
}

/// Splits `total` in proportion to `weights` (largest remainders go to the first entries).
pub(crate) fn split(total: usize, weights: &[f64]) -> Vec<usize> {
    let sum: f64 = weights.iter().sum();
    let mut shares: Vec<usize> = weights
        .iter()
        .map(|w| ((total as f64) * w / sum).floor() as usize)
        .collect();
    let mut given: usize = shares.iter().sum();
    // Floating point can overshoot by one on huge totals; take it back from the largest.
    while given > total {
        let i = (0..shares.len()).max_by_key(|&i| shares[i]).unwrap_or(0);
        shares[i] -= 1;
        given -= 1;
    }
    let n = shares.len();
    for i in 0..(total - given) {
        shares[i % n] += 1;
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn split_hands_out_exactly_the_total() {
        for total in [0, 1, 7, 1000, 99_999] {
            let s = split(total, &[0.3, 5.0, 1.0, 0.001]);
            assert_eq!(s.iter().sum::<usize>(), total);
        }
    }

    #[test]
    fn trees_have_the_asked_size_and_parents_come_first() {
        for n in [1, 2, 5, 10, 37, 200, 5_000] {
            let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
            let s = grow(n, &mut rng);
            assert_eq!(s.len(), n);
            for (i, p) in s.parent.iter().enumerate() {
                if let Some(p) = p {
                    assert!((*p as usize) < i, "parent of {i} is placed before it");
                }
                assert!(s.depth(i) <= MAX_DEPTH);
            }
        }
    }

    #[test]
    fn big_bases_are_deep_and_uneven() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let s = grow(100_000, &mut rng);
        assert_eq!(s.roots(), 6);
        assert_eq!((0..s.len()).map(|i| s.depth(i)).max(), Some(MAX_DEPTH));
        let widest = *s.children.iter().max().unwrap();
        assert!(
            widest >= 1_000,
            "some provider or reseller should have >= 1000 direct children, widest has {widest}"
        );
        let resellers: Vec<u32> = (0..s.len())
            .filter(|&i| s.role[i] == Role::Reseller)
            .map(|i| s.children[i])
            .collect();
        let small = resellers.iter().filter(|&&c| c <= 5).count();
        let big = resellers.iter().filter(|&&c| c >= 200).count();
        assert!(
            small > resellers.len() / 3 && big >= 5,
            "{small} small and {big} big of {} resellers: branching should be uneven",
            resellers.len()
        );
    }
}
