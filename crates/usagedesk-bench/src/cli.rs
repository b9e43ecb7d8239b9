//! The CLI's list commands on the synced 100k cache: wall time and the peak resident memory
//! of the process (tree), output to a file.

use std::path::Path;

use anyhow::Result;

use crate::procs::{run_measured, Bins};
use crate::table::{mib, secs, Figure};

/// Peak memory `usagedesk-cli customers --json` may take at 100k accounts.
const CUSTOMERS_JSON_RSS_TARGET: u64 = 100 * 1024 * 1024;

pub fn bench(bins: &Bins, data_dir: &Path, work: &Path) -> Result<Vec<Figure>> {
    let mut out = Vec::new();
    let runs: [(&str, &[&str], Option<u64>); 2] = [
        (
            "usagedesk-cli customers --json",
            &["customers", "--json"],
            Some(CUSTOMERS_JSON_RSS_TARGET),
        ),
        (
            "usagedesk-cli airgap instances",
            &["airgap", "instances"],
            None,
        ),
    ];
    for (name, args, rss_target) in runs {
        let mut cmd = bins.command("usagedesk-cli")?;
        cmd.arg("--data-dir").arg(data_dir).args(args);
        let file = work.join(format!("{}.out", args.join("-")));
        let m = run_measured(&mut cmd, Some(&file))?;
        let bytes = std::fs::metadata(&file)?.len();
        eprintln!(
            "{name}: {:.2} s, peak RSS {}, {:.1} MB of output",
            m.wall.as_secs_f64(),
            mib(m.peak_rss),
            bytes as f64 / 1e6
        );
        out.push(Figure::plain(format!("{name}: time"), secs(m.wall)));
        let rss = Figure::plain(format!("{name}: peak RSS"), mib(m.peak_rss));
        out.push(match rss_target {
            Some(t) => rss.target(format!("< {}", mib(t)), m.peak_rss < t),
            None => rss,
        });
    }
    Ok(out)
}
