//! Reads a dataset folder in the load format (see `docs/load-format.md`).

pub mod rules;

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use usagedesk_airgap::PublicKey;
use usagedesk_domain::account::{validate_id, validate_name, MAX_ID_LEN};
use usagedesk_domain::month::parse_date;
use usagedesk_domain::{Account, Metric, Plan, UsageCounts};

use usagedesk_domain::customer::{
    ClusterDetails, Connectivity, InstallAttempt, InstallStatus, InstallStep, InstanceEvent,
    InstanceReport, InstanceStatus, License, LicenseType,
};

use crate::customers::rules::{
    check_cluster, check_email, check_event_value, check_text, parse_features, parse_seats,
    parse_time,
};
use crate::storage::{DailyRow, Dataset, InstanceRow, Located, RowError, RowStream, StepRow};

pub use usagedesk_domain::load_format::{
    ACCOUNTS_FILE, DAILY_USAGE_FILE as DAILY_FILE, INSTALL_ATTEMPTS_FILE, INSTALL_STEPS_FILE,
    INSTANCES_FILE, INSTANCE_EVENTS_FILE, INSTANCE_REPORTS_FILE, LICENSES_FILE, PLANS_FILE,
};
use usagedesk_domain::load_format::{
    ACCOUNTS_HEADER as ACCOUNT_HEADER, DAILY_USAGE_HEADER as DAILY_HEADER, INSTALL_ATTEMPTS_HEADER,
    INSTALL_STEPS_HEADER, INSTANCES_HEADER, INSTANCES_HEADER_LAST_REPORT, INSTANCE_EVENTS_HEADER,
    INSTANCE_REPORTS_HEADER, LICENSES_HEADER, PLANS_HEADER as PLAN_HEADER,
    PLANS_HEADER_NO_SEAT_METRIC,
};

/// Largest single CSV record accepted (a name of at most 512 bytes fits easily).
const MAX_RECORD_BYTES: usize = 16 * 1024;

/// Opens a dataset folder. `accounts.csv` and `daily_usage.csv` are required; `plans.csv`,
/// `instances.csv` and the customer-reporting files (`licenses.csv`,
/// `instance_reports.csv`, `instance_events.csv`, `install_attempts.csv`,
/// `install_steps.csv`) optional. Daily rows and instance events are streamed when the
/// dataset is loaded; the other files are read now.
pub fn read_dataset(dir: &Path) -> Result<Dataset<'static>, RowError> {
    if !dir.is_dir() {
        return Err(file_error(
            dir,
            format!("{} is not a folder", dir.display()),
        ));
    }
    let plans_path = dir.join(PLANS_FILE);
    let plans = if plans_path.exists() {
        Some(read_plans(&plans_path)?)
    } else {
        None
    };
    let optional = |name: &str| Some(dir.join(name)).filter(|p| p.exists());
    // Instances are read on a second thread (each public key is decompressed to check it is
    // a point of the curve: 0.3 s at 128k instances) while the main thread reads accounts,
    // licenses and reports; the first error in the files' order below is the one reported,
    // as when they are read one after another.
    let (accounts, instances, licenses, reports) = std::thread::scope(|s| {
        let other = s.spawn(|| match optional(INSTANCES_FILE) {
            Some(p) => read_instances(&p),
            None => Ok(Vec::new()),
        });
        let accounts = read_accounts(&dir.join(ACCOUNTS_FILE));
        let licenses = match optional(LICENSES_FILE) {
            Some(p) => read_all(&p, &LICENSES_HEADER, parse_license),
            None => Ok(Vec::new()),
        };
        let reports = match optional(INSTANCE_REPORTS_FILE) {
            Some(p) => read_all(&p, &INSTANCE_REPORTS_HEADER, parse_report),
            None => Ok(Vec::new()),
        };
        let instances = other
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (accounts, instances, licenses, reports)
    });
    let (accounts, instances) = (accounts?, instances?);
    let daily = read_ahead(daily_rows(&dir.join(DAILY_FILE))?);
    let (licenses, reports) = (licenses?, reports?);
    let events: RowStream<'static, InstanceEvent> = match optional(INSTANCE_EVENTS_FILE) {
        Some(p) => Box::new(read_ahead(stream(
            &p,
            &INSTANCE_EVENTS_HEADER,
            parse_event,
        )?)),
        None => Box::new(std::iter::empty()),
    };
    let attempts = match optional(INSTALL_ATTEMPTS_FILE) {
        Some(p) => read_all(&p, &INSTALL_ATTEMPTS_HEADER, parse_attempt)?,
        None => Vec::new(),
    };
    let steps = match optional(INSTALL_STEPS_FILE) {
        Some(p) => read_all(&p, &INSTALL_STEPS_HEADER, parse_step)?,
        None => Vec::new(),
    };
    Ok(Dataset {
        plans,
        accounts,
        instances,
        daily: Box::new(daily),
        licenses,
        reports,
        events,
        attempts,
        steps,
    })
}

