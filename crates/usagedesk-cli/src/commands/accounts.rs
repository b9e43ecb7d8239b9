//! `accounts tree` and `accounts search`.

use anyhow::{anyhow, Result};
use usagedesk_cache::{Cache, ChildSort};
use usagedesk_domain::{Metric, YearMonth};

use crate::context::Context;
use crate::output::{group, one_line};

/// Children listed per node before "… N more".
const MAX_CHILDREN_SHOWN: usize = 50;

pub fn tree(ctx: &Context, account: Option<&str>, depth: usize) -> Result<()> {
    let cache = ctx.open_cache()?;
    let month = latest_month(&cache, ctx)?;
    println!("subtree users with activity, {month}");
    match account {
        Some(id) => {
            let row = cache.accounts().row(id, month)?.ok_or_else(|| {
                anyhow!("no account '{id}' in the cache; try `usagedesk-cli accounts search {id}`")
            })?;
            println!(
                "{} [{}]  {}",
                one_line(&row.usage.account_name),
                row.usage.account_id,
                group(row.subtree_total(Metric::UsersWithActivity))
            );
            print_children(&cache, Some(id), month, 1, depth)?;
        }
        None => print_children(&cache, None, month, 0, depth)?,
    }
    Ok(())
}

fn print_children(
    cache: &Cache,
    parent: Option<&str>,
    month: YearMonth,
    level: usize,
    depth: usize,
) -> Result<()> {
    if parent.is_some() && level > depth {
        return Ok(());
    }
    let page = cache
        .accounts()
        .children(parent, month, 0, MAX_CHILDREN_SHOWN, ChildSort::Name)?;
    for row in &page.items {
        let status = if row.usage.status.as_str() == "disabled" {
            " (disabled)"
        } else {
            ""
        };
        println!(
            "{}{} [{}]{status}  {}{}",
            "  ".repeat(level),
            one_line(&row.usage.account_name),
            row.usage.account_id,
            group(row.subtree_total(Metric::UsersWithActivity)),
            if row.child_count > 0 && level == depth {
                format!("  (+{} children)", row.child_count)
            } else {
                String::new()
            }
        );
        if row.child_count > 0 && level < depth {
            print_children(cache, Some(&row.usage.account_id), month, level + 1, depth)?;
        }
    }
    let more = page.total.saturating_sub(page.items.len() as u64);
    if more > 0 {
        println!("{}… {} more", "  ".repeat(level), group(more));
    }
    Ok(())
}

/// The newest completed month in the cache.
pub fn latest_month(cache: &Cache, ctx: &Context) -> Result<YearMonth> {
    cache
        .usage()
        .completed_months(ctx.today())?
        .last()
        .copied()
        .ok_or_else(|| {
            anyhow!("the cache holds no completed month yet: run `usagedesk-cli sync` first")
        })
}

pub fn search(ctx: &Context, text: &str, limit: usize) -> Result<()> {
    let cache = ctx.open_cache()?;
    let hits = cache.accounts().search(text, limit.clamp(1, 500))?;
    if hits.is_empty() {
        println!("no account matches '{text}'");
    }
    for h in hits {
        let path = h
            .path
            .iter()
            .map(|p| one_line(p))
            .collect::<Vec<_>>()
            .join(" › ");
        println!("{}\t{}\t{}", h.account.id, one_line(&h.account.name), path);
    }
    Ok(())
}
