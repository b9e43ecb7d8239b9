//! `usagedesk-agent`: the agent's command line (see `docs/agent.md`), one module per group of
//! subcommands.

#![forbid(unsafe_code)]

mod airgap;
mod args;
mod check_in;
mod enroll;
mod online;
mod print;
mod status;
mod usage;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

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

#[derive(Subcommand)]
enum Command {
    /// Set up the state directory from the vendor's license file: this instance's identity,
    /// its account, and its own signing key.
    Init(enroll::InitArgs),
    /// Take a newer license file for this instance (its account moved, its license changed,
    /// the vendor revoked the old file, or the state predates license files).
    License(enroll::LicenseArgs),
    /// Add daily usage rows from a daily_usage.csv file (`-` reads standard input).
    Record(usage::RecordArgs),
    /// Discard waiting records of an account recorded by mistake (all its days, or one).
    Discard(usage::DiscardArgs),
    /// The air-gapped exchange, by files carried by hand.
    Airgap {
        #[command(subcommand)]
        command: airgap::AirgapCommand,
    },
    /// The same exchange online, with the vendor's cloud.
    Push(online::PushArgs),
    /// Check in once: tell the cloud this instance's status, app version and cluster.
    CheckIn(check_in::CheckInArgs),
    /// Keep checking in: on start, whenever the status file changes, and every 4 hours.
    Run(check_in::RunArgs),
    /// Show the instance, the records waiting and the last exchange.
    Status(status::StatusArgs),
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

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init(args) => enroll::init(args),
        Command::License(args) => enroll::license(args),
        Command::Record(args) => usage::record(args),
        Command::Discard(args) => usage::discard(args),
        Command::Airgap { command } => airgap::run(command),
        Command::Push(args) => online::push(args),
        Command::CheckIn(args) => check_in::check_in(args),
        Command::Run(args) => check_in::run(args),
        Command::Status(args) => status::status(args),
    }
}
