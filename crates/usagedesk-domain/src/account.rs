//! Accounts (tenants) and their status.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ParseError;

/// The longest account id accepted anywhere (bytes).
pub const MAX_ID_LEN: usize = 128;
/// The longest account name accepted anywhere (bytes).
pub const MAX_NAME_LEN: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AccountStatus {
    Active,
    Disabled,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccountStatus {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(Self::Active),
            "disabled" => Ok(Self::Disabled),
            _ => Err(ParseError(format!(
                "status '{s}' is neither 'active' nor 'disabled'"
            ))),
        }
    }
}

/// A tenant. Service providers have child accounts, to any depth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Account {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub status: AccountStatus,
    pub created_at: NaiveDate,
}

/// Checks an account id: non-empty, at most [`MAX_ID_LEN`] bytes, no control characters or
/// surrounding white space.
pub fn validate_id(id: &str) -> Result<(), ParseError> {
    if id.is_empty() {
        return Err(ParseError("account id is empty".into()));
    }
    if id.len() > MAX_ID_LEN {
        return Err(ParseError(format!(
            "account id is longer than {MAX_ID_LEN} bytes"
        )));
    }
    if id.trim() != id || id.chars().any(char::is_control) {
        return Err(ParseError(format!(
            "account id '{}' has surrounding spaces or control characters",
            id.escape_debug()
        )));
    }
    Ok(())
}

/// Checks an account name: non-empty, at most [`MAX_NAME_LEN`] bytes. Any UTF-8 is allowed,
/// commas, quotes and newlines included.
pub fn validate_name(name: &str) -> Result<(), ParseError> {
    if name.trim().is_empty() {
        return Err(ParseError("account name is empty".into()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ParseError(format!(
            "account name is longer than {MAX_NAME_LEN} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        assert!(validate_id("acme-01").is_ok());
        assert!(validate_id("").is_err());
        assert!(
            validate_id(" acme").is_err(),
            "leading space would make lookups ambiguous"
        );
        assert!(validate_id("a\nb").is_err());
        assert!(validate_id(&"x".repeat(MAX_ID_LEN + 1)).is_err());
    }

    #[test]
    fn names_may_hold_csv_specials() {
        assert!(validate_name("Acme, \"Inc.\"\nEurope").is_ok());
        assert!(validate_name("  ").is_err());
    }

    #[test]
    fn status_round_trips() {
        for s in [AccountStatus::Active, AccountStatus::Disabled] {
            assert_eq!(s.as_str().parse::<AccountStatus>().unwrap(), s);
        }
        assert!(
            "Active".parse::<AccountStatus>().is_err(),
            "statuses are lower case"
        );
    }
}
