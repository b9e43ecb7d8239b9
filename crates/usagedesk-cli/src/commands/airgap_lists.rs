//! `airgap instances`, `airgap ledger` and `airgap outbox`: listed page by page from the
//! cache inside one read snapshot (a sync running meanwhile cannot make a row appear twice
//! or go missing), each row written as soon as it is read.

use std::io::{BufWriter, Write};

use anyhow::{bail, Result};
use usagedesk_cache::{
    Cache, InstanceKind, InstanceQuery, InstanceSort, LedgerEvent, LedgerQuery, LedgerRow,
    UploadState,
};
use usagedesk_domain::Clock;
use usagedesk_exchange::{is_overdue, overdue_cutoff};

use crate::context::Context;
use crate::output::{group, one_line};

/// Rows read from the cache at a time.
const PAGE: usize = 1000;

/// Where a list starts and how long it is.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub offset: usize,
    pub limit: Option<usize>,
}

/// What `airgap instances` lists.
pub struct InstanceArgs {
    pub all: bool,
    pub overdue: bool,
    pub search: Option<String>,
    pub sort: InstanceSort,
    pub desc: bool,
    pub json: bool,
}

pub fn parse_sort(s: &str) -> Result<InstanceSort, String> {
    Ok(match s {
        "status" => InstanceSort::Status,
        "id" => InstanceSort::Id,
        "account" => InstanceSort::Account,
        "last-exchange" => InstanceSort::LastExchange,
        "mark" => InstanceSort::Mark,
        _ => {
            return Err(format!(
                "'{s}' is not a sort: status, id, account, last-exchange or mark"
            ))
        }
    })
}

/// Ends quietly when the reader of stdout went away (`| head`).
fn done_or(e: std::io::Error) -> Result<()> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e.into())
    }
}

/// Calls `page(offset, limit)` until the window is filled or the list ends; `page` writes
/// its rows and says how many it read and the list's total.
fn pages(
    cache: &Cache,
    window: Window,
    mut page: impl FnMut(&Cache, usize, usize) -> Result<(usize, u64)>,
) -> Result<(usize, u64)> {
    cache
        .read_snapshot(|c| -> usagedesk_cache::Result<_> {
            let mut shown = 0;
            let mut total = 0;
            loop {
                let want = window.limit.map_or(PAGE, |l| (l - shown).min(PAGE));
                if want == 0 {
                    break;
                }
                let (n, t) = page(c, window.offset + shown, want)
                    .map_err(|e| usagedesk_cache::CacheError::Invalid(format!("{e:#}")))?;
                total = t;
                shown += n;
                if n < want {
                    break;
                }
            }
            Ok((shown, total))
        })
        .map_err(Into::into)
}

