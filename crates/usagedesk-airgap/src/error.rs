//! The one error type of the crate. Every message says what went wrong and what to do next;
//! callers branch on [`AirgapError::kind`], never on the message.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::file_kind::FileKind;

/// What an error is about: one of the three files, or a piece they are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Artifact {
    /// One of the three armored files.
    File(FileKind),
    /// The delegation certificate the vendor root key gives a manager's key.
    Certificate,
    /// An `ed25519:` public key in text form.
    PublicKey,
    /// An `ed25519-secret:` signing key in text form.
    SecretKey,
    /// The vendor's signed statement of an instance's license (in a license file, and in the
    /// first usage data file or online request that proves it).
    License,
    /// The proof, made with a license file's enrollment secret, that an instance key is the
    /// licensed instance's.
    Enrollment,
}

impl Artifact {
    /// The words for it in a sentence: "sync key", "delegation certificate", ...
    pub fn noun(self) -> &'static str {
        match self {
            Artifact::File(kind) => kind.noun(),
            Artifact::Certificate => "delegation certificate",
            Artifact::PublicKey => "public key",
            Artifact::SecretKey => "secret key",
            Artifact::License => "instance license",
            Artifact::Enrollment => "enrollment proof",
        }
    }

    /// What to do when this artifact arrives damaged or altered.
    pub fn remedy(self) -> &'static str {
        match self {
            Artifact::File(FileKind::SyncKey) => {
                "ask the vendor's account manager for a new sync key"
            }
            Artifact::File(FileKind::UsageData) => {
                "ask the customer to export the usage data file again"
            }
            Artifact::File(FileKind::VerificationKey) => {
                "ask the vendor's account manager to send the verification key again"
            }
            Artifact::File(FileKind::License) => {
                "ask the vendor for the instance's license file again"
            }
            Artifact::File(FileKind::UsageExport) => {
                "ask the sender for the export's original CSV and manifest, or export again"
            }
            Artifact::Certificate => {
                "sync with the cloud while online to fetch a new signing certificate"
            }
            Artifact::PublicKey => "copy the whole key again (it starts with `ed25519:`)",
            Artifact::SecretKey => "restore the key from a backup, or create a new key",
            Artifact::License | Artifact::Enrollment => {
                "ask the vendor for a new license file for the instance, give it to the agent \
                 (usagedesk-agent license), and export again"
            }
        }
    }
}

impl std::fmt::Display for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.noun())
    }
}

/// The stable code of an error, for the UI and the CLI to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    TooLarge,
    NotUtf8,
    Malformed,
    WrongFileKind,
    UnknownVersion,
    InvalidData,
    BadSignature,
    UntrustedKey,
    Expired,
    NotYetValid,
    OutOfScope,
    WrongInstance,
    WrongNonce,
    WrongFile,
    WrongAccount,
    EnrollmentRequired,
    InvalidRequest,
}

impl ErrorKind {
    /// The snake_case code, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::TooLarge => "too_large",
            ErrorKind::NotUtf8 => "not_utf8",
            ErrorKind::Malformed => "malformed",
            ErrorKind::WrongFileKind => "wrong_file_kind",
            ErrorKind::UnknownVersion => "unknown_version",
            ErrorKind::InvalidData => "invalid_data",
            ErrorKind::BadSignature => "bad_signature",
            ErrorKind::UntrustedKey => "untrusted_key",
            ErrorKind::Expired => "expired",
            ErrorKind::NotYetValid => "not_yet_valid",
            ErrorKind::OutOfScope => "out_of_scope",
            ErrorKind::WrongInstance => "wrong_instance",
            ErrorKind::WrongNonce => "wrong_nonce",
            ErrorKind::WrongFile => "wrong_file",
            ErrorKind::WrongAccount => "wrong_account",
            ErrorKind::EnrollmentRequired => "enrollment_required",
            ErrorKind::InvalidRequest => "invalid_request",
        }
    }
}

