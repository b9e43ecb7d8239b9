//! `airgap export` and `airgap confirm`: the exchange by files carried by hand.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Subcommand;
use usagedesk_agent::{read_limited, write_atomic, Agent};
use usagedesk_airgap::FileKind;
use usagedesk_domain::exchange_file::{exchange_file_name, USAGE_DATA_EXTENSION};

use crate::args::StateArg;
use crate::print::print_export;

#[derive(Subcommand)]
pub(crate) enum AirgapCommand {
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

pub(crate) fn run(command: AirgapCommand) -> Result<()> {
    match command {
        AirgapCommand::Export {
            state,
            sync_key,
            output,
        } => export(state, sync_key, output),
        AirgapCommand::Confirm {
            state,
            verification_key,
        } => confirm(state, verification_key),
    }
}

fn export(state: StateArg, sync_key: PathBuf, output: Option<PathBuf>) -> Result<()> {
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
    Ok(())
}

fn confirm(state: StateArg, verification_key: PathBuf) -> Result<()> {
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
    Ok(())
}
