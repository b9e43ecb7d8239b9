//! The column contract (finance teams build spreadsheets on these headers: never rename or
//! reorder them) and the formula-injection guard.

use usagedesk_domain::PlanCatalog;

use crate::ExportReport;

/// The columns before the per-plan totals, in order.
pub const FIXED_COLUMNS: [&str; 12] = [
    "month",
    "account_id",
    "account_name",
    "parent_id",
    "parent_name",
    "depth",
    "status",
    "availability",
    "plan",
    "users_registered",
    "users_with_token",
    "users_with_activity",
];

/// The per-plan total columns' suffixes, in order.
pub const TOTAL_SUFFIXES: [&str; 3] = [
    "_users_registered_total",
    "_users_with_token_total",
    "_users_with_activity_total",
];

/// The entitlements report's columns, in order: the month, then the fields of
/// `usagedesk-cli entitlements --json` in theirs.
pub const ENTITLEMENT_COLUMNS: [&str; 12] = [
    "month",
    "license_id",
    "account_id",
    "plan",
    "seat_metric",
    "seats",
    "used",
    "utilization",
    "overage",
    "forecast_at_expiry",
    "forecast_over_seats",
    "expires_at",
];

/// The header row of `report` for a catalog.
pub fn columns(report: ExportReport, catalog: &PlanCatalog) -> Vec<String> {
    match report {
        ExportReport::Usage => header(catalog),
        ExportReport::Entitlements => ENTITLEMENT_COLUMNS
            .iter()
            .map(|c| (*c).to_owned())
            .collect(),
    }
}

/// The usage report's header row for a catalog: the fixed columns, then three totals per plan in catalog
/// order.
pub fn header(catalog: &PlanCatalog) -> Vec<String> {
    let mut cols: Vec<String> = FIXED_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    for plan in catalog.ids() {
        cols.extend(TOTAL_SUFFIXES.iter().map(|s| format!("{plan}{s}")));
    }
    cols
}

/// A text cell as written: a spreadsheet would run a cell beginning with `=`, `+`, `-`, `@`,
/// a tab or a carriage return as a formula, so such a cell gets a leading `'` (OWASP, "CSV
/// Injection"); the CSV quoting itself is the csv crate's. Everything else is unchanged.
pub fn neutralise(text: &str) -> std::borrow::Cow<'_, str> {
    match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

#[cfg(test)]
mod tests {
    use usagedesk_domain::{Plan, PlanCatalog};

    use super::*;

    #[test]
    fn header_is_the_contract() {
        let catalog = PlanCatalog(vec![
            Plan::new("basic", "Basic"),
            Plan::new("premium", "Premium"),
        ]);
        // Spelled out in full: this line is what customers' spreadsheets depend on.
        assert_eq!(
            header(&catalog).join(","),
            "month,account_id,account_name,parent_id,parent_name,depth,status,availability,plan,\
             users_registered,users_with_token,users_with_activity,\
             basic_users_registered_total,basic_users_with_token_total,basic_users_with_activity_total,\
             premium_users_registered_total,premium_users_with_token_total,premium_users_with_activity_total"
        );
    }

    #[test]
    fn entitlements_header_is_the_contract() {
        let catalog = PlanCatalog(vec![Plan::new("basic", "Basic")]);
        assert_eq!(
            columns(ExportReport::Entitlements, &catalog).join(","),
            "month,license_id,account_id,plan,seat_metric,seats,used,utilization,overage,\
             forecast_at_expiry,forecast_over_seats,expires_at"
        );
        assert_eq!(columns(ExportReport::Usage, &catalog), header(&catalog));
    }

    #[test]
    fn formula_starts_are_neutralised_and_nothing_else() {
        for bad in ["=SUM(A1)", "+1", "-2+3", "@cmd", "\tx", "\rx"] {
            assert_eq!(
                neutralise(bad),
                format!("'{bad}"),
                "{bad:?} would run as a formula"
            );
        }
        for fine in ["Acme", "a=b", "", "'quoted", "株式会社", "x-1", " =spaced"] {
            assert_eq!(neutralise(fine), fine, "{fine:?} is not a formula start");
        }
    }
}
