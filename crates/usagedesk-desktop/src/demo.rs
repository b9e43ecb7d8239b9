//! "Explore with demo data", in builds with the `demo` feature (the app's default): the real
//! cloud service and the demo generator, linked in only then. Without it, `--demo` and
//! `start_demo` answer [`no_demo`].

/// Accounts in the demo dataset unless `USAGEDESK_DEMO_ACCOUNTS` says otherwise.
pub const DEFAULT_DEMO_ACCOUNTS: usize = 3_000;

/// Whether this build carries the demo (the `demo` feature).
pub const AVAILABLE: bool = cfg!(feature = "demo");

#[cfg(not(feature = "demo"))]
mod absent;
#[cfg(feature = "demo")]
mod cloud;

#[cfg(not(feature = "demo"))]
pub use absent::DemoCloud;
#[cfg(feature = "demo")]
pub use cloud::DemoCloud;

use crate::AppError;

/// The answer of a build without the demo to everything that would start it.
pub(crate) fn no_demo() -> AppError {
    AppError::invalid(
        "this build has no demo: it was built without the `demo` feature. Connect to your \
         cloud instead, or run a build with the demo (the default build)",
    )
}
