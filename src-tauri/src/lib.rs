//! The Tauri shell: windows, commands and events around `usagedesk-desktop`.

mod commands;
mod events;
mod webview_env;

use std::sync::Arc;

use tauri::Manager;
use usagedesk_desktop::{Desk, DeskOptions, LaunchArgs, OpenedFiles, USAGE};
use usagedesk_domain::SystemClock;
use usagedesk_secrets::KeyringStore;

pub fn run() {
    // First, while this is the only thread.
    webview_env::lean_web_process();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("USAGEDESK_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = match LaunchArgs::from_process() {
        Ok(args) if args.help => {
            println!("{USAGE}");
            return;
        }
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let mut builder = tauri::Builder::default();
    // One window per user: a second launch hands its files to the first and focuses it. A
    // launch with its own data folder (tests, a second profile) runs on its own.
    if args.data_dir.is_none() {
        builder = builder.plugin(tauri_plugin_single_instance::init(events::second_launch));
    }
    let opened = Arc::new(OpenedFiles::default());
    opened.open(&args.files);
    let app = builder
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .manage(opened)
        .setup(move |app| {
            // The cache is local data: %LOCALAPPDATA% on Windows, not the roaming profile.
            let data_dir = match args.data_dir.clone() {
                Some(d) => d,
                None => app.path().app_local_data_dir()?,
            };
            let desk = Desk::open(
                DeskOptions::new(data_dir, args.demo),
                Arc::new(KeyringStore::detect()),
                Arc::new(SystemClock),
            )?;
            let desk = Arc::new(desk);
            desk.warm();
            app.manage(desk.clone());
            // Sync on start when there is something to sync from.
            if desk.signed_in() {
                events::spawn_sync(app.handle().clone(), desk.clone());
            }
            events::spawn_reminders(app.handle().clone(), desk);
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
            commands::entitlement_card,
            commands::license_list,
            commands::health_list,
            commands::customer_health,
            commands::renewal_calendar,
            commands::export_renewals,
            commands::attention,
            commands::attention_counts,
            commands::reminders_enabled,
            commands::set_reminders,
            commands::take_opened_files,
            commands::local_zone,
        ])
        .build(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("error: UsageDesk could not start: {e}");
            std::process::exit(1);
        });
    app.run(events::run_event);
}
