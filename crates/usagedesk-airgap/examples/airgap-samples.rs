//! Prints the sample exchange of `docs/airgap-format.md` (fixed seeds: same bytes each run).
//!
//! `cargo run -p usagedesk-airgap --example airgap-samples`
//! `… -- --write-corpus DIR` writes the three files as seeds for the fuzz targets instead
//! (`DIR/sync_key/sample`, `DIR/usage_data/sample`, `DIR/verification_key/sample`).

fn main() -> std::io::Result<()> {
    let s = usagedesk_airgap::samples::samples();
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--write-corpus") {
        let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "corpus".into()));
        for (target, text) in [
            ("sync_key", &s.sync_key),
            ("usage_data", &s.usage_data),
            ("verification_key", &s.verification_key),
        ] {
            std::fs::create_dir_all(dir.join(target))?;
            std::fs::write(dir.join(target).join("sample"), text)?;
        }
        return Ok(());
    }
    println!("Root public key: {}", s.root.public_key());
    println!("Root fingerprint: {}", s.root.public_key().fingerprint());
    println!("Delegated public key: {}", s.delegated.public_key());
    println!("Instance public key: {}", s.instance.public_key());
    println!();
    print!("{}", s.sync_key);
    println!();
    print!("{}", s.usage_data);
    println!();
    print!("{}", s.verification_key);
    Ok(())
}
