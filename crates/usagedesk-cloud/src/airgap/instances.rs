//! What binds a file to an instance as the cloud knows it: the instance is registered and
//! visible, the sync key names its real place in the tree and its license, and every record
//! is for its account's subtree.

use std::collections::HashSet;

use chrono::NaiveDate;
use usagedesk_airgap::{SyncKey, UsageData, MAX_ACCOUNT_PATH};
use usagedesk_domain::api::DailySnapshot;
use usagedesk_domain::Instance;

use super::Refusal;
use crate::ingest::{self, IngestError};
use crate::storage::{DailyRow, Store, TokenScope};

/// Who is asking: a manager's token, or an instance itself (online mode, no token).
#[derive(Debug, Clone, Copy)]
pub enum Asker<'a> {
    Token(&'a TokenScope),
    Instance,
}

/// The instance `id`, when it is registered and the asker may see it; a 404 otherwise (a
/// token never learns whether an instance outside its scope exists).
pub fn find(storage: &dyn Store, asker: Asker<'_>, id: &str) -> Result<Instance, Refusal> {
    let scope = match asker {
        Asker::Token(scope) => scope,
        Asker::Instance => &TokenScope::All,
    };
    storage.instance(scope, id)?.ok_or_else(|| {
        Refusal::NotFound(match asker {
            Asker::Token(_) => format!(
                "no instance '{id}' is visible to this token: check the instance id in the \
                 file, or import it with a token whose account includes the instance's account"
            ),
            Asker::Instance => format!(
                "no instance '{id}' is registered with this cloud: check the agent's instance \
                 id, or ask the vendor to register the instance (instances.csv)"
            ),
        })
    })
}

/// The instance's account path in the cloud's tree, root first.
pub fn account_path(storage: &dyn Store, instance: &Instance) -> Result<Vec<String>, Refusal> {
    let path = storage.account_path(&instance.account_id)?;
    if path.is_empty() || path.len() > MAX_ACCOUNT_PATH {
        return Err(Refusal::Invalid(format!(
            "instance '{}' belongs to account '{}', which sits {} levels deep; the exchange \
             supports at most {MAX_ACCOUNT_PATH}",
            instance.id,
            instance.account_id,
            path.len()
        )));
    }
    Ok(path)
}

/// Checks that a (verified) sync key describes the instance as the cloud knows it: its place
/// in the tree and, when it names one, its license.
pub fn check_sync_key(
    storage: &dyn Store,
    instance: &Instance,
    sync_key: &SyncKey,
) -> Result<(), Refusal> {
    let path = account_path(storage, instance)?;
    if sync_key.account_path != path {
        return Err(Refusal::Invalid(format!(
            "the sync key places instance '{}' under {}, but the cloud has it under {}: the \
             accounts changed since the sync key was issued; sync, issue a new sync key and \
             export again",
            instance.id,
            sync_key.account_path.join(" > "),
            path.join(" > ")
        )));
    }
    match &sync_key.license_id {
        Some(license) => check_license(instance, license),
        None => Ok(()),
    }
}

/// Checks that a file names the instance's license.
pub fn check_license(instance: &Instance, license: &str) -> Result<(), Refusal> {
    if license == instance.license_id {
        return Ok(());
    }
    Err(Refusal::Invalid(format!(
        "the files name license '{license}', but instance '{}' runs under license '{}': they \
         belong to another installation; use the files made for this instance",
        instance.id, instance.license_id
    )))
}

/// Checks that every record is for the instance's account or a descendant, then runs them
/// through the ingest validation (catalog, dates, creation dates, counts), as daily rows in
/// `seq` order.
pub fn daily_rows(
    storage: &dyn Store,
    instance: &Instance,
    usage: &UsageData,
    today: NaiveDate,
) -> Result<Vec<DailyRow>, Refusal> {
    let scope = TokenScope::Subtree(instance.account_id.clone());
    let mut checked = HashSet::new();
    let mut snapshots = Vec::with_capacity(usage.records.len());
    for r in &usage.records {
        if i64::try_from(r.seq).is_err() {
            return Err(Refusal::Invalid(format!(
                "record seq {} is above {}, the largest seq the cloud stores: reset the agent's \
                 sequence",
                r.seq,
                i64::MAX
            )));
        }
        if checked.insert(r.account_id.as_str())
            && storage.account(&scope, &r.account_id)?.is_none()
        {
            return Err(Refusal::Invalid(format!(
                "record seq {} is for account '{}', which is neither account '{}' of instance \
                 '{}' nor one of its descendants: an instance reports only for its own \
                 account's subtree; fix the agent's records and export again",
                r.seq, r.account_id, instance.account_id, instance.id
            )));
        }
        let count = |field: &str, v: u64| {
            i64::try_from(v).map_err(|_| {
                Refusal::Invalid(format!("record seq {}: {field} {v} is too large", r.seq))
            })
        };
        snapshots.push(DailySnapshot {
            account_id: r.account_id.clone(),
            date: r.date,
            plan: r.plan.clone(),
            users_registered: count("users_registered", r.users_registered)?,
            users_with_token: count("users_with_token", r.users_with_token)?,
            users_with_activity: count("users_with_activity", r.users_with_activity)?,
        });
    }
    let seqs: Vec<u64> = usage.records.iter().map(|r| r.seq).collect();
    ingest::validate_rows(storage, &scope, &snapshots, today, &|i| {
        format!("record seq {}", seqs[i])
    })
    .map_err(|e| match e {
        IngestError::Invalid(m) => Refusal::Invalid(format!(
            "the usage data file cannot be imported: {m}; fix the agent's records and export \
             again"
        )),
        IngestError::Store(s) => s.into(),
    })
}
