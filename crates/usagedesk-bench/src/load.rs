//! `usagedesk-cloud load` against its baseline: raw rusqlite inserts of the same rows.
//!
//! The baseline reads every file of the dataset into memory first (not timed), then inserts
//! each file's rows as they are into a table with the file's columns and its natural key,
//! with one prepared statement per table, in one transaction, WAL and synchronous=NORMAL:
//! the least any loader must do to store those rows. The loader on top parses and
//! validates them, derives the month-end rows, keeps the change feed and the closure table.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use usagedesk_domain::load_format as lf;

use crate::procs::{run_measured, Bins};
use crate::table::{median_round, secs, Figure, Goal};

/// A file of the load format and the key of its rows (`None`: no natural key, a rowid table).
struct FileTable {
    file: &'static str,
    /// The header the file's rows are stored with.
    header: &'static [&'static str],
    /// Another header the format accepts for the file (an optional last column left out).
    short_header: Option<&'static [&'static str]>,
    key: Option<&'static [&'static str]>,
}

const FILES: &[FileTable] = &[
    FileTable {
        file: lf::PLANS_FILE,
        header: &lf::PLANS_HEADER,
        short_header: Some(&lf::PLANS_HEADER_NO_SEAT_METRIC),
        key: Some(&["id"]),
    },
    FileTable {
        file: lf::ACCOUNTS_FILE,
        header: &lf::ACCOUNTS_HEADER,
        short_header: None,
        key: Some(&["id"]),
    },
    FileTable {
        file: lf::INSTANCES_FILE,
        header: &lf::INSTANCES_HEADER_LAST_REPORT,
        short_header: Some(&lf::INSTANCES_HEADER),
        key: Some(&["id"]),
    },
    FileTable {
        file: lf::LICENSES_FILE,
        header: &lf::LICENSES_HEADER,
        short_header: None,
        key: Some(&["id"]),
    },
    FileTable {
        file: lf::INSTANCE_REPORTS_FILE,
        header: &lf::INSTANCE_REPORTS_HEADER,
        short_header: None,
        key: Some(&["instance_id"]),
    },
    FileTable {
        file: lf::INSTANCE_EVENTS_FILE,
        header: &lf::INSTANCE_EVENTS_HEADER,
        short_header: None,
        key: Some(&["instance_id", "received_at", "field"]),
    },
    FileTable {
        file: lf::INSTALL_ATTEMPTS_FILE,
        header: &lf::INSTALL_ATTEMPTS_HEADER,
        short_header: None,
        key: Some(&["id"]),
    },
    FileTable {
        file: lf::INSTALL_STEPS_FILE,
        header: &lf::INSTALL_STEPS_HEADER,
        short_header: None,
        key: None,
    },
    FileTable {
        file: lf::DAILY_USAGE_FILE,
        header: &lf::DAILY_USAGE_HEADER,
        short_header: None,
        key: Some(&["account_id", "date"]),
    },
];

/// The rows of one file in memory: every field's text in one buffer.
struct Rows {
    table: &'static FileTable,
    /// The file's columns: the table's `header` or its `short_header`.
    columns: &'static [&'static str],
    text: String,
    /// Field end offsets into `text`, `columns.len()` per row.
    ends: Vec<u32>,
}

