//! The accounts of a demo dataset: tree, creation dates, status, names and ids, plus the
//! handful of accounts forced into each edge case so every dataset shows all of them.

use chrono::NaiveDate;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::calendar::{add_days, sub_days, Period};
use crate::names::{self, Awkward};
use crate::tree::{self, Role};

/// An edge case one account is forced into, so small datasets show it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// One month without data between months with data (not available).
    Gap,
    /// Moves to another plan between two months that both have data.
    PlanChange,
    /// Disabled after reporting for a while.
    Disabled,
    /// Activity slides to zero while the account keeps reporting.
    Churn,
    /// Exists throughout the period, never reports.
    NeverReports,
    /// Created inside the covered period (non-existent in its earlier months).
    CreatedMidPeriod,
}

impl Scenario {
    /// Forced in this order, on accounts created before the period.
    const WITH_HISTORY: [Scenario; 5] = [
        Self::Gap,
        Self::PlanChange,
        Self::Disabled,
        Self::Churn,
        Self::NeverReports,
    ];
}

#[derive(Debug, Clone)]
pub(crate) struct DemoAccount {
    pub id: String,
    pub name: String,
    pub parent: Option<u32>,
    pub role: Role,
    pub created_at: NaiveDate,
    pub disabled: bool,
    pub scenario: Option<Scenario>,
}

/// Accounts in tree order (parents first) and the order they are written in (by id).
#[derive(Debug, Clone)]
pub(crate) struct Base {
    pub accounts: Vec<DemoAccount>,
    pub file_order: Vec<u32>,
}

/// An independent random stream for one generation stage, so that changing one stage does
/// not reshuffle the others.
pub(crate) fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Streams 0..=3 are the base's; usage streams start here (plus the account's tree index).
pub(crate) const USAGE_STREAM: u64 = 1 << 32;

