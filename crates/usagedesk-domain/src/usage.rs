//! Usage counts, month-end availability, metrics and export scopes.

use std::fmt;
use std::ops::AddAssign;
use std::str::FromStr;

use chrono::NaiveDate;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::{AccountStatus, ParseError, YearMonth};

/// The three month-end counts of an account (or the sum over a subtree).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UsageCounts {
    pub users_registered: u64,
    pub users_with_token: u64,
    pub users_with_activity: u64,
}

impl UsageCounts {
    pub fn new(users_registered: u64, users_with_token: u64, users_with_activity: u64) -> Self {
        Self {
            users_registered,
            users_with_token,
            users_with_activity,
        }
    }

    pub fn get(&self, metric: Metric) -> u64 {
        match metric {
            Metric::UsersRegistered => self.users_registered,
            Metric::UsersWithToken => self.users_with_token,
            Metric::UsersWithActivity => self.users_with_activity,
        }
    }
}

impl AddAssign for UsageCounts {
    /// Saturating: a sum of counts that each fit in `u64` is never going to be exact
    /// beyond it anyway, and a crafted input must not panic a rebuild or wrap to small.
    fn add_assign(&mut self, o: Self) {
        self.users_registered = self.users_registered.saturating_add(o.users_registered);
        self.users_with_token = self.users_with_token.saturating_add(o.users_with_token);
        self.users_with_activity = self
            .users_with_activity
            .saturating_add(o.users_with_activity);
    }
}

/// Which count a view shows, or a plan's seats are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Metric {
    UsersRegistered,
    UsersWithToken,
    UsersWithActivity,
}

impl Metric {
    pub const ALL: [Metric; 3] = [
        Self::UsersWithActivity,
        Self::UsersWithToken,
        Self::UsersRegistered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UsersRegistered => "users_registered",
            Self::UsersWithToken => "users_with_token",
            Self::UsersWithActivity => "users_with_activity",
        }
    }

    /// The metric named exactly by its column name (`users_registered`, …), as files and
    /// the database spell it; `None` for anything else.
    pub fn from_column(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::UsersRegistered => "Registered Users",
            Self::UsersWithToken => "Users with Token",
            Self::UsersWithActivity => "Users with Activity",
        }
    }
}

impl FromStr for Metric {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s || m.as_str().trim_start_matches("users_") == s)
            .ok_or_else(|| {
                ParseError(format!(
                    "metric '{s}' is unknown: use users_registered, users_with_token or users_with_activity"
                ))
            })
    }
}

/// Whether an account has a month-end value for a month (DESIGN.md, "Month-end usage").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Availability {
    Ok,
    NotAvailable,
    NonExistent,
}

impl Availability {
    /// Non-existent when the account was created after the month's last day; otherwise
    /// available exactly when a daily snapshot is dated in the month.
    pub fn of(created_at: NaiveDate, month: YearMonth, has_snapshot: bool) -> Self {
        if created_at > month.last_day() {
            Self::NonExistent
        } else if has_snapshot {
            Self::Ok
        } else {
            Self::NotAvailable
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::NotAvailable => "not_available",
            Self::NonExistent => "non_existent",
        }
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which accounts a report covers, relative to one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Scope {
    /// Only this account.
    #[default]
    #[serde(rename = "self")]
    Own,
    /// This account and its direct child accounts.
    Children,
    /// This account and every account in its subtree.
    Tree,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Own => "self",
            Self::Children => "children",
            Self::Tree => "tree",
        }
    }

    /// How many levels below the account the scope reaches (`None`: all).
    pub fn max_depth(self) -> Option<usize> {
        match self {
            Self::Own => Some(0),
            Self::Children => Some(1),
            Self::Tree => None,
        }
    }
}

impl FromStr for Scope {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "self" => Ok(Self::Own),
            "children" => Ok(Self::Children),
            "tree" => Ok(Self::Tree),
            _ => Err(ParseError(format!(
                "scope '{s}' is unknown: use self, children or tree"
            ))),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One account's month: its own month-end usage and its subtree aggregates per plan.
/// This is the line format of `usagedesk-cli usage --json` and the row of the
/// monthly-usage-summary endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AccountMonthUsage {
    pub account_id: String,
    pub account_name: String,
    pub parent_id: Option<String>,
    pub month: YearMonth,
    pub status: AccountStatus,
    pub availability: Availability,
    pub plan: Option<String>,
    pub own: Option<UsageCounts>,
    /// Every plan of the catalog, in catalog order: the sum over the account's subtree.
    pub totals: IndexMap<String, UsageCounts>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        crate::month::parse_date(s).unwrap()
    }

    #[test]
    fn availability_follows_design() {
        let may: YearMonth = "2024-05".parse().unwrap();
        assert_eq!(
            Availability::of(d("2024-06-01"), may, false),
            Availability::NonExistent
        );
        assert_eq!(
            Availability::of(d("2024-05-31"), may, false),
            Availability::NotAvailable,
            "created on the last day: the account exists in the month"
        );
        assert_eq!(
            Availability::of(d("2020-01-01"), may, true),
            Availability::Ok
        );
    }

    #[test]
    fn scope_and_metric_parse() {
        assert_eq!("self".parse::<Scope>().unwrap(), Scope::Own);
        assert_eq!(serde_json::to_string(&Scope::Own).unwrap(), "\"self\"");
        assert!("all".parse::<Scope>().is_err());
        assert_eq!(
            "with_token".parse::<Metric>().unwrap(),
            Metric::UsersWithToken
        );
        assert_eq!(
            "users_registered".parse::<Metric>().unwrap(),
            Metric::UsersRegistered
        );
    }

    #[test]
    fn counts_add_and_select() {
        let mut a = UsageCounts::new(10, 5, 2);
        a += UsageCounts::new(1, 1, 1);
        assert_eq!(a, UsageCounts::new(11, 6, 3));
        assert_eq!(a.get(Metric::UsersWithActivity), 3);
    }
}
