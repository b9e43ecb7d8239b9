//! Damaged, edited, foreign and hostile files: each refused, with the right kind, and the
//! parsers never panic.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::armor::Verified;
use crate::error::{ErrorKind, Result};
use crate::file_kind::FileKind;
use crate::license::LicenseFile;
use crate::samples::{samples, Samples};
use crate::sync_key::SyncKey;
use crate::testutil::{sample_export, sign_raw_versioned, SampleManifest};
use crate::usage_data::UsageData;
use crate::usage_export::UsageExport;
use crate::verification_key::VerificationKey;
use crate::{sniff, ExpectedAnswer, PublicKey};

/// Everything a receiver needs to fully check each sample file.
struct Receiver {
    s: Samples,
    root: PublicKey,
    sync_key: Verified<SyncKey>,
    expected: ExpectedAnswer,
    /// A usage export manifest signed by the samples' manager at `confirmed_at`.
    export: String,
}

fn receiver() -> Receiver {
    let s = samples();
    let root = s.root.public_key();
    let sync_key = SyncKey::parse(s.sync_key.as_bytes())
        .unwrap()
        .verify(&root, s.issued_at)
        .unwrap();
    let expected = UsageData::parse(s.usage_data.as_bytes())
        .unwrap()
        .verify_for(&sync_key, None)
        .unwrap()
        .expected_answer();
    let export = sample_export(&s, s.confirmed_at);
    Receiver {
        s,
        root,
        sync_key,
        expected,
        export,
    }
}

impl Receiver {
    fn text(&self, kind: FileKind) -> &str {
        match kind {
            FileKind::SyncKey => &self.s.sync_key,
            FileKind::UsageData => &self.s.usage_data,
            FileKind::VerificationKey => &self.s.verification_key,
            FileKind::License => &self.s.license_file,
            FileKind::UsageExport => &self.export,
        }
    }

    /// Parse and verify as the real receiver of `kind` would; the canonical text on success.
    /// The usage data file is checked as on first contact: with no pinned key, its enrollment
    /// must hold.
    fn accept(&self, kind: FileKind, bytes: &[u8]) -> Result<String> {
        match kind {
            FileKind::SyncKey => SyncKey::parse(bytes)?
                .verify(&self.root, self.s.exported_at)
                .map(|v| v.text().to_owned()),
            FileKind::UsageData => {
                let v = UsageData::parse(bytes)?.verify_for(&self.sync_key, None)?;
                v.check_enrollment(&self.root, &self.s.known_instance())?;
                Ok(v.text().to_owned())
            }
            FileKind::VerificationKey => VerificationKey::parse(bytes)?
                .verify(&self.root, &self.expected, self.s.confirmed_at)
                .map(|v| v.text().to_owned()),
            FileKind::License => LicenseFile::parse(bytes)?
                .verify(&self.root, self.s.licensed_at)
                .map(|v| v.text().to_owned()),
            FileKind::UsageExport => UsageExport::<SampleManifest>::parse(bytes)?
                .verify(&self.root, self.s.confirmed_at)
                .map(|v| v.text().to_owned()),
        }
    }

    /// A version 1 usage data file, read as the vendor does for an instance whose key it holds.
    fn accept_v1(&self, bytes: &[u8]) -> Result<String> {
        UsageData::parse(bytes)?
            .verify_for(&self.sync_key, Some(&self.s.instance.public_key()))
            .map(|v| v.text().to_owned())
    }

    fn refusal(&self, kind: FileKind, bytes: &[u8]) -> ErrorKind {
        match self.accept(kind, bytes) {
            Ok(_) => panic!("accepted a damaged {}", kind.noun()),
            Err(e) => e.kind(),
        }
    }
}

fn every_bit_flip_is_refused(kind: FileKind) {
    let r = receiver();
    every_bit_flip_is_refused_by(kind, r.text(kind), |b| r.accept(kind, b));
}

