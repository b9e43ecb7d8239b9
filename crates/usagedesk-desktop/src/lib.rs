//! The desktop app's logic, free of Tauri. The Tauri shell (`src-tauri/`) only adapts these
//! methods to commands and events; tests drive them directly against the real cloud service.

mod airgap;
mod attention;
mod bindings;
mod customers;
mod demo;
mod desk;
mod entitlements;
mod error;
mod export;
mod health;
mod job;
mod lanes;
mod launch;
mod local_zone;
mod opened;
mod status;
pub mod webview_env;

pub use airgap::{DroppedFile, InstanceView};
pub use bindings::typescript_bindings;
#[cfg(feature = "demo")]
pub use demo::DemoCloud;
pub use desk::{AccountDetail, Desk, DeskOptions, MAX_PAGE, MAX_SEARCH, MAX_TREND};
pub use error::{AppError, ErrorKind};
pub use export::GENERATOR;
pub use launch::{ArgsError, LaunchArgs, USAGE};
pub use local_zone::{local_zone, LocalZone, ZoneChange};
pub use opened::{inspect, KeyFacts, OpenedFile, OpenedFiles, OpenedKind};
pub use status::{AppStatus, SyncFinished};
pub use usagedesk_attention::{
    AttentionCounts, AttentionItem, AttentionKind, AttentionPage, Notice, ReminderCheck,
};
pub use usagedesk_customers::{
    CustomerCounts, CustomerFilter, CustomerPage, CustomerSort, CustomerSummary, InstanceCard,
    InstanceCounts, InstanceDetail,
};
pub use usagedesk_entitlements::{
    EntitlementCard, EntitlementTrend, LicenseFilter, LicenseListItem, PlanRollup,
};
pub use usagedesk_exchange::{ImportOutcome, ImportPreview, IssuedSyncKey};
pub use usagedesk_export::{
    ExportOutcome, ExportPlan, ExportProgress, ExportReport, ExportRequest,
};
pub use usagedesk_health::{
    CustomerHealth, Factor as HealthFactor, FactorScore, HealthPage, Renewal, RenewalCalendar,
    RenewalMonth, RenewalPlan,
};
