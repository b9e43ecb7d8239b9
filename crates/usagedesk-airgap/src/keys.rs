//! Ed25519 keys: the vendor's root key, the signing keys of managers and instances, and the
//! public keys that identify them, in text form `ed25519:<base64>`.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use ed25519_dalek::{Signature, Signer};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{AirgapError, Artifact, Result};
use crate::fields::Sha256Digest;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Prefix of a public key in text form.
pub const PUBLIC_KEY_PREFIX: &str = "ed25519:";
/// Prefix of a secret (signing) key in text form.
pub const SECRET_KEY_PREFIX: &str = "ed25519-secret:";

/// An Ed25519 public key. Text form: `ed25519:` and the 32 key bytes in standard padded
/// base64 (44 characters).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// From the 32 raw key bytes; refuses bytes that are not a point of the curve.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self> {
        ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| {
                AirgapError::malformed(Artifact::PublicKey, "the bytes are not an Ed25519 key")
            })
    }

    /// The 32 raw key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// `sha256:` and the SHA-256 of the raw key bytes in hex: how a certificate names the
    /// root key that issued it.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", Sha256Digest::of(self.0.as_bytes()).to_hex())
    }

    /// Checks `signature` over `message` (strict: refuses malleable signatures and weak keys).
    pub(crate) fn verifies(&self, message: &[u8], signature: &Signature) -> bool {
        self.0.verify_strict(message, signature).is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_KEY_PREFIX}{}", B64.encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

fn decode_key_text(s: &str, prefix: &str, what: Artifact) -> Result<[u8; 32]> {
    let shown: String = s.chars().take(60).collect();
    let Some(b64) = s.strip_prefix(prefix) else {
        return Err(AirgapError::malformed(
            what,
            format!("`{}` does not start with `{prefix}`", shown.escape_debug()),
        ));
    };
    let bytes = B64.decode(b64).map_err(|_| {
        AirgapError::malformed(
            what,
            format!(
                "after `{prefix}` come 44 base64 characters, not `{}`",
                b64.chars().take(60).collect::<String>().escape_debug()
            ),
        )
    })?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        AirgapError::malformed(what, format!("the key is {} bytes long, not 32", b.len()))
    })
}

impl FromStr for PublicKey {
    type Err = AirgapError;

    fn from_str(s: &str) -> Result<Self> {
        Self::from_bytes(&decode_key_text(s, PUBLIC_KEY_PREFIX, Artifact::PublicKey)?)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|e: AirgapError| match e {
            AirgapError::Malformed { reason, .. } => serde::de::Error::custom(reason),
            other => serde::de::Error::custom(other),
        })
    }
}

/// An Ed25519 signing key: a manager's delegated key or an instance's own key. Its `Debug`
/// never shows the secret.
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// A new random key.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        Self(ed25519_dalek::SigningKey::generate(rng))
    }

    /// From the 32-byte secret seed.
    pub fn from_bytes(seed: &[u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The 32-byte secret seed, for the caller to store (keyring, state directory).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Secret text form: `ed25519-secret:<base64 of the seed>`.
    pub fn to_secret_text(&self) -> String {
        format!("{SECRET_KEY_PREFIX}{}", B64.encode(self.0.to_bytes()))
    }

    /// Parses [`SigningKey::to_secret_text`].
    pub fn from_secret_text(s: &str) -> Result<Self> {
        Ok(Self::from_bytes(&decode_key_text(
            s.trim_end(),
            SECRET_KEY_PREFIX,
            Artifact::SecretKey,
        )?))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Signature {
        self.0.sign(message)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(public: {})", self.public_key())
    }
}

/// The vendor's root key. It lives in the cloud only and signs nothing but delegation
/// certificates and license files; agents trust its public key and nothing else.
#[derive(Clone, Debug)]
pub struct RootKey(SigningKey);

impl RootKey {
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        Self(SigningKey::generate(rng))
    }

    pub fn from_bytes(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn to_secret_text(&self) -> String {
        self.0.to_secret_text()
    }

    pub fn from_secret_text(s: &str) -> Result<Self> {
        SigningKey::from_secret_text(s).map(Self)
    }

    pub fn public_key(&self) -> PublicKey {
        self.0.public_key()
    }

    /// The key itself, for what the root signs directly (license files).
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn public_key_text_round_trips() {
        let key = SigningKey::generate(&mut ChaCha20Rng::seed_from_u64(1));
        let text = key.public_key().to_string();
        assert!(
            text.starts_with("ed25519:") && text.len() == 8 + 44,
            "{text}"
        );
        assert_eq!(text.parse::<PublicKey>().unwrap(), key.public_key());
    }

    #[test]
    fn public_key_parse_errors_say_what_is_wrong() {
        let e = "ssh-ed25519 AAAA".parse::<PublicKey>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Malformed);
        assert!(
            e.to_string().contains("does not start with `ed25519:`"),
            "{e}"
        );

        let e = "ed25519:not base64!".parse::<PublicKey>().unwrap_err();
        assert!(e.to_string().contains("44 base64 characters"), "{e}");

        let e = "ed25519:AAAA".parse::<PublicKey>().unwrap_err();
        assert!(e.to_string().contains("3 bytes long, not 32"), "{e}");
    }

    #[test]
    fn secret_text_round_trips_and_debug_hides_it() {
        let key = SigningKey::generate(&mut ChaCha20Rng::seed_from_u64(2));
        let text = key.to_secret_text();
        let back = SigningKey::from_secret_text(&format!("{text}\n")).unwrap();
        assert_eq!(back.to_bytes(), key.to_bytes());
        let debug = format!("{key:?}");
        assert!(!debug.contains(&text[SECRET_KEY_PREFIX.len()..]), "{debug}");
        // A public key is not a secret key.
        let e = SigningKey::from_secret_text(&key.public_key().to_string()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Malformed);
    }

    #[test]
    fn fingerprints_differ_per_key() {
        let a = SigningKey::generate(&mut ChaCha20Rng::seed_from_u64(3)).public_key();
        let b = SigningKey::generate(&mut ChaCha20Rng::seed_from_u64(4)).public_key();
        assert!(a.fingerprint().starts_with("sha256:") && a.fingerprint().len() == 7 + 64);
        assert_ne!(a.fingerprint(), b.fingerprint());
    }
}
