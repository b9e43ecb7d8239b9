//! `export`: a usage report as CSV, from the local cache (works offline), with a manifest
//! beside the file.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use usagedesk_domain::{Clock, Scope, YearMonth};
use usagedesk_export::{export_file, plan, write_csv, Control, ExportProgress, ExportRequest};

use crate::context::Context;

pub struct ExportArgs {
    pub account: String,
    pub scope: Scope,
    pub from: YearMonth,
    pub to: YearMonth,
    /// `-` for stdout (the CSV only, no manifest).
    pub output: String,
}

/// What wrote the file, for the manifest.
pub const GENERATOR: &str = concat!("usagedesk-cli ", env!("CARGO_PKG_VERSION"));

pub fn export(ctx: &Context, args: ExportArgs) -> Result<()> {
    let cache = ctx.open_cache()?;
    let req = ExportRequest {
        account_id: args.account,
        scope: args.scope,
        from: args.from,
        to: args.to,
    };
    let plan = plan(&cache, &req, ctx.today())?;
    if !plan.months_without_data.is_empty() {
        eprintln!(
            "note: no synced data for {}; those months have no rows (run `usagedesk-cli sync`, \
             or choose months the cache holds)",
            list(&plan.months_without_data)
        );
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    // Ctrl-C stops at the next progress point and removes the partial file.
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed));
    let bar = progress_bar(plan.rows);
    let mut progress = |p: ExportProgress| {
        if let Some(b) = &bar {
            b.set_position(p.written);
        }
    };
    let mut control = Control {
        cancel: Some(&cancel),
        progress: &mut progress,
    };
    if args.output == "-" {
        let out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
        write_csv(&cache, &plan, out, &mut control)?;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        return Ok(());
    }
    let path = Path::new(&args.output);
    let done = export_file(
        &cache,
        &plan,
        path,
        ctx.clock.now(),
        GENERATOR,
        &mut control,
    )?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    eprintln!(
        "wrote {} rows ({} accounts × {} months) to {}\nmanifest: {}\nsha256: {}",
        done.rows,
        plan.accounts,
        plan.months.len(),
        done.csv_path,
        done.manifest_path,
        done.sha256
    );
    Ok(())
}

fn list(months: &[YearMonth]) -> String {
    match months {
        [one] => one.to_string(),
        [first, .., last] => format!("{first}..{last} ({} months)", months.len()),
        [] => String::new(),
    }
}

/// A bar on stderr when it is a terminal (stdout may be the CSV itself).
fn progress_bar(rows: u64) -> Option<ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::with_draw_target(Some(rows), indicatif::ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template(
                "exporting [{bar:40}] {human_pos}/{human_len} rows ({eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    })
}
