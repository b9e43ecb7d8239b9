//! Any bytes: parsing never panics, and whatever parses also goes through verification, as on
//! first contact (enrollment) and as for an instance whose key the vendor holds.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use usagedesk_airgap::{samples, SyncKey, UsageData, Verified};

fuzz_target!(|data: &[u8]| {
    static SETUP: OnceLock<Option<(samples::Samples, Verified<SyncKey>)>> = OnceLock::new();
    let setup = SETUP.get_or_init(|| {
        let s = samples::samples();
        let sync_key = SyncKey::parse(s.sync_key.as_bytes())
            .and_then(|k| k.verify(&s.root.public_key(), s.exported_at))
            .ok()?;
        Some((s, sync_key))
    });
    if let (Ok(signed), Some((s, sync_key))) = (UsageData::parse(data), setup) {
        if let Ok(usage) = signed.verify_for(sync_key, None) {
            let _ = usage.check_enrollment(&s.root.public_key(), &s.known_instance());
        }
        let _ = signed.verify_for(sync_key, Some(&s.instance.public_key()));
    }
});
