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
pub const PLANS_HEADER: [&str; 2] = ["id", "name"];
/// `public_key` may be empty (pinned on the instance's first report).
pub const INSTANCES_HEADER: [&str; 5] =
    ["id", "license_id", "account_id", "airgapped", "public_key"];