impl Rows {
    fn read(dir: &Path, table: &'static FileTable) -> Result<Option<Self>> {
        let path = dir.join(table.file);
        if !path.exists() {
            return Ok(None);
        }
        let mut reader = csv::Reader::from_path(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let found = reader.headers()?;
        let columns = [Some(table.header), table.short_header]
            .into_iter()
            .flatten()
            .find(|h| found.iter().eq(h.iter().copied()))
            .with_context(|| format!("{}: unexpected header {found:?}", path.display()))?;
        let mut rows = Self {
            table,
            columns,
            text: String::new(),
            ends: Vec::new(),
        };
        let mut record = csv::StringRecord::new();
        while reader.read_record(&mut record)? {
            for field in &record {
                rows.text.push_str(field);
                rows.ends
                    .push(u32::try_from(rows.text.len()).context("file over 4 GB")?);
            }
        }
        Ok(Some(rows))
    }

    fn len(&self) -> usize {
        self.ends.len() / self.columns.len()
    }
}

/// Inserts the rows into a new database at `db`; returns the time taken.
fn raw_insert(db: &Path, files: &[Rows]) -> Result<Duration> {
    crate::remove_db(db);
    let mut conn = rusqlite::Connection::open(db)?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
    for f in files {
        let t = f.table;
        let name = t.file.trim_end_matches(".csv");
        let key = match t.key {
            Some(k) => format!(", PRIMARY KEY ({})) WITHOUT ROWID", k.join(", ")),
            None => ")".into(),
        };
        conn.execute_batch(&format!(
            "CREATE TABLE {name} ({}{key};",
            f.columns.join(", ")
        ))?;
    }
    let start = Instant::now();
    let tx = conn.transaction()?;
    for f in files {
        let width = f.columns.len();
        let name = f.table.file.trim_end_matches(".csv");
        let marks: Vec<String> = (1..=width).map(|i| format!("?{i}")).collect();
        let mut stmt = tx.prepare(&format!("INSERT INTO {name} VALUES ({})", marks.join(", ")))?;
        let mut from = 0usize;
        for row in f.ends.chunks_exact(width) {
            for (i, end) in row.iter().enumerate() {
                let end = *end as usize;
                stmt.raw_bind_parameter(i + 1, &f.text[from..end])?;
                from = end;
            }
            stmt.raw_execute()?;
        }
    }
    tx.commit()?;
    Ok(start.elapsed())
}

/// One round: `usagedesk-cloud load` into a new database, then the raw insert of its rows.
struct LoadRound {
    wall: Duration,
    peak_rss: u64,
    raw: Duration,
}

impl LoadRound {
    fn ratio(&self) -> f64 {
        self.wall.as_secs_f64() / self.raw.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// Loads `dataset` into a new cloud database with the real binary and measures the baseline
/// right after it, `rounds` times; the figure is the round of median ratio. The last round's
/// database stays for the sync section.
pub fn bench(bins: &Bins, dataset: &Path, work: &Path, rounds: usize) -> Result<Vec<Figure>> {
    let db = work.join("cloud.db");
    let files: Vec<Rows> = FILES
        .iter()
        .map(|t| Rows::read(dataset, t))
        .filter_map(Result::transpose)
        .collect::<Result<_>>()?;
    let rows: usize = files.iter().map(Rows::len).sum();
    let mut measured = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        crate::remove_db(&db);
        let mut cmd = bins.command("usagedesk-cloud")?;
        cmd.args(["load", "--db"]).arg(&db).arg(dataset);
        cmd.env("RUST_LOG", "warn");
        let m = run_measured(&mut cmd, None)?;
        if round == 1 {
            eprintln!("{}", String::from_utf8_lossy(&m.output.stdout).trim());
        }
        let raw = raw_insert(&work.join("raw-load.db"), &files)?;
        crate::remove_db(&work.join("raw-load.db"));
        let r = LoadRound {
            wall: m.wall,
            peak_rss: m.peak_rss,
            raw,
        };
        eprintln!(
            "load, round {round} of {rounds}: {} in {:.2} s (peak RSS {:.0} MiB); raw insert of \
             the same {rows} rows: {:.2} s; ratio {:.2}",
            dataset.display(),
            r.wall.as_secs_f64(),
            r.peak_rss as f64 / 1048576.0,
            r.raw.as_secs_f64(),
            r.ratio()
        );
        measured.push(r);
    }
    let r = median_round(&measured, LoadRound::ratio).context("no load round")?;
    Ok(vec![Figure::ratio(
        format!("usagedesk-cloud load ({rows} rows in; median of {rounds} rounds)"),
        (r.wall.as_secs_f64(), secs(r.wall)),
        (r.raw.as_secs_f64(), format!("{} raw insert", secs(r.raw))),
        Goal::AtMost(2.0),
    )])
}
