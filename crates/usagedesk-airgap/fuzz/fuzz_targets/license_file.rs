//! Any bytes: parsing never panics, and whatever parses also goes through verification and,
//! when it verifies, makes an enrollment that the same checks accept.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use usagedesk_airgap::{samples, Enrollment, LicenseFile};

fuzz_target!(|data: &[u8]| {
    static SAMPLES: OnceLock<samples::Samples> = OnceLock::new();
    let s = SAMPLES.get_or_init(samples::samples);
    let root = s.root.public_key();
    if let Ok(signed) = LicenseFile::parse(data) {
        if let Ok(file) = signed.verify(&root, s.licensed_at) {
            // Only the root signs license files: a verified one is the sample, byte for byte.
            assert_eq!(file.text(), s.license_file);
            let key = s.instance.public_key();
            let enrollment = file.enroll(&key);
            let back = Enrollment::from_json(enrollment.to_json().as_bytes()).expect("round trip");
            back.verify(&root, &key, &s.known_instance(), s.licensed_at)
                .expect("the sample's own enrollment verifies");
        }
    }
    // The online transport form of an enrollment, too.
    if let Ok(enrollment) = Enrollment::from_json(data) {
        let _ = enrollment.verify(&root, &s.instance.public_key(), &s.known_instance(), s.licensed_at);
    }
});
