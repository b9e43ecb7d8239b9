//! `export`: a usage or entitlements report as CSV, from the local cache (works offline), with a manifest
//! beside the file, signed with this computer's certified key when it holds one.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use usagedesk_domain::{Clock, Scope, YearMonth};
use usagedesk_exchange::export_signer;
use usagedesk_export::{
    export_file, plan, write_csv, Control, ExportProgress, ExportReport, ExportRequest,
    ExportSignature, Signing,
};

use crate::context::Context;

pub struct ExportArgs {
    pub report: ExportReport,
    pub account: String,
    pub scope: Scope,
    pub from: YearMonth,
    pub to: YearMonth,
    /// `-` for stdout (the CSV only, no manifest).
    pub output: String,
    /// Fail, writing nothing, when the manifest cannot be signed.
    pub require_signature: bool,
}

/// What wrote the file, for the manifest.
pub const GENERATOR: &str = concat!("usagedesk-cli ", env!("CARGO_PKG_VERSION"));

pub fn export(ctx: &Context, args: ExportArgs) -> Result<()> {
    let cache = ctx.open_cache()?;
    let req = ExportRequest {
        report: args.report,
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
    let now = ctx.clock.now();
    let signer = export_signer(&cache, &ctx.secrets(), &req.account_id, now);
    let signing = match &signer {
        Ok((s, account_path)) => Signing::Sign {
            key: &s.key,
            certificate: &s.certificate,
            account_path: account_path.clone(),
        },
        Err(e) if args.require_signature => {
            anyhow::bail!("the export cannot be signed, so nothing was written: {e}")
        }
        Err(e) => Signing::Unsigned {
            reason: e.to_string(),
        },
    };
    let done = export_file(&cache, &plan, path, now, GENERATOR, signing, &mut control)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let what = match req.report {
        ExportReport::Usage => format!("{} accounts", plan.accounts),
        ExportReport::Entitlements => format!("{} licenses, by plan", plan.licenses),
    };
    eprintln!(
        "wrote {} rows ({what} × {} months) to {}\nmanifest: {}\nsha256: {}",
        done.rows,
        plan.months.len(),
        done.csv_path,
        done.manifest_path,
        done.sha256
    );
    match &done.signature {
        ExportSignature::Signed {
            signed_by,
            certificate_expires_at,
            ..
        } => eprintln!(
            "signed by {signed_by} (certificate valid until {})",
            certificate_expires_at.format("%Y-%m-%d %H:%M UTC")
        ),
        ExportSignature::Unsigned { reason } => eprintln!(
            "warning: the export is NOT signed: {reason}\nAnyone can check the CSV against the \
             manifest's SHA-256, but nothing proves who wrote them."
        ),
    }
    if args.require_signature && matches!(done.signature, ExportSignature::Unsigned { .. }) {
        // The certificate ended between the check above and the signature: say so.
        anyhow::bail!("the export was written unsigned (see above)");
    }
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
