//! What a load may contain, checked against the file and what is stored. The rules are the
//! service's, the same for every engine: an engine reads what they need inside the load's
//! transaction, asks them, and writes only what they accept (a refusal rolls back the whole
//! load).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Days, NaiveDate, Utc};
use usagedesk_domain::customer::{InstallAttempt, InstanceEvent, InstanceReport, License};
use usagedesk_domain::rollup::{Tree, TreeError};
use usagedesk_domain::{Account, PlanCatalog};

use crate::customers::rules::{check_seat_plans, time_text};
use crate::storage::{DailyRow, InstanceRow, LoadError, Located, RowError, StepRow};

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
/// before it), its account exists, an instance keeps its account (`stored_account`: the
/// account it is stored under, if it is stored), and its last report is not after `today`.
pub fn check_instance<'f>(
    row: &'f Located<InstanceRow>,
    seen: &mut HashSet<&'f str>,
    accounts: &HashMap<String, Account>,
    stored_account: Option<&str>,
    today: NaiveDate,
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
    match &r.last_report_at {
        Some(t) => not_future(row, "last_report_at", t, today),
        None => Ok(()),
    }
}

/// The first instant after `today`: loaded times must be before it.
fn end_of(today: NaiveDate) -> DateTime<Utc> {
    today
        .checked_add_days(Days::new(1))
        .unwrap_or(today)
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
}

/// Refuses a time of a loaded row (`field`) later than `today`.
pub fn not_future<T>(
    row: &Located<T>,
    field: &str,
    t: &DateTime<Utc>,
    today: NaiveDate,
) -> Result<(), LoadError> {
    if *t >= end_of(today) {
        return Err(row
            .error(format!(
                "{field} {} is in the future (today is {today})",
                time_text(t)
            ))
            .into());
    }
    Ok(())
}

/// The checks of one license row: its id once in the file, its account exists, its seats
/// name plans of the catalog, it was not created after `today`, and a stored license keeps
/// its account (`stored_account`).
pub fn check_license<'f>(
    row: &'f Located<License>,
    seen: &mut HashSet<&'f str>,
    accounts: &HashMap<String, Account>,
    catalog: &PlanCatalog,
    today: NaiveDate,
) -> Result<(), LoadError> {
    let l = &row.row;
    if !seen.insert(l.id.as_str()) {
        return Err(row
            .error(format!("license id '{}' appears twice in the file", l.id))
            .into());
    }
    if !accounts.contains_key(&l.account_id) {
        return Err(row
            .error(format!(
                "account_id '{}' is not an account of accounts.csv or the database",
                l.account_id
            ))
            .into());
    }
    check_seat_plans(&l.seats, catalog).map_err(|m| row.error(m))?;
    not_future(row, "created_at", &l.created_at, today)
}

/// A stored license keeps its account.
pub fn check_license_account(
    row: &Located<License>,
    stored_account: &str,
) -> Result<(), LoadError> {
    let l = &row.row;
    if stored_account != l.account_id {
        return Err(row
            .error(format!(
                "license '{}' belongs to account '{stored_account}'; a license cannot move to \
                 another account: keep its account_id, or issue a new license id",
                l.id
            ))
            .into());
    }
    Ok(())
}

/// An instance whose license belongs to an account that is neither the instance's account
/// nor one of its ancestors, blamed on the instance's row when the load has it, else on the
/// license's.
pub struct LicenseMismatch<'a> {
    pub instance: &'a str,
    pub instance_account: &'a str,
    pub license: &'a str,
    pub license_account: &'a str,
}

impl LicenseMismatch<'_> {
    /// `instance_lines`: where each instance of the load's instance file is (file, line).
    pub fn error(
        &self,
        instance_lines: &HashMap<String, (String, u64)>,
        licenses: &[Located<License>],
    ) -> LoadError {
        let Self {
            instance,
            instance_account,
            license,
            license_account,
        } = self;
        let message = format!(
            "instance '{instance}' of account '{instance_account}' runs under license \
             '{license}', which belongs to account '{license_account}': a license serves the \
             instances of its account and its descendants; fix the license's account_id or \
             the instance's license_id"
        );
        let (file, line) = match instance_lines.get(*instance) {
            Some((file, line)) => (file.clone(), *line),
            None => match licenses.iter().find(|l| l.row.id == *license) {
                Some(l) => (l.file.to_string(), l.line),
                None => ("licenses.csv".into(), 0),
            },
        };
        RowError {
            file,
            line,
            message,
        }
        .into()
    }
}

