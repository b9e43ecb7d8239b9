//! Account health and the renewal calendar (logic: `usagedesk-health`). The stored scores are
//! brought up to today through the writing connection when they lag (after a sync, on a new
//! day), in the background on a thread of their own; every page is read through the reading
//! one at once (on the view lane, as the commands call them), saying whether the scores it
//! shows are being recomputed.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use usagedesk_cache::{CacheError, MAX_HEALTH_PAGE};
use usagedesk_health::{
    CustomerHealth, Factor, HealthError, HealthPage, RenewalCalendar, MAX_RENEWAL_MONTHS,
};

use crate::desk::LargeJob;
use crate::{AppError, Desk, ErrorKind};

impl From<HealthError> for AppError {
    fn from(e: HealthError) -> Self {
        match e {
            HealthError::Cache(e) => e.into(),
            HealthError::Io { .. } | HealthError::Csv(_) => {
                AppError::new(ErrorKind::Io, format!("{e}; choose another file or folder"))
            }
        }
    }
}

/// The flag of the computation under way, cleared when dropped (with the closure of a thread
/// that never started, too).
struct Running(Arc<AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

fn window(offset: u64, limit: u64) -> Result<(usize, usize), AppError> {
    let offset = usize::try_from(offset).map_err(|_| AppError::invalid("offset too large"))?;
    Ok((offset, (limit as usize).clamp(1, MAX_HEALTH_PAGE)))
}

impl Desk {
    /// Whether the stored scores are today's and current. When not, starts their
    /// recomputation in the background (one at a time, through the writing connection) and
    /// answers `false` at once: the views read the stored scores meanwhile and say they are
    /// being recomputed, instead of waiting for every customer's computation.
    pub(crate) fn health_current(&self) -> Result<bool, AppError> {
        let now = self.clock().now();
        if self.read(|c| c.health().as_of())? == Some(now.date_naive()) {
            return Ok(true);
        }
        let job = self.health_job();
        if job.swap(true, Ordering::SeqCst) {
            return Ok(false);
        }
        let (writer, clock) = (self.writer_handle(), self.clock_handle());
        let running = Running(job);
        let started = std::thread::Builder::new()
            .name("usagedesk-health".into())
            .spawn(move || {
                let mut writer = writer.blocking_lock();
                // Cleared however the computation ends, a panic included (a flag left set would
                // keep every later page saying "computing" and starting nothing), and before
                // the writer is given back: a sync that lands next starts the next computation.
                let _running = running;
                let started = std::time::Instant::now();
                let computed = LargeJob::health(&mut writer).and_then(|mut cache| {
                    Ok(usagedesk_health::ensure_current(&mut cache, clock.now())?)
                });
                match computed {
                    Ok(true) => tracing::info!(
                        "account health recomputed in {:.1} s",
                        started.elapsed().as_secs_f64()
                    ),
                    Ok(false) => {}
                    Err(e) => tracing::warn!("account health was not recomputed: {e}"),
                }
            });
        if let Err(e) = started {
            tracing::warn!("account health was not recomputed: no thread for it ({e})");
        }
        Ok(false)
    }

    /// One page (`limit` 1..=500) of the customers by health, or by one factor (`sort`),
    /// lowest first unless `descending`.
    pub fn health_list(
        &self,
        sort: Option<Factor>,
        descending: bool,
        offset: u64,
        limit: u64,
    ) -> Result<HealthPage, AppError> {
        let (offset, limit) = window(offset, limit)?;
        let current = self.health_current()?;
        let mut page =
            self.read(|c| usagedesk_health::health_page(c, sort, descending, offset, limit))?;
        page.computing = !current;
        Ok(page)
    }

    /// One customer's health with its factors; `not_found` for an account holding no license.
    pub fn customer_health(&self, account_id: &str) -> Result<CustomerHealth, AppError> {
        self.health_current()?;
        self.read(|c| {
            usagedesk_health::customer_health_of(c, account_id)?.ok_or_else(|| {
                CacheError::UnknownAccount {
                    id: account_id.to_owned(),
                }
            })
        })
    }

    /// One page of the licenses ending this month and the `months − 1` after it.
    pub fn renewal_calendar(
        &self,
        months: u32,
        offset: u64,
        limit: u64,
    ) -> Result<RenewalCalendar, AppError> {
        if months == 0 || months > MAX_RENEWAL_MONTHS {
            return Err(AppError::invalid(format!(
                "months must be 1 to {MAX_RENEWAL_MONTHS}, not {months}"
            )));
        }
        let (offset, limit) = window(offset, limit)?;
        let current = self.health_current()?;
        let now = self.clock().now();
        let mut calendar =
            self.read(|c| usagedesk_health::renewal_page(c, now, months, offset, limit))?;
        calendar.computing = !current;
        Ok(calendar)
    }

    /// Writes the calendar of `months` months to `path` as CSV (whole or not at all);
    /// returns the licenses written.
    pub async fn export_renewals(&self, months: u32, path: &str) -> Result<u64, AppError> {
        if months == 0 || months > MAX_RENEWAL_MONTHS {
            return Err(AppError::invalid(format!(
                "months must be 1 to {MAX_RENEWAL_MONTHS}, not {months}"
            )));
        }
        let now = self.clock().now();
        let mut writer = self.writer().lock().await;
        // It brings the scores up to date first when they lag.
        let mut cache = LargeJob::health(&mut writer)?;
        Ok(usagedesk_health::export_renewals(
            &mut cache,
            now,
            months,
            Path::new(path),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_flag_is_cleared_when_its_thread_panics() {
        let flag = Arc::new(AtomicBool::new(true));
        let running = Running(flag.clone());
        let ended = std::thread::spawn(move || {
            let _running = running;
            panic!("a bug in the computation");
        })
        .join();
        assert!(ended.is_err(), "the thread panicked");
        assert!(
            !flag.load(Ordering::SeqCst),
            "the next page may start a computation again"
        );
    }
}
