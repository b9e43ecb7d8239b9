//! Manager and ingest tokens, stored by hash only.

use chrono::{DateTime, Utc};

use super::StoreError;

/// What a token may see: the whole vendor, or one account's subtree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    All,
    Subtree(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Reads through the manager API and the change feed.
    Manager,
    /// Posts daily usage.
    Ingest,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manager => "manager",
            Self::Ingest => "ingest",
        }
    }
}

/// A token as authentication finds it, whether or not it is still valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The public id (`tok-…`), safe to print.
    pub id: String,
    pub scope: TokenScope,
    pub kind: TokenKind,
    pub name: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Whether a token may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Active,
    Expired,
    Revoked,
}

impl TokenState {
    pub fn of(
        expires_at: Option<DateTime<Utc>>,
        revoked_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        if revoked_at.is_some() {
            Self::Revoked
        } else if expires_at.is_some_and(|e| e <= now) {
            Self::Expired
        } else {
            Self::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

impl TokenGrant {
    pub fn state(&self, now: DateTime<Utc>) -> TokenState {
        TokenState::of(self.expires_at, self.revoked_at, now)
    }
}

/// A token to store: only its hash, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub hash: [u8; 32],
    /// `tok-` and 12 hex digits ([`crate::tokens::generate_id`]).
    pub id: String,
    pub scope: TokenScope,
    pub kind: TokenKind,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// `None`: valid until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored token, for `usagedesk-cloud token list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub kind: TokenKind,
    pub scope: TokenScope,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenInfo {
    pub fn state(&self, now: DateTime<Utc>) -> TokenState {
        TokenState::of(self.expires_at, self.revoked_at, now)
    }
}

/// A certificate whose token was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedCertificate {
    pub token_id: String,
    pub subject: String,
    pub revoked_at: DateTime<Utc>,
}

/// Tokens: stored by their SHA-256, found by it, listed and revoked by their public id.
pub trait Tokens {
    /// Stores a token by its SHA-256 hash, with a new random id and no expiry.
    fn create_token(
        &self,
        hash: [u8; 32],
        scope: &TokenScope,
        kind: TokenKind,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.add_token(&NewToken {
            hash,
            id: crate::tokens::generate_id(&mut rand::rngs::OsRng),
            scope: scope.clone(),
            kind,
            name: name.to_owned(),
            created_at: now,
            expires_at: None,
        })
    }

    /// Stores a token by its hash; its account must exist ([`StoreError::Invalid`]).
    fn add_token(&self, token: &NewToken) -> Result<(), StoreError>;

    /// The token with this hash, revoked and expired ones included.
    fn authenticate(&self, hash: [u8; 32]) -> Result<Option<TokenGrant>, StoreError>;

    /// Every token, oldest first.
    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;

    /// Revokes the token with this id (at `now`, or keeps the earlier revocation).
    /// [`StoreError::NotFound`] when there is none.
    fn revoke_token(&self, id: &str, now: DateTime<Utc>) -> Result<TokenInfo, StoreError>;

    /// The certificate with this SHA-256 (of its compact JSON), when the token it was issued
    /// to is revoked.
    fn revoked_certificate(
        &self,
        certificate_sha256: &str,
    ) -> Result<Option<RevokedCertificate>, StoreError>;
}
