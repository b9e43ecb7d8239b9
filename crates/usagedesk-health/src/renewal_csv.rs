//! The renewal calendar as CSV (`docs/health.md`, "CSV"): one row per license, soonest end
//! first, read from the cache a page at a time. Text cells are neutralised like the usage
//! export's (`usagedesk_export::neutralise`); the file is written beside its destination
//! and renamed into place once complete, so a failure leaves no partial file.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use usagedesk_cache::Cache;
use usagedesk_domain::YearMonth;
use usagedesk_export::neutralise;

use crate::{each_renewal, ensure_current, HealthError, Renewal};

/// The CSV's columns (the contract).
pub const RENEWAL_COLUMNS: [&str; 14] = [
    "month",
    "expires_at",
    "license_id",
    "license_type",
    "account_id",
    "account_name",
    "seats",
    "used",
    "utilization",
    "utilization_month",
    "forecast_at_expiry",
    "forecast_over_seats",
    "health_score",
    "plans",
];

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// One license's cells, in [`RENEWAL_COLUMNS`] order.
pub fn renewal_record(r: &Renewal, utilization_month: &str) -> Vec<String> {
    let plans: Vec<String> = r
        .plans
        .iter()
        .map(|p| match p.seats {
            Some(s) => format!("{} {}/{}", p.plan, p.used, s),
            None => format!("{} {}/-", p.plan, p.used),
        })
        .collect();
    vec![
        r.month.to_string(),
        r.expires_at.clone(),
        neutralise(&r.license_id).into_owned(),
        r.license_type.clone(),
        neutralise(&r.account_id).into_owned(),
        neutralise(&r.account_name).into_owned(),
        r.seats.to_string(),
        r.used.to_string(),
        opt(r.utilization.map(|u| format!("{u:.4}"))),
        utilization_month.to_owned(),
        opt(r.forecast_at_expiry),
        r.forecast_over_seats.to_string(),
        opt(r.health),
        neutralise(&plans.join("; ")).into_owned(),
    ]
}

/// Streams the calendar of `months` months as of `now` to `out`; returns the rows written.
pub fn write_renewals_csv(
    cache: &mut Cache,
    now: DateTime<Utc>,
    months: u32,
    out: impl Write,
) -> Result<u64, HealthError> {
    ensure_current(cache, now)?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(RENEWAL_COLUMNS)?;
    let month = YearMonth::last_completed(now.date_naive()).to_string();
    let mut rows = 0u64;
    each_renewal(cache, now, months, |r| -> Result<(), HealthError> {
        w.write_record(renewal_record(&r, &month))?;
        rows += 1;
        Ok(())
    })?;
    w.flush().map_err(|e| HealthError::Io {
        path: PathBuf::new(),
        error: e,
    })?;
    Ok(rows)
}

/// Writes the calendar to `path`, all or nothing; returns the rows written.
pub fn export_renewals(
    cache: &mut Cache,
    now: DateTime<Utc>,
    months: u32,
    path: &Path,
) -> Result<u64, HealthError> {
    let io = |error| HealthError::Io {
        path: path.to_path_buf(),
        error,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".renewals.").suffix(".partial");
    // An ordinary document, not a private temporary file (as the usage export).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let tmp = builder.tempfile_in(&dir).map_err(io)?;
    let rows = {
        let out = std::io::BufWriter::new(tmp.as_file());
        write_renewals_csv(cache, now, months, out).map_err(|e| match e {
            HealthError::Io { error, .. } => io(error),
            e => e,
        })?
    };
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(rows)
}
