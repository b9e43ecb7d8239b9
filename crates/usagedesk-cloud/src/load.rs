//! Reads a dataset folder in the load format (see `docs/load-format.md`).

use std::fs::File;
use std::path::{Path, PathBuf};

use usagedesk_airgap::PublicKey;
use usagedesk_domain::account::{validate_id, validate_name, MAX_ID_LEN};
use usagedesk_domain::month::parse_date;
use usagedesk_domain::{Account, Plan, UsageCounts};

use crate::storage::{DailyRow, Dataset, InstanceRow, Located, RowError};

pub use usagedesk_domain::load_format::{
    ACCOUNTS_FILE, DAILY_USAGE_FILE as DAILY_FILE, INSTANCES_FILE, PLANS_FILE,
};
use usagedesk_domain::load_format::{
    ACCOUNTS_HEADER as ACCOUNT_HEADER, DAILY_USAGE_HEADER as DAILY_HEADER, INSTANCES_HEADER,
    PLANS_HEADER as PLAN_HEADER,
};

/// Largest single CSV record accepted (a name of at most 512 bytes fits easily).
const MAX_RECORD_BYTES: usize = 16 * 1024;

/// Opens a dataset folder. `accounts.csv` and `daily_usage.csv` are required, `plans.csv`
/// and `instances.csv` optional. Accounts and instances are read now; daily rows are streamed
/// when the dataset is loaded.
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
    let accounts = read_accounts(&dir.join(ACCOUNTS_FILE))?;
    let instances_path = dir.join(INSTANCES_FILE);
    let instances = if instances_path.exists() {
        read_instances(&instances_path)?
    } else {
        Vec::new()
    };
    let daily = daily_rows(&dir.join(DAILY_FILE))?;
    Ok(Dataset {
        plans,
        accounts,
        instances,
        daily: Box::new(daily),
    })
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
    path: PathBuf,
    reader: csv::Reader<File>,
    record: csv::StringRecord,
    width: usize,
}

impl Records {
    fn new(path: &Path, header: &[&str]) -> Result<Self, RowError> {
        Ok(Self {
            path: path.to_path_buf(),
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
            file: self.path.display().to_string(),
            line,
            message,
        }
    }

    fn locate<T>(&self, line: u64, row: T) -> Located<T> {
        Located {
            file: self.path.display().to_string(),
            line,
            row,
        }
    }
}

fn read_plans(path: &Path) -> Result<Vec<Plan>, RowError> {
    let mut records = Records::new(path, &PLAN_HEADER)?;
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
        plans.push(Plan { id, name });
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
    Ok(InstanceRow {
        id: r[0].to_string(),
        license_id: r[1].to_string(),
        account_id: r[2].to_string(),
        airgapped,
        public_key,
    })
}

fn read_instances(path: &Path) -> Result<Vec<Located<InstanceRow>>, RowError> {
    let mut records = Records::new(path, &INSTANCES_HEADER)?;
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
