//! `init` and `license`: set up the state from the vendor's license file, take a newer one.

use std::path::PathBuf;

use anyhow::Result;
use chrono::Utc;
use rand::rngs::OsRng;
use usagedesk_agent::{read_limited, Agent};
use usagedesk_airgap::{FileKind, PublicKey};

use crate::args::StateArg;
use crate::print::print_license;

#[derive(clap::Args)]
pub(crate) struct InitArgs {
    #[command(flatten)]
    pub(crate) state: StateArg,
    /// The license file the vendor issued for this instance (usagedesk-cloud license-file).
    #[arg(long, value_name = "FILE")]
    pub(crate) license_file: PathBuf,
    /// The vendor's root public key (`ed25519:…`), the only key the agent trusts.
    #[arg(long, value_name = "PUBKEY")]
    pub(crate) vendor_key: String,
}

#[derive(clap::Args)]
pub(crate) struct LicenseArgs {
    #[command(flatten)]
    pub(crate) state: StateArg,
    /// The new license file.
    #[arg(long, value_name = "FILE")]
    pub(crate) license_file: PathBuf,
}

pub(crate) fn init(
    InitArgs {
        state,
        license_file,
        vendor_key,
    }: InitArgs,
) -> Result<()> {
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
    Ok(())
}

pub(crate) fn license(
    LicenseArgs {
        state,
        license_file,
    }: LicenseArgs,
) -> Result<()> {
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
    Ok(())
}
