//! Arguments several commands share.

use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct StateArg {
    /// The agent's state directory (made by `init`).
    #[arg(long, value_name = "DIR", env = "USAGEDESK_AGENT_STATE")]
    pub(crate) state: PathBuf,
}