/// Short form for messages: `2026-04-01 09:00:00 UTC`.
pub(crate) fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AirgapError {
    #[error(
        "the {what} is {size} bytes, over the {limit}-byte limit for this kind of file: it is not \
         a UsageDesk {what}, or it was padded; {}",
        .what.remedy()
    )]
    TooLarge {
        what: Artifact,
        size: usize,
        limit: usize,
    },

    #[error(
        "the {what} is not UTF-8 text (bad byte at offset {offset}): it was damaged in transit \
         or is another kind of file; {}",
        .what.remedy()
    )]
    NotUtf8 { what: Artifact, offset: usize },

    #[error(
        "the {what} is malformed ({reason}): it was damaged or edited in transit; {}",
        .what.remedy()
    )]
    Malformed { what: Artifact, reason: String },

    #[error(
        "this is a {}, not a {}: pick the {} instead",
        .found.noun(), .expected.noun(), .expected.noun()
    )]
    WrongFileKind { expected: FileKind, found: FileKind },

    #[error(
        "the {what} has format version {found}, and this build reads {} only: update UsageDesk \
         and the agent to a release that reads it",
        versions(.supported)
    )]
    UnknownVersion {
        what: Artifact,
        found: String,
        supported: &'static [u32],
    },

    #[error(
        "the {what} is signed but its content is invalid ({reason}): the program that wrote it \
         has a bug; {}",
        .what.remedy()
    )]
    InvalidData { what: Artifact, reason: String },

    #[error(
        "the {what}'s signature does not match its content: it was altered in transit; {}",
        .what.remedy()
    )]
    BadSignature { what: Artifact },

    #[error("the {what} is signed by a key that is not trusted here: {reason}")]
    UntrustedKey { what: Artifact, reason: String },

    #[error("the {what} expired on {}: {}", when(.expired_at), expired_remedy(*.what))]
    Expired {
        what: Artifact,
        expired_at: DateTime<Utc>,
    },

    #[error(
        "the {what} is valid only from {}, which is later than {}: check the clock of this \
         computer and of the one that issued it",
        when(.valid_from), when(.now)
    )]
    NotYetValid {
        what: Artifact,
        valid_from: DateTime<Utc>,
        now: DateTime<Utc>,
    },

    #[error(
        "the {what} is for account {account_path}, outside the signing certificate's scope \
         ({scope}): issue it with a key whose scope includes that account (sync with the cloud \
         as a manager of that account)"
    )]
    OutOfScope {
        what: Artifact,
        scope: String,
        account_path: String,
    },

    #[error(
        "the {what} is for instance `{found}`, but `{expected}` was expected: it belongs to \
         another installation; use the file made for `{expected}`"
    )]
    WrongInstance {
        what: Artifact,
        expected: String,
        found: String,
    },

    #[error(
        "the {what} does not answer this sync key ({reason}): it was made for an older or \
         another sync key; export again with the latest sync key"
    )]
    WrongNonce { what: Artifact, reason: String },

    #[error(
        "the verification key confirms usage data file sha256 {found}, not the one expected \
         (sha256 {expected}): use the verification key issued for the latest export"
    )]
    WrongFile { expected: String, found: String },

    #[error(
        "the {what} places the instance under {found}, but the instance belongs under \
         {expected}: if the instance's account moved, ask the vendor for a new license file \
         (usagedesk-agent license); otherwise the {what} was made for another installation"
    )]
    WrongAccount {
        what: Artifact,
        expected: String,
        found: String,
    },

    #[error(
        "instance `{instance_id}` has no registered key yet, and this {what} does not prove that \
         it comes from the licensed instance (it carries no enrollment proof): set the agent up \
         with the license file the vendor issued for the instance (usagedesk-agent init \
         --license-file, or usagedesk-agent license for an existing state) and export again"
    )]
    EnrollmentRequired { what: Artifact, instance_id: String },

    #[error("cannot write the {what}: {reason}")]
    InvalidRequest { what: Artifact, reason: String },
}

/// `version 1`, `versions 1 and 2`.
fn versions(v: &[u32]) -> String {
    match v {
        [one] => format!("version {one}"),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(u32::to_string).collect();
            format!("versions {} and {last}", init.join(", "))
        }
        [] => "no version".into(),
    }
}

