//! `customers`, `customer`, `instance`: customer reporting from the local cache (offline).

use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use comfy_table::Cell;
use usagedesk_customers::{
    customer, customer_instances, customer_total, each_customer, install_attempts, instance,
    instance_events, CustomerFilter, CustomerSort, CustomerSummary, InstanceCard, Page,
};
use usagedesk_domain::customer::{InstanceStatus, LicenseType};
use usagedesk_domain::Clock;

use crate::context::Context;
use crate::output::{group, one_line, table};

fn date(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "never".into(), |t| t.format("%Y-%m-%d").to_string())
}

/// "3 d 4 h", "5 h 12 min", "42 min".
pub fn span(d: Duration) -> String {
    let m = d.num_minutes().max(0);
    match (m / 1440, m / 60 % 24, m % 60) {
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

fn status(s: Option<InstanceStatus>) -> &'static str {
    s.map_or("—", InstanceStatus::as_str)
}

fn ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "no data".into(), |r| format!("{:.1} %", r * 100.0))
}

/// How `customers` pages and prints.
pub struct ListArgs {
    pub filter: CustomerFilter,
    pub sort: CustomerSort,
    pub offset: u64,
    pub limit: Option<u64>,
    pub json: bool,
}

fn license_types(r: &CustomerSummary) -> String {
    let types: Vec<&str> = r
        .licenses
        .iter()
        .map(|l| match l.license_type {
            LicenseType::Prod => "prod",
            LicenseType::Trial => "trial",
            LicenseType::Dev => "dev",
            LicenseType::Community => "community",
        })
        .collect();
    types.join(", ")
}

