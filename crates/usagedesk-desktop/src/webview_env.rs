//! The environment WebKitGTK's processes start with on Linux: what the app sets before its
//! first thread (the shell, `src-tauri/src/webview_env.rs`) so that the UI process and the
//! web process it spawns run lean, and what the bench gives MiniBrowser for WebKitGTK's floor.
//! A variable the user set to a value is always left alone.
//!
//! - `JSC_useJIT=false`: JavaScriptCore runs the UI in its interpreter, without its JIT
//!   compilers. The UI is a small script over virtualized lists: at 100,000 accounts every
//!   view still drew its first rows in 29–33 ms (median; Customers 45–53 ms instead of 32 ms),
//!   and the app held 17–26 MiB less (the compilers' code and the code they emit). A webview
//!   without a JIT is also a smaller surface for a crafted page.
//! - `WEBKIT_DISABLE_COMPOSITING_MODE=1`: the page is painted in the web process, without
//!   accelerated compositing. The UI has no animation or 3D layer that needs it, and with it
//!   (WebKitGTK 2.50 on Mesa's software GL, 100,000 accounts) the web process held 128 MiB of
//!   anonymous memory at launch instead of 32 MiB (RSS 337 MiB instead of 197 MiB).
//!
//! While compositing is off, nothing in the UI process draws with OpenGL, yet WebKitGTK and GTK
//! still open a GL display there, and Mesa loads its whole driver for it, LLVM included. Three
//! probes do it; each has a variable that skips it:
//! - `GDK_GL=disable`: GDK probes GLX when it opens the X display.
//! - `WEBKIT_DISABLE_DMABUF_RENDERER=1`: WebKit asks EGL whether the DMA-BUF renderer (the
//!   compositing path) could share GPU buffers.
//! - `WEBKIT_WEB_RENDER_DEVICE_FILE`: WebKit opens an EGL display to find the GPU render node it
//!   hands to the web process. The web process only uses that node for GPU rendering, which is
//!   off; it did not even open it (`strace`, WebKitGTK 2.50, Xvfb without `/dev/dri`). The
//!   variable names the machine's lowest-numbered render node (`/dev/dri/renderD*`), or the
//!   conventional first name when there is none.
//!
//! Measured under Xvfb (X11, no GPU) only; on Wayland GDK's probe is EGL's rather than GLX's,
//! and `GDK_GL=disable` skips both.
//!
//! Without the three, the UI process held Mesa and LLVM at launch: 14 MiB more of the app's
//! physical memory at 100,000 accounts (280 MiB instead of 266 MiB, under Xvfb). The web
//! process still opens an EGL display whatever these say: WebKitGTK 2.50 asks for it before the
//! page's settings arrive, and aborts without one (docs/architecture.md, "Memory").

use std::ffi::OsString;
use std::path::Path;

/// WebKit's variable for compositing; set to anything but `0` it turns it off.
const COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
/// The variables [`lean_webkit_env`] may set, in its order: for the bench to clear what the
/// tests set before it measures the app as a user starts it.
pub const VARIABLES: [&str; 5] = [
    "JSC_useJIT",
    COMPOSITING,
    "GDK_GL",
    "WEBKIT_DISABLE_DMABUF_RENDERER",
    "WEBKIT_WEB_RENDER_DEVICE_FILE",
];
/// Where Linux lists the DRM devices.
pub const DRI: &str = "/dev/dri";
/// What [`lean_webkit_env`] names when the machine has no render node.
const FIRST_RENDER_NODE: &str = "/dev/dri/renderD128";