/// Rows handed from the reading thread to the loader at a time.
const READ_AHEAD_CHUNK: usize = 4096;
/// Chunks the reading thread may be ahead of the loader (bounds the memory held: about 10 MB
/// of daily rows). More than a PostgreSQL first load's chunk of daily rows (50,000): while one
/// chunk's `COPY` ends, the next is already read (with 4 chunks the server waited for most of
/// each chunk's parsing; its daily rows took 5.1–6.3 s, now 4.6–5.1 s).
const READ_AHEAD_CHUNKS: usize = 16;

/// The rows of `rows`, read and parsed on a thread of their own while the loader writes
/// the ones before: CSV parsing and the row checks overlap the database's work. The thread
/// stops after the first error (handed on in its place) and when the loader drops the
/// stream (a refused load), so it never reads more than a few chunks ahead.
fn read_ahead<T: Send + 'static>(
    rows: impl Iterator<Item = Result<Located<T>, RowError>> + Send + 'static,
) -> impl Iterator<Item = Result<Located<T>, RowError>> {
    let (send, receive) = std::sync::mpsc::sync_channel::<Vec<_>>(READ_AHEAD_CHUNKS);
    std::thread::spawn(move || {
        let mut chunk = Vec::with_capacity(READ_AHEAD_CHUNK);
        for row in rows {
            let failed = row.is_err();
            chunk.push(row);
            if failed || chunk.len() == READ_AHEAD_CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(READ_AHEAD_CHUNK));
                if send.send(full).is_err() || failed {
                    return;
                }
            }
        }
        if !chunk.is_empty() {
            let _ = send.send(chunk);
        }
    });
    receive.into_iter().flatten()
}

/// Reads every row of a file with `parse`.
fn read_all<T>(
    path: &Path,
    header: &[&str],
    parse: fn(&csv::StringRecord) -> Result<T, String>,
) -> Result<Vec<Located<T>>, RowError> {
    stream(path, header, parse)?.collect()
}

/// The rows of a file, parsed with `parse` as they are read.
fn stream<T>(
    path: &Path,
    header: &[&str],
    parse: fn(&csv::StringRecord) -> Result<T, String>,
) -> Result<impl Iterator<Item = Result<Located<T>, RowError>>, RowError> {
    let mut records = Records::new(path, header)?;
    Ok(std::iter::from_fn(move || {
        let out = match records.next()? {
            Err(e) => Err(e),
            Ok((line, r)) => match parse(r) {
                Ok(row) => Ok((line, row)),
                Err(m) => Err(records.error(line, m)),
            },
        };
        Some(out.map(|(line, row)| records.locate(line, row)))
    }))
}

/// Whether the file's header row is exactly `header` (an unreadable header is left to the
/// reader, which names the problem).
fn first_line_names(path: &Path, header: &[&str]) -> Result<bool, RowError> {
    let file = File::open(path).map_err(|e| file_error(path, format!("cannot open: {e}")))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(file);
    Ok(reader
        .headers()
        .is_ok_and(|found| found.iter().eq(header.iter().copied())))
}

fn file_error(path: &Path, message: String) -> RowError {
    RowError {
        file: path.display().to_string(),
        line: 0,
        message,
    }
}

fn open(path: &Path, header: &[&str]) -> Result<csv::Reader<File>, RowError> {
    let file = File::open(path).map_err(|e| file_error(path, format!("cannot open: {e}")))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(file);
    let found = reader
        .headers()
        .map_err(|e| file_error(path, format!("cannot read the header: {e}")))?
        .clone();
    if found.iter().collect::<Vec<_>>() != header {
        return Err(RowError {
            file: path.display().to_string(),
            line: 1,
            message: format!(
                "the header is '{}'; it must be exactly '{}'",
                found.iter().collect::<Vec<_>>().join(","),
                header.join(",")
            ),
        });
    }
    Ok(reader)
}

/// Iterates records with their line numbers and the file's name, checking size and width.
struct Records {
    /// The file's path as text, shared by its rows.
    file: Arc<str>,
    reader: csv::Reader<File>,
    record: csv::StringRecord,
    width: usize,
}

