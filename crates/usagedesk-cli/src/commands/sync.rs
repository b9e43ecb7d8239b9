//! `sync` and `status`.

use std::io::IsTerminal;

use anyhow::{anyhow, Result};
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use usagedesk_domain::Clock;
use usagedesk_sync::{Client, ClientOptions, Phase, Progress, Settings, SyncOptions};

use crate::context::Context;
use crate::output::group;

pub fn sync(
    ctx: &Context,
    url: Option<&str>,
    force: bool,
    allow_insecure_http: bool,
) -> Result<()> {
    let mut settings = Settings::load(&ctx.data_dir)?;
    // The allowance given at login holds for the URL of the login only.
    let (url, options) = match url {
        Some(u) => (
            u.to_string(),
            ClientOptions {
                allow_insecure_http,
            },
        ),
        None => {
            let url = settings.cloud_url.clone().ok_or_else(|| {
                anyhow!("no cloud URL: run `usagedesk-cli login --url URL` or pass --url")
            })?;
            let mut options = settings.client_options();
            options.allow_insecure_http |= allow_insecure_http;
            (url, options)
        }
    };
    let client = Client::new_with(&url, &ctx.token(&url)?, options)?;
    let mut cache = ctx.open_cache()?;
    if settings.cloud_url.as_deref() != Some(client.base_url()) {
        settings.cloud_url = Some(client.base_url().to_string());
        settings.allow_insecure_http = options.allow_insecure_http;
    }
    settings.save(&ctx.data_dir)?;
    let mut reporter = Reporter::new();
    let synced = super::runtime()?.block_on(usagedesk_exchange::sync_and_certify(
        &mut cache,
        &client,
        &ctx.clock,
        &ctx.secrets(),
        &SyncOptions {
            allow_source_switch: force,
            ..SyncOptions::default()
        },
        |p| reporter.show(p),
    ));
    reporter.finish();
    let synced = match synced {
        Err(e @ usagedesk_sync::SyncError::PendingElsewhere { .. }) => {
            anyhow::bail!("nothing was synced: {e} (`usagedesk-cli airgap outbox` lists them; --force confirms)")
        }
        other => other?,
    };
    let report = &synced.report;
    println!(
        "synced {} changes in {} pages from {} ({}){}",
        group(report.rows),
        report.pages,
        client.base_url(),
        report.account_name,
        if report.full_resync {
            ", full resync"
        } else {
            ""
        }
    );
    if report.uploaded > 0 {
        println!(
            "uploaded {} usage data file(s) imported offline",
            report.uploaded
        );
    }
    if report.push.deferred > 0 {
        println!(
            "{} usage data file(s) stay queued: the cloud or the network failed for now; \
             they are tried again at a later sync",
            report.push.deferred
        );
    }
    if report.push.refused > 0 {
        println!(
            "the cloud refused {} usage data file(s); they are kept: see `usagedesk-cli airgap \
             outbox` for the reason, then `airgap retry ID` or `airgap discard ID --yes`",
            report.push.refused
        );
    }
    // The air-gap signing certificate, for issuing sync keys and importing files offline.
    match synced.certificate {
        Ok(c) if c.renewed => println!(
            "air-gap signing certificate for {} (scope {}) valid until {}",
            c.subject,
            c.scope,
            c.expires_at.format("%Y-%m-%d")
        ),
        Ok(_) => {}
        Err(e) => eprintln!("warning: the air-gap signing certificate was not renewed: {e}"),
    }
    score_health(&mut cache, ctx.clock.now());
    Ok(())
}

/// Brings account health and the renewal calendar up to the synced data (a sync with changes
/// leaves them lagging), so the next question answers at once; said before it starts, as it
/// takes seconds at 100,000 accounts. The synced data stands without them: a failure is a
/// warning.
fn score_health(cache: &mut usagedesk_cache::Cache, now: chrono::DateTime<Utc>) {
    let today = now.date_naive();
    if matches!(cache.health().as_of(), Ok(Some(day)) if day == today) {
        return;
    }
    eprintln!("computing account health as of {today}...");
    match usagedesk_health::ensure_current(cache, now) {
        Ok(_) => eprintln!("account health computed as of {today}"),
        Err(e) => eprintln!("warning: account health was not recomputed: {e}"),
    }
}

/// A progress bar on a terminal; plain lines otherwise (logs, CI).
struct Reporter {
    bar: Option<ProgressBar>,
    last_line: std::time::Instant,
    last_phase: Option<Phase>,
}

impl Reporter {
    fn new() -> Self {
        let bar = std::io::stdout().is_terminal().then(|| {
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg:12} [{bar:40}] {human_pos}/{human_len} rows ({per_sec}, {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b
        });
        Self {
            bar,
            last_line: std::time::Instant::now(),
            last_phase: None,
        }
    }

    fn show(&mut self, p: Progress) {
        let phase = match p.phase {
            Phase::Connecting => "connecting",
            Phase::Downloading => "downloading",
            Phase::Aggregating => "aggregating",
            Phase::Done => "done",
        };
        match &self.bar {
            Some(b) => {
                if let Some(t) = p.rows_total {
                    b.set_length(t);
                }
                b.set_position(p.rows_done);
                b.set_message(phase);
            }
            None => {
                // A line per phase change, and at most one a second while downloading.
                let due = self.last_line.elapsed().as_millis() >= 1000
                    || self.last_phase != Some(p.phase);
                if due {
                    self.last_phase = Some(p.phase);
                    let total = p.rows_total.map_or("?".to_string(), group);
                    println!("{phase}: {} / {total} rows", group(p.rows_done));
                    self.last_line = std::time::Instant::now();
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

pub fn status(ctx: &Context) -> Result<()> {
    let cache = ctx.open_cache()?;
    let stats = cache.stats()?;
    let url = Settings::load(&ctx.data_dir)?.cloud_url;
    println!("cache:        {}", ctx.cache_path().display());
    println!(
        "cloud:        {}",
        url.as_deref().unwrap_or("(not configured)")
    );
    match cache.sync().last_synced_at()? {
        Some(t) => {
            let ago = Utc::now().signed_duration_since(t);
            println!(
                "last synced:  {} ({} min ago)",
                t.to_rfc3339(),
                ago.num_minutes()
            );
        }
        None => println!("last synced:  never"),
    }
    println!("accounts:     {}", group(stats.accounts));
    println!("month rows:   {}", group(stats.month_rows));
    println!("size:         {:.1} MB", stats.db_bytes as f64 / 1e6);
    let current = usagedesk_sync::outbox::current_binding(&cache)?;
    let outbox = cache.outbox().summary(current.as_ref())?;
    if outbox.total() > 0 {
        let elsewhere: u64 = outbox.elsewhere.iter().map(|e| e.files).sum();
        println!(
            "outbox:       {} queued, {} refused, {} for another cloud or account (`airgap outbox`)",
            outbox.queued, outbox.refused, elsewhere
        );
    }
    if let Some(last) = cache.sync().log(1)?.first() {
        if let Some(e) = &last.error {
            println!("last sync failed: {e}");
        }
    }
    Ok(())
}
