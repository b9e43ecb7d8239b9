//! The names the air-gapped exchange's files get on disk (`docs/airgap-format.md`, "File
//! names"). The extensions are what the operating systems associate with UsageDesk; readers
//! never rely on them: a file is recognised by its first line, whatever it is called.

use chrono::NaiveDate;

/// A sync key, from the vendor to the customer's instance.
pub const SYNC_KEY_EXTENSION: &str = "usagedesk-synckey";
/// A usage data file, from the customer's instance to the vendor.
pub const USAGE_DATA_EXTENSION: &str = "usagedesk-usage";
/// A verification key, from the vendor back to the customer's instance.
pub const VERIFICATION_KEY_EXTENSION: &str = "usagedesk-verification";

/// `{instance}-{yyyymmdd}.{extension}`: the instance id with every character but
/// `[A-Za-z0-9_-]` written as `_`, at most 64 of them, so the name is valid on every OS.
pub fn exchange_file_name(instance_id: &str, day: NaiveDate, extension: &str) -> String {
    let id: String = instance_id
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{id}-{}.{extension}", day.format("%Y%m%d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_on_every_os() {
        let day = NaiveDate::from_ymd_opt(2025, 1, 5).unwrap();
        assert_eq!(
            exchange_file_name("inst-de_01", day, USAGE_DATA_EXTENSION),
            "inst-de_01-20250105.usagedesk-usage"
        );
        // Separators, drive colons and reserved characters of Windows never reach the name.
        assert_eq!(
            exchange_file_name(r"a/b\c:d*e?é", day, SYNC_KEY_EXTENSION),
            "a_b_c_d_e__-20250105.usagedesk-synckey"
        );
        let long = "x".repeat(100);
        let name = exchange_file_name(&long, day, VERIFICATION_KEY_EXTENSION);
        assert_eq!(
            name,
            format!("{}-20250105.usagedesk-verification", "x".repeat(64))
        );
    }
}
