//! Validation of `POST /api/v1/usage`: everything is checked before anything is written.

use chrono::NaiveDate;
use usagedesk_domain::account::validate_id;
use usagedesk_domain::api::{DailySnapshot, MAX_INGEST_SNAPSHOTS};
use usagedesk_domain::UsageCounts;

use crate::storage::{DailyRow, Store, StoreError, TokenScope};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn count(at: &str, field: &str, v: i64) -> Result<u64, IngestError> {
    u64::try_from(v)
        .map_err(|_| IngestError::Invalid(format!("{at}.{field} is {v}; counts must be 0 or more")))
}

/// Checks every snapshot against the token's scope, the catalog, the account's creation date
/// and today. The first problem found is reported with the snapshot's index.
pub fn validate(
    storage: &dyn Store,
    scope: &TokenScope,
    snapshots: &[DailySnapshot],
    today: NaiveDate,
) -> Result<Vec<DailyRow>, IngestError> {
    if snapshots.is_empty() {
        return Err(IngestError::Invalid(
            "no snapshots: send at least one".into(),
        ));
    }
    if snapshots.len() > MAX_INGEST_SNAPSHOTS {
        return Err(IngestError::Invalid(format!(
            "{} snapshots in one request; send at most {MAX_INGEST_SNAPSHOTS} per request",
            snapshots.len()
        )));
    }
    validate_rows(storage, scope, snapshots, today, &|i| {
        format!("snapshots[{i}]")
    })
}

/// The checks of [`validate`] on each snapshot, with no limit on their number; `at(i)` names
/// the `i`-th snapshot in messages (e.g. `snapshots[3]`).
pub fn validate_rows(
    storage: &dyn Store,
    scope: &TokenScope,
    snapshots: &[DailySnapshot],
    today: NaiveDate,
    at: &dyn Fn(usize) -> String,
) -> Result<Vec<DailyRow>, IngestError> {
    let catalog = storage.plans()?;
    let mut created = std::collections::HashMap::new();
    let mut rows = Vec::with_capacity(snapshots.len());
    for (i, s) in snapshots.iter().enumerate() {
        let here = at(i);
        let bad = |m: String| IngestError::Invalid(format!("{here}: {m}"));
        validate_id(&s.account_id).map_err(|e| bad(e.0))?;
        if !created.contains_key(&s.account_id) {
            let account = storage.account(scope, &s.account_id)?.ok_or_else(|| {
                bad(format!(
                    "account '{}' is unknown to this token",
                    s.account_id
                ))
            })?;
            created.insert(s.account_id.clone(), account.created_at);
        }
        if catalog.index_of(&s.plan).is_none() {
            return Err(bad(format!(
                "plan '{}' is not in the catalog ({})",
                s.plan,
                catalog.describe()
            )));
        }
        if s.date > today {
            return Err(bad(format!(
                "date {} is in the future (today is {today})",
                s.date
            )));
        }
        let created_at = created[&s.account_id];
        if s.date < created_at {
            return Err(bad(format!(
                "date {} is before account '{}' was created ({created_at})",
                s.date, s.account_id
            )));
        }
        rows.push(DailyRow {
            account_id: s.account_id.clone(),
            date: s.date,
            plan: s.plan.clone(),
            counts: UsageCounts::new(
                count(&here, "users_registered", s.users_registered)?,
                count(&here, "users_with_token", s.users_with_token)?,
                count(&here, "users_with_activity", s.users_with_activity)?,
            ),
        });
    }
    Ok(rows)
}
