//! `status`: the instance, the records waiting and the last exchange.

use anyhow::Result;
use usagedesk_agent::{Agent, Status};

use crate::args::StateArg;
use crate::print::{print_license, when};

#[derive(clap::Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    pub(crate) state: StateArg,
    /// As JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn status(StatusArgs { state, json }: StatusArgs) -> Result<()> {
    let agent = Agent::open(&state.state)?;
    let status = agent.status()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print_status(&status);
    }
    Ok(())
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
