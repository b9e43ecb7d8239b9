use usagedesk_domain::api::ErrorCode;

/// What went wrong talking to the cloud. Every message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("'{url}' is not a valid cloud URL ({reason}); use the form https://usage.example.com")]
    BadUrl { url: String, reason: String },
    #[error("cannot reach the cloud at {url}: {reason}. Check the URL and your network; cached data stays available offline")]
    Unreachable { url: String, reason: String },
    #[error("the cloud at {url} did not answer in time; try again later")]
    Timeout { url: String },
    #[error("the cloud refused the token: {message}. Sign in again with a valid token")]
    Unauthorized { message: String },
    #[error("{url} is not a UsageDesk cloud service; check the URL")]
    NotUsageDesk { url: String },
    #[error("the cloud speaks API version {server}, this app speaks {client}; update {}", if *server > *client { "this app" } else { "the cloud service" })]
    VersionMismatch { server: u32, client: u32 },
    #[error("the cloud answered {status}: {message}")]
    Api {
        status: u16,
        code: Option<ErrorCode>,
        message: String,
        /// The cloud's `Retry-After` (seconds), when it sent one.
        retry_after: Option<std::time::Duration>,
    },
    #[error("the cloud sent a response that could not be read ({0}); try again, and report it if it persists")]
    Protocol(String),
    #[error(
        "{files} imported usage data file(s) are still queued for {others}; they are never sent \
         to another cloud or account. Confirm the switch (the files stay queued for the cloud and \
         account they were imported under, and are uploaded when this computer syncs with them \
         again), or first sync with that cloud and account to upload them"
    )]
    PendingElsewhere { files: u64, others: String },
    #[error(transparent)]
    Cache(#[from] usagedesk_cache::CacheError),
    #[error("sync was cancelled")]
    Cancelled,
}

impl SyncError {
    /// Worth trying again after a pause: the server or network may recover (timeouts, no
    /// connection, 408, 429 and 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } => true,
            Self::Api { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            _ => false,
        }
    }

    /// How long the cloud asked to wait before trying again.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn is_offline(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::Timeout { .. })
    }
}
