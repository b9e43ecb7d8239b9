//! Exchange files the OS asked the app to open (a double-click, `usagedesk FILE`, a second
//! launch with a file, macOS's "open document"): what each file is, and the inbox that holds
//! them until the UI listens. A usage data file goes to the import preview (`airgap_preview`,
//! as a drop does); a sync key or a verification key is explained: it goes to the customer's
//! instance, not into this app.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;
use usagedesk_airgap::{sniff, FileKind, SyncKey, VerificationKey};
use usagedesk_domain::exchange_file::{
    SYNC_KEY_EXTENSION, USAGE_DATA_EXTENSION, VERIFICATION_KEY_EXTENSION,
};

/// Files waiting for the UI at most; more in one launch are dropped (and logged).
pub const MAX_WAITING: usize = 32;

/// What an opened file is, from its first line (its name only when the content says nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum OpenedKind {
    UsageData,
    SyncKey,
    VerificationKey,
    /// Not an exchange file, or unreadable: `problem` says why.
    Unknown,
}

/// The payload of `file://opened` and the items of `take_opened_files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct OpenedFile {
    pub path: String,
    /// The file's name, for titles.
    pub name: String,
    pub kind: OpenedKind,
    /// What a sync key or verification key states about itself, read without checking its
    /// signature (the customer's instance checks it).
    pub key: Option<KeyFacts>,
    /// Why the file cannot serve as what it is (unreadable, damaged, not an exchange file): a
    /// sentence that says what to do. `None` for a usage data file: the preview checks it.
    pub problem: Option<String>,
}

/// A sync key's or a verification key's own statements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct KeyFacts {
    pub instance_id: String,
    /// The manager who issued it.
    pub issued_by: String,
    pub issued_at: DateTime<Utc>,
    /// Sync keys: the instance answers it until then.
    pub expires_at: Option<DateTime<Utc>>,
    /// Verification keys: the instance may drop its records up to this `seq`.
    pub accepted_high_water_mark: Option<u64>,
}

/// The largest key file: enough to read a whole key.
fn key_read_limit() -> u64 {
    FileKind::SyncKey
        .max_bytes()
        .max(FileKind::VerificationKey.max_bytes()) as u64
}

fn opened_kind(kind: FileKind) -> OpenedKind {
    if kind == FileKind::UsageData {
        OpenedKind::UsageData
    } else if kind == FileKind::SyncKey {
        OpenedKind::SyncKey
    } else if kind == FileKind::VerificationKey {
        OpenedKind::VerificationKey
    } else {
        OpenedKind::Unknown
    }
}

fn kind_by_extension(path: &Path) -> Option<OpenedKind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    [
        (USAGE_DATA_EXTENSION, OpenedKind::UsageData),
        (SYNC_KEY_EXTENSION, OpenedKind::SyncKey),
        (VERIFICATION_KEY_EXTENSION, OpenedKind::VerificationKey),
    ]
    .into_iter()
    .find_map(|(e, k)| (e == ext).then_some(k))
}

const NOT_AN_EXCHANGE_FILE: &str = "UsageDesk opens the air-gapped exchange's files: usage data \
     files (.usagedesk-usage) to import, sync keys (.usagedesk-synckey) and verification keys \
     (.usagedesk-verification) to explain.";

/// Reads what `path` is. Reads at most a key's size; a usage data file only its first line
/// (the import preview reads and checks it whole).
pub fn inspect(path: &Path) -> OpenedFile {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut file = OpenedFile {
        path: path.display().to_string(),
        name,
        kind: OpenedKind::Unknown,
        key: None,
        problem: None,
    };
    let (head, size) = match read_head(path) {
        Ok(read) => read,
        Err(problem) => {
            file.problem = Some(problem);
            return file;
        }
    };
    match sniff(&head).map(opened_kind) {
        Some(kind) if kind != OpenedKind::Unknown => {
            file.kind = kind;
            let limit = key_read_limit();
            if kind != OpenedKind::UsageData && size > limit {
                file.problem = Some(format!(
                    "{} is {size} bytes, more than any key ({limit} bytes at most): it was \
                     padded or damaged. Ask for it again.",
                    file.name
                ));
                return file;
            }
            match kind {
                OpenedKind::SyncKey => match SyncKey::parse(&head) {
                    Ok(k) => file.key = Some(sync_key_facts(k.unverified())),
                    Err(e) => file.problem = Some(sentence(&e.to_string())),
                },
                OpenedKind::VerificationKey => match VerificationKey::parse(&head) {
                    Ok(k) => file.key = Some(verification_key_facts(k.unverified())),
                    Err(e) => file.problem = Some(sentence(&e.to_string())),
                },
                _ => {}
            }
        }
        // Another kind of exchange file this app does not open.
        Some(_) => {
            file.problem = Some(format!(
                "{} is an exchange file this app does not open. {NOT_AN_EXCHANGE_FILE}",
                file.name
            ))
        }
        None => match kind_by_extension(path) {
            // The preview says exactly what is wrong with it.
            Some(OpenedKind::UsageData) => file.kind = OpenedKind::UsageData,
            Some(kind) => {
                let noun = if kind == OpenedKind::SyncKey {
                    FileKind::SyncKey
                } else {
                    FileKind::VerificationKey
                };
                file.kind = kind;
                file.problem = Some(format!(
                    "{} is named like a {} but does not start with the line `{}`: it was \
                     damaged, or is another file. Ask for the {} again.",
                    file.name,
                    noun.noun(),
                    noun.begin_line(),
                    noun.noun()
                ));
            }
            None => {
                file.problem = Some(format!(
                    "{} is not a UsageDesk exchange file. {NOT_AN_EXCHANGE_FILE}",
                    file.name
                ))
            }
        },
    }
    file
}

