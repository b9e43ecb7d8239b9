//! Reminders: which items a check notifies. An item is notified once per occurrence of its
//! condition (`docs/attention.md`): the check records every occurrence it sees in the cache,
//! so a later check, a restart or a second process never notifies it again, and a new
//! occurrence (an instance overdue again after a new exchange, a renewed license expiring
//! again, another month over seats) is notified anew.
//!
//! With reminders off the check still records what it sees (as not notified) and sends
//! nothing: switching them on later sends only what arises from then on, never a burst of
//! what arose meanwhile.

use chrono::{DateTime, Utc};
use serde::Serialize;
use usagedesk_cache::{Cache, CacheError};

use crate::{bounds, AttentionItem};

/// At most this many new items are notified one by one; more make one summary notice.
pub const MAX_NOTICES: usize = 3;

/// A desktop notification to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub title: String,
    pub body: String,
}

/// What a check found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReminderCheck {
    /// Occurrences seen for the first time (recorded, notified or not).
    pub new: u64,
    /// New occurrences per kind (overdue, expiring, over seats).
    pub new_by_kind: [u64; 3],
    /// What to deliver (empty when reminders are off or nothing is new).
    pub notices: Vec<Notice>,
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Checks for new occurrences at `now` and records them; with `enabled`, says what to
/// notify: each new item (at most [`MAX_NOTICES`]), or one summary of them all.
pub fn check_reminders(
    cache: &mut Cache,
    now: DateTime<Utc>,
    enabled: bool,
) -> Result<ReminderCheck, CacheError> {
    let b = bounds(now);
    // One more than can be notified one by one (more make a summary); none when nothing is sent.
    let wanted = if enabled { MAX_NOTICES + 1 } else { 0 };
    let noted = cache.attention_mut().note(&b, now, enabled, wanted)?;
    let new = noted.total();
    let by_kind = noted.new_by_kind;
    let first: Vec<AttentionItem> = noted
        .first
        .into_iter()
        .map(AttentionItem::from_row)
        .collect();
    let notices = if !enabled || new == 0 {
        Vec::new()
    } else if first.len() <= MAX_NOTICES {
        first
            .into_iter()
            .map(|i| Notice {
                title: i.title,
                body: i.next_step,
            })
            .collect()
    } else {
        let parts: Vec<String> = [
            (by_kind[0], "instance overdue", "instances overdue"),
            (by_kind[1], "license expiring", "licenses expiring"),
            (
                by_kind[2],
                "license over its seats",
                "licenses over their seats",
            ),
        ]
        .into_iter()
        .filter(|(n, ..)| *n > 0)
        .map(|(n, one, many)| plural(n, one, many))
        .collect();
        vec![Notice {
            title: format!("{} need attention", plural(new, "item", "items")),
            body: format!(
                "{}. Open Attention in UsageDesk to see them.",
                parts.join(", ")
            ),
        }]
    };
    Ok(ReminderCheck {
        new,
        new_by_kind: by_kind,
        notices,
    })
}
