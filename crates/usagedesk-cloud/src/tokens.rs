//! Manager and ingest API tokens: random, shown once, stored only as a SHA-256 hash, known
//! by a public id (`tok-…`) that is safe to print and revoke by.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every token starts with this, so a leaked one is easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "udk_";
/// Longest bearer token accepted (bytes); anything longer is refused before hashing.
pub const MAX_TOKEN_LEN: usize = 256;
/// Every token id starts with this (never with [`TOKEN_PREFIX`]: an id is not a secret).
pub const ID_PREFIX: &str = "tok-";

/// A new token from `rng` (the caller passes the randomness: the OS in production, a seed in tests).
pub fn generate(rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// A new public token id from `rng`: `tok-` and 12 hex digits.
pub fn generate_id(rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 6];
    rng.fill_bytes(&mut bytes);
    format!("{ID_PREFIX}{}", hex::encode(bytes))
}

/// Whether `id` has the form of a token id.
pub fn is_id(id: &str) -> bool {
    id.strip_prefix(ID_PREFIX)
        .is_some_and(|h| h.len() == 12 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn tokens_are_prefixed_random_and_hashed() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let a = generate(&mut rng);
        let b = generate(&mut rng);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64);
        assert_ne!(a, b, "two draws from the generator differ");
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
        assert!(
            !usagedesk_domain::redact::redact_secrets(&a).contains(&a[TOKEN_PREFIX.len()..]),
            "messages mask tokens"
        );
        let id = generate_id(&mut rng);
        assert!(is_id(&id) && !id.starts_with(TOKEN_PREFIX), "{id}");
        assert!(!is_id(&a) && !is_id("tok-12") && !is_id("tok-zzzzzzzzzzzz"));
    }
}