/// The variables to set, in order, given the user's environment (`user(name)`: the value
/// set, if any) and the folder of DRM devices ([`DRI`]). Variables the user set are left out;
/// one set empty counts as unset, as WebKit and GDK read it. The three that keep OpenGL out
/// of the UI process are left out too when the user turned compositing back on
/// (`WEBKIT_DISABLE_COMPOSITING_MODE=0`), which needs them.
pub fn lean_webkit_env(
    user: impl Fn(&str) -> Option<OsString>,
    dri: &Path,
) -> Vec<(&'static str, OsString)> {
    let set = |name: &str| user(name).filter(|v| !v.is_empty());
    let compositing_on = set(COMPOSITING).is_some_and(|v| v == "0");
    let [jit, compositing, gdk_gl, dmabuf, render_node] = VARIABLES;
    let mut wanted: Vec<(&'static str, OsString)> =
        vec![(jit, "false".into()), (compositing, "1".into())];
    if !compositing_on {
        wanted.extend([
            (gdk_gl, "disable".into()),
            (dmabuf, "1".into()),
            (render_node, first_render_node(dri)),
        ]);
    }
    wanted.retain(|(name, _)| set(name).is_none());
    wanted
}

/// The render node with the lowest number in `dri`, or [`FIRST_RENDER_NODE`].
fn first_render_node(dri: &Path) -> OsString {
    let number = |name: &str| name.strip_prefix("renderD")?.parse::<u32>().ok();
    std::fs::read_dir(dri)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| Some((number(entry.file_name().to_str()?)?, entry.path())))
        .min()
        .map_or_else(
            || FIRST_RENDER_NODE.into(),
            |(_, path)| path.into_os_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn names(vars: &[(&'static str, OsString)]) -> Vec<&'static str> {
        vars.iter().map(|(name, _)| *name).collect()
    }

    #[test]
    fn an_empty_environment_gets_every_setting_and_the_lowest_render_node() {
        let dri = tempfile::tempdir().unwrap();
        // card0 is a primary node and renderD128x no node at all; renderD1000 comes first
        // as text, not as a number.
        for f in [
            "card0",
            "renderD129",
            "renderD130",
            "renderD128x",
            "renderD1000",
        ] {
            std::fs::write(dri.path().join(f), "").unwrap();
        }
        let vars = lean_webkit_env(env(&[]), dri.path());
        let node = dri.path().join("renderD129").into_os_string();
        let expected: Vec<(&str, OsString)> = vec![
            ("JSC_useJIT", "false".into()),
            (COMPOSITING, "1".into()),
            ("GDK_GL", "disable".into()),
            ("WEBKIT_DISABLE_DMABUF_RENDERER", "1".into()),
            ("WEBKIT_WEB_RENDER_DEVICE_FILE", node),
        ];
        assert_eq!(vars, expected, "all five, in VARIABLES' order");
        assert_eq!(names(&vars), VARIABLES, "the bench clears exactly these");
    }

    #[test]
    fn without_a_render_node_the_conventional_first_name_is_given() {
        let empty = tempfile::tempdir().unwrap();
        let missing = empty.path().join("dri");
        for dri in [empty.path(), missing.as_path()] {
            let vars = lean_webkit_env(env(&[]), dri);
            assert_eq!(
                vars.last().unwrap().1,
                FIRST_RENDER_NODE,
                "{dri:?} has no renderD*: WebKit must still be given a name to skip its probe"
            );
        }
    }

    #[test]
    fn what_the_user_set_is_left_alone() {
        let dri = tempfile::tempdir().unwrap();
        let vars = lean_webkit_env(
            env(&[
                ("JSC_useJIT", "true"),
                ("GDK_GL", "gles"),
                (COMPOSITING, "yes"),
            ]),
            dri.path(),
        );
        assert_eq!(
            names(&vars),
            [
                "WEBKIT_DISABLE_DMABUF_RENDERER",
                "WEBKIT_WEB_RENDER_DEVICE_FILE"
            ],
            "WebKit reads any compositing value but 0 as off: OpenGL stays out"
        );
    }

    #[test]
    fn a_variable_set_empty_counts_as_unset() {
        let dri = tempfile::tempdir().unwrap();
        let vars = lean_webkit_env(
            env(&[("WEBKIT_WEB_RENDER_DEVICE_FILE", ""), ("GDK_GL", "")]),
            dri.path(),
        );
        assert_eq!(
            names(&vars),
            VARIABLES,
            "WebKit ignores an empty render node and GDK an empty GDK_GL: both would probe GL"
        );
    }

    #[test]
    fn compositing_turned_back_on_keeps_the_gl_probes() {
        let dri = tempfile::tempdir().unwrap();
        let vars = lean_webkit_env(env(&[(COMPOSITING, "0")]), dri.path());
        assert_eq!(
            names(&vars),
            ["JSC_useJIT"],
            "compositing draws with OpenGL in the UI process: GDK's and WebKit's GL stay on"
        );
    }
}
