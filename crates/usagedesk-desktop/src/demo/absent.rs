//! The demo cloud of a build without the `demo` feature: it never starts.

use std::path::Path;
use std::sync::Arc;

use usagedesk_domain::Clock;

use crate::AppError;

/// Never built: [`DemoCloud::start`] always refuses.
pub enum DemoCloud {}

impl DemoCloud {
    pub async fn start(
        _dir: &Path,
        _accounts: usize,
        _clock: Arc<dyn Clock>,
    ) -> Result<Self, AppError> {
        Err(super::no_demo())
    }

    pub fn url(&self) -> String {
        match *self {}
    }

    pub fn token(&self) -> &str {
        match *self {}
    }
}
