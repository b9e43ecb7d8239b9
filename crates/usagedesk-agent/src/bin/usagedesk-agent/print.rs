//! What several commands print: times, an export, a license.

use chrono::{DateTime, Utc};
use usagedesk_agent::{Export, LicenseInfo};

pub(crate) fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub(crate) fn print_export(export: &Export, verb: &str) {
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

pub(crate) fn print_license(l: &LicenseInfo) {
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
