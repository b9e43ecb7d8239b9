//! Streaming the rows of a plan as RFC 4180 CSV (CRLF line ends, UTF-8, quotes only where
//! needed), hashing the bytes as they go out.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use usagedesk_cache::{Cache, ReportRow};
use usagedesk_domain::month::ym_ascii;

use usagedesk_entitlements::{each_entitlement_over, Entitlement};

use crate::columns::{columns, neutralise};
use crate::{entitlement_scope, ExportError, ExportPlan, ExportReport};

/// Progress is reported (and the cancel flag read) every this many rows.
pub const PROGRESS_EVERY: u64 = 8192;

/// How far an export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportProgress {
    pub written: u64,
    pub total: u64,
}

/// How a caller follows and stops an export.
pub struct Control<'a> {
    /// Raised (by another thread) to stop the export at the next progress point.
    pub cancel: Option<&'a AtomicBool>,
    pub progress: &'a mut dyn FnMut(ExportProgress),
}

impl Control<'_> {
    fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvSummary {
    /// Data rows (the header not counted).
    pub rows: u64,
    pub bytes: u64,
    /// SHA-256 of every byte written, lower-case hex.
    pub sha256: String,
}

/// Writes the header and every row of `plan` to `out`. Rows are formatted on this thread;
/// hashing and writing run on a second one, fed full buffers through a short queue.
pub fn write_csv<W: Write + Send>(
    cache: &Cache,
    plan: &ExportPlan,
    out: W,
    control: &mut Control<'_>,
) -> Result<CsvSummary, ExportError> {
    if control.cancelled() {
        return Err(ExportError::Cancelled);
    }
    let catalog = cache.accounts().plans()?;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(QUEUED_BUFFERS);
        let sink = scope.spawn(move || hash_and_write(rx, out));
        let rows = write_rows(cache, plan, &catalog, Chunks(tx), control);
        let written = sink
            .join()
            .map_err(|_| output(std::io::Error::other("the writer thread panicked")))?;
        // A failed write stops the rows with a closed queue: report the write's own error.
        let (bytes, sha256) = written.map_err(output)?;
        Ok(CsvSummary {
            rows: rows?,
            bytes,
            sha256,
        })
    })
}

/// Buffers in flight between the formatting and the writing thread (256 KiB each).
const QUEUED_BUFFERS: usize = 8;

fn write_rows(
    cache: &Cache,
    plan: &ExportPlan,
    catalog: &usagedesk_domain::PlanCatalog,
    chunks: Chunks,
    control: &mut Control<'_>,
) -> Result<u64, ExportError> {
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .buffer_capacity(1 << 18)
        .from_writer(chunks);
    let head: Vec<String> = columns(plan.request.report, catalog)
        .iter()
        .map(|c| neutralise(c).into_owned())
        .collect();
    csv.write_record(&head).map_err(output)?;
    let mut rows = 0u64;
    // Entitlements' planned rows are a lower bound: the total grows with what was written.
    let mut step = |control: &mut Control<'_>| {
        rows += 1;
        if rows.is_multiple_of(PROGRESS_EVERY) {
            if control.cancelled() {
                return Err(ExportError::Cancelled);
            }
            (control.progress)(ExportProgress {
                written: rows,
                total: plan.rows.max(rows),
            });
        }
        Ok(())
    };
    let req = &plan.request;
    match req.report {
        ExportReport::Usage => {
            let mut cells = Cells::default();
            cache.usage().for_each_report_row(
                &req.account_id,
                req.scope,
                &plan.months,
                catalog,
                |row| {
                    cells.write(&mut csv, row).map_err(output)?;
                    step(control)
                },
            )?;
        }
        ExportReport::Entitlements => {
            let mut cells = EntitlementCells::default();
            each_entitlement_over(
                cache,
                &req.account_id,
                entitlement_scope(req.scope),
                &plan.months,
                |e| {
                    cells.write(&mut csv, &e).map_err(output)?;
                    step(control)
                },
            )?;
        }
    }
    csv.flush().map_err(output)?;
    (control.progress)(ExportProgress {
        written: rows,
        total: rows,
    });
    Ok(rows)
}

