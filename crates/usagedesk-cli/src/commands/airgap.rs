//! `airgap`: the manager's side of the exchange with air-gapped instances, offline.

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use comfy_table::Cell;
use usagedesk_domain::Clock;
use usagedesk_exchange::{
    import, is_overdue, issue_sync_key, preview_import, ExchangeError, ImportPreview, Signer,
};

use crate::context::Context;
use crate::output::{num, table};

/// The largest file `import` reads (the format's own limit is checked again when parsing).
const MAX_FILE_BYTES: u64 = 8 << 20;

/// Who signs here: the OS user, and the account the token is for.
pub fn subject(account_id: &str) -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "manager".into());
    format!("{user} ({account_id})")
}

/// Issues a sync key and writes it to `output`, or to its suggested name in the current
/// directory.
pub fn issue(ctx: &Context, instance: &str, expires_in: &str, output: Option<&Path>) -> Result<()> {
    let valid_for = humantime::parse_duration(expires_in)
        .ok()
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .with_context(|| format!("'{expires_in}' is not a duration: write e.g. 30d, 72h"))?;
    let mut cache = ctx.open_cache()?;
    let now = ctx.clock.now();
    let signer = Signer::load(&cache, &ctx.secrets(), now)?;
    let key = issue_sync_key(
        &mut cache,
        &signer,
        instance,
        valid_for,
        now,
        &mut rand::rngs::OsRng,
    )?;
    let output = output.unwrap_or(Path::new(&key.suggested_file_name));
    write_new(output, key.text.as_bytes())?;
    eprintln!(
        "sync key for {} written to {}: records above {}, valid until {}{}",
        key.instance_id,
        output.display(),
        key.high_water_mark,
        key.expires_at.format("%Y-%m-%d %H:%M UTC"),
        if key.shortened {
            " (shortened to the signing certificate's end; sync to renew it)"
        } else {
            ""
        }
    );
    Ok(())
}

pub fn import_file(ctx: &Context, file: &Path, dry_run: bool, output: Option<&Path>) -> Result<()> {
    let bytes = read_limited(file)?;
    let mut cache = ctx.open_cache()?;
    let now = ctx.clock.now();
    let signer = Signer::load(&cache, &ctx.secrets(), now)?;
    if dry_run {
        let p = preview_import(&cache, &signer, &bytes, now)?;
        print_preview(&p);
        eprintln!("dry run: nothing was imported");
        return Ok(());
    }
    match import(&mut cache, &signer, &bytes, now) {
        Ok(done) => {
            print_preview(&done.preview);
            let output = output.unwrap_or(Path::new(&done.suggested_file_name));
            write_new(output, done.verification_key.as_bytes())?;
            eprintln!(
                "imported; the data shows now, marked pending upload until the next sync.\n\
                 verification key written to {}: hand it to the customer",
                output.display()
            );
            Ok(())
        }
        Err(ExchangeError::AlreadyImported {
            at,
            verification_key,
        }) => {
            let Some(output) = output else {
                bail!(
                    "this file was already imported on {}; nothing changed. Pass -o FILE to write \
                     its verification key again",
                    at.format("%Y-%m-%d %H:%M UTC")
                );
            };
            write_new(output, verification_key.as_bytes())?;
            bail!(
                "this file was already imported on {}; nothing changed. Its verification key \
                 was written again to {}",
                at.format("%Y-%m-%d %H:%M UTC"),
                output.display()
            )
        }
        Err(e) => Err(e.into()),
    }
}

fn print_preview(p: &ImportPreview) {
    let period = match (p.period_first, p.period_last) {
        (Some(a), Some(b)) => format!("{a} to {b}"),
        _ => "no records".into(),
    };
    println!(
        "instance {} (license {}, account {}{})\nperiod {period}, {} accounts\nrecords {}: {} new, {} already present, {} changed{}",
        p.instance_id,
        p.license_id,
        p.account_id,
        p.account_name.as_deref().map(|n| format!(" {n}")).unwrap_or_default(),
        p.accounts,
        p.records,
        p.new,
        p.already_present,
        p.changed,
        if p.remaining_records > 0 {
            format!("\n{} more records wait at the instance: issue another sync key", p.remaining_records)
        } else {
            String::new()
        }
    );
}

pub fn ledger(ctx: &Context, instance: Option<&str>, json: bool) -> Result<()> {
    let cache = ctx.open_cache()?;
    let entries = cache.ledger(instance, 1000)?;
    if json {
        for e in &entries {
            println!("{}", serde_json::to_string(e)?);
        }
        return Ok(());
    }
    let mut t = table(&[
        "when", "instance", "event", "by", "records", "new", "mark", "upload",
    ]);
    for e in &entries {
        t.add_row(vec![
            Cell::new(e.at.format("%Y-%m-%d %H:%M").to_string()),
            Cell::new(&e.instance_id),
            Cell::new(match e.event {
                usagedesk_cache::LedgerEvent::SyncKeyIssued => "sync key issued",
                usagedesk_cache::LedgerEvent::UsageImported => "usage imported",
            }),
            Cell::new(&e.by),
            num(e.records),
            num(e.new_records),
            num(e.high_water_mark),
            Cell::new(match e.upload {
                Some(usagedesk_cache::UploadState::Pending) => "pending",
                Some(usagedesk_cache::UploadState::Uploaded) => "uploaded",
                Some(usagedesk_cache::UploadState::Rejected) => "REJECTED (see --json)",
                None => "",
            }),
        ]);
    }
    println!("{t}");
    Ok(())
}

pub fn instances(ctx: &Context, json: bool) -> Result<()> {
    let cache = ctx.open_cache()?;
    let now = ctx.clock.now();
    let rows = cache.instances()?;
    if json {
        for r in &rows {
            let mut v = serde_json::to_value(r)?;
            v["overdue"] = is_overdue(r, now).into();
            println!("{v}");
        }
        return Ok(());
    }
    let mut t = table(&[
        "instance",
        "account",
        "air-gapped",
        "mark",
        "last report",
        "pending",
        "",
    ]);
    for r in &rows {
        let last = [r.last_import_at, r.instance.last_report_at]
            .into_iter()
            .flatten()
            .max();
        t.add_row(vec![
            Cell::new(&r.instance.id),
            Cell::new(r.account_name.as_deref().unwrap_or(&r.instance.account_id)),
            Cell::new(if r.instance.airgapped { "yes" } else { "" }),
            num(r.high_water_mark),
            Cell::new(
                last.map(|t| t.format("%Y-%m-%d").to_string())
                    .unwrap_or_else(|| "never".into()),
            ),
            num(r.pending_uploads),
            Cell::new(if is_overdue(r, now) { "overdue" } else { "" }),
        ]);
    }
    println!("{t}");
    Ok(())
}

fn read_limited(file: &Path) -> Result<Vec<u8>> {
    let len = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    if len > MAX_FILE_BYTES {
        bail!(
            "{} is {len} bytes, more than any exchange file ({MAX_FILE_BYTES} bytes): check you picked the right file",
            file.display()
        );
    }
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

/// Writes `bytes` to `path` through a temporary file in the same folder.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
