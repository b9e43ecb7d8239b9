//! Any bytes: parsing never panics, and whatever parses also goes through verification.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use usagedesk_airgap::{samples, SyncKey, UsageData, Verified};

fuzz_target!(|data: &[u8]| {
    static SYNC_KEY: OnceLock<Option<Verified<SyncKey>>> = OnceLock::new();
    let sync_key = SYNC_KEY.get_or_init(|| {
        let s = samples::samples();
        SyncKey::parse(s.sync_key.as_bytes())
            .and_then(|k| k.verify(&s.root.public_key(), s.exported_at))
            .ok()
    });
    if let (Ok(signed), Some(sync_key)) = (UsageData::parse(data), sync_key) {
        let _ = signed.verify_for(sync_key, None);
    }
});