fn every_bit_flip_is_refused_by(
    kind: FileKind,
    text: &str,
    accept: impl Fn(&[u8]) -> Result<String>,
) {
    let original = text.as_bytes().to_vec();
    assert!(accept(&original).is_ok(), "the sample itself must pass");
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    let mut bytes = original.clone();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            bytes[i] ^= 1 << bit;
            match accept(&bytes) {
                Ok(_) => panic!(
                    "flipping bit {bit} of byte {i} ({:?} -> {:?}) of the {} went unnoticed",
                    original[i] as char,
                    bytes[i] as char,
                    kind.noun()
                ),
                Err(e) => *kinds.entry(e.kind().as_str()).or_default() += 1,
            }
            bytes[i] ^= 1 << bit;
        }
    }
    // Flips that keep the armor and JSON well-formed are left to the signature to catch; the
    // rest are caught earlier (not UTF-8, not JSON, not canonical, invalid ids).
    assert!(
        kinds.get("bad_signature").copied().unwrap_or(0) > 0,
        "{kinds:?}"
    );
    assert_eq!(kinds.values().sum::<usize>(), original.len() * 8);
}

#[test]
fn every_single_bit_flip_of_a_usage_data_file_is_refused() {
    every_bit_flip_is_refused(FileKind::UsageData);
}

#[test]
fn every_single_bit_flip_of_a_version_1_usage_data_file_is_refused() {
    let r = receiver();
    every_bit_flip_is_refused_by(FileKind::UsageData, &r.s.usage_data_v1, |b| r.accept_v1(b));
}

#[test]
fn every_single_bit_flip_of_a_license_file_is_refused() {
    every_bit_flip_is_refused(FileKind::License);
}

#[test]
fn a_version_1_usage_data_file_is_read_but_cannot_enroll() {
    let r = receiver();
    assert_eq!(
        r.accept_v1(r.s.usage_data_v1.as_bytes()).unwrap(),
        r.s.usage_data_v1
    );
    assert_eq!(
        r.refusal(FileKind::UsageData, r.s.usage_data_v1.as_bytes()),
        ErrorKind::EnrollmentRequired
    );
    // The version line must match the content: a version 2 body called 1, and the reverse.
    let v2 = &r.s.usage_data;
    let json = &v2[v2.find('{').unwrap()..v2.rfind("\nSignature:").unwrap()];
    let called_v1 = sign_raw_versioned(FileKind::UsageData, "1", json, &r.s.instance);
    assert_eq!(
        r.refusal(FileKind::UsageData, called_v1.as_bytes()),
        ErrorKind::Malformed
    );
    let v1 = &r.s.usage_data_v1;
    let json = &v1[v1.find('{').unwrap()..v1.rfind("\nSignature:").unwrap()];
    let called_v2 = sign_raw_versioned(FileKind::UsageData, "2", json, &r.s.instance);
    let e = UsageData::parse(called_v2.as_bytes()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Malformed, "{e}");
    assert!(e.to_string().contains("version 1"), "{e}");
}

#[test]
fn every_single_bit_flip_of_a_sync_key_is_refused() {
    every_bit_flip_is_refused(FileKind::SyncKey);
}

#[test]
fn every_single_bit_flip_of_a_verification_key_is_refused() {
    every_bit_flip_is_refused(FileKind::VerificationKey);
}

#[test]
fn every_single_bit_flip_of_a_usage_export_manifest_is_refused() {
    every_bit_flip_is_refused(FileKind::UsageExport);
}

#[test]
fn a_truncated_file_is_malformed_at_every_length() {
    let r = receiver();
    for kind in FileKind::ALL {
        let text = r.text(kind).as_bytes();
        // Dropping the final newline alone is allowed; any shorter is truncation.
        for len in 0..text.len() - 1 {
            assert_eq!(
                r.refusal(kind, &text[..len]),
                ErrorKind::Malformed,
                "{} cut to {len} bytes",
                kind.noun()
            );
        }
    }
}

#[test]
fn the_final_newline_is_optional_and_does_not_change_the_hash() {
    let r = receiver();
    for kind in FileKind::ALL {
        let text = r.text(kind);
        let accepted = r
            .accept(kind, text.trim_end_matches('\n').as_bytes())
            .unwrap();
        assert_eq!(accepted, text, "canonical form restores the final newline");
    }
}

