//! The wire types of customer reporting.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The reported fields of an instance that its events track, in the order a check-in
/// compares them (the names of `instance_events.csv`'s `field` column and of the check-in's
/// fields).
pub const TRACKED_FIELDS: [&str; 10] = [
    "status",
    "app_version",
    "distribution",
    "kubernetes_version",
    "embedded_cluster",
    "nodes_ready",
    "nodes_total",
    "agent_version",
    "cloud_provider",
    "region",
];

/// A license's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum LicenseType {
    Prod,
    Trial,
    Dev,
    Community,
}

/// Features a license enables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LicenseFeatures {
    pub gitops: bool,
    pub airgap: bool,
    pub identity: bool,
    pub snapshots: bool,
}

/// A customer's license; it belongs to an account (the customer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct License {
    pub id: String,
    pub account_id: String,
    pub license_type: LicenseType,
    /// The release channel, e.g. `Stable`, `Beta`.
    pub channel: String,
    pub created_at: DateTime<Utc>,
    /// `None`: does not expire.
    pub expires_at: Option<DateTime<Utc>>,
    pub features: LicenseFeatures,
    /// Seats per plan id.
    pub seats: BTreeMap<String, u64>,
}

/// An instance's (aggregate) status, or one resource's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum InstanceStatus {
    Missing,
    Unavailable,
    Degraded,
    Ready,
    Updating,
}

impl InstanceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Unavailable => "unavailable",
            Self::Degraded => "degraded",
            Self::Ready => "ready",
            Self::Updating => "updating",
        }
    }
}

impl std::str::FromStr for InstanceStatus {
    type Err = crate::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "missing" => Self::Missing,
            "unavailable" => Self::Unavailable,
            "degraded" => Self::Degraded,
            "ready" => Self::Ready,
            "updating" => Self::Updating,
            _ => {
                return Err(crate::ParseError(format!(
                    "status '{s}' is none of missing, unavailable, degraded, ready, updating"
                )))
            }
        })
    }
}

/// Where an instance runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ClusterDetails {
    /// Kubernetes distribution, e.g. `eks`, `k3s`, `openshift` (empty when unknown).
    pub distribution: String,
    pub kubernetes_version: String,
    /// Installed in an embedded cluster (the vendor's own installer).
    pub embedded_cluster: bool,
    /// Embedded clusters only.
    pub nodes_ready: Option<u32>,
    pub nodes_total: Option<u32>,
    /// The version of the agent running in the cluster.
    pub agent_version: String,
    pub cloud_provider: Option<String>,
    pub region: Option<String>,
}

/// What an instance last reported, as the feed sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InstanceReport {
    pub instance_id: String,
    pub status: InstanceStatus,
    pub app_version: String,
    pub cluster: ClusterDetails,
    pub first_check_in: DateTime<Utc>,
    pub last_check_in: DateTime<Utc>,
}

/// One change of one reported field of an instance (recorded only when the value changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InstanceEvent {
    pub instance_id: String,
    /// `status`, `app_version`, `kubernetes_version`, `nodes_ready`, ...
    pub field: String,
    pub previous: Option<String>,
    pub new: String,
    pub received_at: DateTime<Utc>,
}

/// A check-in from an instance's agent (`POST /api/v1/instances/{id}/check-in`): on start,
/// on every status change, and every 4 hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CheckIn {
    /// The state of each of the application's resources (name → state); the aggregate
    /// status is computed from them ([`aggregate_status`](super::aggregate_status)).
    pub resources: BTreeMap<String, InstanceStatus>,
    pub app_version: String,
    pub cluster: ClusterDetails,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum InstallStatus {
    Succeeded,
    Stalled,
    Failed,
}

/// Online (internet-connected) or offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Connectivity {
    Online,
    Offline,
}

/// One progress step of an install attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InstallStep {
    /// e.g. `Started`, `Registry accessed`, `Images pulled`, `Assets downloaded`, `Completed`.
    pub name: String,
    pub at: DateTime<Utc>,
}

/// An install attempt by a customer's user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InstallAttempt {
    pub id: String,
    pub license_id: String,
    pub status: InstallStatus,
    pub started_at: DateTime<Utc>,
    pub user_email: String,
    /// The OS of the VM or server, or the Kubernetes distribution.
    pub environment: String,
    /// Online (internet-connected) or air gap (offline).
    pub mode: Connectivity,
    pub registry: Connectivity,
    /// In order.
    pub steps: Vec<InstallStep>,
}
