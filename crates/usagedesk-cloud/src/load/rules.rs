//! What a load may contain, checked against the file and what is stored. The rules are the
//! service's, the same for every engine: an engine reads what they need inside the load's
//! transaction, asks them, and writes only what they accept (a refusal rolls back the whole
//! load).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use usagedesk_domain::rollup::{Tree, TreeError};
use usagedesk_domain::{Account, PlanCatalog};

use crate::storage::{DailyRow, InstanceRow, LoadError, Located, RowError};

/// The file's accounts merged over the stored ones.
#[derive(Debug)]
pub struct AccountMerge<'f> {
    /// Every account after the load.
    pub all: HashMap<String, Account>,
    /// The file's accounts that are new or differ from the stored ones, in file order.
    pub changed: Vec<&'f Located<Account>>,
    /// The stored accounts whose parent changes, as they were before the load.
    pub moved: Vec<Account>,
    /// Whether the tree's shape changed (a parent or a creation date): the ancestry every
    /// scope is computed from must be rebuilt.
    pub tree_changed: bool,
}

/// Merges the file's accounts over `stored`: each id at most once in the file, each parent
/// an account of the file or the database, and the result still a forest (no cycle).
pub fn merge_accounts<'f>(
    stored: HashMap<String, Account>,
    file: &'f [Located<Account>],
) -> Result<AccountMerge<'f>, LoadError> {
    let mut all = stored;
    let mut seen = HashSet::new();
    let mut before: HashMap<&str, Option<Account>> = HashMap::new();
    for a in file {
        if !seen.insert(a.row.id.as_str()) {
            return Err(a
                .error(format!(
                    "account id '{}' appears twice in the file",
                    a.row.id
                ))
                .into());
        }
        let old = all.insert(a.row.id.clone(), a.row.clone());
        before.insert(a.row.id.as_str(), old);
    }
    for a in file {
        if let Some(p) = &a.row.parent_id {
            if !all.contains_key(p) {
                return Err(a
                    .error(format!(
                        "parent_id '{p}' is not an account in the file or the database"
                    ))
                    .into());
            }
        }
    }
    check_forest(&all, file)?;
    let old = |a: &Located<Account>| before.get(a.row.id.as_str()).and_then(Option::as_ref);
    let changed: Vec<&Located<Account>> = file.iter().filter(|a| old(a) != Some(&a.row)).collect();
    let moved = changed
        .iter()
        .filter_map(|a| old(a).filter(|o| o.parent_id != a.row.parent_id).cloned())
        .collect();
    let tree_changed = changed.iter().any(|a| {
        old(a).map(|o| (&o.parent_id, o.created_at)) != Some((&a.row.parent_id, a.row.created_at))
    });
    Ok(AccountMerge {
        all,
        changed,
        moved,
        tree_changed,
    })
}

/// Refuses a parent cycle, naming an account on it (located in the file when it is there).
pub fn check_forest(
    all: &HashMap<String, Account>,
    file: &[Located<Account>],
) -> Result<(), LoadError> {
    let ids: Vec<&String> = all.keys().collect();
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let parents = ids
        .iter()
        .map(|id| {
            all[*id]
                .parent_id
                .as_deref()
                .and_then(|p| index.get(p).copied())
        })
        .collect();
    let Err(e) = Tree::new(parents) else {
        return Ok(());
    };
    let culprit = match e {
        TreeError::Cycle(i) | TreeError::MissingParent(i, _) => ids[i].as_str(),
    };
    let msg = format!(
        "parent_id values around account '{culprit}' form a cycle: an account cannot be its \
         own ancestor"
    );
    Err(match file.iter().find(|a| a.row.id == culprit) {
        Some(a) => a.error(msg).into(),
        None => RowError {
            file: "accounts.csv".into(),
            line: 0,
            message: msg,
        }
        .into(),
    })
}

/// The checks of one daily row, in the order their messages were always given: its account
/// exists, its plan is in the catalog, its date is neither after `today` nor before the
/// account was created. Returns the account's id and the plan's id as stored (borrowed, so
/// a bulk load copies no text per row).
pub fn check_daily<'a>(
    r: &DailyRow,
    accounts: &'a HashMap<String, Account>,
    catalog: &'a PlanCatalog,
    today: NaiveDate,
) -> Result<(&'a str, &'a str), String> {
    let Some((account_id, account)) = accounts.get_key_value(&r.account_id) else {
        return Err(format!("account_id '{}' is not an account", r.account_id));
    };
    let Some(plan) = catalog.0.iter().find(|p| p.id == r.plan) else {
        return Err(format!(
            "plan '{}' is not in the catalog ({})",
            r.plan,
            catalog.describe()
        ));
    };
    if r.date > today {
        return Err(format!(
            "date {} is in the future (today is {today})",
            r.date
        ));
    }
    if r.date < account.created_at {
        return Err(format!(
            "date {} is before account '{}' was created ({})",
            r.date, r.account_id, account.created_at
        ));
    }
    Ok((account_id, &plan.id))
}

/// The checks of one instance row of a load: its id once in the file (`seen` holds the ids
/// before it), its account exists, and an instance keeps its account (`stored_account`: the
/// account it is stored under, if it is stored).
pub fn check_instance<'f>(
    row: &'f Located<InstanceRow>,
    seen: &mut HashSet<&'f str>,
    accounts: &HashMap<String, Account>,
    stored_account: Option<&str>,
) -> Result<(), LoadError> {
    let r = &row.row;
    if !seen.insert(r.id.as_str()) {
        return Err(row
            .error(format!("instance id '{}' appears twice in the file", r.id))
            .into());
    }
    if !accounts.contains_key(&r.account_id) {
        return Err(row
            .error(format!(
                "account_id '{}' is not an account of accounts.csv or the database",
                r.account_id
            ))
            .into());
    }
    if let Some(old_account) = stored_account.filter(|a| *a != r.account_id) {
        return Err(row
            .error(format!(
                "instance '{}' belongs to account '{old_account}'; an instance cannot move to \
                 another account: keep its account_id, or register the new installation under \
                 a new instance id",
                r.id
            ))
            .into());
    }
    Ok(())
}
