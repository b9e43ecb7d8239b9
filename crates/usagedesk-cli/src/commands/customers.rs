//! `customers`, `customer`, `instance`: customer reporting from the local cache (offline).

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use comfy_table::Cell;
use usagedesk_customers::{customer, customers, instance, CustomerFilter, InstanceCard};
use usagedesk_domain::customer::{InstanceStatus, LicenseType};
use usagedesk_domain::Clock;

use crate::context::Context;
use crate::output::{one_line, table};

fn json_lines<T: serde::Serialize>(items: impl IntoIterator<Item = T>) -> Result<()> {
    for i in items {
        println!("{}", serde_json::to_string(&i)?);
    }
    Ok(())
}

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

pub fn list(ctx: &Context, filter: CustomerFilter, json: bool) -> Result<()> {
    let cache = ctx.open_cache()?;
    let rows = customers(&cache, ctx.clock.now(), &filter)?;
    if json {
        return json_lines(&rows);
    }
    let mut t = table(&[
        "customer",
        "licenses",
        "expires",
        "instances",
        "not ready",
        "status",
        "",
    ]);
    for r in &rows {
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
        t.add_row(vec![
            Cell::new(format!("{} [{}]", one_line(&r.account_name), r.account_id)),
            Cell::new(types.join(", ")),
            Cell::new(if r.expired {
                format!("expired {}", date(r.expires_at))
            } else {
                date(r.expires_at).replace("never", "—")
            }),
            Cell::new(r.instances),
            Cell::new(r.not_ready),
            Cell::new(status(r.worst_status)),
            Cell::new(if r.reporting_overdue {
                "reporting overdue"
            } else {
                ""
            }),
        ]);
    }
    println!("{t}");
    println!("{} customers", rows.len());
    Ok(())
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

pub fn show(ctx: &Context, account: &str, json: bool) -> Result<()> {
    let cache = ctx.open_cache()?;
    let page = customer(&cache, account, ctx.clock.now())?;
    if json {
        println!("{}", serde_json::to_string(&page)?);
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
    println!("{}", instance_rows(&page.instances));
    for a in &page.install_attempts {
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
    Ok(())
}

pub fn show_instance(ctx: &Context, id: &str, events: bool, json: bool) -> Result<()> {
    let cache = ctx.open_cache()?;
    let detail = instance(&cache, id, ctx.clock.now())?;
    if json {
        println!("{}", serde_json::to_string(&detail)?);
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
    if events {
        let mut t = table(&["received", "field", "previous", "new"]);
        for e in &detail.events {
            t.add_row(vec![
                Cell::new(e.received_at.format("%Y-%m-%d %H:%M:%S").to_string()),
                Cell::new(&e.field),
                Cell::new(e.previous.as_deref().unwrap_or("")),
                Cell::new(&e.new),
            ]);
        }
        println!("{t}");
    }
    Ok(())
}
