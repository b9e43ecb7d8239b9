//! The agent's one error type. Every message says what went wrong and what to do next; code
//! branches on [`AgentError::code`] (or the variant), never on the message.

use std::path::PathBuf;

use usagedesk_airgap::{AirgapError, Artifact, FileKind};

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(
        "{} already holds an agent state ({file} exists): keep using it, or pick an empty \
         directory to set up a new instance",
        .dir.display()
    )]
    AlreadyInitialised { dir: PathBuf, file: &'static str },

    #[error(
        "{} holds no agent state ({file} is missing): run `usagedesk-agent init --state {}` \
         first, or point --state at the directory you initialised",
        .dir.display(), .dir.display()
    )]
    NotInitialised { dir: PathBuf, file: &'static str },

    #[error(
        "the agent state in {} is damaged ({reason}): restore the directory from a backup; if \
         there is none, initialise a new state and tell the vendor (the instance gets a new key)",
        .dir.display()
    )]
    Corrupt { dir: PathBuf, reason: String },

    #[error(
        "the agent state in {} was written by a newer agent (schema version {found}; this build \
         knows up to {known}): update usagedesk-agent",
        .dir.display()
    )]
    TooNew {
        dir: PathBuf,
        found: i64,
        known: i64,
    },

    #[error(
        "another usagedesk-agent is using the state in {} right now: try again in a moment",
        .dir.display()
    )]
    Busy { dir: PathBuf },

    #[error("invalid {what} `{value}`: {reason}")]
    InvalidArgument {
        what: &'static str,
        value: String,
        reason: String,
    },

    #[error(
        "{file}, line {line}: {message}; nothing was recorded: fix the file and record it again"
    )]
    Csv {
        file: String,
        line: u64,
        message: String,
    },

    #[error(
        "{file} is larger than the {limit}-byte limit for {what}: it is not such a file{hint}"
    )]
    TooLarge {
        file: String,
        what: &'static str,
        limit: u64,
        hint: &'static str,
    },

    #[error(
        "this sync key is for instance `{found}`, not this instance `{ours}`: ask the vendor for \
         a sync key for `{ours}`"
    )]
    WrongInstance { found: String, ours: String },

    #[error(
        "this sync key is for license `{found}`, but this instance `{instance}` runs under \
         license `{ours}`: ask the vendor for a sync key for instance `{instance}` with license \
         `{ours}`"
    )]
    WrongLicense {
        instance: String,
        found: String,
        ours: String,
    },

    #[error(
        "the sync key says the vendor already holds records up to seq {mark}, yet this instance \
         has only numbered up to {last_seq} and has {pending} records waiting; {reason}"
    )]
    MarkAhead {
        mark: u64,
        last_seq: u64,
        pending: u64,
        reason: &'static str,
    },

    #[error(
        "the agent state in {} has no license file yet (it was set up before license files): \
         ask the vendor for the instance's license file (usagedesk-cloud license-file) and run \
         `usagedesk-agent license --state {} --license-file FILE`; until then it records usage \
         but exchanges nothing",
        .dir.display(), .dir.display()
    )]
    NoLicense { dir: PathBuf },

    #[error(
        "this license file was issued on {found}, before the one this instance already holds \
         ({current}): use the newest license file the vendor sent",
        found = .found.format("%Y-%m-%d %H:%M:%S UTC"),
        current = .current.format("%Y-%m-%d %H:%M:%S UTC")
    )]
    OlderLicense {
        found: chrono::DateTime<chrono::Utc>,
        current: chrono::DateTime<chrono::Utc>,
    },

    #[error(
        "this verification key confirms the answer to sync key nonce {nonce}, and no export of \
         this agent state answered that sync key: it was made from another copy of the state, or \
         is for another installation; use the verification key for the file exported here"
    )]
    UnknownExport { nonce: String },

    /// A file refused by the format's checks (size, armor, signature, trust, time, binding).
    #[error("{}", refusal_message(.0))]
    Refused(#[source] AirgapError),

    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the agent database failed: {0}")]
    Db(#[from] rusqlite::Error),

    #[error("the cloud URL `{url}` cannot be used: {reason}")]
    BadUrl { url: String, reason: String },

    #[error(
        "cannot reach the cloud at {url}: {reason}; check the URL and the network, then push \
         again (nothing was lost: the records stay until the cloud confirms them)"
    )]
    Unreachable { url: String, reason: String },

    #[error("the cloud refused the {step} (HTTP {status}, {code}): {message}")]
    Cloud {
        step: &'static str,
        status: u16,
        code: String,
        message: String,
    },

    #[error(
        "the cloud at {url} answered the {step} with something that is not the UsageDesk API \
         ({reason}): check the URL"
    )]
    Protocol {
        url: String,
        step: &'static str,
        reason: String,
    },

    #[error(
        "the cloud accepted nothing beyond seq {mark} while {remaining} records wait: stopping \
         so as not to loop; push again later, and if this persists report it to the vendor"
    )]
    NoProgress { mark: u64, remaining: u64 },

    #[error(
        "the status file {file} is not a check-in ({reason}): write {{\"resources\": \
         {{\"name\": \"ready\"}}, \"app_version\": \"1.2.3\", \"cluster\": {{…}}}} as \
         docs/agent.md shows"
    )]
    StatusFile { file: String, reason: String },
}

