//! Prints the sample exchange of `docs/airgap-format.md` (fixed seeds: same bytes each run).
//!
//! `cargo run -p usagedesk-airgap --example airgap-samples`

fn main() {
    let s = usagedesk_airgap::samples::samples();
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
}
