//! TypeScript declarations of every type that crosses IPC, generated from the Rust types by
//! ts-rs into `ui/src/lib/bindings/index.ts`. A test fails when the committed file drifts;
//! `UPDATE_BINDINGS=1 cargo test -p usagedesk-desktop bindings` rewrites it.

use ts_rs::{Config, TS};

use crate::{AccountDetail, AppError, AppStatus, ErrorKind, SyncFinished};

fn decl<T: TS>(cfg: &Config) -> String {
    format!("export {}\n", T::decl(cfg))
}

/// The whole generated file.
pub fn typescript_bindings() -> String {
    let cfg = Config::new().with_large_int("number");
    let decls = [
        decl::<usagedesk_domain::YearMonth>(&cfg),
        decl::<usagedesk_domain::Metric>(&cfg),
        decl::<usagedesk_domain::Availability>(&cfg),
        decl::<usagedesk_domain::AccountStatus>(&cfg),
        decl::<usagedesk_domain::Scope>(&cfg),
        decl::<usagedesk_domain::UsageCounts>(&cfg),
        decl::<usagedesk_domain::Plan>(&cfg),
        decl::<usagedesk_domain::Account>(&cfg),
        decl::<usagedesk_domain::AccountMonthUsage>(&cfg),
        decl::<usagedesk_cache::SubtreeCounts>(&cfg),
        decl::<usagedesk_cache::AccountRow>(&cfg),
        decl::<usagedesk_cache::Page<()>>(&cfg),
        decl::<usagedesk_cache::ChildSort>(&cfg),
        decl::<usagedesk_cache::SearchMatch>(&cfg),
        decl::<usagedesk_cache::SearchHit>(&cfg),
        decl::<usagedesk_cache::TrendPoint>(&cfg),
        decl::<usagedesk_sync::Phase>(&cfg),
        decl::<usagedesk_sync::Progress>(&cfg),
        decl::<usagedesk_sync::SyncReport>(&cfg),
        decl::<usagedesk_export::ExportReport>(&cfg),
        decl::<usagedesk_export::ExportRequest>(&cfg),
        decl::<usagedesk_export::ExportPlan>(&cfg),
        decl::<usagedesk_export::ExportProgress>(&cfg),
        decl::<usagedesk_export::ExportSignature>(&cfg),
        decl::<usagedesk_export::ExportOutcome>(&cfg),
        decl::<usagedesk_domain::Instance>(&cfg),
        decl::<usagedesk_cache::AirgapInstance>(&cfg),
        decl::<usagedesk_cache::LedgerEvent>(&cfg),
        decl::<usagedesk_cache::UploadState>(&cfg),
        decl::<usagedesk_cache::LedgerEntry>(&cfg),
        decl::<usagedesk_cache::InstanceKind>(&cfg),
        decl::<usagedesk_cache::InstanceSort>(&cfg),
        decl::<usagedesk_cache::InstanceQuery>(&cfg),
        decl::<usagedesk_cache::AirgapPage<()>>(&cfg),
        decl::<usagedesk_cache::LedgerQuery>(&cfg),
        decl::<usagedesk_cache::OutboxBinding>(&cfg),
        decl::<usagedesk_cache::QueuedUpload>(&cfg),
        decl::<usagedesk_cache::LedgerRow>(&cfg),
        decl::<usagedesk_cache::OutboxElsewhere>(&cfg),
        decl::<usagedesk_cache::OutboxSummary>(&cfg),
        decl::<usagedesk_sync::outbox::PushReport>(&cfg),
        decl::<usagedesk_exchange::ImportPreview>(&cfg),
        decl::<usagedesk_exchange::ImportOutcome>(&cfg),
        decl::<usagedesk_exchange::IssuedSyncKey>(&cfg),
        decl::<crate::InstanceView>(&cfg),
        decl::<crate::DroppedFile>(&cfg),
        decl::<usagedesk_domain::customer::LicenseType>(&cfg),
        decl::<usagedesk_domain::customer::LicenseFeatures>(&cfg),
        decl::<usagedesk_domain::customer::License>(&cfg),
        decl::<usagedesk_domain::customer::InstanceStatus>(&cfg),
        decl::<usagedesk_domain::customer::ClusterDetails>(&cfg),
        decl::<usagedesk_domain::customer::InstanceReport>(&cfg),
        decl::<usagedesk_domain::customer::InstanceEvent>(&cfg),
        decl::<usagedesk_domain::customer::InstallStatus>(&cfg),
        decl::<usagedesk_domain::customer::Connectivity>(&cfg),
        decl::<usagedesk_domain::customer::InstallStep>(&cfg),
        decl::<usagedesk_domain::customer::InstallAttempt>(&cfg),
        decl::<usagedesk_domain::customer::Activity>(&cfg),
        decl::<usagedesk_domain::customer::Uptime>(&cfg),
        decl::<usagedesk_domain::customer::UptimeBar>(&cfg),
        decl::<usagedesk_domain::customer::TimeToInstall>(&cfg),
        decl::<usagedesk_customers::CustomerFilter>(&cfg),
        decl::<usagedesk_customers::CustomerSort>(&cfg),
        decl::<usagedesk_customers::CustomerCounts>(&cfg),
        decl::<usagedesk_customers::InstanceCounts>(&cfg),
        decl::<usagedesk_customers::CustomerSummary>(&cfg),
        decl::<usagedesk_customers::InstanceCard>(&cfg),
        decl::<usagedesk_customers::CustomerPage>(&cfg),
        decl::<usagedesk_customers::InstanceDetail>(&cfg),
        decl::<usagedesk_entitlements::Entitlement>(&cfg),
        decl::<usagedesk_entitlements::UsedPoint>(&cfg),
        decl::<usagedesk_entitlements::EntitlementTrend>(&cfg),
        decl::<usagedesk_entitlements::RollupPoint>(&cfg),
        decl::<usagedesk_entitlements::PlanRollup>(&cfg),
        decl::<usagedesk_entitlements::EntitlementCard>(&cfg),
        decl::<usagedesk_entitlements::LicenseFilter>(&cfg),
        decl::<usagedesk_entitlements::LicenseListItem>(&cfg),
        decl::<usagedesk_health::Factor>(&cfg),
        decl::<usagedesk_health::FactorScore>(&cfg),
        decl::<usagedesk_health::CustomerHealth>(&cfg),
        decl::<usagedesk_health::HealthPage>(&cfg),
        decl::<usagedesk_health::RenewalPlan>(&cfg),
        decl::<usagedesk_health::Renewal>(&cfg),
        decl::<usagedesk_health::RenewalMonth>(&cfg),
        decl::<usagedesk_health::RenewalCalendar>(&cfg),
        decl::<usagedesk_attention::AttentionKind>(&cfg),
        decl::<usagedesk_attention::AttentionItem>(&cfg),
        decl::<usagedesk_attention::AttentionCounts>(&cfg),
        decl::<usagedesk_attention::AttentionPage>(&cfg),
        decl::<ErrorKind>(&cfg),
        decl::<AppError>(&cfg),
        decl::<AppStatus>(&cfg),
        decl::<AccountDetail>(&cfg),
        decl::<SyncFinished>(&cfg),
        decl::<crate::OpenedKind>(&cfg),
        decl::<crate::KeyFacts>(&cfg),
        decl::<crate::OpenedFile>(&cfg),
        decl::<crate::ZoneChange>(&cfg),
        decl::<crate::LocalZone>(&cfg),
    ];
    format!(
        "// Generated from the Rust types by ts-rs (crates/usagedesk-desktop/src/bindings.rs).\n// Do not edit: run `UPDATE_BINDINGS=1 cargo test -p usagedesk-desktop bindings`.\n\n{}",
        decls.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn bindings_match_the_committed_file() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings/index.ts");
        let generated = super::typescript_bindings();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "ui/src/lib/bindings/index.ts is out of date with the Rust types; run `UPDATE_BINDINGS=1 cargo test -p usagedesk-desktop bindings`"
        );
    }
}