/// The checks of one report row: one per instance in the file, its instance known
/// (`instance_known`), its last check-in not after `today`.
pub fn check_report<'f>(
    row: &'f Located<InstanceReport>,
    seen: &mut HashSet<&'f str>,
    instance_known: bool,
    today: NaiveDate,
) -> Result<(), LoadError> {
    let r = &row.row;
    if !seen.insert(r.instance_id.as_str()) {
        return Err(row
            .error(format!(
                "instance '{}' has a second report in the file; give one row per instance",
                r.instance_id
            ))
            .into());
    }
    if !instance_known {
        return Err(unknown_instance(row, &r.instance_id));
    }
    not_future(row, "last_check_in", &r.last_check_in, today)
}

/// The checks of one event row: its instance known, received not after `today`.
pub fn check_event(
    row: &Located<InstanceEvent>,
    instance_known: bool,
    today: NaiveDate,
) -> Result<(), LoadError> {
    let e = &row.row;
    if !instance_known {
        return Err(unknown_instance(row, &e.instance_id));
    }
    not_future(row, "received_at", &e.received_at, today)
}

/// A second event of one instance, field and time in the file.
pub fn duplicate_event(row: &Located<InstanceEvent>) -> LoadError {
    let e = &row.row;
    row.error(format!(
        "instance '{}' has a second '{}' event at {} in the file; give one row per instance, \
         time and field",
        e.instance_id,
        e.field,
        time_text(&e.received_at)
    ))
    .into()
}

fn unknown_instance<T>(row: &Located<T>, instance_id: &str) -> LoadError {
    row.error(format!(
        "instance_id '{instance_id}' is not an instance of instances.csv or the database"
    ))
    .into()
}

/// The checks of one install attempt row: its id once in the file (`seen`), its license
/// known (`license_known`), started not after `today`, and a stored attempt keeps its
/// license (`stored_license`).
pub fn check_attempt(
    row: &Located<InstallAttempt>,
    seen: bool,
    license_known: bool,
    stored_license: Option<&str>,
    today: NaiveDate,
) -> Result<(), LoadError> {
    let a = &row.row;
    if seen {
        return Err(row
            .error(format!(
                "install attempt id '{}' appears twice in the file",
                a.id
            ))
            .into());
    }
    if !license_known {
        return Err(row
            .error(format!(
                "license_id '{}' is not a license of licenses.csv or the database",
                a.license_id
            ))
            .into());
    }
    not_future(row, "started_at", &a.started_at, today)?;
    if let Some(old) = stored_license.filter(|l| *l != a.license_id) {
        return Err(row
            .error(format!(
                "install attempt '{}' belongs to license '{old}'; an attempt keeps its license: \
                 give the new attempt a new id",
                a.id
            ))
            .into());
    }
    Ok(())
}

/// A step naming an attempt neither the file nor the database has.
pub fn unknown_attempt(row: &Located<StepRow>) -> LoadError {
    row.error(format!(
        "attempt_id '{}' is not an install attempt of install_attempts.csv or the database",
        row.row.attempt_id
    ))
    .into()
}

/// The checks of one step row: not before its attempt `started`, not before the step
/// before it in the file (`previous`), not after `today`.
pub fn check_step(
    row: &Located<StepRow>,
    started: &DateTime<Utc>,
    previous: Option<&Located<StepRow>>,
    today: NaiveDate,
) -> Result<(), LoadError> {
    let step = &row.row.step;
    if step.at < *started {
        return Err(row
            .error(format!(
                "step '{}' at {} is before its attempt started ({})",
                step.name,
                time_text(&step.at),
                time_text(started)
            ))
            .into());
    }
    if let Some(prev) = previous {
        if step.at < prev.row.step.at {
            return Err(row
                .error(format!(
                    "step '{}' at {} is earlier than the step before it (line {}); list an \
                     attempt's steps in time order",
                    step.name,
                    time_text(&step.at),
                    prev.line
                ))
                .into());
        }
    }
    not_future(row, "at", &step.at, today)
}
