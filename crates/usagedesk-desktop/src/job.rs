//! One long job at a time (an export), with the flag that cancels it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::lock_err;
use crate::{AppError, ErrorKind};

/// The running job's cancel flag, if one runs.
#[derive(Default)]
pub(crate) struct JobSlot {
    running: Mutex<Option<Arc<AtomicBool>>>,
}

impl JobSlot {
    /// Takes the slot and hands out the new job's cancel flag; fails with
    /// [`ErrorKind::Busy`] and `busy` as the message while another job holds it.
    pub(crate) fn begin(&self, busy: &str) -> Result<Arc<AtomicBool>, AppError> {
        let mut running = self.running.lock().map_err(lock_err)?;
        if running.is_some() {
            return Err(AppError::new(ErrorKind::Busy, busy));
        }
        let flag = Arc::new(AtomicBool::new(false));
        *running = Some(flag.clone());
        Ok(flag)
    }

    /// Frees the slot (the job finished, failed or was cancelled).
    pub(crate) fn end(&self) {
        if let Ok(mut running) = self.running.lock() {
            *running = None;
        }
    }

    /// Asks the running job to stop (nothing happens when none runs).
    pub(crate) fn cancel(&self) -> Result<(), AppError> {
        if let Some(flag) = self.running.lock().map_err(lock_err)?.as_ref() {
            flag.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}