#[test]
fn data_after_the_end_line_is_refused() {
    let r = receiver();
    for kind in FileKind::ALL {
        let text = r.text(kind);
        for tail in [
            "\n",
            " ",
            "x",
            "\n\n",
            "-----END USAGEDESK USAGE DATA-----\n",
        ] {
            let bytes = format!("{text}{tail}");
            assert_eq!(
                r.refusal(kind, bytes.as_bytes()),
                ErrorKind::Malformed,
                "{} followed by {tail:?}",
                kind.noun()
            );
        }
        // Two files pasted together.
        let twice = format!("{text}{text}");
        assert_eq!(r.refusal(kind, twice.as_bytes()), ErrorKind::Malformed);
        // Leading junk, including a byte-order mark.
        for head in ["\u{feff}", "\n", " ", "Hello,\n"] {
            let bytes = format!("{head}{text}");
            assert_eq!(
                r.refusal(kind, bytes.as_bytes()),
                ErrorKind::Malformed,
                "{head:?}"
            );
        }
    }
}

#[test]
fn crlf_line_ends_are_read_as_lf_and_mixed_ones_refused() {
    let r = receiver();
    for kind in FileKind::ALL {
        let text = r.text(kind);
        // A mail client that rewrote every line end: same file, same hash.
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(r.accept(kind, crlf.as_bytes()).unwrap(), text);
        // One line end rewritten only: refused.
        let mixed = text.replacen('\n', "\r\n", 1);
        assert_eq!(r.refusal(kind, mixed.as_bytes()), ErrorKind::Malformed);
    }
}

#[test]
fn oversized_files_are_refused_before_anything_else() {
    let r = receiver();
    for kind in FileKind::ALL {
        let limit = kind.max_bytes();
        // A valid file padded with white space inside the JSON: refused on size alone.
        let text = r.text(kind);
        let at = text.find("\n}").unwrap();
        let padded = format!("{}{}{}", &text[..at], " ".repeat(limit), &text[at..]);
        assert_eq!(r.refusal(kind, padded.as_bytes()), ErrorKind::TooLarge);
        let e = r.accept(kind, &vec![0xff; limit + 1]).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::TooLarge,
            "size is checked before UTF-8"
        );
        assert!(
            e.to_string().contains(&format!("{limit}-byte limit")),
            "{e}"
        );
    }
}

#[test]
fn bytes_that_are_not_utf8_are_refused() {
    let r = receiver();
    for kind in FileKind::ALL {
        let mut bytes = r.text(kind).as_bytes().to_vec();
        let at = r.text(kind).find("acme").unwrap();
        bytes[at] = 0xff;
        let e = r.accept(kind, &bytes).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotUtf8, "{e}");
        assert!(e.to_string().contains(&format!("offset {at}")), "{e}");
        // Latin-1 text, UTF-16 text.
        assert_eq!(r.refusal(kind, b"caf\xe9"), ErrorKind::NotUtf8);
        let utf16: Vec<u8> = r
            .text(kind)
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_ne!(r.refusal(kind, &utf16), ErrorKind::BadSignature);
    }
}

#[test]
fn unknown_versions_are_refused_as_such() {
    let r = receiver();
    for kind in FileKind::ALL {
        let text = r.text(kind);
        let json = &text[text.find('{').unwrap()..text.rfind("\nSignature:").unwrap()];
        let key = match kind {
            FileKind::UsageData => &r.s.instance,
            FileKind::License => r.s.root.signing_key(),
            _ => &r.s.delegated,
        };
        let next = (kind.current_version() + 1).to_string();
        let unknown = sign_raw_versioned(kind, &next, json, key);
        let e = r.accept(kind, unknown.as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownVersion, "{e}");
        assert!(
            e.to_string().contains(&format!("format version {next}")),
            "{e}"
        );
        assert!(e.to_string().contains("update UsageDesk"), "{e}");
        for bad in ["01", "1.0", " 1", "", "one", "99999999999999999999"] {
            let f = sign_raw_versioned(kind, bad, json, key);
            assert_eq!(
                r.refusal(kind, f.as_bytes()),
                ErrorKind::Malformed,
                "version {bad:?}"
            );
        }
        // The signed control file passes, so the refusals above are the version's doing.
        let current = kind.current_version().to_string();
        let control = sign_raw_versioned(kind, &current, json, key);
        assert!(r.accept(kind, control.as_bytes()).is_ok());
    }
}

