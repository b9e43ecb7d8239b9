//! The armor around each file's JSON body, and the generic strict parse / sign of a body.
//!
//! ```text
//! -----BEGIN USAGEDESK SYNC KEY-----
//! Version: 1
//! {
//!   ...pretty JSON...
//! }
//! Signature: ed25519 <88 characters of base64>
//! -----END USAGEDESK SYNC KEY-----
//! ```
//!
//! The signature covers every byte before the `Signature:` line (BEGIN line, version line and
//! JSON, each with its `\n`). See `docs/airgap-format.md` for the whole grammar.

use ed25519_dalek::Signature;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{AirgapError, Artifact, Result};
use crate::fields::{signature_b64, Sha256Digest};
use crate::file_kind::{FileKind, FORMAT_VERSION};
use crate::keys::SigningKey;

const SIGNATURE_PREFIX: &str = "Signature: ed25519 ";
const VERSION_PREFIX: &str = "Version: ";

/// A body type of one of the four files.
pub(crate) trait Body: Serialize + DeserializeOwned {
    const KIND: FileKind;
    /// Rules beyond the JSON shape (ids, ordering, periods); `Err` is an [`InvalidData`] or
    /// [`UnknownVersion`] error.
    ///
    /// [`InvalidData`]: AirgapError::InvalidData
    /// [`UnknownVersion`]: AirgapError::UnknownVersion
    fn check(&self) -> Result<()>;

    /// The format version this content is written in: the version line must say it.
    fn version(&self) -> u32 {
        FORMAT_VERSION
    }
}

/// A file that parsed and passed every check that needs no key. Its signature is not checked
/// yet: look at it with [`Signed::unverified`], then call the file type's `verify`. Its
/// `Debug` shows the content and the hash, not the text (a license file's holds a secret).
#[derive(Clone)]
pub struct Signed<T> {
    pub(crate) body: T,
    /// The file in canonical form: `\n` line ends, one final `\n`.
    pub(crate) text: String,
    /// `text[..signed_len]` is what the signature covers.
    pub(crate) signed_len: usize,
    pub(crate) signature: Signature,
}

impl<T: std::fmt::Debug> std::fmt::Debug for Signed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed")
            .field("body", &self.body)
            .field("sha256", &self.sha256())
            .finish_non_exhaustive()
    }
}

impl<T> Signed<T> {
    /// The content, before any signature check: for display and look-ups only.
    pub fn unverified(&self) -> &T {
        &self.body
    }

    /// The file in canonical form (`\n` line ends, one final `\n`). Equal to the bytes as
    /// written by this crate.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// SHA-256 of [`Signed::text`]: the file's identity in hashes other files carry.
    pub fn sha256(&self) -> Sha256Digest {
        Sha256Digest::of(self.text.as_bytes())
    }

    pub(crate) fn signed_bytes(&self) -> &[u8] {
        &self.text.as_bytes()[..self.signed_len]
    }

    pub(crate) fn verified(&self) -> Verified<T>
    where
        T: Clone,
    {
        Verified(self.clone())
    }
}

/// A file whose signatures and bindings were checked by its type's `verify` method. Derefs to
/// the content.
#[derive(Debug, Clone)]
pub struct Verified<T>(Signed<T>);

impl<T> Verified<T> {
    pub fn text(&self) -> &str {
        self.0.text()
    }

    pub fn sha256(&self) -> Sha256Digest {
        self.0.sha256()
    }

    pub fn into_inner(self) -> T {
        self.0.body
    }
}

impl<T> std::ops::Deref for Verified<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0.body
    }
}

fn shown(line: &str) -> String {
    let mut s: String = line.chars().take(48).collect();
    if s.len() < line.len() {
        s.push('…');
    }
    format!("`{}`", s.escape_debug())
}

