#!/usr/bin/env bash
# The web admin's real-browser test: headless Chromium (Debian's package)
# driven by playwright-core through tests/browser/admin.test.mjs.
#
#   scripts/browser-test.sh
#
# Installs Chromium (and a CJK font for the Chinese screenshots) when
# missing, the test's npm dependencies (playwright-core, typescript) when
# tests/browser/node_modules lacks them, type-checks the admin's ES modules
# (tsc --checkJs over src/web/assets/, nothing emitted), builds the debug
# binaries, then runs the walk. Screenshots go to $SCREENSHOT_DIR (default
# target/browser-screenshots/).
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ ! -x /usr/bin/chromium ]; then
  echo "==> installing chromium"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
if ! fc-list 2>/dev/null | grep -qi -e 'wenquanyi' -e 'noto sans cjk'; then
  echo "==> installing a CJK font (for the Chinese screenshots)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y fonts-wqy-microhei \
    || echo "   (no CJK font; Chinese text will render as boxes in screenshots)"
fi

if ! command -v node >/dev/null 2>&1; then
  echo "node is needed for the browser test (apt-get install -y nodejs npm)" >&2
  exit 1
fi

if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/typescript ]; then
  echo "==> installing the test's npm dependencies"
  if [ -f tests/browser/package-lock.json ]; then
    (cd tests/browser && npm ci --no-audit --no-fund)
  else
    (cd tests/browser && npm install --no-audit --no-fund)
  fi
fi

echo "==> type-checking the web admin's modules"
tests/browser/node_modules/.bin/tsc --project src/web/assets/jsconfig.json

echo "==> building ragway and the fake upstream"
cargo build --bin ragway --example fake_upstream

echo "==> running the browser test"
node tests/browser/admin.test.mjs