#[test]
fn unknown_fields_are_refused_even_when_signed() {
    let r = receiver();
    let text = &r.s.usage_data;
    let json = &text[text.find('{').unwrap()..text.rfind("\nSignature:").unwrap()];
    // At the top level and inside a record.
    for (from, to) in [
        (
            "{\n  \"instance_id\"",
            "{\n  \"comment\": \"hi\",\n  \"instance_id\"",
        ),
        ("\"seq\": 41,", "\"seq\": 41,\n      \"weight\": 1,"),
    ] {
        let edited = json.replacen(from, to, 1);
        assert_ne!(edited, json);
        let f = sign_raw_versioned(FileKind::UsageData, "2", &edited, &r.s.instance);
        let e = r.accept(FileKind::UsageData, f.as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Malformed, "{e}");
        assert!(e.to_string().contains("unknown field"), "{e}");
    }
}

#[test]
fn json_in_another_layout_is_refused_even_when_signed() {
    let r = receiver();
    let text = &r.s.usage_data;
    let json = &text[text.find('{').unwrap()..text.rfind("\nSignature:").unwrap()];
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    for other in [
        serde_json::to_string(&value).unwrap(),           // compact
        json.replace("  ", "    "),                       // wider indent
        json.replacen("inst-acme", "inst\\u002dacme", 1), // an escape for a plain character
    ] {
        let f = sign_raw_versioned(FileKind::UsageData, "2", &other, &r.s.instance);
        let e = r.accept(FileKind::UsageData, f.as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Malformed, "{e}");
    }
}

#[test]
fn a_file_of_another_kind_is_named_as_such() {
    let r = receiver();
    for expected in FileKind::ALL {
        for found in FileKind::ALL.into_iter().filter(|k| *k != expected) {
            let e = r.accept(expected, r.text(found).as_bytes()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::WrongFileKind, "{e}");
            assert!(
                e.to_string()
                    .starts_with(&format!("this is a {}", found.noun())),
                "{e}"
            );
        }
        assert_eq!(sniff(r.text(expected).as_bytes()), Some(expected));
    }
    assert_eq!(sniff(b"PK\x03\x04"), None);
}

#[test]
fn random_garbage_is_refused_and_never_panics() {
    let r = receiver();
    let mut rng = ChaCha20Rng::seed_from_u64(0x6172_6761);
    for i in 0..10_000 {
        let len = rng.gen_range(0..2048);
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        if i % 2 == 1 {
            // Half of them printable, behind a plausible BEGIN line, to get past the first checks.
            for b in &mut bytes {
                *b = b' ' + *b % 95;
            }
            let kind = FileKind::ALL[i % FileKind::ALL.len()];
            let mut framed = format!("{}\nVersion: 1\n", kind.begin_line()).into_bytes();
            framed.extend(&bytes);
            bytes = framed;
        }
        for kind in FileKind::ALL {
            let e = r.accept(kind, &bytes).unwrap_err();
            assert!(
                matches!(
                    e.kind(),
                    ErrorKind::Malformed | ErrorKind::NotUtf8 | ErrorKind::WrongFileKind
                ),
                "{e}"
            );
        }
    }
}

#[test]
fn mutated_files_never_panic_and_never_pass_as_something_else() {
    let r = receiver();
    let mut rng = ChaCha20Rng::seed_from_u64(0x6d75_7461);
    for i in 0..10_000 {
        let kind = FileKind::ALL[i % FileKind::ALL.len()];
        let mut bytes = r.text(kind).as_bytes().to_vec();
        for _ in 0..rng.gen_range(1..4) {
            let at = rng.gen_range(0..bytes.len());
            match rng.gen_range(0..5) {
                0 => bytes[at] = rng.gen(),
                1 => bytes.insert(at, rng.gen()),
                2 => {
                    bytes.remove(at);
                }
                3 => bytes.truncate(at),
                _ => {
                    let from = rng.gen_range(0..bytes.len());
                    let piece: Vec<u8> = bytes[from..bytes.len().min(from + 40)].to_vec();
                    bytes.splice(at..at, piece);
                }
            }
            if bytes.is_empty() {
                bytes.push(b'-');
            }
        }
        // Whatever is accepted must be the original file (e.g. only its final newline went).
        if let Ok(text) = r.accept(kind, &bytes) {
            assert_eq!(
                text,
                r.text(kind),
                "a mutation of the {} passed",
                kind.noun()
            );
        }
    }
}
