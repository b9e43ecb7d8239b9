//! `airgap`: the manager's side of the exchange with air-gapped instances, offline.

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use usagedesk_domain::Clock;
use usagedesk_exchange::{
    discard_upload, import, issue_sync_key, preview_import, read_exchange_file, retry_upload,
    write_exchange_file, ExchangeError, ImportPreview, Retried, Signer,
};

use crate::context::Context;

/// The longest a sync key may be valid (the app offers up to a year too).
const MAX_SYNC_KEY_VALIDITY: chrono::Duration = chrono::Duration::days(365);

/// Issues a sync key and writes it to `output`, or to its suggested name in the current
/// directory.
pub fn issue(ctx: &Context, instance: &str, expires_in: &str, output: Option<&Path>) -> Result<()> {
    let valid_for = usagedesk_domain::duration::parse_duration(
        expires_in,
        MAX_SYNC_KEY_VALIDITY,
        "--expires-in",
    )?;
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
    write_exchange_file(output, key.text.as_bytes())?;
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
    let bytes = read_exchange_file(file)?;
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
            write_exchange_file(output, done.verification_key.as_bytes())?;
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
            write_exchange_file(output, verification_key.as_bytes())?;
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

/// `airgap retry ID`: queues a kept file again and, when signed in to its cloud, sends it now.
pub fn retry(ctx: &Context, ledger_id: i64) -> Result<()> {
    let mut cache = ctx.open_cache()?;
    // The client of the cloud this computer is signed in to, when it has the token for it.
    let client = match usagedesk_sync::outbox::current_binding(&cache)? {
        Some(b) => match ctx.token(&b.cloud_url) {
            Ok(token) => Some(usagedesk_sync::Client::new(&b.cloud_url, &token)?),
            Err(_) => None,
        },
        None => None,
    };
    let retried = super::runtime()?.block_on(retry_upload(
        &mut cache,
        ledger_id,
        client.as_ref(),
        ctx.clock.now(),
    ))?;
    match retried {
        Retried::Sent(_) => {}
        Retried::Queued { binding } => {
            println!(
                "queued again for {}: sent when this computer syncs with it",
                usagedesk_sync::outbox::describe(&binding)
            );
            return Ok(());
        }
        Retried::Offline { reason } => {
            println!("queued again; the cloud cannot be reached ({reason}): sent at the next sync");
            return Ok(());
        }
    }
    match cache.airgap().ledger_row(ledger_id)? {
        Some(r) if r.upload == Some(usagedesk_cache::UploadState::Uploaded) => {
            println!("uploaded: the cloud accepted the file of ledger entry {ledger_id}");
            Ok(())
        }
        Some(r) => match r.queued {
            Some(q) if q.refused_status.is_some() => bail!(
                "the cloud refused the file again ({}): {}. It stays kept; \
                 `usagedesk-cli airgap discard {ledger_id} --yes` drops it for good",
                q.refused_status.unwrap_or_default(),
                r.upload_error.unwrap_or_default()
            ),
            _ => {
                println!(
                    "still queued ({}): tried again at a later sync",
                    r.upload_error.unwrap_or_else(|| "not sent yet".into())
                );
                Ok(())
            }
        },
        None => bail!("there is no ledger entry {ledger_id}"),
    }
}

/// `airgap discard ID --yes`: drops a kept file for good.
pub fn discard(ctx: &Context, ledger_id: i64, yes: bool) -> Result<()> {
    let mut cache = ctx.open_cache()?;
    let row = cache
        .airgap()
        .ledger_row(ledger_id)?
        .with_context(|| format!("there is no ledger entry {ledger_id}"))?;
    if row.queued.is_none() {
        bail!(
            "ledger entry {ledger_id} keeps no file: only imports the cloud has not accepted \
             can be discarded (see `usagedesk-cli airgap outbox`)"
        );
    }
    if !yes {
        bail!(
            "not discarded: the file of ledger entry {ledger_id} (instance {}) holds usage the \
             customer was told the vendor has, and the customer's agent already dropped it. \
             Discarding loses it for good; run again with --yes if that is what you want",
            row.instance_id
        );
    }
    discard_upload(&mut cache, ledger_id, ctx.clock.now())?;
    println!("discarded the file of ledger entry {ledger_id}; the ledger keeps the entry");
    Ok(())
}
