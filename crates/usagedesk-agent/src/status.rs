//! What `usagedesk-agent status` shows: who the instance is, what waits for the vendor and
//! the last exchange.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::error::Result;
use crate::exchange::ExportInfo;
use crate::license::LicenseInfo;
use crate::state::{parse_day, parse_time, State};

/// What `status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub state_dir: PathBuf,
    pub instance_id: String,
    pub license_id: String,
    pub public_key: String,
    pub vendor_key: String,
    /// `sha256:…` of the vendor key, as certificates name it.
    pub vendor_key_fingerprint: String,
    /// The license file's account path, air-gapped flag and validity (`None`: no license yet).
    pub license: Option<LicenseInfo>,
    /// Records the vendor has not confirmed.
    pub records_waiting: u64,
    /// The first and last day among them.
    pub waiting_first_date: Option<NaiveDate>,
    pub waiting_last_date: Option<NaiveDate>,
    /// The last seq given to a record.
    pub last_seq: u64,
    /// The vendor holds every record up to this seq (confirmed by a verification key).
    pub confirmed_mark: u64,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub last_export: Option<ExportInfo>,
}

impl State {
    /// What `status` shows.
    pub(crate) fn status(&self) -> Result<Status> {
        let (last_seq, confirmed_mark) = self.marks()?;
        let confirmed_at: Option<String> =
            self.conn
                .query_row("SELECT confirmed_at FROM instance", [], |r| r.get(0))?;
        let (waiting, first, last): (i64, Option<String>, Option<String>) = self.conn.query_row(
            "SELECT COUNT(*), MIN(date), MAX(date) FROM records",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let id = &self.identity;
        Ok(Status {
            state_dir: self.dir.clone(),
            instance_id: id.instance_id.clone(),
            license_id: id.license_id.clone(),
            public_key: id.public_key.to_string(),
            vendor_key: id.vendor_key.to_string(),
            vendor_key_fingerprint: id.vendor_key.fingerprint(),
            license: id.license.clone(),
            records_waiting: waiting as u64,
            waiting_first_date: first.map(|d| parse_day(&self.dir, &d)).transpose()?,
            waiting_last_date: last.map(|d| parse_day(&self.dir, &d)).transpose()?,
            last_seq,
            confirmed_mark,
            confirmed_at: confirmed_at
                .map(|t| parse_time(&self.dir, &t))
                .transpose()?,
            last_export: self.exports(1)?.into_iter().next(),
        })
    }
}
