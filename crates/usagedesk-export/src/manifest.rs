//! The manifest: what a CSV holds and its SHA-256, so finance can tell what a file is and that
//! it was not edited since. Signed (`FILE.manifest`, inside a [`UsageExport`]) when the
//! manager holds a signing certificate in force, else plain JSON (`FILE.manifest.json`) that
//! says why it is not signed.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use usagedesk_airgap::{ExportManifest, UsageExport};
use usagedesk_domain::{Scope, YearMonth};

/// The manifest's `format` value for the usage report.
pub const MANIFEST_FORMAT: &str = "usagedesk-usage-export/1";
/// The manifest's `format` value for the entitlements report.
pub const ENTITLEMENTS_MANIFEST_FORMAT: &str = "usagedesk-entitlements-export/1";

/// The manifest's `format` value for `report`.
pub fn manifest_format(report: crate::ExportReport) -> &'static str {
    match report {
        crate::ExportReport::Usage => MANIFEST_FORMAT,
        crate::ExportReport::Entitlements => ENTITLEMENTS_MANIFEST_FORMAT,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    /// The CSV's file name (it sits beside the manifest).
    pub csv_file: String,
    pub account_id: String,
    pub account_name: String,
    pub scope: Scope,
    pub from: YearMonth,
    pub to: YearMonth,
    /// The months the CSV has rows for.
    pub months: Vec<YearMonth>,
    /// Months of the range the cache had no data for (no rows).
    pub months_without_data: Vec<YearMonth>,
    /// Data rows, header not counted.
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
    pub columns: Vec<String>,
    #[serde(with = "rfc3339")]
    pub generated_at: DateTime<Utc>,
    /// When the cache last finished a sync (`None`: never synced).
    #[serde(with = "rfc3339_opt")]
    pub data_synced_at: Option<DateTime<Utc>>,
    /// The cloud the data was synced from.
    pub source: Option<String>,
    /// The program and version that wrote the file, e.g. `usagedesk-cli 0.1.0`.
    pub generator: String,
    /// Only in an unsigned manifest: why the export could not be signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsigned_reason: Option<String>,
}

impl ExportManifest for Manifest {
    fn account_id(&self) -> &str {
        &self.account_id
    }

    fn generated_at(&self) -> DateTime<Utc> {
        self.generated_at
    }
}

/// The signed manifest file's content.
pub type SignedManifest = UsageExport<Manifest>;

/// Times as `2024-07-15T09:30:00Z`.
mod rfc3339 {
    use super::*;

    pub fn serialize<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

mod rfc3339_opt {
    use super::*;

    pub fn serialize<S: serde::Serializer>(
        t: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::rfc3339::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| {
                DateTime::parse_from_rfc3339(&s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}