pub(crate) fn generate(n: usize, seed: u64, period: &Period) -> Base {
    let shape = tree::grow(n, &mut stream(seed, 0));
    let mut rng = stream(seed, 1);

    // Edge cases go to leaves first (a forced old leaf forces only its ancestors to be old).
    let mut leaves: Vec<u32> = Vec::new();
    let mut inner: Vec<u32> = Vec::new();
    for i in 0..n {
        if shape.parent[i].is_some() {
            if shape.children[i] == 0 {
                leaves.push(i as u32);
            } else {
                inner.push(i as u32);
            }
        }
    }
    leaves.shuffle(&mut rng);
    inner.shuffle(&mut rng);
    let candidates: Vec<u32> = leaves.iter().chain(&inner).copied().collect();
    let mut scenario: Vec<Option<Scenario>> = vec![None; n];
    let mut old = vec![false; n];
    let mut next = 0;
    for s in Scenario::WITH_HISTORY {
        let Some(&i) = candidates.get(next) else {
            break;
        };
        next += 1;
        scenario[i as usize] = Some(s);
        let mut a = Some(i);
        while let Some(x) = a {
            old[x as usize] = true;
            a = shape.parent[x as usize];
        }
    }
    if let Some(&i) = candidates[next.min(candidates.len())..]
        .iter()
        .find(|&&i| !old[i as usize])
    {
        scenario[i as usize] = Some(Scenario::CreatedMidPeriod);
    }

    // Creation dates, top-down (parents come first in tree order).
    let start = period.start;
    let days_in_period = (period.yesterday - start).num_days();
    let can_mid = days_in_period >= 1;
    let migration = sub_days(start, rng.gen_range(400..1500));
    let mut created: Vec<NaiveDate> = Vec::with_capacity(n);
    for i in 0..n {
        let date = match shape.parent[i] {
            None => sub_days(start, rng.gen_range(3 * 365..8 * 365)),
            Some(p) => {
                let pd = created[p as usize];
                if pd >= start {
                    // The parent itself is new: its children follow within a few months.
                    let room = (period.yesterday - pd).num_days().clamp(0, 120);
                    add_days(pd, rng.gen_range(0..=room) as u64)
                } else if can_mid && !old[i] && scenario[i] == Some(Scenario::CreatedMidPeriod) {
                    // From the second covered month on, so at least one month shows it as
                    // non-existent.
                    let lo = match period.months.get(1) {
                        Some(m) if m.first_day() <= period.yesterday => m.first_day(),
                        _ => add_days(start, 1),
                    };
                    let room = (period.yesterday - lo).num_days();
                    add_days(lo, rng.gen_range(0..=room) as u64)
                } else if can_mid && !old[i] && rng.gen_bool(0.10) {
                    add_days(start, rng.gen_range(1..=days_in_period) as u64)
                } else {
                    let hi = sub_days(start, 1);
                    if (pd..=hi).contains(&migration) && rng.gen_bool(0.2) {
                        // Bulk import from the vendor's previous system: many accounts share
                        // one creation day, in no particular tree order.
                        migration
                    } else {
                        let span = (hi - pd).num_days() as f64;
                        let u: f64 = rng.gen_range(0.0..1.0);
                        add_days(pd, (span * u.powf(0.6)).floor() as u64)
                    }
                }
            }
        };
        created.push(date);
    }

    let disabled: Vec<bool> = (0..n)
        .map(|i| match scenario[i] {
            Some(Scenario::Disabled) => true,
            Some(_) => false,
            None => shape.parent[i].is_some() && rng.gen_bool(0.05),
        })
        .collect();

    // Names, top-down so divisions can borrow their company's name.
    let mut name_rng = stream(seed, 2);
    let mut awkward: Vec<Option<Awkward>> = vec![None; n];
    let mut customers: Vec<u32> = (0..n as u32)
        .filter(|&i| shape.role[i as usize] == Role::Customer)
        .collect();
    customers.shuffle(&mut name_rng);
    let mut rest: Vec<u32> = (0..n as u32)
        .filter(|&i| shape.role[i as usize] != Role::Customer)
        .collect();
    rest.shuffle(&mut name_rng);
    for (kind, &i) in Awkward::ALL.iter().zip(customers.iter().chain(&rest)) {
        awkward[i as usize] = Some(*kind);
    }
    let mut namer = names::Namer::new(name_rng);
    let mut names: Vec<String> = Vec::with_capacity(n);
    for (i, awkward) in awkward.iter().enumerate() {
        let parent = shape.parent[i].map(|p| p as usize);
        let name = namer.name(
            shape.role[i],
            parent.map(|p| names[p].as_str()),
            parent.map(|p| shape.role[p]),
            *awkward,
        );
        names.push(name);
    }

    // Ids follow creation order, as a vendor's sequence would hand them out; ties (the bulk
    // import) are broken at random, so some children get lower ids than their parents.
    let mut id_rng = stream(seed, 3);
    let mut keyed: Vec<(bool, NaiveDate, u64, u32)> = (0..n)
        .map(|i| {
            (
                shape.parent[i].is_none(),
                created[i],
                id_rng.gen::<u64>(),
                i as u32,
            )
        })
        .collect();
    keyed.sort_unstable();
    let roots = shape.roots();
    let acc_width = (n - roots).to_string().len().max(6);
    let sp_width = roots.to_string().len().max(2);
    let mut ids = vec![String::new(); n];
    for (pos, &(is_root, _, _, i)) in keyed.iter().enumerate() {
        ids[i as usize] = if is_root {
            format!("sp-{:0sp_width$}", pos - (n - roots) + 1)
        } else {
            format!("acc-{:0acc_width$}", pos + 1)
        };
    }
    // `acc-…` sorts before `sp-…`, so this is also the order of the ids as text.
    let file_order: Vec<u32> = keyed.iter().map(|k| k.3).collect();

    let accounts = names
        .into_iter()
        .zip(ids)
        .enumerate()
        .map(|(i, (name, id))| DemoAccount {
            id,
            name,
            parent: shape.parent[i],
            role: shape.role[i],
            created_at: created[i],
            disabled: disabled[i],
            scenario: scenario[i],
        })
        .collect();
    Base {
        accounts,
        file_order,
    }
}
