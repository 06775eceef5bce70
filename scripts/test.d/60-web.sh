#!/usr/bin/env bash
# The web page (web/): Playwright (playwright-core) driving Debian's headless
# Chromium against the real key server and a fresh PostgreSQL cluster:
# small and 256 MiB round trips, no plaintext on the wire, tampered / foreign
# / revoked / unreachable failures, cancel, peak JS heap, screenshots in
# web/e2e/artifacts/. Needs what scripts/setup.sh installs (chromium, the
# wasm toolchain, PostgreSQL 15).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/build-web.sh
cargo build -p pqfile-keyserver
(cd web/e2e && npm ci --no-audit --no-fund --loglevel=error)
rm -rf web/e2e/artifacts
web/e2e/with-stack.sh node --test --test-concurrency=1 --test-timeout=1200000 web/e2e/web.test.js