impl Records {
    fn new(path: &Path, header: &[&str]) -> Result<Self, RowError> {
        Ok(Self {
            file: Arc::from(path.display().to_string()),
            reader: open(path, header)?,
            record: csv::StringRecord::new(),
            width: header.len(),
        })
    }

    fn next(&mut self) -> Option<Result<(u64, &csv::StringRecord), RowError>> {
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line());
                if self.record.as_slice().len() > MAX_RECORD_BYTES {
                    return Some(Err(self.error(
                        line,
                        format!("the row is longer than {MAX_RECORD_BYTES} bytes"),
                    )));
                }
                if self.record.len() != self.width {
                    let n = self.record.len();
                    return Some(Err(
                        self.error(line, format!("{n} fields; expected {}", self.width))
                    ));
                }
                Some(Ok((line, &self.record)))
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                Some(Err(self.error(line, format!("not valid CSV: {e}"))))
            }
        }
    }

    fn error(&self, line: u64, message: String) -> RowError {
        RowError {
            file: self.file.to_string(),
            line,
            message,
        }
    }

    fn locate<T>(&self, line: u64, row: T) -> Located<T> {
        Located {
            file: self.file.clone(),
            line,
            row,
        }
    }
}

/// `plans.csv`, with or without its optional `seat_metric` column.
fn read_plans(path: &Path) -> Result<Vec<Plan>, RowError> {
    let header: &[&str] = if first_line_names(path, &PLANS_HEADER_NO_SEAT_METRIC)? {
        &PLANS_HEADER_NO_SEAT_METRIC
    } else {
        &PLAN_HEADER
    };
    let mut records = Records::new(path, header)?;
    let mut plans: Vec<Plan> = Vec::new();
    while let Some(rec) = records.next() {
        let (line, r) = rec?;
        let (id, name) = (r[0].to_string(), r[1].to_string());
        if let Err(e) = validate_id(&id) {
            return Err(records.error(line, format!("plan {e}")));
        }
        if plans.iter().any(|p| p.id == id) {
            return Err(records.error(line, format!("plan '{id}' appears twice")));
        }
        let metric = r.get(2).filter(|t| !t.is_empty()).map(|text| {
            Metric::from_column(text).ok_or_else(|| {
                format!(
                    "seat_metric '{}' is none of users_registered, users_with_token, \
                     users_with_activity (empty: users_registered)",
                    text.escape_debug()
                )
            })
        });
        let plan = Plan::new(id, name);
        plans.push(match metric {
            None => plan,
            Some(Ok(m)) => plan.with_seat_metric(m),
            Some(Err(message)) => return Err(records.error(line, message)),
        });
    }
    if plans.is_empty() {
        return Err(records.error(
            1,
            "no plans: leave the file out to use basic, standard, premium".into(),
        ));
    }
    Ok(plans)
}

fn read_accounts(path: &Path) -> Result<Vec<Located<Account>>, RowError> {
    let mut records = Records::new(path, &ACCOUNT_HEADER)?;
    let mut out = Vec::new();
    while let Some(rec) = records.next() {
        let (line, r) = rec?;
        let fail = |m: String| RowError {
            file: path.display().to_string(),
            line,
            message: m,
        };
        validate_id(&r[0]).map_err(|e| fail(e.0))?;
        validate_name(&r[1]).map_err(|e| fail(e.0))?;
        let parent_id = match &r[2] {
            "" => None,
            p => {
                validate_id(p).map_err(|e| fail(format!("parent_id: {e}")))?;
                if p == &r[0] {
                    return Err(fail(format!("account '{p}' names itself as its parent")));
                }
                Some(p.to_string())
            }
        };
        let account = Account {
            id: r[0].to_string(),
            name: r[1].to_string(),
            parent_id,
            status: r[3]
                .parse()
                .map_err(|e: usagedesk_domain::ParseError| fail(e.0))?,
            created_at: parse_date(&r[4]).map_err(|e| fail(format!("created_at: {e}")))?,
        };
        out.push(records.locate(line, account));
    }
    Ok(out)
}

/// The id rule of the load format (the account id's), for other ids.
fn check_id(field: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{field} is empty"));
    }
    if value.len() > MAX_ID_LEN {
        return Err(format!("{field} is longer than {MAX_ID_LEN} bytes"));
    }
    if value.trim() != value || value.chars().any(char::is_control) {
        return Err(format!(
            "{field} '{}' has surrounding spaces or control characters",
            value.escape_debug()
        ));
    }
    Ok(())
}

