fn main() {
    // `generate_context!` needs the frontend folder to exist at compile time; a plain
    // `cargo test` must work before the UI is built, so create a placeholder page.
    let dist = std::path::Path::new("ui/dist");
    if !dist.join("index.html").exists() {
        std::fs::create_dir_all(dist).expect("create ui/dist");
        std::fs::write(
            dist.join("index.html"),
            "<!doctype html><title>UsageDesk</title><p>The UI was not built: run <code>npm --prefix ui run build</code>.</p>",
        )
        .expect("write placeholder ui/dist/index.html");
    }
    link_order();
    tauri_build::try_build(
        tauri_build::Attributes::new().capabilities_path_pattern("src-tauri/capabilities/**/*"),
    )
    .expect("tauri build script");
}

/// Release builds for x86_64 Linux link the app's functions in the order of
/// `src-tauri/link-order.txt`: those that run at launch and in the views sit together, so the
/// few MiB of code the app runs is what Linux keeps resident of its 16 MB, not most of it
/// (`docs/architecture.md`, "Memory"; the file is written by `usagedesk-bench --link-order`).
/// The flag is LLD's (Rust's default linker on that target since 1.90; GNU ld has none).
/// Names no longer in the binary are skipped, so a stale file costs memory, never a build.
fn link_order() {
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !release || target != "x86_64-unknown-linux-gnu" {
        return;
    }
    let order = std::path::Path::new("src-tauri/link-order.txt")
        .canonicalize()
        .expect("src-tauri/link-order.txt is missing");
    println!("cargo:rerun-if-changed=src-tauri/link-order.txt");
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}
