//! `usage`: one month of an account (and its children or subtree) with subtree aggregates.

use anyhow::{anyhow, bail, Result};
use comfy_table::Cell;
use usagedesk_domain::{Availability, Scope, YearMonth};

use crate::context::Context;
use crate::output::{num, one_line, table};

pub fn usage(ctx: &Context, account: &str, month: &str, scope: Scope, json: bool) -> Result<()> {
    let month: YearMonth = month.parse()?;
    if !month.is_completed(ctx.today()) {
        bail!(
            "{month} is not a completed month yet; the latest completed month is {}",
            YearMonth::last_completed(ctx.today())
        );
    }
    let cache = ctx.open_cache()?;
    if cache.accounts().get(account)?.is_none() {
        return Err(anyhow!(
            "no account '{account}' in the cache; try `usagedesk-cli accounts search {account}`"
        ));
    }
    let rows = cache.usage().rows(account, month, scope)?;
    if json {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for r in &rows {
            serde_json::to_writer(&mut out, r)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        return Ok(());
    }
    let plans = cache.accounts().plans()?;
    let mut header = vec![
        "account".to_string(),
        "plan".into(),
        "registered".into(),
        "with token".into(),
        "with activity".into(),
    ];
    for p in plans.ids() {
        header.push(format!("{p} total (act.)"));
    }
    let mut t = table(&header.iter().map(String::as_str).collect::<Vec<_>>());
    for r in &rows {
        let mut cells = vec![Cell::new(format!(
            "{} [{}]",
            one_line(&r.account_name),
            r.account_id
        ))];
        match (r.availability, r.own) {
            (Availability::Ok, Some(c)) => {
                cells.push(Cell::new(r.plan.clone().unwrap_or_default()));
                cells.extend([
                    num(c.users_registered),
                    num(c.users_with_token),
                    num(c.users_with_activity),
                ]);
            }
            (a, _) => {
                let label = if a == Availability::NonExistent {
                    "non-existent"
                } else {
                    "not available"
                };
                cells.push(Cell::new(label));
                cells.extend([Cell::new("—"), Cell::new("—"), Cell::new("—")]);
            }
        }
        for p in plans.ids() {
            cells.push(num(r.totals.get(p).map_or(0, |c| c.users_with_activity)));
        }
        t.add_row(cells);
    }
    println!("{month}, scope {scope}");
    println!("{t}");
    Ok(())
}
