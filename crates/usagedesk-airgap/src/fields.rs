//! Field types and rules shared by the three files: timestamps, nonces, digests, ids.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// How far apart two clocks may be before a timestamp "from the future" is refused.
pub const MAX_CLOCK_SKEW: chrono::Duration = chrono::Duration::hours(1);

/// The longest `issued_by` / certificate subject accepted (bytes).
pub const MAX_SUBJECT_LEN: usize = 256;

/// The most accounts an `account_path` may name (root first).
pub const MAX_ACCOUNT_PATH: usize = 64;

pub(crate) const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Drops sub-second precision: files carry whole seconds.
pub(crate) fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// Serde for timestamps as `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds), nothing else.
pub(crate) mod timestamp {
    use super::*;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format(TIMESTAMP_FORMAT).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }

    pub fn parse(s: &str) -> Result<DateTime<Utc>, String> {
        let t = NaiveDateTime::parse_from_str(s, TIMESTAMP_FORMAT)
            .map_err(|_| {
                format!(
                    "`{}` is not a UTC time YYYY-MM-DDTHH:MM:SSZ",
                    s.escape_debug()
                )
            })?
            .and_utc();
        // Refuse any other spelling of the same instant (e.g. unpadded fields).
        if t.format(TIMESTAMP_FORMAT).to_string() != s {
            return Err(format!(
                "`{}` is not a UTC time YYYY-MM-DDTHH:MM:SSZ",
                s.escape_debug()
            ));
        }
        Ok(t)
    }
}

/// Serde for dates as `YYYY-MM-DD`, nothing else.
pub(crate) mod date {
    use chrono::NaiveDate;

    use super::*;

    pub fn serialize<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.format("%Y-%m-%d").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }

    pub fn parse(s: &str) -> Result<NaiveDate, String> {
        let err = || format!("`{}` is not a date YYYY-MM-DD", s.escape_debug());
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| err())?;
        if d.format("%Y-%m-%d").to_string() != s {
            return Err(err());
        }
        Ok(d)
    }
}

