//! The Tauri shell: windows, commands and events around `usagedesk-desktop`.

mod commands;
mod events;

use std::path::PathBuf;
use std::sync::Arc;

use tauri::Manager;
use usagedesk_desktop::{Desk, DeskOptions};
use usagedesk_domain::SystemClock;
use usagedesk_secrets::KeyringStore;

/// Command-line options: `--demo` opens straight into the embedded demo, `--data-dir DIR`
/// puts the cache elsewhere (tests).
struct Args {
    demo: bool,
    data_dir: Option<PathBuf>,
}

fn parse_args() -> Args {
    let mut args = Args {
        demo: std::env::var_os("USAGEDESK_DEMO").is_some(),
        data_dir: std::env::var_os("USAGEDESK_DATA_DIR").map(PathBuf::from),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--demo" => args.demo = true,
            "--data-dir" => args.data_dir = it.next().map(PathBuf::from),
            _ => {}
        }
    }
    args
}

pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("USAGEDESK_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = parse_args();
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(move |app| {
            let data_dir = match args.data_dir.clone() {
                Some(d) => d,
                None => app.path().app_data_dir()?,
            };
            let desk = Desk::open(
                DeskOptions::new(data_dir, args.demo),
                Arc::new(KeyringStore::detect()),
                Arc::new(SystemClock),
            )?;
            let desk = Arc::new(desk);
            app.manage(desk.clone());
            // Sync on start when there is something to sync from.
            if desk.status().map(|s| s.signed_in).unwrap_or(false) {
                events::spawn_sync(app.handle().clone(), desk);
            }
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::connect,
            commands::start_demo,
            commands::sync_now,
            commands::cancel_sync,
            commands::sign_out,
            commands::clear_cache,
            commands::plans,
            commands::completed_months,
            commands::children,
            commands::account_detail,
            commands::search,
            commands::trend,
            commands::export_preview,
            commands::export_csv,
            commands::cancel_export,
            commands::airgap_instances,
            commands::airgap_overdue_count,
            commands::airgap_ledger,
            commands::airgap_retry,
            commands::airgap_discard,
            commands::airgap_issue_sync_key,
            commands::airgap_preview,
            commands::airgap_import,
            commands::airgap_save_document,
            commands::customers,
            commands::customer_counts,
            commands::customer,
            commands::customer_instances,
            commands::install_attempts,
            commands::instance_detail,
            commands::instance_events,
        ])
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("error: UsageDesk could not start: {e}");
            std::process::exit(1);
        });
}
