//! `usagedesk-agent`: the agent's command line (see `docs/agent.md`).

#![forbid(unsafe_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Local, NaiveDate, Utc};
use clap::{Parser, Subcommand};
use rand::rngs::OsRng;
use usagedesk_agent::check_in::{
    fill_agent_version, parse_resources, read_status_file, run_check_ins, LoopEvent, LoopOptions,
    OnlineCheckIns, Sleeper,
};
use usagedesk_agent::{
    read_limited, write_atomic, Agent, CheckInReceipt, CloudClient, Export, Status,
};
use usagedesk_airgap::{FileKind, PublicKey};
use usagedesk_domain::customer::{CheckIn, ClusterDetails};
use usagedesk_domain::exchange_file::{exchange_file_name, USAGE_DATA_EXTENSION};
use usagedesk_domain::{Clock, SystemClock};

#[derive(Parser)]
#[command(
    name = "usagedesk-agent",
    version,
    about = "Reports this instance's daily usage to the vendor: by file (air-gapped) or online"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct StateArg {
    /// The agent's state directory (made by `init`).
    #[arg(long, value_name = "DIR", env = "USAGEDESK_AGENT_STATE")]
    state: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Set up the state directory from the vendor's license file: this instance's identity,
    /// its account, and its own signing key.
    Init {
        #[command(flatten)]
        state: StateArg,
        /// The license file the vendor issued for this instance (usagedesk-cloud license-file).
        #[arg(long, value_name = "FILE")]
        license_file: PathBuf,
        /// The vendor's root public key (`ed25519:…`), the only key the agent trusts.
        #[arg(long, value_name = "PUBKEY")]
        vendor_key: String,
    },
    /// Take a newer license file for this instance (its account moved, its license changed,
    /// the vendor revoked the old file, or the state predates license files).
    License {
        #[command(flatten)]
        state: StateArg,
        /// The new license file.
        #[arg(long, value_name = "FILE")]
        license_file: PathBuf,
    },
    /// Add daily usage rows from a daily_usage.csv file (`-` reads standard input).
    Record {
        #[command(flatten)]
        state: StateArg,
        #[arg(value_name = "FILE.csv")]
        file: PathBuf,
    },
    /// Discard waiting records of an account recorded by mistake (all its days, or one).
    Discard {
        #[command(flatten)]
        state: StateArg,
        /// The account whose waiting records go.
        #[arg(long, value_name = "ID")]
        account: String,
        /// Only this day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE", value_parser = parse_day)]
        date: Option<NaiveDate>,
    },
    /// The air-gapped exchange, by files carried by hand.
    Airgap {
        #[command(subcommand)]
        command: AirgapCommand,
    },
    /// The same exchange online, with the vendor's cloud.
    Push {
        #[command(flatten)]
        state: StateArg,
        /// The cloud's base URL (https://…).
        #[arg(long, value_name = "URL", env = "USAGEDESK_CLOUD_URL")]
        url: String,
    },
    /// Check in once: tell the cloud this instance's status, app version and cluster.
    CheckIn {
        #[command(flatten)]
        state: StateArg,
        /// The cloud's base URL (https://…).
        #[arg(long, value_name = "URL", env = "USAGEDESK_CLOUD_URL")]
        url: String,
        #[command(flatten)]
        report: ReportArgs,
        /// Print the cloud's answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Keep checking in: on start, whenever the status file changes, and every 4 hours.
    Run {
        #[command(flatten)]
        state: StateArg,
        /// The cloud's base URL (https://…).
        #[arg(long, value_name = "URL", env = "USAGEDESK_CLOUD_URL")]
        url: String,
        /// The file the product keeps its current status in (a check-in as JSON).
        #[arg(long, value_name = "FILE")]
        status_file: PathBuf,
        /// How often to read the status file, in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=3600))]
        poll_seconds: u32,
    },
    /// Show the instance, the records waiting and the last exchange.
    Status {
        #[command(flatten)]
        state: StateArg,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What `check-in` reports.
#[derive(clap::Args)]
struct ReportArgs {
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

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the network runtime")
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

#[derive(Subcommand)]
enum AirgapCommand {
    /// Answer a sync key from the vendor with a usage data file.
    Export {
        #[command(flatten)]
        state: StateArg,
        /// The sync key file the vendor sent.
        #[arg(long, value_name = "FILE")]
        sync_key: PathBuf,
        /// Where to write the usage data file, to send back to the vendor (default:
        /// INSTANCE-YYYYMMDD.usagedesk-usage in the current directory).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Apply the verification key the vendor sent back: drop what the vendor holds.
    Confirm {
        #[command(flatten)]
        state: StateArg,
        /// The verification key file.
        #[arg(long, value_name = "FILE")]
        verification_key: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // An AgentError tells the whole story in its own message (its sources would only
            // repeat it); context above it, and other errors' causes, are added.
            let mut parts = Vec::new();
            for cause in e.chain() {
                parts.push(cause.to_string());
                if cause.is::<usagedesk_agent::AgentError>() {
                    break;
                }
            }
            let msg = parts.join(": ");
            let _ = writeln!(std::io::stderr(), "error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// The latest date it is anywhere near here: local time, or UTC when that is later (a row
/// for "today" must not be refused because the machine is east or west of Greenwich).
fn today() -> NaiveDate {
    Local::now().date_naive().max(Utc::now().date_naive())
}

fn parse_day(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("`{s}` is not a date YYYY-MM-DD"))
}

fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init {
            state,
            license_file,
            vendor_key,
        } => {
            let vendor_key: PublicKey = vendor_key
                .trim()
                .parse()
                .map_err(|e| anyhow::anyhow!("invalid --vendor-key: {e}"))?;
            let bytes = read_limited(
                &license_file,
                FileKind::License.max_bytes() as u64,
                "a license file",
            )?;
            let agent = Agent::init(&state.state, &bytes, &vendor_key, Utc::now(), &mut OsRng)?;
            println!(
                "initialised {} for instance {} (license {})",
                state.state.display(),
                agent.instance_id(),
                agent.identity().license_id
            );
            if let Ok(l) = agent.license() {
                print_license(l);
            }
            println!(
                "trusting vendor key {} ({})",
                vendor_key,
                vendor_key.fingerprint()
            );
            println!("instance public key: {}", agent.public_key());
            println!(
                "the license file is no longer needed here: its enrollment of this key is kept \
                 in the state; keep the file as safe as a license key, or delete it"
            );
        }
        Command::License {
            state,
            license_file,
        } => {
            let mut agent = Agent::open(&state.state)?;
            let bytes = read_limited(
                &license_file,
                FileKind::License.max_bytes() as u64,
                "a license file",
            )?;
            let change = agent.set_license(&bytes, Utc::now())?;
            println!(
                "instance {} now runs under license {}",
                agent.instance_id(),
                change.license_id
            );
            if let Some(p) = &change.previous {
                if p.account_path != change.current.account_path {
                    println!("account moved from {}", p.account_path.join(" > "));
                }
            }
            print_license(&change.current);
        }
        Command::Record { state, file } => {
            let mut agent = Agent::open(&state.state)?;
            let summary = if file == Path::new("-") {
                agent.record("standard input", std::io::stdin().lock(), today())?
            } else {
                let name = file.display().to_string();
                let reader =
                    std::fs::File::open(&file).with_context(|| format!("cannot open {name}"))?;
                agent.record(&name, reader, today())?
            };
            let seqs = match (summary.first_seq, summary.last_seq) {
                (Some(a), Some(b)) if a == b => format!(" (seq {a})"),
                (Some(a), Some(b)) => format!(" (seq {a}–{b})"),
                _ => String::new(),
            };
            println!(
                "recorded {}: {} new, {} changed, {} unchanged{seqs}",
                file.display(),
                summary.new,
                summary.changed,
                summary.unchanged
            );
            match summary.superseded_in_input {
                0 => {}
                1 => println!("1 row was replaced by a later row for the same account and day"),
                n => println!("{n} rows were replaced by later rows for the same account and day"),
            }
            println!("{} records wait for the vendor", summary.waiting);
        }
        Command::Discard {
            state,
            account,
            date,
        } => {
            let mut agent = Agent::open(&state.state)?;
            let n = agent.discard(&account, date)?;
            let on = date.map(|d| format!(" on {d}")).unwrap_or_default();
            if n == 0 {
                println!("no waiting records of account {account}{on}: nothing discarded");
            } else {
                println!(
                    "discarded {n} waiting records of account {account}{on}; {} wait",
                    agent.pending_count()?
                );
            }
        }
        Command::Airgap {
            command:
                AirgapCommand::Export {
                    state,
                    sync_key,
                    output,
                },
        } => {
            let mut agent = Agent::open(&state.state)?;
            let bytes = read_limited(
                &sync_key,
                FileKind::SyncKey.max_bytes() as u64,
                "a sync key",
            )?;
            let export = agent.export_for(&bytes, Utc::now())?;
            let output = output.unwrap_or_else(|| {
                PathBuf::from(exchange_file_name(
                    &export.instance_id,
                    export.created_at.date_naive(),
                    USAGE_DATA_EXTENSION,
                ))
            });
            write_atomic(&output, export.text.as_bytes(), None).with_context(|| {
                format!(
                    "the export is kept in the state; run the export again to write it to {}",
                    output.display()
                )
            })?;
            print_export(&export, &format!("wrote {}", output.display()));
            if export.remaining_records > 0 {
                println!(
                    "{} more records did not fit in one file: once the vendor has imported this \
                     one, ask for another sync key and export again",
                    export.remaining_records
                );
            }
            println!(
                "send {} to the vendor; apply the verification key they send back with \
                 `usagedesk-agent airgap confirm`",
                output.display()
            );
        }
        Command::Airgap {
            command:
                AirgapCommand::Confirm {
                    state,
                    verification_key,
                },
        } => {
            let mut agent = Agent::open(&state.state)?;
            let bytes = read_limited(
                &verification_key,
                FileKind::VerificationKey.max_bytes() as u64,
                "a verification key",
            )?;
            let c = agent.confirm(&bytes, Utc::now())?;
            if c.replay {
                println!(
                    "this verification key was applied before: nothing changed (the vendor holds \
                     records up to seq {})",
                    c.confirmed_mark
                );
            } else {
                println!(
                    "confirmed by {}: the vendor holds records up to seq {} ({} received: {} new, \
                     {} already present, {} changed)",
                    c.issued_by,
                    c.accepted_mark,
                    c.counts.received,
                    c.counts.new,
                    c.counts.already_present,
                    c.counts.changed
                );
                println!(
                    "dropped {} records; {} wait for the vendor",
                    c.dropped, c.waiting
                );
            }
        }
        Command::Push { state, url } => {
            let mut agent = Agent::open(&state.state)?;
            let client = CloudClient::new(&url)?;
            let summary = runtime()?.block_on(agent.push(&client, &SystemClock))?;
            for round in &summary.rounds {
                let verb = if round.replay { "resent" } else { "sent" };
                print_export(&round.export, verb);
            }
            println!(
                "pushed {} records to {} in {} round(s); the cloud holds records up to seq {}; \
                 {} wait",
                summary.records_sent(),
                client.base_url(),
                summary.rounds.len(),
                summary.confirmed_mark().unwrap_or(0),
                summary.waiting
            );
        }
        Command::CheckIn {
            state,
            url,
            report,
            json,
        } => {
            let agent = Agent::open(&state.state)?;
            let client = CloudClient::new(&url)?;
            let check_in = report.check_in()?;
            let receipt = runtime()?.block_on(agent.check_in(&client, &check_in, Utc::now()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&receipt)?);
            } else {
                print_receipt(&receipt);
            }
        }
        Command::Run {
            state,
            url,
            status_file,
            poll_seconds,
        } => {
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
        }
        Command::Status { state, json } => {
            let agent = Agent::open(&state.state)?;
            let status = agent.status()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status);
            }
        }
    }
    Ok(())
}

fn print_export(export: &Export, verb: &str) {
    let range = if export.records == 0 {
        "no new records".to_owned()
    } else {
        format!(
            "{} records up to seq {}",
            export.records, export.highest_seq_sent
        )
    };
    let period = export
        .period
        .map(|p| format!(", {} to {}", p.first, p.last))
        .unwrap_or_default();
    println!(
        "{verb}: {range}{period}, above seq {}, answering the sync key from {} (nonce {}…)",
        export.above_mark,
        export.issued_by,
        &export.nonce.to_hex()[..12]
    );
    if export.renumbered > 0 {
        println!(
            "note: the vendor already held seqs up to {}, more than this instance had used; {} \
             waiting records were renumbered above it",
            export.above_mark, export.renumbered
        );
    }
}

fn print_license(l: &usagedesk_agent::LicenseInfo) {
    println!(
        "account      {} ({}); answering only managers whose scope holds it",
        l.account_path.join(" > "),
        if l.airgapped { "air-gapped" } else { "online" }
    );
    println!(
        "license file issued {}, enrolls this instance's key until {}",
        when(&l.issued_at),
        when(&l.expires_at)
    );
}

fn print_status(s: &Status) {
    println!("instance     {} (license {})", s.instance_id, s.license_id);
    match &s.license {
        Some(l) => print_license(l),
        None => println!(
            "account      unknown: no license file yet; `usagedesk-agent license --license-file \
             FILE` gives one"
        ),
    }
    println!("public key   {}", s.public_key);
    println!(
        "vendor key   {} ({})",
        s.vendor_key, s.vendor_key_fingerprint
    );
    println!("state        {}", s.state_dir.display());
    let span = match (s.waiting_first_date, s.waiting_last_date) {
        (Some(a), Some(b)) => format!(", {a} to {b}"),
        _ => String::new(),
    };
    println!(
        "records      {} waiting{span}; last seq {}",
        s.records_waiting, s.last_seq
    );
    match s.confirmed_at {
        Some(t) => println!(
            "confirmed    up to seq {}, on {}",
            s.confirmed_mark,
            when(&t)
        ),
        None => println!("confirmed    nothing yet"),
    }
    match &s.last_export {
        None => println!("last export  none"),
        Some(e) => {
            let state = match (e.confirmed_at, e.accepted_mark) {
                (Some(_), Some(m)) => format!("confirmed up to seq {m}"),
                _ => "awaiting its verification key".to_owned(),
            };
            let carried = if e.records == 0 {
                format!("no new records above seq {}", e.above_mark)
            } else {
                format!("{} records up to seq {}", e.records, e.highest_seq_sent)
            };
            println!(
                "last export  {} ({}), {carried}, for {}; {state}",
                when(&e.created_at),
                match e.via {
                    usagedesk_agent::Via::File => "file",
                    usagedesk_agent::Via::Online => "online",
                },
                e.issued_by
            );
        }
    }
}
