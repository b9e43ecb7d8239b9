#!/usr/bin/env bash
# Installs what building, running and testing UsageDesk needs on a fresh Debian/Ubuntu
# machine: system packages (Tauri's WebKitGTK stack, WebKitWebDriver, Xvfb; a D-Bus daemon and
# python3-xlib for the single-instance and window-state tests; python3-venv; PostgreSQL, whose
# server binaries scripts/postgres.sh runs as a throwaway cluster for the cloud's PostgreSQL
# engine tests), the UI's npm
# packages (with the prebuilt Tauri CLI, which builds the installers), tauri-driver, and
# Schemathesis (the API fuzzer of scripts/api-fuzz.sh, pinned in scripts/schemathesis.version,
# in its own virtual environment). Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(
  build-essential pkg-config file curl
  libssl-dev libdbus-1-dev sqlite3
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libsoup-3.0-dev libxdo-dev
  webkit2gtk-driver xvfb xauth imagemagick dbus python3-xlib python3-venv
  postgresql
)

missing=()
for p in "${SYSTEM_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is missing; install Rust from https://rustup.rs and run this again" >&2
  exit 1
fi
if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "error: Node.js 20 or newer is needed for the UI (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  echo "==> installing the UI's npm packages"
  npm ci --prefix ui --no-audit --no-fund
fi

# Fuzzing the exchange-file parsers (scripts/fuzz.sh) needs a nightly toolchain and cargo-fuzz.
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "==> installing the nightly toolchain (for cargo-fuzz)"
  rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo-fuzz" ]; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  echo "==> installing tauri-driver"
  cargo install tauri-driver --locked --version '^2'
fi

# Schemathesis, pinned, in a virtual environment of its own (shared by checkouts of the repo).
schemathesis_version="$(cat scripts/schemathesis.version)"
schemathesis_env="${USAGEDESK_TOOLS:-$HOME/.cache/usagedesk}/schemathesis-$schemathesis_version"
if [ ! -x "$schemathesis_env/bin/st" ]; then
  echo "==> installing Schemathesis $schemathesis_version"
  rm -rf "$schemathesis_env"
  python3 -m venv "$schemathesis_env"
  "$schemathesis_env/bin/pip" install -q --disable-pip-version-check "schemathesis==$schemathesis_version"
fi
