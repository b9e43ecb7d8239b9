//! The CSV load format's file names and headers (`docs/load-format.md`), shared by the
//! cloud's loader and the demo-data generator so the two cannot disagree.

pub const ACCOUNTS_FILE: &str = "accounts.csv";
pub const DAILY_USAGE_FILE: &str = "daily_usage.csv";
pub const PLANS_FILE: &str = "plans.csv";
/// Optional: the instances of the product at customers (air-gapped ones report by file).
pub const INSTANCES_FILE: &str = "instances.csv";

pub const ACCOUNTS_HEADER: [&str; 5] = ["id", "name", "parent_id", "status", "created_at"];
pub const DAILY_USAGE_HEADER: [&str; 6] = [
    "account_id",
    "date",
    "plan",
    "users_registered",
    "users_with_token",
    "users_with_activity",
];
/// `plans.csv` with each plan's seat metric; [`PLANS_HEADER_NO_SEAT_METRIC`] is also read
/// (every plan's seats then count users registered).
pub const PLANS_HEADER: [&str; 3] = ["id", "name", "seat_metric"];
pub const PLANS_HEADER_NO_SEAT_METRIC: [&str; 2] = ["id", "name"];
/// `public_key` may be empty (pinned on the instance's first report).
pub const INSTANCES_HEADER: [&str; 5] =
    ["id", "license_id", "account_id", "airgapped", "public_key"];
/// `instances.csv` with its optional last column: when the instance last reported (RFC 3339,
/// may be empty), e.g. carried over from another system.
pub const INSTANCES_HEADER_LAST_REPORT: [&str; 6] = [
    "id",
    "license_id",
    "account_id",
    "airgapped",
    "public_key",
    "last_report_at",
];

/// Optional customer-reporting files (`docs/load-format.md`; headers defined with the loader).
pub const LICENSES_FILE: &str = "licenses.csv";
pub const INSTANCE_REPORTS_FILE: &str = "instance_reports.csv";
pub const INSTANCE_EVENTS_FILE: &str = "instance_events.csv";
pub const INSTALL_ATTEMPTS_FILE: &str = "install_attempts.csv";
pub const INSTALL_STEPS_FILE: &str = "install_steps.csv";

/// `expires_at` may be empty (never expires); `features` is a `;`-separated subset of
/// `gitops;airgap;identity;snapshots`; `seats` is `plan=N;plan=N` (both may be empty).
pub const LICENSES_HEADER: [&str; 8] = [
    "id",
    "account_id",
    "type",
    "channel",
    "created_at",
    "expires_at",
    "features",
    "seats",
];
/// One row per instance: what it last reported.
pub const INSTANCE_REPORTS_HEADER: [&str; 13] = [
    "instance_id",
    "status",
    "app_version",
    "distribution",
    "kubernetes_version",
    "embedded_cluster",
    "nodes_ready",
    "nodes_total",
    "agent_version",
    "cloud_provider",
    "region",
    "first_check_in",
    "last_check_in",
];
/// `previous` empty: the field had no value before.
pub const INSTANCE_EVENTS_HEADER: [&str; 5] =
    ["instance_id", "field", "previous", "new", "received_at"];
pub const INSTALL_ATTEMPTS_HEADER: [&str; 8] = [
    "id",
    "license_id",
    "status",
    "started_at",
    "user_email",
    "environment",
    "mode",
    "registry",
];
/// The steps of one attempt in time order.
pub const INSTALL_STEPS_HEADER: [&str; 3] = ["attempt_id", "name", "at"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_report_row_holds_the_tracked_fields_in_their_order() {
        assert_eq!(
            INSTANCE_REPORTS_HEADER[1..=crate::customer::TRACKED_FIELDS.len()],
            crate::customer::TRACKED_FIELDS,
            "instance_reports.csv: the instance id, then each tracked field, then the times"
        );
    }
}
