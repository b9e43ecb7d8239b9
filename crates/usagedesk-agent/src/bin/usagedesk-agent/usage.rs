//! `record` and `discard`: daily usage rows in, rows recorded by mistake out.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{Local, NaiveDate, Utc};
use usagedesk_agent::Agent;

use crate::args::StateArg;

#[derive(clap::Args)]
pub(crate) struct RecordArgs {
    #[command(flatten)]
    pub(crate) state: StateArg,
    #[arg(value_name = "FILE.csv")]
    pub(crate) file: PathBuf,
}

#[derive(clap::Args)]
pub(crate) struct DiscardArgs {
    #[command(flatten)]
    pub(crate) state: StateArg,
    /// The account whose waiting records go.
    #[arg(long, value_name = "ID")]
    pub(crate) account: String,
    /// Only this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub(crate) date: Option<NaiveDate>,
}

pub(crate) fn record(RecordArgs { state, file }: RecordArgs) -> Result<()> {
    let mut agent = Agent::open(&state.state)?;
    let summary = if file == Path::new("-") {
        agent.record("standard input", std::io::stdin().lock(), today())?
    } else {
        let name = file.display().to_string();
        let reader = std::fs::File::open(&file).with_context(|| format!("cannot open {name}"))?;
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
    Ok(())
}

pub(crate) fn discard(
    DiscardArgs {
        state,
        account,
        date,
    }: DiscardArgs,
) -> Result<()> {
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
    Ok(())
}

/// The latest date it is anywhere near here: local time, or UTC when that is later (a row
/// for "today" must not be refused because the machine is east or west of Greenwich).
fn today() -> NaiveDate {
    Local::now().date_naive().max(Utc::now().date_naive())
}

fn parse_day(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("`{s}` is not a date YYYY-MM-DD"))
}