macro_rules! hex32 {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// Lowercase hex, 64 characters.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = String;
            /// Exactly 64 lowercase hex digits.
            fn from_str(s: &str) -> Result<Self, String> {
                let ok = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                let mut out = [0u8; 32];
                if !ok || hex::decode_to_slice(s, &mut out).is_err() {
                    return Err(format!(
                        concat!("a ", $what, " is 64 lowercase hex digits, not `{}`"),
                        s.escape_debug()
                    ));
                }
                Ok(Self(out))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex32!(
    /// The 32 random bytes a sync key is named by; the usage data file answering it echoes them.
    Nonce,
    "nonce"
);

hex32!(
    /// A SHA-256 digest, written as 64 lowercase hex digits.
    Sha256Digest,
    "SHA-256 digest"
);

impl Nonce {
    /// 32 fresh random bytes.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut out = [0u8; 32];
        rng.fill_bytes(&mut out);
        Self(out)
    }
}

impl Sha256Digest {
    /// The SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }
}

/// Instance, license, account and plan ids: the account id rules of the load format
/// (non-empty, at most 128 bytes, no surrounding white space or control characters).
pub(crate) fn check_id(field: &str, value: &str) -> Result<(), String> {
    usagedesk_domain::account::validate_id(value)
        .map_err(|e| format!("{field}: {}", e.0.replacen("account id", "id", 1)))
}

/// `issued_by` and certificate subjects: like ids, up to [`MAX_SUBJECT_LEN`] bytes.
pub(crate) fn check_subject(field: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > MAX_SUBJECT_LEN {
        return Err(format!("{field} must be 1 to {MAX_SUBJECT_LEN} bytes"));
    }
    if value.trim() != value || value.chars().any(char::is_control) {
        return Err(format!(
            "{field} `{}` has surrounding spaces or control characters",
            value.escape_debug()
        ));
    }
    Ok(())
}

/// An account path: the instance's account and its ancestors, root first.
pub(crate) fn check_account_path(path: &[String]) -> Result<(), String> {
    if path.is_empty() {
        return Err("account_path is empty".into());
    }
    if path.len() > MAX_ACCOUNT_PATH {
        return Err(format!(
            "account_path names more than {MAX_ACCOUNT_PATH} accounts"
        ));
    }
    for (i, id) in path.iter().enumerate() {
        check_id("account_path", id)?;
        if id == "*" {
            return Err("account_path may not name the account `*`".into());
        }
        if path[..i].contains(id) {
            return Err(format!("account_path names `{id}` twice"));
        }
    }
    Ok(())
}

/// `a > b > c`, for messages.
pub(crate) fn show_path(path: &[String]) -> String {
    path.join(" > ")
}

/// Serde for an Ed25519 signature as standard padded base64 (88 characters).
pub(crate) mod signature_b64 {
    use base64::Engine;
    use ed25519_dalek::Signature;

    use super::*;

    pub fn serialize<S: Serializer>(sig: &Signature, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(sig))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Signature, D::Error> {
        let s = String::deserialize(d)?;
        decode(&s).map_err(serde::de::Error::custom)
    }

    pub fn encode(sig: &Signature) -> String {
        base64::engine::general_purpose::STANDARD.encode(sig.to_bytes())
    }

    /// Strict: the standard alphabet, padded, canonical trailing bits, exactly 64 bytes.
    pub fn decode(s: &str) -> Result<Signature, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| "the signature is not valid base64".to_string())?;
        let bytes: [u8; 64] = bytes
            .try_into()
            .map_err(|_| "the signature is not 64 bytes long".to_string())?;
        Ok(Signature::from_bytes(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_exactly_one_spelling() {
        let t = timestamp::parse("2026-03-02T09:00:00Z").unwrap();
        assert_eq!(t.timestamp(), 1_772_442_000);
        // Each of these names a real instant in some syntax, but the format allows only one.
        for bad in [
            "2026-3-02T09:00:00Z",
            "2026-03-02T09:00:00+00:00",
            "2026-03-02T09:00:00.5Z",
            "2026-03-02 09:00:00Z",
            "2026-03-02T09:00:00z",
            " 2026-03-02T09:00:00Z",
            "2026-02-30T09:00:00Z",
        ] {
            assert!(timestamp::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn dates_have_exactly_one_spelling() {
        assert_eq!(
            date::parse("2026-02-28").unwrap(),
            chrono::NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
        );
        for bad in [
            "2026-2-28",
            "2026-02-29",
            "+2026-02-28",
            "2026-02-28 ",
            "20260228",
        ] {
            assert!(date::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn hex_fields_refuse_uppercase_and_wrong_lengths() {
        let lower = "ab".repeat(32);
        assert_eq!(lower.parse::<Nonce>().unwrap().to_hex(), lower);
        // Uppercase decodes to the same bytes: accepting it would let a file change unnoticed.
        assert!("AB".repeat(32).parse::<Nonce>().is_err());
        assert!("ab".repeat(31).parse::<Sha256Digest>().is_err());
        assert!("zz".repeat(32).parse::<Sha256Digest>().is_err());
    }

    #[test]
    fn ids_follow_the_load_format_rules() {
        assert!(check_id("instance_id", "inst-1").is_ok());
        assert!(check_id("instance_id", "").is_err());
        assert!(check_id("instance_id", " inst").is_err());
        assert!(check_id("instance_id", "in\tst").is_err());
        assert!(check_id("instance_id", &"x".repeat(129)).is_err());
        assert!(check_id("instance_id", &"x".repeat(128)).is_ok());
    }

    #[test]
    fn account_paths_are_nonempty_distinct_ids() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_account_path(&p(&["msp", "acme"])).is_ok());
        assert!(check_account_path(&p(&[])).is_err());
        assert!(check_account_path(&p(&["msp", "msp"])).is_err());
        assert!(check_account_path(&p(&["*"])).is_err());
        assert!(check_account_path(&p(&["msp", " acme"])).is_err());
    }
}
