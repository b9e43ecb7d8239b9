//! `check-in` and `run`: tell the cloud the instance's status, once or on start, on change
//! and every 4 hours.

use std::path::PathBuf;

use anyhow::Result;
use chrono::Utc;
use usagedesk_agent::check_in::{
    fill_agent_version, parse_resources, read_status_file, run_check_ins, LoopEvent, LoopOptions,
    OnlineCheckIns, Sleeper,
};
use usagedesk_agent::{Agent, CheckInReceipt, CloudClient};
use usagedesk_domain::customer::{CheckIn, ClusterDetails};
use usagedesk_domain::{Clock, SystemClock};

use crate::args::StateArg;
use crate::online::runtime;
use crate::print::when;

#[derive(clap::Args)]
pub(crate) struct CheckInArgs {
    #[command(flatten)]
    pub(crate) state: StateArg,
    /// The cloud's base URL (https://…).
    #[arg(long, value_name = "URL", env = "USAGEDESK_CLOUD_URL")]
    pub(crate) url: String,
    #[command(flatten)]
    pub(crate) report: ReportArgs,
    /// Print the cloud's answer as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(clap::Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) state: StateArg,
    /// The cloud's base URL (https://…).
    #[arg(long, value_name = "URL", env = "USAGEDESK_CLOUD_URL")]
    pub(crate) url: String,
    /// The file the product keeps its current status in (a check-in as JSON).
    #[arg(long, value_name = "FILE")]
    pub(crate) status_file: PathBuf,
    /// How often to read the status file, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub(crate) poll_seconds: u32,
}

/// What `check-in` reports.
#[derive(clap::Args)]
pub(crate) struct ReportArgs {
    /// The application's resources and their states: `name=state,…` (states: ready,
    /// updating, degraded, unavailable, missing). None reported: the status is missing.
    #[arg(long, value_name = "NAME=STATE,…", default_value = "")]
    resources: String,
    /// The application version running.
    #[arg(long, value_name = "VERSION")]
    app_version: String,
    /// The Kubernetes distribution (eks, gke, aks, k3s, openshift, …).
    #[arg(long, value_name = "NAME", default_value = "")]
    distribution: String,
    #[arg(long, value_name = "VERSION", default_value = "")]
    kubernetes_version: String,
    /// Installed in an embedded cluster (the vendor's own installer).
    #[arg(long)]
    embedded_cluster: bool,
    #[arg(long, value_name = "N")]
    nodes_ready: Option<u32>,
    #[arg(long, value_name = "N")]
    nodes_total: Option<u32>,
    /// The agent's version as reported (default: this agent's).
    #[arg(long, value_name = "VERSION", default_value = "")]
    agent_version: String,
    #[arg(long, value_name = "NAME")]
    cloud_provider: Option<String>,
    #[arg(long, value_name = "NAME")]
    region: Option<String>,
}

impl ReportArgs {
    fn check_in(self) -> Result<CheckIn> {
        let mut c = CheckIn {
            resources: parse_resources(&self.resources)?,
            app_version: self.app_version,
            cluster: ClusterDetails {
                distribution: self.distribution,
                kubernetes_version: self.kubernetes_version,
                embedded_cluster: self.embedded_cluster,
                nodes_ready: self.nodes_ready,
                nodes_total: self.nodes_total,
                agent_version: self.agent_version,
                cloud_provider: self.cloud_provider,
                region: self.region,
            },
        };
        fill_agent_version(&mut c);
        Ok(c)
    }
}

pub(crate) fn check_in(
    CheckInArgs {
        state,
        url,
        report,
        json,
    }: CheckInArgs,
) -> Result<()> {
    let agent = Agent::open(&state.state)?;
    let client = CloudClient::new(&url)?;
    let check_in = report.check_in()?;
    let receipt = runtime()?.block_on(agent.check_in(&client, &check_in, Utc::now()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&receipt)?);
    } else {
        print_receipt(&receipt);
    }
    Ok(())
}

