//! The armored files by kind: their labels, format versions and size limits. Below
//! everything else in the crate (errors name a file by its kind).

/// The first format version of every file, and the only one of the sync key, the verification
/// key and the license file. See [`FileKind::versions`].
pub const FORMAT_VERSION: u32 = 1;

/// The armored files: the four of the exchange, and the signed manifest of a usage export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    SyncKey,
    UsageData,
    VerificationKey,
    /// The vendor's license file for one instance, with its enrollment secret.
    License,
    /// The manifest of a CSV usage export, signed by a manager's delegated key.
    UsageExport,
}

impl FileKind {
    pub const ALL: [FileKind; 5] = [
        FileKind::SyncKey,
        FileKind::UsageData,
        FileKind::VerificationKey,
        FileKind::License,
        FileKind::UsageExport,
    ];

    /// The format versions this build reads, oldest first; it writes the last one (the usage
    /// data file's version 1, without enrollment, only on request).
    pub fn versions(self) -> &'static [u32] {
        match self {
            FileKind::UsageData => &[1, 2],
            FileKind::SyncKey
            | FileKind::VerificationKey
            | FileKind::License
            | FileKind::UsageExport => &[1],
        }
    }

    /// The newest version: what this build writes.
    pub fn current_version(self) -> u32 {
        self.versions().last().copied().unwrap_or(FORMAT_VERSION)
    }

    /// The words between `-----BEGIN USAGEDESK ` and `-----`.
    pub fn label(self) -> &'static str {
        match self {
            FileKind::SyncKey => "SYNC KEY",
            FileKind::UsageData => "USAGE DATA",
            FileKind::VerificationKey => "VERIFICATION KEY",
            FileKind::License => "LICENSE",
            FileKind::UsageExport => "USAGE EXPORT",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            FileKind::SyncKey => "sync key",
            FileKind::UsageData => "usage data file",
            FileKind::VerificationKey => "verification key",
            FileKind::License => "license file",
            FileKind::UsageExport => "usage export manifest",
        }
    }

    /// The largest file accepted, in bytes, as received (before any CRLF conversion).
    pub fn max_bytes(self) -> usize {
        match self {
            FileKind::SyncKey | FileKind::VerificationKey | FileKind::License => 16 * 1024,
            FileKind::UsageData => 4 * 1024 * 1024,
            FileKind::UsageExport => 1024 * 1024,
        }
    }

    pub fn begin_line(self) -> String {
        format!("-----BEGIN USAGEDESK {}-----", self.label())
    }

    pub fn end_line(self) -> String {
        format!("-----END USAGEDESK {}-----", self.label())
    }

    pub(crate) fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.label() == label)
    }
}
