//! `export verify FILE.csv`: checks an export against its manifest, and a signed manifest's
//! signature and certificate up to the vendor root key. Exit codes (docs/export-format.md):
//! 0 verified, 1 refused, 2 bad arguments, 3 intact but unsigned, 4 could not check.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde_json::json;
use usagedesk_airgap::PublicKey;
use usagedesk_domain::Clock;
use usagedesk_export::{verify_export, Verification, VerifiedStatus};

use crate::context::Context;

pub const EXIT_VERIFIED: i32 = 0;
pub const EXIT_REFUSED: i32 = 1;
pub const EXIT_UNSIGNED: i32 = 3;
pub const EXIT_UNCHECKED: i32 = 4;

pub struct VerifyArgs {
    pub csv: PathBuf,
    /// A file holding the vendor's root public key (`ed25519:…`).
    pub root_key: Option<PathBuf>,
    pub json: bool,
}

/// The root key trusted here, and where it came from.
struct Root {
    key: PublicKey,
    source: String,
}

/// Runs the check and prints the verdict; returns the exit code.
pub fn verify(ctx: &Context, args: &VerifyArgs) -> Result<i32> {
    let root = match trusted_root(ctx, args.root_key.as_deref()) {
        Ok(root) => root,
        Err(e) => return Ok(unchecked(args, "no_root_key", &format!("{e:#}"))),
    };
    match verify_export(&args.csv, root.as_ref().map(|r| &r.key), ctx.clock.now()) {
        Ok(v) => Ok(report(args, &v, root.as_ref())),
        Err(e) if e.is_refusal() => {
            if args.json {
                print_json(&json!({
                    "status": "refused",
                    "code": e.code(),
                    "reason": e.to_string(),
                    "csv_file": args.csv.display().to_string(),
                }));
            }
            eprintln!("refused: {}: {e}", args.csv.display());
            Ok(EXIT_REFUSED)
        }
        Err(e) => Ok(unchecked(args, e.code(), &e.to_string())),
    }
}

fn unchecked(args: &VerifyArgs, code: &str, reason: &str) -> i32 {
    if args.json {
        print_json(&json!({
            "status": "error",
            "code": code,
            "reason": reason,
            "csv_file": args.csv.display().to_string(),
        }));
    }
    eprintln!("cannot check {}: {reason}", args.csv.display());
    EXIT_UNCHECKED
}

fn report(args: &VerifyArgs, v: &Verification, root: Option<&Root>) -> i32 {
    let code = match v.status {
        VerifiedStatus::Verified => EXIT_VERIFIED,
        VerifiedStatus::Unsigned => EXIT_UNSIGNED,
    };
    if args.json {
        let mut out = serde_json::to_value(v).unwrap_or_default();
        let signer = out.get_mut("signer").filter(|s| s.is_object());
        if let (Some(root), Some(signer)) = (root, signer) {
            signer["root_key"] = json!(root.key.to_string());
            signer["root_key_source"] = json!(root.source);
        }
        print_json(&out);
        return code;
    }
    let m = &v.manifest;
    match (&v.signer, root) {
        (Some(s), Some(root)) => {
            println!("verified: {}", v.csv_file);
            println!(
                "  signed by    {} (certificate for {}, valid {} to {})",
                s.signed_by,
                s.scope,
                s.certificate_issued_at.format("%Y-%m-%d"),
                s.certificate_expires_at.format("%Y-%m-%d")
            );
            println!(
                "  root key     {} ({}), from {}",
                root.key.fingerprint(),
                root.key,
                root.source
            );
        }
        _ => {
            println!("unsigned: {}", v.csv_file);
            println!(
                "  the CSV matches its manifest, but the manifest is not signed: nothing proves \
                 who wrote them ({})",
                m.unsigned_reason.as_deref().unwrap_or("no reason recorded")
            );
        }
    }
    println!(
        "  content      {} {} ({}), {}..{}, {} row{}, {} bytes",
        m.account_id,
        crate::output::one_line(&m.account_name),
        m.scope,
        m.from,
        m.to,
        crate::output::group(m.rows),
        if m.rows == 1 { "" } else { "s" },
        crate::output::group(m.bytes)
    );
    println!("  sha256       {} (matches)", m.sha256);
    println!(
        "  written      {} by {}, data as of {}",
        m.generated_at.format("%Y-%m-%d %H:%M UTC"),
        m.generator,
        m.data_synced_at
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "never synced".into())
    );
    for note in &v.notes {
        println!("  note         {note}");
    }
    code
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string(v).unwrap_or_default());
}

/// `--root-key FILE`, else the key the cache holds from its last sync (when there is a
/// cache), else none (enough for an unsigned export).
fn trusted_root(ctx: &Context, file: Option<&Path>) -> Result<Option<Root>> {
    if let Some(file) = file {
        let mut text = String::new();
        std::fs::File::open(file)
            .and_then(|f| f.take(4096).read_to_string(&mut text))
            .with_context(|| format!("cannot read the root key file {}", file.display()))?;
        let key: PublicKey = text.trim().parse().with_context(|| {
            format!(
                "{} does not hold a root public key (one line `ed25519:` and 44 characters of \
                 base64)",
                file.display()
            )
        })?;
        return Ok(Some(Root {
            key,
            source: file.display().to_string(),
        }));
    }
    if !ctx.cache_path().exists() {
        return Ok(None);
    }
    let cache = ctx.open_cache()?;
    Ok(
        usagedesk_exchange::cached_vendor_key(&cache)?.map(|key| Root {
            key,
            source: format!("the local cache ({})", ctx.cache_path().display()),
        }),
    )
}
