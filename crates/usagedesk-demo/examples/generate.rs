//! Writes a demo dataset and prints what it wrote and how long it took.
//!
//! `cargo run --release -p usagedesk-demo --example generate -- OUT_DIR [ACCOUNTS] [MONTHS] [SEED] [TODAY] [weekly|month-end]`
//!
//! Defaults: 100000 accounts, 24 months, seed 1, today 2025-01-15, month-end snapshots.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use chrono::NaiveDate;
use usagedesk_demo::{write_demo, DemoOptions, SnapshotDensity};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first().map(PathBuf::from) else {
        eprintln!(
            "usage: generate OUT_DIR [ACCOUNTS] [MONTHS] [SEED] [TODAY YYYY-MM-DD] [weekly|month-end]"
        );
        return ExitCode::from(2);
    };
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    let parsed = (|| -> Result<DemoOptions, String> {
        Ok(DemoOptions {
            accounts: arg(1, "100000")
                .parse()
                .map_err(|e| format!("ACCOUNTS: {e}"))?,
            months: arg(2, "24").parse().map_err(|e| format!("MONTHS: {e}"))?,
            seed: arg(3, "1").parse().map_err(|e| format!("SEED: {e}"))?,
            today: NaiveDate::parse_from_str(&arg(4, "2025-01-15"), "%Y-%m-%d")
                .map_err(|e| format!("TODAY (YYYY-MM-DD): {e}"))?,
            snapshots_per_month: match arg(5, "month-end").as_str() {
                "weekly" => SnapshotDensity::Weekly,
                "month-end" => SnapshotDensity::MonthEndOnly,
                other => return Err(format!("density '{other}': use weekly or month-end")),
            },
        })
    })();
    let opts = match parsed {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    match write_demo(&opts, &out) {
        Ok(s) => {
            println!(
                "{} accounts, {} daily rows, months {}..{} ({}), in {:.2?} -> {}",
                s.accounts,
                s.daily_rows,
                s.months.first().map(|m| m.to_string()).unwrap_or_default(),
                s.months.last().map(|m| m.to_string()).unwrap_or_default(),
                s.months.len(),
                started.elapsed(),
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
