//! `push`: the exchange online, with the vendor's cloud.

use anyhow::{Context, Result};
use usagedesk_agent::{Agent, CloudClient};
use usagedesk_domain::SystemClock;

use crate::args::StateArg;
use crate::print::print_export;

#[derive(clap::Args)]
pub(crate) struct PushArgs {
    #[command(flatten)]
    pub(crate) state: StateArg,
    /// The cloud's base URL (https://…).
    #[arg(long, value_name = "URL", env = "USAGEDESK_CLOUD_URL")]
    pub(crate) url: String,
}

pub(crate) fn push(PushArgs { state, url }: PushArgs) -> Result<()> {
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
    Ok(())
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the network runtime")
}
