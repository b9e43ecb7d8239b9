//! `usagedesk-cloud demo-data`: a realistic demo dataset in the load format.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use usagedesk_domain::Clock;

#[derive(Args)]
pub struct DemoDataArgs {
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 2000)]
    accounts: usize,
    #[arg(long, default_value_t = 24)]
    months: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Generate as if today were this date (YYYY-MM-DD); default: the real today.
    #[arg(long)]
    today: Option<String>,
}

pub fn run(args: DemoDataArgs, clock: &dyn Clock) -> Result<()> {
    let DemoDataArgs {
        out,
        accounts,
        months,
        seed,
        today,
    } = args;
    let today = match today {
        Some(t) => usagedesk_domain::month::parse_date(&t)?,
        None => clock.today(),
    };
    if accounts == 0 || months == 0 {
        bail!("--accounts and --months must be at least 1");
    }
    let opts = usagedesk_demo::DemoOptions {
        accounts,
        months,
        seed,
        today,
        snapshots_per_month: usagedesk_demo::SnapshotDensity::MonthEndOnly,
    };
    let s = usagedesk_demo::write_demo(&opts, &out)?;
    println!(
        "wrote {} accounts, {} instances and {} daily rows to {}",
        s.accounts,
        s.instances,
        s.daily_rows,
        out.display()
    );
    println!(
        "customer reporting: {} licenses, {} instance reports, {} instance events, {} install attempts",
        s.licenses, s.instance_reports, s.instance_events, s.install_attempts
    );
    Ok(())
}