/// The refusals of the format, worded for the person running the agent: the manager-side
/// remedies ("issue a new sync key") become requests to the vendor.
fn refusal_message(e: &AirgapError) -> String {
    match e {
        AirgapError::Expired {
            what: Artifact::File(FileKind::SyncKey),
            expired_at,
        } => format!(
            "the sync key expired on {}: ask the vendor's account manager for a new sync key, \
             then export again with it",
            expired_at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        other => other.to_string(),
    }
}

impl AgentError {
    /// A stable snake_case code for programs embedding the agent. Refusals of a file carry the
    /// format's own code (`expired`, `bad_signature`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            AgentError::AlreadyInitialised { .. } => "already_initialised",
            AgentError::NotInitialised { .. } => "not_initialised",
            AgentError::Corrupt { .. } => "corrupt_state",
            AgentError::TooNew { .. } => "state_too_new",
            AgentError::Busy { .. } => "busy",
            AgentError::InvalidArgument { .. } => "invalid_argument",
            AgentError::Csv { .. } => "invalid_csv",
            AgentError::TooLarge { .. } => "too_large",
            AgentError::WrongInstance { .. } | AgentError::WrongLicense { .. } => "wrong_instance",
            AgentError::MarkAhead { .. } => "mark_ahead",
            AgentError::NoLicense { .. } => "no_license",
            AgentError::OlderLicense { .. } => "older_license",
            AgentError::UnknownExport { .. } => "unknown_export",
            AgentError::Refused(e) => e.kind().as_str(),
            AgentError::Io { .. } => "io",
            AgentError::Db(_) => "database",
            AgentError::BadUrl { .. } => "bad_url",
            AgentError::Unreachable { .. } => "unreachable",
            AgentError::Cloud { .. } => "cloud_refused",
            AgentError::Protocol { .. } => "protocol",
            AgentError::NoProgress { .. } => "no_progress",
            AgentError::StatusFile { .. } => "invalid_status_file",
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        AgentError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(dir: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        AgentError::Corrupt {
            dir: dir.into(),
            reason: reason.into(),
        }
    }
}

impl From<AirgapError> for AgentError {
    fn from(e: AirgapError) -> Self {
        AgentError::Refused(e)
    }
}

pub type Result<T, E = AgentError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn an_expired_sync_key_tells_the_customer_to_ask_the_vendor() {
        // The format's own remedy names the manager's CLI; the person running the agent
        // cannot issue sync keys, so the agent words it as a request to the vendor.
        let e = AgentError::from(AirgapError::Expired {
            what: Artifact::File(FileKind::SyncKey),
            expired_at: Utc.with_ymd_and_hms(2026, 4, 1, 9, 0, 0).unwrap(),
        });
        let msg = e.to_string();
        assert!(msg.contains("expired on 2026-04-01 09:00:00 UTC"), "{msg}");
        assert!(
            msg.contains("ask the vendor's account manager for a new sync key"),
            "{msg}"
        );
        assert!(!msg.contains("usagedesk-cli"), "{msg}");
        assert_eq!(e.code(), "expired");
    }

    #[test]
    fn a_wrong_instance_names_both_and_what_to_ask_for() {
        let e = AgentError::WrongInstance {
            found: "inst-b".into(),
            ours: "inst-a".into(),
        };
        assert_eq!(
            e.to_string(),
            "this sync key is for instance `inst-b`, not this instance `inst-a`: ask the vendor \
             for a sync key for `inst-a`"
        );
        assert_eq!(e.code(), "wrong_instance");
    }

    #[test]
    fn csv_errors_name_file_and_line() {
        let e = AgentError::Csv {
            file: "usage.csv".into(),
            line: 7,
            message: "date '2026-13-01' is not a date YYYY-MM-DD".into(),
        };
        assert!(e.to_string().starts_with("usage.csv, line 7: date"), "{e}");
        assert!(e.to_string().contains("nothing was recorded"), "{e}");
    }
}
