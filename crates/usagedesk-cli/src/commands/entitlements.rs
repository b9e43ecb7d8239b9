//! `entitlements`: seats against used seats per license and plan (`docs/entitlements.md`),
//! from the local cache (offline), streamed license by license.

use std::io::Write;

use anyhow::Result;
use comfy_table::{Cell, CellAlignment};
use usagedesk_domain::YearMonth;
use usagedesk_entitlements::{check_completed, each_entitlement, EntitlementScope};

use crate::context::Context;
use crate::output::{num, table};

pub fn entitlements(
    ctx: &Context,
    account: &str,
    month: &str,
    scope: EntitlementScope,
    json: bool,
) -> Result<()> {
    let month: YearMonth = month.parse()?;
    check_completed(month, ctx.today())?;
    let cache = ctx.open_cache()?;
    if json {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        each_entitlement(&cache, account, scope, month, 1, |e| {
            serde_json::to_writer(&mut out, &e.entitlement)?;
            out.write_all(b"\n")?;
            Ok::<(), anyhow::Error>(())
        })?;
        out.flush()?;
        return Ok(());
    }
    let mut t = table(&[
        "license",
        "account",
        "plan (seat metric)",
        "seats",
        "used",
        "utilization",
        "overage",
        "forecast at expiry",
        "expires",
    ]);
    let mut rows = 0usize;
    each_entitlement(&cache, account, scope, month, 1, |e| {
        let e = e.entitlement;
        rows += 1;
        t.add_row(vec![
            Cell::new(&e.license_id),
            Cell::new(&e.account_id),
            Cell::new(format!("{} ({})", e.plan, e.seat_metric.as_str())),
            e.seats.map_or_else(|| Cell::new("none"), num),
            num(e.used),
            Cell::new(
                e.utilization
                    .map_or_else(|| "—".to_string(), |u| format!("{:.1} %", u * 100.0)),
            )
            .set_alignment(CellAlignment::Right),
            num(e.overage),
            Cell::new(match e.forecast_at_expiry {
                None => "—".to_string(),
                Some(f) if e.forecast_over_seats => format!("{f:.1} (over seats)"),
                Some(f) => format!("{f:.1}"),
            })
            .set_alignment(CellAlignment::Right),
            Cell::new(
                e.expires_at
                    .as_deref()
                    .map_or("never", |s| s.get(..10).unwrap_or(s)),
            ),
        ]);
        Ok::<(), anyhow::Error>(())
    })?;
    println!("{month}, scope {}", scope.as_str());
    if rows == 0 {
        println!("no license in force in this scope in {month}");
    } else {
        println!("{t}");
    }
    Ok(())
}