fn expired_remedy(what: Artifact) -> &'static str {
    match what {
        Artifact::File(FileKind::SyncKey) => {
            "issue a new sync key (usagedesk-cli airgap issue-sync-key) and export again with it"
        }
        Artifact::Certificate => {
            "sync with the cloud while online to renew the signing certificate, then issue the \
             file again"
        }
        other => other.remedy(),
    }
}

impl AirgapError {
    /// The stable code of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AirgapError::TooLarge { .. } => ErrorKind::TooLarge,
            AirgapError::NotUtf8 { .. } => ErrorKind::NotUtf8,
            AirgapError::Malformed { .. } => ErrorKind::Malformed,
            AirgapError::WrongFileKind { .. } => ErrorKind::WrongFileKind,
            AirgapError::UnknownVersion { .. } => ErrorKind::UnknownVersion,
            AirgapError::InvalidData { .. } => ErrorKind::InvalidData,
            AirgapError::BadSignature { .. } => ErrorKind::BadSignature,
            AirgapError::UntrustedKey { .. } => ErrorKind::UntrustedKey,
            AirgapError::Expired { .. } => ErrorKind::Expired,
            AirgapError::NotYetValid { .. } => ErrorKind::NotYetValid,
            AirgapError::OutOfScope { .. } => ErrorKind::OutOfScope,
            AirgapError::WrongInstance { .. } => ErrorKind::WrongInstance,
            AirgapError::WrongNonce { .. } => ErrorKind::WrongNonce,
            AirgapError::WrongFile { .. } => ErrorKind::WrongFile,
            AirgapError::WrongAccount { .. } => ErrorKind::WrongAccount,
            AirgapError::EnrollmentRequired { .. } => ErrorKind::EnrollmentRequired,
            AirgapError::InvalidRequest { .. } => ErrorKind::InvalidRequest,
        }
    }

    pub(crate) fn malformed(what: Artifact, reason: impl Into<String>) -> Self {
        AirgapError::Malformed {
            what,
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid(what: Artifact, reason: impl Into<String>) -> Self {
        AirgapError::InvalidData {
            what,
            reason: reason.into(),
        }
    }

    pub(crate) fn request(what: Artifact, reason: impl Into<String>) -> Self {
        AirgapError::InvalidRequest {
            what,
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = AirgapError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_codes_match_their_serialized_form() {
        for kind in [
            ErrorKind::TooLarge,
            ErrorKind::NotUtf8,
            ErrorKind::Malformed,
            ErrorKind::WrongFileKind,
            ErrorKind::UnknownVersion,
            ErrorKind::InvalidData,
            ErrorKind::BadSignature,
            ErrorKind::UntrustedKey,
            ErrorKind::Expired,
            ErrorKind::NotYetValid,
            ErrorKind::OutOfScope,
            ErrorKind::WrongInstance,
            ErrorKind::WrongNonce,
            ErrorKind::WrongFile,
            ErrorKind::WrongAccount,
            ErrorKind::EnrollmentRequired,
            ErrorKind::InvalidRequest,
        ] {
            // The UI keys on these strings; as_str and serde must never disagree.
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = AirgapError::BadSignature {
            what: Artifact::File(FileKind::UsageData),
        };
        let msg = e.to_string();
        assert!(msg.contains("altered in transit"), "{msg}");
        assert!(msg.contains("export the usage data file again"), "{msg}");

        let t = DateTime::parse_from_rfc3339("2026-04-01T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let e = AirgapError::Expired {
            what: Artifact::File(FileKind::SyncKey),
            expired_at: t,
        };
        let msg = e.to_string();
        assert!(msg.contains("expired on 2026-04-01 09:00:00 UTC"), "{msg}");
        assert!(msg.contains("issue a new sync key"), "{msg}");
    }

    #[test]
    fn unknown_versions_name_every_version_read() {
        assert_eq!(versions(&[1]), "version 1");
        assert_eq!(versions(&[1, 2]), "versions 1 and 2");
        assert_eq!(versions(&[1, 2, 3]), "versions 1, 2 and 3");
    }
}
