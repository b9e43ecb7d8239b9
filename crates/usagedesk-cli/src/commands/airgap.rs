//! `airgap`: the manager's side of the exchange with air-gapped instances, offline.

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use usagedesk_domain::Clock;
use usagedesk_exchange::{
    import, issue_sync_key, preview_import, ExchangeError, ImportPreview, Signer,
};

use crate::context::Context;

/// The largest file `import` reads (the format's own limit is checked again when parsing).
const MAX_FILE_BYTES: u64 = 8 << 20;

/// Who signs here: the OS user, and the account the token is for.
pub fn subject(account_id: &str) -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "manager".into());
    format!("{user} ({account_id})")
}

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

/// `airgap retry ID`: queues a kept file again and, when signed in to its cloud, sends it now.
pub fn retry(ctx: &Context, ledger_id: i64) -> Result<()> {
    let mut cache = ctx.open_cache()?;
    cache.requeue(ledger_id)?;
    let binding = usagedesk_sync::outbox::current_binding(&cache)?;
    let kept = cache
        .queued_upload(ledger_id)?
        .context("the file left the outbox meanwhile")?;
    let signed_in = binding
        .as_ref()
        .filter(|b| b == &&kept.binding)
        .and_then(|b| ctx.token(&b.cloud_url).ok().map(|t| (b.clone(), t)));
    let Some((binding, token)) = signed_in else {
        println!(
            "queued again for {}: sent when this computer syncs with it",
            usagedesk_sync::outbox::describe(&kept.binding)
        );
        return Ok(());
    };
    let client = usagedesk_sync::Client::new(&binding.cloud_url, &token)?;
    let report = super::runtime()?.block_on(usagedesk_sync::outbox::push_outbox(
        &mut cache,
        &client,
        &binding.account_id,
        ctx.clock.now(),
    ));
    match report {
        Ok(_) => {}
        Err(e) if e.is_offline() => {
            println!("queued again; the cloud cannot be reached ({e}): sent at the next sync");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    match cache.ledger_row(ledger_id)? {
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
    let by = subject(cache.scope_account_id()?.as_deref().unwrap_or("signed out"));
    cache.discard(ledger_id, &by, ctx.clock.now())?;
    println!("discarded the file of ledger entry {ledger_id}; the ledger keeps the entry");
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
