//! The installed Linux package, as a customer gets it: `scripts/installer-test.sh` builds the
//! .deb, installs it with dpkg, runs these tests with `USAGEDESK_INSTALLED_APP` naming the
//! installed binary, and removes the package. Without the package they cannot run, so they are
//! ignored by a plain `cargo test`.

// Shared with tests/e2e.rs, which uses the rest of it.
#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};

use support::{Session, TauriDriver};

const WHY: &str = "run by scripts/installer-test.sh after installing the .deb";

fn installed_app() -> PathBuf {
    std::env::var_os("USAGEDESK_INSTALLED_APP")
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("USAGEDESK_INSTALLED_APP is not set: {WHY}"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("the package installed {path}: {e}"))
}

#[test]
#[ignore = "run by scripts/installer-test.sh after installing the .deb"]
fn the_package_installs_the_app_its_menu_entry_and_its_file_types() {
    let app = installed_app();
    assert_eq!(app, Path::new("/usr/bin/usagedesk"));
    let meta = std::fs::metadata(&app).expect("the binary");
    assert!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0,
        "executable"
    );

    // The menu entry opens files (%F) of the three exchange types.
    let desktop = read("/usr/share/applications/UsageDesk.desktop");
    let lines: Vec<&str> = desktop.lines().collect();
    for want in [
        "Exec=usagedesk %F",
        "Name=UsageDesk",
        "Icon=usagedesk",
        "MimeType=application/x-usagedesk-usage;application/x-usagedesk-synckey;application/x-usagedesk-verification;",
    ] {
        assert!(lines.contains(&want), "{want} in:\n{desktop}");
    }
    assert!(Path::new("/usr/share/icons/hicolor/128x128/apps/usagedesk.png").exists());

    // The MIME types, as packaged, and registered by shared-mime-info's dpkg trigger.
    let packaged = read("/usr/share/mime/packages/usagedesk.xml");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/linux/usagedesk-mime.xml");
    assert_eq!(
        packaged,
        std::fs::read_to_string(source).expect("source"),
        "the package carries packaging/linux/usagedesk-mime.xml"
    );
    let globs = read("/usr/share/mime/globs2");
    for (mime, ext) in [
        ("application/x-usagedesk-usage", "usagedesk-usage"),
        ("application/x-usagedesk-synckey", "usagedesk-synckey"),
        (
            "application/x-usagedesk-verification",
            "usagedesk-verification",
        ),
    ] {
        assert!(
            globs
                .lines()
                .any(|l| l.ends_with(&format!(":{mime}:*.{ext}"))),
            "update-mime-database registered *.{ext} as {mime}"
        );
    }
}

/// What a screenshot of the X screen holds: how many colours, and the share of the commonest.
fn pixel_stats(png_path: &Path) -> (usize, f64) {
    let file = std::fs::File::open(png_path).expect("screenshot");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("frame");
    let channels = info.color_type.samples();
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "8-bit screenshot");
    let mut counts = std::collections::HashMap::<[u8; 3], u64>::new();
    for px in buf[..info.buffer_size()].chunks_exact(channels) {
        let rgb = if channels >= 3 {
            [px[0], px[1], px[2]]
        } else {
            [px[0]; 3]
        };
        *counts.entry(rgb).or_default() += 1;
    }
    let total: u64 = counts.values().sum();
    let top = counts.values().copied().max().unwrap_or(0);
    (counts.len(), top as f64 / total.max(1) as f64)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "run by scripts/installer-test.sh after installing the .deb"]
async fn the_installed_app_opens_its_demo_on_a_first_start() {
    let app = installed_app();
    // A fresh HOME: the first start of a new user, with the OS data folder as the cache.
    let driver = TauriDriver::start();
    let s = Session::launch(&driver, &app, &["--demo".into()]).await;
    s.wait("[data-testid=tree-row]").await;
    let name = s
        .wait_text("[data-testid=account-name]", |t| !t.is_empty())
        .await;
    let status = s
        .script_async(
            "const done = arguments[arguments.length - 1];
             window.__TAURI_INTERNALS__.invoke('app_status').then(done, (e) => done({ error: e }));",
            vec![],
        )
        .await;
    assert_eq!(status["demo"], true, "{status}");
    assert!(status["accounts"].as_u64().unwrap_or(0) > 0, "{status}");
    // The demo keeps its cache in a folder of its own inside the app's data folder.
    let app_data = driver.home().join(".local/share/com.usagedesk.app");
    let data_dir = PathBuf::from(status["data_dir"].as_str().expect("data_dir"));
    assert_eq!(
        data_dir,
        app_data.join("demo"),
        "the cache is in the new user's data folder"
    );
    let cache = PathBuf::from(status["cache_path"].as_str().expect("cache_path"));
    assert!(
        cache.starts_with(&app_data) && cache.exists(),
        "{}",
        cache.display()
    );

    // The window drew it: a screenshot of the screen is not the bare (one-colour) X root.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("installed-demo.png");
    s.screenshot(&shot).await;
    let (colours, commonest) = pixel_stats(&shot);
    println!(
        "installed app, demo account '{name}': {colours} colours, the commonest covers {:.0} %",
        commonest * 100.0
    );
    assert!(
        colours >= 64 && commonest < 0.9,
        "the window painted text and charts ({colours} colours, commonest {commonest:.2}): {}",
        shot.display()
    );
    s.quit().await;
}