pub fn instances(ctx: &Context, args: &InstanceArgs, window: Window) -> Result<()> {
    let cache = ctx.open_cache()?;
    let now = ctx.clock.now();
    let mut out = BufWriter::new(std::io::stdout().lock());
    if !args.json {
        let head = writeln!(
            out,
            "{:<28} {:<36} {:<10} {:>12} {:<12} {:>7} {:>7}  status",
            "instance", "account", "kind", "mark", "last report", "pending", "refused"
        );
        if let Err(e) = head {
            return done_or(e);
        }
    }
    let q = InstanceQuery {
        kind: if args.all {
            InstanceKind::All
        } else {
            InstanceKind::Airgapped
        },
        overdue_only: args.overdue,
        text: args.search.clone(),
        sort: args.sort,
        descending: args.desc,
        offset: window.offset,
        limit: window.limit.unwrap_or(usize::MAX),
    };
    // One statement in one read snapshot: one sort, rows written as they come.
    let mut write_err = None;
    let mut shown = 0usize;
    let total = cache.read_snapshot(|c| -> usagedesk_cache::Result<_> {
        let total = c.airgap().count_instances(&q, overdue_cutoff(now))?;
        c.airgap().for_each_instance(&q, overdue_cutoff(now), |r| {
            let overdue = is_overdue(&r, now);
            let line = if args.json {
                let mut v = serde_json::to_value(&r)
                    .map_err(|e| usagedesk_cache::CacheError::Invalid(e.to_string()))?;
                v["overdue"] = overdue.into();
                v.to_string()
            } else {
                let last = [r.last_import_at, r.instance.last_report_at]
                    .into_iter()
                    .flatten()
                    .max();
                format!(
                    "{:<28} {:<36} {:<10} {:>12} {:<12} {:>7} {:>7}  {}",
                    one_line(&r.instance.id),
                    one_line(r.account_name.as_deref().unwrap_or(&r.instance.account_id)),
                    if r.instance.airgapped {
                        "air-gapped"
                    } else {
                        "online"
                    },
                    group(r.high_water_mark),
                    last.map_or_else(|| "never".into(), |t| t.format("%Y-%m-%d").to_string()),
                    group(r.pending_uploads),
                    group(r.refused_uploads),
                    if overdue { "overdue" } else { "" }
                )
            };
            match writeln!(out, "{line}") {
                Ok(()) => {
                    shown += 1;
                    Ok(true)
                }
                Err(e) => {
                    write_err = Some(e);
                    Ok(false) // nobody reads the rest
                }
            }
        })?;
        Ok(total)
    })?;
    if let Some(e) = write_err.or_else(|| out.flush().err()) {
        return done_or(e);
    }
    if !args.json {
        eprintln!(
            "{} of {} instance(s){}",
            group(shown as u64),
            group(total),
            if window.offset > 0 || shown as u64 != total {
                format!(" (from {}; --offset/--limit for more)", window.offset)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

fn upload_text(r: &LedgerRow) -> String {
    match (r.upload, &r.queued) {
        (Some(UploadState::Uploaded), _) => "uploaded".into(),
        (Some(UploadState::Discarded), _) => "discarded".into(),
        (_, Some(q)) if q.refused_status.is_some() => {
            format!("REFUSED ({})", q.refused_status.unwrap_or_default())
        }
        (_, Some(q)) if q.next_attempt_at.is_some() => "retrying".into(),
        (Some(UploadState::Pending), _) => "pending".into(),
        (Some(UploadState::Rejected), _) => "refused".into(),
        (None, _) => String::new(),
    }
}

pub fn ledger(
    ctx: &Context,
    instance: Option<&str>,
    kept_only: bool,
    json: bool,
    window: Window,
) -> Result<()> {
    let cache = ctx.open_cache()?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    if !json {
        let head = writeln!(
            out,
            "{:>6} {:<16} {:<28} {:<16} {:>8} {:>8} {:>10}  upload",
            "id", "when", "instance", "event", "records", "new", "mark"
        );
        if let Err(e) = head {
            return done_or(e);
        }
    }
    let mut write_err = None;
    let mut reasons = Vec::new();
    let (shown, total) = pages(&cache, window, |c, offset, limit| {
        let page = c.airgap().ledger_page(&LedgerQuery {
            instance: instance.map(Into::into),
            kept_only,
            offset,
            limit,
        })?;
        for e in &page.items {
            let line = if json {
                serde_json::to_string(e)?
            } else {
                if let (Some(q), Some(why)) = (&e.queued, &e.upload_error) {
                    if q.refused_status.is_some() || q.next_attempt_at.is_some() {
                        reasons.push((e.id, why.clone()));
                    }
                }
                format!(
                    "{:>6} {:<16} {:<28} {:<16} {:>8} {:>8} {:>10}  {}",
                    e.id,
                    e.at.format("%Y-%m-%d %H:%M"),
                    one_line(&e.instance_id),
                    match e.event {
                        LedgerEvent::SyncKeyIssued => "sync key issued",
                        LedgerEvent::UsageImported => "usage imported",
                    },
                    group(e.records),
                    group(e.new_records),
                    group(e.high_water_mark),
                    upload_text(e)
                )
            };
            if let Err(err) = writeln!(out, "{line}") {
                write_err = Some(err);
                return Ok((0, page.total));
            }
        }
        Ok((page.items.len(), page.total))
    })?;
    if let Some(e) = write_err.or_else(|| out.flush().err()) {
        return done_or(e);
    }
    if !json {
        for (id, why) in reasons {
            eprintln!("{id}: {}", one_line(&why));
        }
        eprintln!("{} of {} entries", group(shown as u64), group(total));
    }
    Ok(())
}

/// `airgap outbox`: the kept files, what each waits for, and what to do.
pub fn outbox(ctx: &Context, json: bool, window: Window) -> Result<()> {
    ledger(ctx, None, true, json, window)?;
    if json {
        return Ok(());
    }
    let cache = ctx.open_cache()?;
    let current = usagedesk_sync::outbox::current_binding(&cache)?;
    let s = cache.outbox().summary(current.as_ref())?;
    if s.total() == 0 {
        eprintln!("the outbox is empty: every imported file reached the cloud");
        return Ok(());
    }
    if s.queued > 0 {
        eprintln!(
            "{} file(s) queued for this cloud: sent by the next `usagedesk-cli sync`",
            s.queued
        );
    }
    if s.refused > 0 {
        eprintln!(
            "{} file(s) refused by the cloud (reason above): fix the cause, then \
             `usagedesk-cli airgap retry ID`; or drop one for good with \
             `usagedesk-cli airgap discard ID --yes`",
            s.refused
        );
    }
    for e in &s.elsewhere {
        eprintln!(
            "{} file(s) queued for {}: sent when this computer syncs with it again",
            e.files,
            usagedesk_sync::outbox::describe(&e.binding)
        );
    }
    Ok(())
}

/// `--limit 0` lists nothing; refuse it as a mistake.
pub fn window(offset: usize, limit: Option<usize>) -> Result<Window> {
    if limit == Some(0) {
        bail!("--limit must be at least 1 (leave it out to list everything)");
    }
    Ok(Window { offset, limit })
}