pub(crate) fn run(
    RunArgs {
        state,
        url,
        status_file,
        poll_seconds,
    }: RunArgs,
) -> Result<()> {
    let agent = Agent::open(&state.state)?;
    let client = CloudClient::new(&url)?;
    let options = LoopOptions {
        poll: chrono::Duration::seconds(i64::from(poll_seconds)),
        ..LoopOptions::default()
    };
    eprintln!(
        "checking in instance {} with {} on start, when {} changes and every 4 hours; \
         Ctrl-C stops",
        agent.instance_id(),
        client.base_url(),
        status_file.display()
    );
    let clock = SystemClock;
    let mut sender = OnlineCheckIns {
        agent: &agent,
        client: &client,
    };
    runtime()?.block_on(run_check_ins(
        &mut sender,
        &mut TokioSleeper,
        &clock,
        || read_status_file(&status_file),
        &options,
        |event| match event {
            LoopEvent::Sent {
                at,
                trigger,
                receipt,
            } => {
                let changes: Vec<String> = receipt
                    .events
                    .iter()
                    .map(|e| format!("{} {}", e.field, e.new))
                    .collect();
                println!(
                    "{} checked in ({}): status {}{}",
                    when(&at),
                    match trigger {
                        usagedesk_agent::check_in::Trigger::Start => "start",
                        usagedesk_agent::check_in::Trigger::Changed => "changed",
                        usagedesk_agent::check_in::Trigger::Interval => "every 4 hours",
                    },
                    receipt.report.status.as_str(),
                    if changes.is_empty() {
                        String::new()
                    } else {
                        format!("; recorded {}", changes.join(", "))
                    }
                );
            }
            LoopEvent::Failed {
                at,
                error,
                retry_in,
                ..
            } => eprintln!(
                "{} check-in failed: {error}; trying again in {} s",
                when(&at),
                retry_in.num_seconds()
            ),
            LoopEvent::StatusUnreadable { at, error } => eprintln!(
                "{} cannot read the status: {error}; no check-in until it can be read",
                when(&at)
            ),
        },
    ));
    eprintln!("stopped at {}", when(&clock.now()));
    Ok(())
}

/// Real time, until Ctrl-C or SIGTERM (on Windows: Ctrl-C, Ctrl-Break, closing the console,
/// logging off or shutting down).
struct TokioSleeper;

impl Sleeper for TokioSleeper {
    async fn sleep(&mut self, d: chrono::Duration) -> bool {
        let d = d.to_std().unwrap_or_default();
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        // Windows: the console closing, the user logging off or the machine shutting down (a
        // service wrapper stops the agent with these; Ctrl-C and Ctrl-Break as on a console).
        #[cfg(windows)]
        let terminate = async {
            use tokio::signal::windows;
            match (
                windows::ctrl_close(),
                windows::ctrl_shutdown(),
                windows::ctrl_logoff(),
                windows::ctrl_break(),
            ) {
                (Ok(mut close), Ok(mut shutdown), Ok(mut logoff), Ok(mut brk)) => {
                    tokio::select! {
                        _ = close.recv() => {}
                        _ = shutdown.recv() => {}
                        _ = logoff.recv() => {}
                        _ = brk.recv() => {}
                    }
                }
                _ => std::future::pending().await,
            }
        };
        #[cfg(not(any(unix, windows)))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = tokio::signal::ctrl_c() => false,
            _ = terminate => false,
        }
    }
}

fn print_receipt(r: &CheckInReceipt) {
    let report = &r.report;
    println!(
        "checked in: status {}, app version {}",
        report.status.as_str(),
        if report.app_version.is_empty() {
            "(none)"
        } else {
            &report.app_version
        }
    );
    if r.events.is_empty() {
        println!("nothing changed since the last check-in");
    }
    for e in &r.events {
        match &e.previous {
            Some(p) => println!("  {}: {} -> {}", e.field, p, e.new),
            None => println!("  {}: {}", e.field, e.new),
        }
    }
}
