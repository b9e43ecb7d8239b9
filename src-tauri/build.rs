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
    tauri_build::try_build(
        tauri_build::Attributes::new().capabilities_path_pattern("src-tauri/capabilities/**/*"),
    )
    .expect("tauri build script");
}