/// The first bytes of the file (a key's worth) and its size, or why it cannot be read.
fn read_head(path: &Path) -> Result<(Vec<u8>, u64), String> {
    let cannot = |e: std::io::Error| format!("Cannot read {}: {e}.", path.display());
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if meta.is_dir() {
        return Err(format!(
            "{} is a folder. {NOT_AN_EXCHANGE_FILE}",
            path.display()
        ));
    }
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(key_read_limit()).read_to_end(&mut head))
        .map_err(cannot)?;
    Ok((head, meta.len()))
}

fn sentence(message: &str) -> String {
    let mut s = message.trim().to_owned();
    if let Some(first) = s.get(..1) {
        s.replace_range(..1, &first.to_uppercase());
    }
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

fn sync_key_facts(k: &SyncKey) -> KeyFacts {
    KeyFacts {
        instance_id: k.instance_id.clone(),
        issued_by: k.issued_by.clone(),
        issued_at: k.issued_at,
        expires_at: Some(k.expires_at),
        accepted_high_water_mark: None,
    }
}

fn verification_key_facts(k: &VerificationKey) -> KeyFacts {
    KeyFacts {
        instance_id: k.instance_id.clone(),
        issued_by: k.issued_by.clone(),
        issued_at: k.issued_at,
        expires_at: None,
        accepted_high_water_mark: Some(k.accepted_high_water_mark),
    }
}

/// Opened files on their way to the UI. Until the UI first asks (`take`), files wait here;
/// from then on they go straight out as `file://opened` events, so each reaches it once.
#[derive(Debug, Default)]
pub struct OpenedFiles(Mutex<Inbox>);

#[derive(Debug, Default)]
struct Inbox {
    ui_listening: bool,
    waiting: Vec<OpenedFile>,
}

impl OpenedFiles {
    /// Inspects `paths`; returns the files to send to the UI now (it listens), keeps them
    /// otherwise.
    pub fn open(&self, paths: &[PathBuf]) -> Vec<OpenedFile> {
        let files = paths.iter().map(|p| inspect(p));
        let mut inbox = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if inbox.ui_listening {
            return files.collect();
        }
        for file in files {
            if inbox.waiting.len() < MAX_WAITING {
                inbox.waiting.push(file);
            } else {
                tracing::warn!(
                    "more than {MAX_WAITING} files to open: {} is left",
                    file.path
                );
            }
        }
        Vec::new()
    }

    /// The UI listens from now on: the files that waited for it, in the order they came.
    pub fn take(&self) -> Vec<OpenedFile> {
        let mut inbox = self.0.lock().unwrap_or_else(|e| e.into_inner());
        inbox.ui_listening = true;
        std::mem::take(&mut inbox.waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use usagedesk_airgap::samples::samples;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn each_exchange_file_is_known_by_its_content_whatever_its_name() {
        let s = samples();
        let dir = tempfile::tempdir().unwrap();
        let usage = inspect(&write(dir.path(), "from-mail.txt", s.usage_data.as_bytes()));
        assert_eq!(usage.kind, OpenedKind::UsageData);
        assert_eq!((usage.key, usage.problem), (None, None));
        assert_eq!(usage.name, "from-mail.txt");

        let sync = inspect(&write(dir.path(), "k", s.sync_key.as_bytes()));
        assert_eq!(sync.kind, OpenedKind::SyncKey);
        let parsed = SyncKey::parse(s.sync_key.as_bytes()).unwrap();
        let k = parsed.unverified();
        assert_eq!(
            sync.key,
            Some(KeyFacts {
                instance_id: k.instance_id.clone(),
                issued_by: k.issued_by.clone(),
                issued_at: k.issued_at,
                expires_at: Some(k.expires_at),
                accepted_high_water_mark: None,
            })
        );
        assert_eq!(sync.problem, None);

        // With CRLF line ends, as a Windows mail client may leave it.
        let crlf = s.verification_key.replace('\n', "\r\n");
        let ver = inspect(&write(
            dir.path(),
            "v.usagedesk-verification",
            crlf.as_bytes(),
        ));
        assert_eq!(ver.kind, OpenedKind::VerificationKey);
        let parsed = VerificationKey::parse(s.verification_key.as_bytes()).unwrap();
        let facts = ver.key.expect("facts");
        assert_eq!(facts.instance_id, parsed.unverified().instance_id);
        assert_eq!(
            facts.accepted_high_water_mark,
            Some(parsed.unverified().accepted_high_water_mark)
        );
        assert_eq!(facts.expires_at, None);
    }

    #[test]
    fn damaged_and_foreign_files_say_what_is_wrong() {
        let s = samples();
        let dir = tempfile::tempdir().unwrap();
        // A cut-off sync key: known by its first line, refused with the parser's reason.
        let cut = &s.sync_key.as_bytes()[..s.sync_key.len() / 2];
        let f = inspect(&write(dir.path(), "cut.usagedesk-synckey", cut));
        assert_eq!(f.kind, OpenedKind::SyncKey);
        assert_eq!(f.key, None);
        let problem = f.problem.expect("a problem");
        assert!(problem.contains("truncated"), "{problem}");
        assert!(problem.ends_with('.'), "{problem}");

        // Named like a usage data file, holding something else: the preview will say why.
        let f = inspect(&write(dir.path(), "x.usagedesk-usage", b"hello"));
        assert_eq!((f.kind, f.problem), (OpenedKind::UsageData, None));

        // Named like a verification key, holding something else.
        let f = inspect(&write(dir.path(), "x.USAGEDESK-VERIFICATION", b"hello"));
        assert_eq!(f.kind, OpenedKind::VerificationKey);
        assert!(f
            .problem
            .expect("a problem")
            .contains("-----BEGIN USAGEDESK VERIFICATION KEY-----"));

        // Anything else.
        let f = inspect(&write(dir.path(), "notes.txt", b"hello"));
        assert_eq!(f.kind, OpenedKind::Unknown);
        assert!(f.problem.expect("a problem").contains(".usagedesk-usage"));

        let f = inspect(&dir.path().join("missing.usagedesk-usage"));
        assert_eq!(f.kind, OpenedKind::Unknown);
        assert!(f.problem.expect("a problem").starts_with("Cannot read"));

        let f = inspect(dir.path());
        assert_eq!(f.kind, OpenedKind::Unknown);
        assert!(f.problem.expect("a problem").contains("is a folder"));
    }

    #[test]
    fn an_oversized_key_is_refused_without_reading_it_all() {
        let s = samples();
        let dir = tempfile::tempdir().unwrap();
        let mut big = s.sync_key.clone().into_bytes();
        big.resize(1 << 20, b' ');
        let f = inspect(&write(dir.path(), "big", &big));
        assert_eq!(f.kind, OpenedKind::SyncKey);
        let problem = f.problem.expect("a problem");
        assert!(problem.contains("1048576 bytes"), "{problem}");
    }

    #[test]
    fn files_wait_for_the_ui_then_go_straight_out() {
        let s = samples();
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a", s.usage_data.as_bytes());
        let b = write(dir.path(), "b", s.sync_key.as_bytes());
        let inbox = OpenedFiles::default();
        assert!(
            inbox.open(&[a.clone(), b.clone()]).is_empty(),
            "the UI is not up yet"
        );
        let waited = inbox.take();
        assert_eq!(
            waited.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"],
            "in the order they came"
        );
        assert!(inbox.take().is_empty(), "each file is delivered once");
        let now = inbox.open(std::slice::from_ref(&a));
        assert_eq!(now.len(), 1, "once the UI listens, files go out as events");
        assert!(inbox.take().is_empty());
    }

    #[test]
    fn at_most_a_bounded_number_of_files_wait() {
        let inbox = OpenedFiles::default();
        let paths: Vec<PathBuf> = (0..MAX_WAITING + 5)
            .map(|i| PathBuf::from(format!("/nonexistent/{i}")))
            .collect();
        inbox.open(&paths);
        assert_eq!(inbox.take().len(), MAX_WAITING);
    }
}