/// The writing thread: hashes and writes every buffer, then flushes.
fn hash_and_write<W: Write>(
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    mut out: W,
) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    for buf in rx {
        hasher.update(&buf);
        out.write_all(&buf)?;
        bytes += buf.len() as u64;
    }
    out.flush()?;
    Ok((bytes, hex::encode(hasher.finalize())))
}

/// A writer that hands what it is given to the writing thread.
struct Chunks(std::sync::mpsc::SyncSender<Vec<u8>>);

impl Write for Chunks {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .send(buf.to_vec())
            .map_err(|_| std::io::Error::other("the output stopped accepting data"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn output(e: impl Into<std::io::Error>) -> ExportError {
    ExportError::Output(e.into())
}

/// Scratch space reused for every row. Rows go out through `write_byte_record`, whose
/// fast path copies a whole record into the buffer at once (per-field writes cost twice as
/// much).
#[derive(Default)]
struct Cells {
    num: itoa::Buffer,
    record: csv::ByteRecord,
}

impl Cells {
    fn write<W: Write>(
        &mut self,
        csv: &mut csv::Writer<W>,
        row: &ReportRow<'_>,
    ) -> csv::Result<()> {
        let a = row.account;
        let r = &mut self.record;
        r.clear();
        r.push_field(&ym_ascii(row.month.year() as u32, row.month.month()));
        r.push_field(neutralise(&a.id).as_bytes());
        r.push_field(neutralise(&a.name).as_bytes());
        r.push_field(
            a.parent_id
                .as_deref()
                .map_or("".into(), neutralise)
                .as_bytes(),
        );
        r.push_field(row.parent_name.map_or("".into(), neutralise).as_bytes());
        r.push_field(self.num.format(row.depth).as_bytes());
        r.push_field(a.status.as_str().as_bytes());
        r.push_field(row.availability.as_str().as_bytes());
        match row.own {
            Some((plan, c)) => {
                r.push_field(neutralise(plan).as_bytes());
                for n in [
                    c.users_registered,
                    c.users_with_token,
                    c.users_with_activity,
                ] {
                    r.push_field(self.num.format(n).as_bytes());
                }
            }
            None => {
                for _ in 0..4 {
                    r.push_field(b"");
                }
            }
        }
        for t in row.totals {
            for n in [
                t.users_registered,
                t.users_with_token,
                t.users_with_activity,
            ] {
                r.push_field(self.num.format(n).as_bytes());
            }
        }
        csv.write_byte_record(r)
    }
}

/// Scratch space for the entitlements report's rows. Numbers without a value (no seats, no
/// utilization, no forecast, no expiry) are empty cells; fractions are written in the
/// shortest decimal that reads back as the same number (`0.9`, `1.25`), never with an
/// exponent.
#[derive(Default)]
struct EntitlementCells {
    num: itoa::Buffer,
    text: String,
    record: csv::ByteRecord,
}

impl EntitlementCells {
    fn write<W: Write>(&mut self, csv: &mut csv::Writer<W>, e: &Entitlement) -> csv::Result<()> {
        let r = &mut self.record;
        r.clear();
        r.push_field(&ym_ascii(e.month.year() as u32, e.month.month()));
        r.push_field(neutralise(&e.license_id).as_bytes());
        r.push_field(neutralise(&e.account_id).as_bytes());
        r.push_field(neutralise(&e.plan).as_bytes());
        r.push_field(e.seat_metric.as_str().as_bytes());
        match e.seats {
            Some(n) => r.push_field(self.num.format(n).as_bytes()),
            None => r.push_field(b""),
        }
        r.push_field(self.num.format(e.used).as_bytes());
        r.push_field(decimal(&mut self.text, e.utilization));
        r.push_field(self.num.format(e.overage).as_bytes());
        r.push_field(decimal(&mut self.text, e.forecast_at_expiry));
        r.push_field(if e.forecast_over_seats {
            b"true"
        } else {
            b"false"
        });
        r.push_field(
            e.expires_at
                .as_deref()
                .map_or("".into(), neutralise)
                .as_bytes(),
        );
        csv.write_byte_record(r)
    }
}

/// `x` in the shortest decimal that reads back as the same number; empty for `None`.
fn decimal(buf: &mut String, x: Option<f64>) -> &[u8] {
    use std::fmt::Write as _;
    buf.clear();
    if let Some(x) = x {
        let _ = write!(buf, "{x}");
    }
    buf.as_bytes()
}
