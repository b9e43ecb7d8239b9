//! Customer data as PostgreSQL stores it: the text of each enum, the columns a read selects,
//! and a row read back as its domain type. Used by the customers' writes and reads, the feed
//! (which reads changed rows back) and the load.

use sqlx::postgres::{PgConnection, PgRow};
use usagedesk_domain::customer::{
    ClusterDetails, Connectivity, InstallAttempt, InstallStatus, InstallStep, InstanceEvent,
    InstanceReport, InstanceStatus, License, LicenseType,
};

use super::{col, opt_time_col, time_col};
use crate::customers::rules::{features_from_bits, seats_from_text};
use crate::storage::StoreError;

fn bad(what: &str, value: &str) -> StoreError {
    StoreError::other(format!("unexpected stored {what} '{value}'"))
}

pub(super) fn license_type_text(t: LicenseType) -> &'static str {
    match t {
        LicenseType::Prod => "prod",
        LicenseType::Trial => "trial",
        LicenseType::Dev => "dev",
        LicenseType::Community => "community",
    }
}

pub(super) fn install_status_text(s: InstallStatus) -> &'static str {
    match s {
        InstallStatus::Succeeded => "succeeded",
        InstallStatus::Stalled => "stalled",
        InstallStatus::Failed => "failed",
    }
}

pub(super) fn mode_text(c: Connectivity) -> &'static str {
    match c {
        Connectivity::Online => "online",
        Connectivity::Offline => "airgap",
    }
}

pub(super) fn registry_text(c: Connectivity) -> &'static str {
    match c {
        Connectivity::Online => "online",
        Connectivity::Offline => "offline",
    }
}

fn opt_u32_col(r: &PgRow, i: usize) -> Result<Option<u32>, StoreError> {
    col::<Option<i64>>(r, i)?
        .map(|n| u32::try_from(n).map_err(|_| bad("node count", &n.to_string())))
        .transpose()
}

/// The columns [`license_row`] reads after the id and account (table alias `l`).
pub(super) const LICENSE_COLS: &str =
    "l.type, l.channel, l.created_at, l.expires_at, l.features, l.seats";

pub(super) fn license_row(
    r: &PgRow,
    at: usize,
    id: String,
    account_id: String,
) -> Result<License, StoreError> {
    let t: &str = col(r, at)?;
    let license_type = match t {
        "prod" => LicenseType::Prod,
        "trial" => LicenseType::Trial,
        "dev" => LicenseType::Dev,
        "community" => LicenseType::Community,
        _ => return Err(bad("license type", t)),
    };
    let seats: &str = col(r, at + 5)?;
    Ok(License {
        id,
        account_id,
        license_type,
        channel: col(r, at + 1)?,
        created_at: time_col(r, at + 2)?,
        expires_at: opt_time_col(r, at + 3)?,
        features: features_from_bits(col(r, at + 4)?),
        seats: seats_from_text(seats).ok_or_else(|| bad("seats", seats))?,
    })
}

/// The columns [`report_row`] reads after the instance id (table alias `r`).
pub(super) const REPORT_COLS: &str = "r.status, r.app_version, r.distribution, \
     r.kubernetes_version, r.embedded_cluster, r.nodes_ready, r.nodes_total, r.agent_version, \
     r.cloud_provider, r.region, r.first_check_in, r.last_check_in";

pub(super) fn report_row(
    r: &PgRow,
    at: usize,
    instance_id: String,
) -> Result<InstanceReport, StoreError> {
    let status: &str = col(r, at)?;
    Ok(InstanceReport {
        instance_id,
        status: status
            .parse::<InstanceStatus>()
            .map_err(|_| bad("status", status))?,
        app_version: col(r, at + 1)?,
        cluster: ClusterDetails {
            distribution: col(r, at + 2)?,
            kubernetes_version: col(r, at + 3)?,
            embedded_cluster: col(r, at + 4)?,
            nodes_ready: opt_u32_col(r, at + 5)?,
            nodes_total: opt_u32_col(r, at + 6)?,
            agent_version: col(r, at + 7)?,
            cloud_provider: col(r, at + 8)?,
            region: col(r, at + 9)?,
        },
        first_check_in: time_col(r, at + 10)?,
        last_check_in: time_col(r, at + 11)?,
    })
}

/// The columns [`event_row`] reads (table alias `e`).
pub(super) const EVENT_COLS: &str = "e.instance_id, e.field, e.previous, e.new, e.received_at";

pub(super) fn event_row(r: &PgRow, at: usize) -> Result<InstanceEvent, StoreError> {
    Ok(InstanceEvent {
        instance_id: col(r, at)?,
        field: col(r, at + 1)?,
        previous: col(r, at + 2)?,
        new: col(r, at + 3)?,
        received_at: time_col(r, at + 4)?,
    })
}

/// The columns [`attempt_row`] reads after the id (table alias `t`).
pub(super) const ATTEMPT_COLS: &str =
    "t.license_id, t.status, t.started_at, t.user_email, t.environment, t.mode, t.registry";

pub(super) fn attempt_row(r: &PgRow, at: usize, id: String) -> Result<InstallAttempt, StoreError> {
    let status: String = col(r, at + 1)?;
    let mode: String = col(r, at + 5)?;
    let registry: String = col(r, at + 6)?;
    Ok(InstallAttempt {
        id,
        license_id: col(r, at)?,
        status: match status.as_str() {
            "succeeded" => InstallStatus::Succeeded,
            "stalled" => InstallStatus::Stalled,
            "failed" => InstallStatus::Failed,
            _ => return Err(bad("install status", &status)),
        },
        started_at: time_col(r, at + 2)?,
        user_email: col(r, at + 3)?,
        environment: col(r, at + 4)?,
        mode: match mode.as_str() {
            "online" => Connectivity::Online,
            "airgap" => Connectivity::Offline,
            _ => return Err(bad("install mode", &mode)),
        },
        registry: match registry.as_str() {
            "online" => Connectivity::Online,
            "offline" => Connectivity::Offline,
            _ => return Err(bad("registry", &registry)),
        },
        steps: Vec::new(),
    })
}

pub(super) async fn steps_of(
    conn: &mut PgConnection,
    attempt_id: &str,
) -> Result<Vec<InstallStep>, StoreError> {
    let rows =
        sqlx::query("SELECT name, at FROM install_steps WHERE attempt_id = $1 ORDER BY position")
            .bind(attempt_id)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(InstallStep {
                name: col(r, 0)?,
                at: time_col(r, 1)?,
            })
        })
        .collect()
}
