pub mod accounts;
pub mod airgap;
pub mod airgap_lists;
pub mod attention;
pub mod customers;
pub mod entitlements;
pub mod export;
pub mod export_verify;
pub mod health;
pub mod login;
pub mod sync;
pub mod usage;

/// A runtime for the commands that talk to the cloud.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