/// Reads a file of kind `T::KIND`: every check but the signature.
pub(crate) fn parse<T: Body>(bytes: &[u8]) -> Result<Signed<T>> {
    let kind = T::KIND;
    let what = Artifact::File(kind);
    let bad = |reason: String| AirgapError::malformed(what, reason);

    if bytes.len() > kind.max_bytes() {
        return Err(AirgapError::TooLarge {
            what,
            size: bytes.len(),
            limit: kind.max_bytes(),
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| AirgapError::NotUtf8 {
        what,
        offset: e.valid_up_to(),
    })?;
    let text = normalize_line_ends(text).map_err(bad)?;
    // One final newline is optional; the canonical form has it.
    let body = text.strip_suffix('\n').unwrap_or(&text);
    let lines: Vec<&str> = body.split('\n').collect();

    // BEGIN line.
    let first = lines[0];
    let Some(label) = first
        .strip_prefix("-----BEGIN USAGEDESK ")
        .and_then(|l| l.strip_suffix("-----"))
    else {
        return Err(bad(format!(
            "it must start with the line `{}`, not {}",
            kind.begin_line(),
            shown(first)
        )));
    };
    if label != kind.label() {
        return Err(match FileKind::from_label(label) {
            Some(found) => AirgapError::WrongFileKind {
                expected: kind,
                found,
            },
            None => bad(format!(
                "it must start with the line `{}`, not {}",
                kind.begin_line(),
                shown(first)
            )),
        });
    }

    // END line, last.
    let end = kind.end_line();
    let Some(end_at) = lines.iter().position(|l| *l == end) else {
        return Err(bad(format!(
            "the line `{end}` is missing: the file is truncated"
        )));
    };
    if end_at != lines.len() - 1 {
        return Err(bad("there is data after the END line".into()));
    }
    if lines.len() < 5 {
        return Err(bad("it is too short: the file is truncated".into()));
    }

    // Version line.
    let version_line = lines[1];
    let current = kind.current_version();
    let Some(version) = version_line.strip_prefix(VERSION_PREFIX) else {
        return Err(bad(format!(
            "the second line must be `{VERSION_PREFIX}{current}`, not {}",
            shown(version_line)
        )));
    };
    let plain_number = !version.is_empty()
        && version.len() <= 9
        && version.bytes().all(|b| b.is_ascii_digit())
        && (version == "0" || !version.starts_with('0'));
    if !plain_number {
        return Err(bad(format!(
            "the second line must be `{VERSION_PREFIX}{current}`, not {}",
            shown(version_line)
        )));
    }
    let Some(version) = kind
        .versions()
        .iter()
        .copied()
        .find(|v| v.to_string() == version)
    else {
        return Err(AirgapError::UnknownVersion {
            what,
            found: version.to_owned(),
            supported: kind.versions(),
        });
    };

    // Signature line, just before END.
    let sig_line = lines[lines.len() - 2];
    let Some(sig_text) = sig_line.strip_prefix(SIGNATURE_PREFIX) else {
        return Err(bad(format!(
            "the line before `{end}` must be `{SIGNATURE_PREFIX}<base64>`, not {}",
            shown(sig_line)
        )));
    };
    let signature = signature_b64::decode(sig_text).map_err(bad)?;

    // JSON: lines 2 .. len-2. Byte offsets into `text`, which starts with `body`.
    let json_start = first.len() + 1 + version_line.len() + 1;
    let signed_len = body.len() - end.len() - 1 - sig_line.len();
    let json = &text[json_start..signed_len - 1];

    let parsed: T = serde_json::from_str(json)
        .map_err(|e| bad(format!("its JSON does not fit the format: {e}")))?;
    // Exactly one spelling per content: re-serializing must give the same bytes.
    let canonical = serde_json::to_string_pretty(&parsed)
        .map_err(|e| bad(format!("its JSON cannot be written back: {e}")))?;
    if canonical != json {
        return Err(bad(
            "its JSON is not laid out exactly as UsageDesk writes it (spacing, escapes, number \
             or time spelling): it was edited"
                .into(),
        ));
    }
    if parsed.version() != version {
        return Err(bad(format!(
            "its version line says {version}, but its fields are those of format version {}: it \
             was edited",
            parsed.version()
        )));
    }
    parsed.check()?;

    let mut text = text.into_owned();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(Signed {
        body: parsed,
        text,
        signed_len,
        signature,
    })
}

/// `\r\n` line ends become `\n` when every line ends so; a mix, or a lone `\r`, is refused.
fn normalize_line_ends(text: &str) -> std::result::Result<std::borrow::Cow<'_, str>, String> {
    if !text.contains('\r') {
        return Ok(text.into());
    }
    let crlf = text.matches("\r\n").count();
    let cr = text.matches('\r').count();
    let lf = text.matches('\n').count();
    if crlf != cr || crlf != lf {
        return Err(
            "it mixes line ends (\\r\\n and \\n) or holds a lone \\r: it was edited".into(),
        );
    }
    Ok(text.replace("\r\n", "\n").into())
}

/// Writes a file: armor around the pretty JSON of `body`, signed by `key`.
pub(crate) fn write<T: Body>(body: &T, key: &SigningKey) -> Result<String> {
    let what = Artifact::File(T::KIND);
    body.check().map_err(|e| match e {
        AirgapError::InvalidData { reason, .. } => AirgapError::request(what, reason),
        other => other,
    })?;
    let json = serde_json::to_string_pretty(body)
        .map_err(|e| AirgapError::request(what, e.to_string()))?;
    let mut text = format!(
        "{}\n{VERSION_PREFIX}{}\n{json}\n",
        T::KIND.begin_line(),
        body.version()
    );
    let signature = key.sign(text.as_bytes());
    text.push_str(SIGNATURE_PREFIX);
    text.push_str(&signature_b64::encode(&signature));
    text.push('\n');
    text.push_str(&T::KIND.end_line());
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_are_all_crlf_or_all_lf() {
        assert_eq!(normalize_line_ends("a\nb\n").unwrap(), "a\nb\n");
        assert_eq!(normalize_line_ends("a\r\nb\r\n").unwrap(), "a\nb\n");
        assert!(normalize_line_ends("a\r\nb\n").is_err());
        assert!(normalize_line_ends("a\rb\n").is_err());
        assert!(normalize_line_ends("a\r\r\nb\r\n").is_err());
    }

    #[test]
    fn labels_and_limits() {
        assert_eq!(
            FileKind::UsageData.begin_line(),
            "-----BEGIN USAGEDESK USAGE DATA-----"
        );
        assert_eq!(
            FileKind::VerificationKey.end_line(),
            "-----END USAGEDESK VERIFICATION KEY-----"
        );
        assert_eq!(FileKind::SyncKey.max_bytes(), 16 * 1024);
        assert_eq!(FileKind::UsageData.max_bytes(), 4 * 1024 * 1024);
        assert_eq!(
            FileKind::License.begin_line(),
            "-----BEGIN USAGEDESK LICENSE-----"
        );
        assert_eq!(FileKind::License.max_bytes(), 16 * 1024);
        assert_eq!(FileKind::UsageData.current_version(), 2);
        assert_eq!(FileKind::SyncKey.current_version(), 1);
    }
}