fn parse_instance(r: &csv::StringRecord) -> Result<InstanceRow, String> {
    check_id("id", &r[0])?;
    check_id("license_id", &r[1])?;
    validate_id(&r[2]).map_err(|e| format!("account_id: {e}"))?;
    let airgapped = match &r[3] {
        "true" => true,
        "false" => false,
        other => {
            return Err(format!(
                "airgapped is '{}'; write true (reports by file) or false (reports online)",
                other.escape_debug()
            ))
        }
    };
    let public_key = match &r[4] {
        "" => None,
        text => Some(
            text.parse::<PublicKey>()
                .map_err(|e| format!("public_key: {e}"))?
                .to_string(),
        ),
    };
    let last_report_at = match r.get(5).unwrap_or("") {
        "" => None,
        text => Some(parse_time("last_report_at", text)?),
    };
    Ok(InstanceRow {
        id: r[0].to_string(),
        license_id: r[1].to_string(),
        account_id: r[2].to_string(),
        airgapped,
        public_key,
        last_report_at,
    })
}

/// `instances.csv`, with or without its optional `last_report_at` column.
fn read_instances(path: &Path) -> Result<Vec<Located<InstanceRow>>, RowError> {
    let header: &[&str] = if first_line_names(path, &INSTANCES_HEADER)? {
        &INSTANCES_HEADER
    } else {
        &INSTANCES_HEADER_LAST_REPORT
    };
    let mut records = Records::new(path, header)?;
    let mut out = Vec::new();
    while let Some(rec) = records.next() {
        let (line, r) = rec?;
        let row = parse_instance(r).map_err(|m| records.error(line, m))?;
        out.push(records.locate(line, row));
    }
    Ok(out)
}

fn count(field: &str, value: &str) -> Result<u64, String> {
    value.parse::<u64>().map_err(|_| {
        if value.starts_with('-') {
            format!("{field} is {value}; counts must be 0 or more")
        } else {
            format!("{field} '{value}' is not a whole number")
        }
    })
}

fn parse_daily(r: &csv::StringRecord) -> Result<DailyRow, String> {
    validate_id(&r[0]).map_err(|e| e.0)?;
    let date = parse_date(&r[1]).map_err(|e| e.0)?;
    let counts = UsageCounts::new(
        count(DAILY_HEADER[3], &r[3])?,
        count(DAILY_HEADER[4], &r[4])?,
        count(DAILY_HEADER[5], &r[5])?,
    );
    Ok(DailyRow {
        account_id: r[0].to_string(),
        date,
        plan: r[2].to_string(),
        counts,
    })
}

fn daily_rows(
    path: &Path,
) -> Result<impl Iterator<Item = Result<Located<DailyRow>, RowError>>, RowError> {
    let mut records = Records::new(path, &DAILY_HEADER)?;
    Ok(std::iter::from_fn(move || {
        let out = match records.next()? {
            Err(e) => Err(e),
            Ok((line, r)) => match parse_daily(r) {
                Ok(row) => Ok((line, row)),
                Err(m) => Err(records.error(line, m)),
            },
        };
        Some(out.map(|(line, row)| records.locate(line, row)))
    }))
}

fn opt_text(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

fn flag(field: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!(
            "{field} is '{}'; write true or false",
            other.escape_debug()
        )),
    }
}

fn opt_nodes(field: &str, value: &str) -> Result<Option<u32>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    value.parse::<u32>().map(Some).map_err(|_| {
        format!(
            "{field} '{}' is not a whole number of nodes (or empty)",
            value.escape_debug()
        )
    })
}

fn parse_license(r: &csv::StringRecord) -> Result<License, String> {
    check_id("id", &r[0])?;
    validate_id(&r[1]).map_err(|e| format!("account_id: {e}"))?;
    let license_type = match &r[2] {
        "prod" => LicenseType::Prod,
        "trial" => LicenseType::Trial,
        "dev" => LicenseType::Dev,
        "community" => LicenseType::Community,
        other => {
            return Err(format!(
                "type '{}' is none of prod, trial, dev, community",
                other.escape_debug()
            ))
        }
    };
    check_text("channel", &r[3], false)?;
    let created_at = parse_time("created_at", &r[4])?;
    let expires_at = match &r[5] {
        "" => None,
        t => Some(parse_time("expires_at", t)?),
    };
    if expires_at.is_some_and(|e| e <= created_at) {
        return Err(format!(
            "expires_at {} is not after created_at {}",
            &r[5], &r[4]
        ));
    }
    Ok(License {
        id: r[0].to_owned(),
        account_id: r[1].to_owned(),
        license_type,
        channel: r[3].to_owned(),
        created_at,
        expires_at,
        features: parse_features(&r[6])?,
        seats: parse_seats(&r[7])?,
    })
}

