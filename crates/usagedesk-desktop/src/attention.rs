//! The Attention list, its badge and reminders (logic: `usagedesk-attention`). Reminders are
//! checked after each sync and on a timer; the shell only delivers the notices.

use usagedesk_attention::{
    bounds, check_reminders, AttentionCounts, AttentionKind, AttentionPage, ReminderCheck,
    MAX_ATTENTION_PAGE,
};
use usagedesk_sync::Settings;

use crate::{AppError, Desk};

impl Desk {
    /// How many items of each kind need attention now (the sidebar's badge).
    pub fn attention_counts(&self) -> Result<AttentionCounts, AppError> {
        let b = bounds(self.clock().now());
        self.read(|c| usagedesk_attention::counts(c, &b))
    }

    /// One page (`limit` 1..=500) of the Attention list, of one kind or all.
    pub fn attention(
        &self,
        kind: Option<AttentionKind>,
        offset: u64,
        limit: u64,
    ) -> Result<AttentionPage, AppError> {
        let b = bounds(self.clock().now());
        let limit = limit.clamp(1, MAX_ATTENTION_PAGE);
        self.read(|c| usagedesk_attention::page(c, &b, kind, offset, limit))
    }

    /// Whether reminders are on (the default).
    pub fn reminders_enabled(&self) -> Result<bool, AppError> {
        Ok(!Settings::load(self.data_dir())?.reminders_off)
    }

    /// Switches reminders on or off; answers the new state. Switching them on sends nothing
    /// that arose while they were off (each check records what it sees either way).
    pub fn set_reminders(&self, enabled: bool) -> Result<bool, AppError> {
        self.update_settings(|s| s.reminders_off = !enabled)?;
        Ok(enabled)
    }

    /// Records the items that newly need attention now and says what to notify (nothing when
    /// reminders are off). Waits for a running sync (it writes through the same connection).
    pub async fn check_reminders(&self) -> Result<ReminderCheck, AppError> {
        let enabled = self.reminders_enabled()?;
        let now = self.clock().now();
        let mut cache = self.writer().lock().await;
        Ok(check_reminders(&mut cache, now, enabled)?)
    }
}
