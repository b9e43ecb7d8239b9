//! `attention`: what needs attention now (`docs/attention.md`): air-gapped instances overdue,
//! licenses expiring within 30 days, licenses over their seats in the last completed month.
//! From the local cache (offline), streamed item by item in the app's order.

use std::io::Write;

use anyhow::Result;
use usagedesk_attention::{bounds, counts, each_item, AttentionItem, AttentionKind};

use crate::context::Context;

fn label(kind: AttentionKind) -> &'static str {
    match kind {
        AttentionKind::Overdue => "overdue",
        AttentionKind::Expiring => "expiring",
        AttentionKind::OverSeats => "over-seats",
    }
}

fn line(out: &mut impl Write, i: &AttentionItem) -> std::io::Result<()> {
    let since = i.since.map_or_else(
        || "never reported".to_owned(),
        |t| format!("since {}", t.format("%Y-%m-%d")),
    );
    let who = match &i.account_name {
        Some(name) => format!("{name} ({})", i.account_id),
        None => i.account_id.clone(),
    };
    writeln!(out, "{:<10}  {since:<16}  {who}", label(i.kind))?;
    writeln!(out, "            {}", i.title)?;
    writeln!(out, "            next: {}", i.next_step)
}

pub fn attention(
    ctx: &Context,
    kind: Option<AttentionKind>,
    offset: u64,
    limit: Option<u64>,
    json: bool,
) -> Result<()> {
    let cache = ctx.open_cache()?;
    cache.set_page_cache_kib(2048)?;
    let b = bounds(ctx.now());
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut shown = 0u64;
    each_item(&cache, &b, kind, offset, limit, |i| {
        shown += 1;
        if json {
            serde_json::to_writer(&mut out, &i)?;
            out.write_all(b"\n")?;
        } else {
            line(&mut out, &i)?;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    if !json {
        let c = counts(&cache, &b)?;
        let total = kind.map_or(c.total, |k| c.of(k));
        writeln!(
            out,
            "{shown} of {total} item(s) shown; {} overdue, {} expiring within 30 days, {} over seats in {}",
            c.overdue, c.expiring, c.over_seats, b.month
        )?;
    }
    out.flush()?;
    Ok(())
}
