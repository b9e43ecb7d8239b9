//! Prints the sample exchange of `docs/airgap-format.md` (fixed seeds: same bytes each run).
//!
//! `cargo run -p usagedesk-airgap --example airgap-samples`
//! `… -- --write-corpus DIR` writes the files as seeds for the fuzz targets instead
//! (`DIR/sync_key/sample`, `DIR/usage_data/sample` and `sample-v1`,
//! `DIR/verification_key/sample`, `DIR/license_file/sample`).

fn main() -> std::io::Result<()> {
    let s = usagedesk_airgap::samples::samples();
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--write-corpus") {
        let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "corpus".into()));
        for (target, name, text) in [
            ("sync_key", "sample", &s.sync_key),
            ("usage_data", "sample", &s.usage_data),
            ("usage_data", "sample-v1", &s.usage_data_v1),
            ("verification_key", "sample", &s.verification_key),
            ("license_file", "sample", &s.license_file),
        ] {
            std::fs::create_dir_all(dir.join(target))?;
            std::fs::write(dir.join(target).join(name), text)?;
        }
        return Ok(());
    }
    println!("Root public key: {}", s.root.public_key());
    println!("Root fingerprint: {}", s.root.public_key().fingerprint());
    println!("Delegated public key: {}", s.delegated.public_key());
    println!("Instance public key: {}", s.instance.public_key());
    println!();
    print!("{}", s.license_file);
    println!();
    print!("{}", s.sync_key);
    println!();
    print!("{}", s.usage_data);
    println!();
    print!("{}", s.usage_data_v1);
    println!();
    print!("{}", s.verification_key);
    Ok(())
}
