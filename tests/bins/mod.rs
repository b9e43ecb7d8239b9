//! The workspace's other binaries, built beside the app (`cargo test --workspace` builds
//! them all; a lone `cargo test --test …` builds the missing one first).

use std::path::{Path, PathBuf};

pub fn app() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_usagedesk"))
}

/// The path of binary `name` of package `package`, building it when missing.
pub fn sibling(package: &str, name: &str) -> PathBuf {
    let path = app().with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = std::process::Command::new(cargo)
            .args(["build", "-p", package, "--bin", name])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "cannot build {name}");
    }
    path
}
