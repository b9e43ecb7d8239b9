//! Any bytes: parsing never panics, and whatever parses also goes through verification.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use usagedesk_airgap::{samples, SyncKey};

fuzz_target!(|data: &[u8]| {
    static SAMPLES: OnceLock<samples::Samples> = OnceLock::new();
    let s = SAMPLES.get_or_init(samples::samples);
    if let Ok(signed) = SyncKey::parse(data) {
        let _ = signed.verify(&s.root.public_key(), s.issued_at);
    }
});
