//! Any bytes: parsing never panics, and whatever parses also goes through verification.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use usagedesk_airgap::{samples, ExpectedAnswer, PublicKey, SyncKey, UsageData, VerificationKey};

type Setup = Option<(PublicKey, ExpectedAnswer, chrono::DateTime<chrono::Utc>)>;

fuzz_target!(|data: &[u8]| {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    let setup = SETUP.get_or_init(|| {
        let s = samples::samples();
        let root = s.root.public_key();
        let sync_key = SyncKey::parse(s.sync_key.as_bytes()).ok()?.verify(&root, s.exported_at).ok()?;
        let usage = UsageData::parse(s.usage_data.as_bytes()).ok()?.verify_for(&sync_key, None).ok()?;
        Some((root, usage.expected_answer(), s.confirmed_at))
    });
    if let (Ok(signed), Some((root, expected, at))) = (VerificationKey::parse(data), setup) {
        let _ = signed.verify(root, expected, *at);
    }
});