fn parse_report(r: &csv::StringRecord) -> Result<InstanceReport, String> {
    check_id("instance_id", &r[0])?;
    if r[1] != r[1].to_ascii_lowercase() {
        return Err(format!(
            "status '{}' must be lowercase",
            r[1].escape_debug()
        ));
    }
    let status: InstanceStatus = r[1]
        .parse()
        .map_err(|e: usagedesk_domain::ParseError| e.0)?;
    check_text("app_version", &r[2], true)?;
    let cluster = ClusterDetails {
        distribution: r[3].to_owned(),
        kubernetes_version: r[4].to_owned(),
        embedded_cluster: flag("embedded_cluster", &r[5])?,
        nodes_ready: opt_nodes("nodes_ready", &r[6])?,
        nodes_total: opt_nodes("nodes_total", &r[7])?,
        agent_version: r[8].to_owned(),
        cloud_provider: opt_text(&r[9]),
        region: opt_text(&r[10]),
    };
    check_cluster(&cluster)?;
    let first_check_in = parse_time("first_check_in", &r[11])?;
    let last_check_in = parse_time("last_check_in", &r[12])?;
    if last_check_in < first_check_in {
        return Err(format!(
            "last_check_in {} is before first_check_in {}",
            &r[12], &r[11]
        ));
    }
    Ok(InstanceReport {
        instance_id: r[0].to_owned(),
        status,
        app_version: r[2].to_owned(),
        cluster,
        first_check_in,
        last_check_in,
    })
}

fn parse_event(r: &csv::StringRecord) -> Result<InstanceEvent, String> {
    check_id("instance_id", &r[0])?;
    let field = &r[1];
    check_event_value(field, "new", &r[3])?;
    if !r[2].is_empty() {
        check_event_value(field, "previous", &r[2])?;
    }
    if r[2] == r[3] {
        return Err(format!(
            "previous and new are both '{}': an event records a change",
            r[3].escape_debug()
        ));
    }
    Ok(InstanceEvent {
        instance_id: r[0].to_owned(),
        field: field.to_owned(),
        previous: opt_text(&r[2]),
        new: r[3].to_owned(),
        received_at: parse_time("received_at", &r[4])?,
    })
}

fn parse_attempt(r: &csv::StringRecord) -> Result<InstallAttempt, String> {
    check_id("id", &r[0])?;
    check_id("license_id", &r[1])?;
    let status = match &r[2] {
        "succeeded" => InstallStatus::Succeeded,
        "stalled" => InstallStatus::Stalled,
        "failed" => InstallStatus::Failed,
        other => {
            return Err(format!(
                "status '{}' is none of succeeded, stalled, failed",
                other.escape_debug()
            ))
        }
    };
    let started_at = parse_time("started_at", &r[3])?;
    check_email(&r[4])?;
    check_text("environment", &r[5], false)?;
    let mode = match &r[6] {
        "online" => Connectivity::Online,
        "airgap" => Connectivity::Offline,
        other => {
            return Err(format!(
                "mode '{}' is neither online nor airgap",
                other.escape_debug()
            ))
        }
    };
    let registry = match &r[7] {
        "online" => Connectivity::Online,
        "offline" => Connectivity::Offline,
        other => {
            return Err(format!(
                "registry '{}' is neither online nor offline",
                other.escape_debug()
            ))
        }
    };
    if mode == Connectivity::Offline && registry == Connectivity::Online {
        return Err(
            "registry is online, but an air gap installation always uses an offline registry"
                .into(),
        );
    }
    Ok(InstallAttempt {
        id: r[0].to_owned(),
        license_id: r[1].to_owned(),
        status,
        started_at,
        user_email: r[4].to_owned(),
        environment: r[5].to_owned(),
        mode,
        registry,
        steps: Vec::new(),
    })
}

fn parse_step(r: &csv::StringRecord) -> Result<StepRow, String> {
    check_id("attempt_id", &r[0])?;
    check_text("name", &r[1], false)?;
    Ok(StepRow {
        attempt_id: r[0].to_owned(),
        step: InstallStep {
            name: r[1].to_owned(),
            at: parse_time("at", &r[2])?,
        },
    })
}