/// At most `width` characters of `s`, on one line.
fn fit(s: &str, width: usize) -> String {
    let s = one_line(s);
    if s.chars().count() <= width {
        return s;
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

const LIST_HEADER: [(&str, usize); 6] = [
    ("customer", 44),
    ("licenses", 16),
    ("expires", 18),
    ("instances", 9),
    ("not ready", 9),
    ("status", 11),
];

fn list_line(out: &mut impl Write, cells: [&str; 7]) -> std::io::Result<()> {
    for (i, (_, w)) in LIST_HEADER.iter().enumerate() {
        write!(out, "{:<w$}  ", fit(cells[i], *w))?;
    }
    writeln!(out, "{}", cells[6].trim_end())
}

/// SQLite's page cache while streaming the list (KiB).
const STREAM_CACHE_KIB: u32 = 4 * 1024;

/// Streams the list: each row is written as it is read (one JSON object a line with
/// `--json`), so memory stays flat however many customers there are.
pub fn list(ctx: &Context, args: ListArgs) -> Result<()> {
    let cache = ctx.open_cache()?;
    // Each page is read once: a small page cache keeps the stream's memory flat.
    cache.set_page_cache_kib(STREAM_CACHE_KIB)?;
    let now = ctx.clock.now();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if !args.json {
        let [a, b, c, d, e, f] = LIST_HEADER.map(|(h, _)| h);
        list_line(&mut out, [a, b, c, d, e, f, ""])?;
    }
    let total = customer_total(&cache, now, &args.filter)?;
    let shown = each_customer(
        &cache,
        now,
        &args.filter,
        args.sort,
        args.offset,
        args.limit,
        |r| -> Result<()> {
            if args.json {
                serde_json::to_writer(&mut out, &r)?;
                writeln!(out)?;
                return Ok(());
            }
            let expires = if r.expired {
                format!("expired {}", date(r.expires_at))
            } else {
                date(r.expires_at).replace("never", "—")
            };
            list_line(
                &mut out,
                [
                    &format!("{} [{}]", r.account_name, r.account_id),
                    &license_types(&r),
                    &expires,
                    &r.instances.to_string(),
                    &r.not_ready.to_string(),
                    status(r.worst_status),
                    if r.reporting_overdue {
                        "reporting overdue"
                    } else {
                        ""
                    },
                ],
            )?;
            Ok(())
        },
    )?;
    if !args.json {
        let first = if shown == 0 { 0 } else { args.offset + 1 };
        if shown == total {
            writeln!(out, "{} customers", group(total))?;
        } else {
            writeln!(
                out,
                "customers {}–{} of {} (--offset and --limit page through them)",
                group(first),
                group(args.offset + shown),
                group(total)
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

/// How far `customer` and `instance --events` page into their lists.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub offset: u64,
    pub limit: u64,
}

/// "instances 1–50 of 1,234 (--offset 50 for more)".
fn range_note(what: &str, page: &Page<impl Sized>) -> String {
    let from = page.offset as u64;
    let to = from + page.items.len() as u64;
    if page.total == 0 {
        return format!("no {what}");
    }
    let more = if to < page.total {
        format!(" (--offset {to} for more)")
    } else {
        String::new()
    };
    format!(
        "{what} {}–{} of {}{more}",
        group(from + 1),
        group(to),
        group(page.total)
    )
}

fn instance_rows(cards: &[InstanceCard]) -> comfy_table::Table {
    let mut t = table(&[
        "instance",
        "status",
        "version",
        "cluster",
        "last check-in",
        "uptime 14 d",
        "",
    ]);
    for c in cards {
        let (st, version, cluster, last) = match &c.report {
            Some(r) => (
                status(Some(r.status)),
                r.app_version.clone(),
                format!(
                    "{} {}{}{}",
                    r.cluster.distribution,
                    r.cluster.kubernetes_version,
                    if r.cluster.embedded_cluster {
                        " embedded"
                    } else {
                        ""
                    },
                    r.cluster
                        .cloud_provider
                        .as_deref()
                        .map(|p| format!(" {p}/{}", r.cluster.region.as_deref().unwrap_or("?")))
                        .unwrap_or_default()
                ),
                r.last_check_in.format("%Y-%m-%d %H:%M").to_string(),
            ),
            None => ("—", String::new(), String::new(), "never".into()),
        };
        let stale = match c.activity {
            Some(a) if a.inactive => format!("inactive, last seen {} ago", span(a.stale_for)),
            _ => String::new(),
        };
        t.add_row(vec![
            Cell::new(&c.short_id),
            Cell::new(st),
            Cell::new(version),
            Cell::new(cluster),
            Cell::new(last),
            Cell::new(ratio(c.uptime.as_ref().and_then(|u| u.ratio))),
            Cell::new(stale),
        ]);
    }
    t
}

pub fn show(ctx: &Context, account: &str, paging: Paging, json: bool) -> Result<()> {
    let cache = ctx.open_cache()?;
    let now = ctx.clock.now();
    let page = customer(&cache, account, now)?;
    let instances = customer_instances(&cache, account, now, paging.offset, paging.limit)?;
    let attempts = install_attempts(&cache, account, paging.offset, paging.limit)?;
    if json {
        let mut v = serde_json::to_value(&page)?;
        v["instances"] = serde_json::to_value(&instances)?;
        v["install_attempts"] = serde_json::to_value(&attempts)?;
        println!("{}", serde_json::to_string(&v)?);
        return Ok(());
    }
    println!("{} [{}]", page.account.name, page.account.id);
    for l in &page.licenses {
        let f = l.features;
        let features: Vec<&str> = [
            (f.gitops, "GitOps"),
            (f.airgap, "air gap"),
            (f.identity, "identity"),
            (f.snapshots, "snapshots"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        println!(
            "license {} ({:?}, channel {}), created {}, expires {}; features: {}",
            l.id,
            l.license_type,
            l.channel,
            l.created_at.format("%Y-%m-%d"),
            date(l.expires_at),
            if features.is_empty() {
                "none".into()
            } else {
                features.join(", ")
            }
        );
    }
    match &page.time_to_install {
        Some(t) => println!(
            "time to install ({}): license {}, instance {}",
            t.instance_id,
            span(t.license),
            span(t.instance)
        ),
        None => println!("time to install: no Ready instances"),
    }
    let c = page.counts;
    println!(
        "{} instances: {} not Ready, {} inactive, {} air-gapped ({} overdue)",
        group(c.instances.into()),
        group(c.not_ready.into()),
        group(c.inactive.into()),
        group(c.airgapped.into()),
        group(c.reporting_overdue.into())
    );
    println!("{}", instance_rows(&instances.items));
    println!("{}", range_note("instances", &instances));
    for a in &attempts.items {
        println!(
            "install attempt {} {:?} started {} by {} ({}, mode {:?}, registry {:?}): {}",
            a.id,
            a.status,
            a.started_at.format("%Y-%m-%d %H:%M"),
            a.user_email,
            a.environment,
            a.mode,
            a.registry,
            a.steps
                .iter()
                .map(|s| format!("{} {}", s.name, s.at.format("%H:%M")))
                .collect::<Vec<_>>()
                .join(" → ")
        );
    }
    println!("{}", range_note("install attempts", &attempts));
    Ok(())
}

pub fn show_instance(ctx: &Context, id: &str, events: Option<Paging>, json: bool) -> Result<()> {
    let cache = ctx.open_cache()?;
    let now = ctx.clock.now();
    let detail = instance(&cache, id, now)?;
    let events = events
        .map(|p| instance_events(&cache, id, now, p.offset, p.limit))
        .transpose()?;
    if json {
        let mut v = serde_json::to_value(&detail)?;
        if let Some(events) = &events {
            v["events"] = serde_json::to_value(events)?;
        }
        println!("{}", serde_json::to_string(&v)?);
        return Ok(());
    }
    println!(
        "instance {} of {} [{}], license {}",
        detail.card.instance_id,
        detail.account_name.as_deref().unwrap_or("?"),
        detail.account_id,
        detail.card.license_id
    );
    println!("{}", instance_rows(std::slice::from_ref(&detail.card)));
    if let Some(u) = &detail.card.uptime {
        println!(
            "last 14 days: up {}, down {}, no data {}, ratio {}",
            span(u.up),
            span(u.down),
            span(u.no_data),
            ratio(u.ratio)
        );
    }
    if let Some(events) = &events {
        let mut t = table(&["received", "field", "previous", "new"]);
        for e in &events.items {
            t.add_row(vec![
                Cell::new(e.received_at.format("%Y-%m-%d %H:%M:%S").to_string()),
                Cell::new(&e.field),
                Cell::new(e.previous.as_deref().unwrap_or("")),
                Cell::new(&e.new),
            ]);
        }
        println!("{t}");
        println!("{}", range_note("events (newest first)", events));
    }
    Ok(())
}
