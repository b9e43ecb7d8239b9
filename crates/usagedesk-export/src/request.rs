//! What to export, checked against the cache and today's date before anything is written.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use usagedesk_cache::{Cache, EntitlementScope};
use usagedesk_domain::{Scope, YearMonth};

use crate::ExportError;

/// The longest month range one export takes (50 years).
pub const MAX_MONTHS: usize = 600;

/// Which report an export writes (`docs/export-format.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ExportReport {
    /// Monthly usage: one row per account in scope and month.
    #[default]
    Usage,
    /// Entitlements: one row per license held in scope, plan and month
    /// (`docs/entitlements.md`).
    Entitlements,
}

impl ExportReport {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Usage => "usage",
            Self::Entitlements => "entitlements",
        }
    }
}

/// What the user asks for: a report, an account, a scope and a range of completed months.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportRequest {
    /// Absent in requests written before entitlements could be exported: `usage`.
    #[serde(default)]
    pub report: ExportReport,
    pub account_id: String,
    pub scope: Scope,
    pub from: YearMonth,
    pub to: YearMonth,
}

/// A checked request: what the export will write, shown to the user before writing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportPlan {
    pub request: ExportRequest,
    pub account_name: String,
    /// Months of the range the cache has data for: the CSV has rows for these.
    pub months: Vec<YearMonth>,
    /// Months of the range with no synced data at all: no rows (sync, or widen the range).
    pub months_without_data: Vec<YearMonth>,
    /// Accounts in scope (the usage report's rows per month).
    pub accounts: u64,
    /// Entitlements: licenses held in scope in force in at least one of `months` (0 for the
    /// usage report).
    pub licenses: u64,
    /// Rows the CSV will hold, header not counted. For entitlements, when not `rows_exact`,
    /// the rows of plans with seats: each plan used without seats adds a row, known only
    /// once computed.
    pub rows: u64,
    /// Whether `rows` is the exact count (always for usage) or a lower bound.
    pub rows_exact: bool,
    /// A file name to offer in the save dialog.
    pub suggested_file_name: String,
}

/// Checks `req` and works out what it will write. Refuses a month that is not complete yet
/// (its month-end values are not final), a reversed range, a range over [`MAX_MONTHS`] and
/// an account that is not in the cache.
pub fn plan(
    cache: &Cache,
    req: &ExportRequest,
    today: NaiveDate,
) -> Result<ExportPlan, ExportError> {
    for m in [req.from, req.to] {
        if !m.is_completed(today) {
            return Err(ExportError::Invalid(format!(
                "{m} is not a completed month yet, so its month-end values are not final; the \
                 latest completed month is {}",
                YearMonth::last_completed(today)
            )));
        }
    }
    if req.from > req.to {
        return Err(ExportError::Invalid(format!(
            "the range starts ({}) after it ends ({}); swap the two months",
            req.from, req.to
        )));
    }
    let range: Vec<YearMonth> = req.from.through(req.to).collect();
    if range.len() > MAX_MONTHS {
        return Err(ExportError::Invalid(format!(
            "{} to {} is {} months; export at most {MAX_MONTHS} at a time",
            req.from,
            req.to,
            range.len()
        )));
    }
    let account = cache.accounts().get(&req.account_id)?.ok_or_else(|| {
        usagedesk_cache::CacheError::UnknownAccount {
            id: req.account_id.clone(),
        }
    })?;
    let with_data = cache.usage().months()?;
    let (months, months_without_data): (Vec<_>, Vec<_>) = range
        .into_iter()
        .partition(|m| with_data.binary_search(m).is_ok());
    let accounts = cache.usage().report_accounts(&req.account_id, req.scope)?;
    let (licenses, rows, rows_exact) = match req.report {
        ExportReport::Usage => (0, accounts * months.len() as u64, true),
        ExportReport::Entitlements => {
            let n = cache.entitlements().count_license_months(
                &req.account_id,
                entitlement_scope(req.scope),
                &months,
            )?;
            (n.licenses, n.seat_rows, false)
        }
    };
    Ok(ExportPlan {
        suggested_file_name: file_name(req),
        rows,
        rows_exact,
        accounts,
        licenses,
        account_name: account.name,
        months,
        months_without_data,
        request: req.clone(),
    })
}

/// The entitlements' scope of a report scope: the licenses held by the account, with its
/// direct children's, or in its whole subtree.
pub fn entitlement_scope(scope: Scope) -> EntitlementScope {
    match scope {
        Scope::Own => EntitlementScope::Own,
        Scope::Children => EntitlementScope::Children,
        Scope::Tree => EntitlementScope::Tree,
    }
}

/// `<report>-<account>-<scope>-<from>_<to>.csv`, with anything but letters, digits, `-` and
/// `_` in the account id replaced by `_`.
fn file_name(req: &ExportRequest) -> String {
    let id: String = req
        .account_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let range = if req.from == req.to {
        req.from.to_string()
    } else {
        format!("{}_{}", req.from, req.to)
    };
    format!(
        "{}-{id}-{}-{range}.csv",
        req.report.as_str(),
        req.scope.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(from: &str, to: &str) -> ExportRequest {
        ExportRequest {
            report: ExportReport::Usage,
            account_id: "acme/eu 1".into(),
            scope: Scope::Tree,
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
        }
    }

    #[test]
    fn file_names_are_safe_and_say_what_they_hold() {
        assert_eq!(
            file_name(&req("2024-01", "2024-06")),
            "usage-acme_eu_1-tree-2024-01_2024-06.csv"
        );
        assert_eq!(
            file_name(&req("2024-03", "2024-03")),
            "usage-acme_eu_1-tree-2024-03.csv"
        );
        let ent = ExportRequest {
            report: ExportReport::Entitlements,
            ..req("2024-01", "2024-06")
        };
        assert_eq!(
            file_name(&ent),
            "entitlements-acme_eu_1-tree-2024-01_2024-06.csv"
        );
    }

    #[test]
    fn incomplete_and_reversed_ranges_are_refused_before_the_cache_is_read() {
        let cache = Cache::open_in_memory().unwrap();
        let today = NaiveDate::from_ymd_opt(2024, 7, 15).unwrap();
        let err = plan(&cache, &req("2024-06", "2024-07"), today).unwrap_err();
        assert!(
            err.to_string().contains("2024-07 is not a completed month"),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("latest completed month is 2024-06"),
            "{err}"
        );
        let err = plan(&cache, &req("2024-05", "2024-04"), today).unwrap_err();
        assert!(err.to_string().contains("swap"), "{err}");
        let err = plan(&cache, &req("1900-01", "2024-01"), today).unwrap_err();
        assert!(err.to_string().contains("at most 600"), "{err}");
        let err = plan(&cache, &req("2024-01", "2024-02"), today).unwrap_err();
        assert_eq!(err.kind(), crate::ExportErrorKind::NotFound, "{err}");
    }
}
