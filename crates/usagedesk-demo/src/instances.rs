//! The instances of the vendor's product at customers (`instances.csv`): one or two per
//! customer leaf account (production, sometimes a staging installation under the same
//! license), air-gapped where the account's usage comes by monthly file.

use rand::{Rng, RngCore};

use crate::model::{self, Base};
use crate::tree::Role;

/// Random streams of the instances: this plus the account's tree index.
pub(crate) const INSTANCE_STREAM: u64 = 2 << 32;

/// What the usage pass drew for an account, which its instances follow.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Reporting {
    /// The account has usage rows in the dataset.
    pub reported: bool,
    /// Its usage comes by file, once a month.
    pub airgapped: bool,
    /// The date of its last usage row.
    pub last_report: Option<chrono::NaiveDate>,
    /// The plan (catalog position) and users registered of its last usage row.
    pub plan: u8,
    pub registered: u64,
    /// Its last usage row's counts (registered, with token, with activity).
    pub last_counts: [u64; 3],
}

/// One row of `instances.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DemoInstance {
    pub id: String,
    pub license_id: String,
    pub airgapped: bool,
    /// `ed25519:…` when the instance reports online and so has been pinned.
    pub public_key: Option<String>,
}

/// Accounts that run the product: customers and divisions without children.
pub(crate) fn hosts(base: &Base) -> Vec<bool> {
    let mut has_children = vec![false; base.accounts.len()];
    for a in &base.accounts {
        if let Some(p) = a.parent {
            has_children[p as usize] = true;
        }
    }
    base.accounts
        .iter()
        .zip(has_children)
        .map(|(a, parent)| !parent && matches!(a.role, Role::Customer | Role::Division))
        .collect()
}

/// The instances of account `i` (a host), drawn from its own stream.
pub(crate) fn of_account(
    base: &Base,
    i: u32,
    reporting: Reporting,
    seed: u64,
) -> Vec<DemoInstance> {
    let mut rng = model::stream(seed, INSTANCE_STREAM + i as u64);
    let id = &base.accounts[i as usize].id;
    let stem = id.strip_prefix("acc-").unwrap_or(id);
    let count = if rng.gen_bool(0.35) { 2 } else { 1 };
    (1..=count)
        .map(|k| {
            // The production instance reports the way the account's usage shows; a staging
            // one of an air-gapped customer sits behind the same air gap half the time.
            let airgapped = reporting.airgapped && (k == 1 || rng.gen_bool(0.5));
            let mut seed_bytes = [0u8; 32];
            rng.fill_bytes(&mut seed_bytes);
            let public_key = (!airgapped && reporting.reported).then(|| {
                usagedesk_airgap::SigningKey::from_bytes(&seed_bytes)
                    .public_key()
                    .to_string()
            });
            DemoInstance {
                id: format!("inst-{stem}-{k}"),
                license_id: format!("lic-{stem}"),
                airgapped,
                public_key,
            }
        })
        .collect()
}
