#!/usr/bin/env bash
# The Linux installer, built and used as a customer would: packs the app that `cargo test
# --workspace` just built and tested into a .deb (Tauri CLI, debug profile, no rebuild),
# installs it with dpkg, checks what it installed (binary, menu entry with the file types,
# MIME types) and starts the installed /usr/bin/usagedesk on its demo under Xvfb with a fresh
# HOME (tests/installed.rs), then removes the package again, also when a step fails.
# Run by scripts/test.sh after the workspace tests (it needs their target/debug/usagedesk).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if [ -e /usr/bin/usagedesk ]; then
  echo "error: /usr/bin/usagedesk exists already (package $(dpkg -S /usr/bin/usagedesk 2>/dev/null | cut -d: -f1)); remove it first" >&2
  exit 1
fi
if [ ! -x target/debug/usagedesk ]; then
  echo "error: target/debug/usagedesk is missing: run cargo test --workspace first" >&2
  exit 1
fi

t0=$(date +%s)
echo "==> .deb from the tested debug build (tauri bundle)"
rm -rf target/debug/bundle/deb
# --no-binary-patching: the package holds the very bytes the end-to-end tests ran.
ui/node_modules/.bin/tauri bundle --debug --bundles deb --no-binary-patching --ci
deb=$(ls target/debug/bundle/deb/*.deb)
pkg=$(dpkg-deb --field "$deb" Package)
t1=$(date +%s)
echo "    $deb (package $pkg, $(du -h "$deb" | cut -f1)) in $((t1 - t0)) s"

echo "==> dpkg -i"
trap '$SUDO dpkg -r "$pkg" >/dev/null 2>&1 || true' EXIT
$SUDO dpkg -i "$deb"

echo "==> the installed app, under Xvfb with a fresh HOME"
USAGEDESK_INSTALLED_APP=/usr/bin/usagedesk \
  cargo test --workspace --locked --test installed -- --ignored --nocapture
t2=$(date +%s)

$SUDO dpkg -r "$pkg" >/dev/null
trap - EXIT
if [ -e /usr/bin/usagedesk ]; then
  echo "error: dpkg -r left /usr/bin/usagedesk behind" >&2
  exit 1
fi
echo "    installed, checked and removed in $((t2 - t1)) s (whole installer test: $((t2 - t0)) s)"
