#!/usr/bin/env bash
# The web page (web/): Playwright (playwright-core) driving Debian's headless
# Chromium against the real key server and a fresh PostgreSQL cluster
# (scripts/with-stack.sh): small and 256 MiB round trips, no plaintext on the
# wire, tampered / foreign / revoked / unreachable failures, cancel, peak JS
# heap, screenshots in web/e2e/artifacts/. WEB_E2E_LARGE_MIB sets the large
# round trip's size (scripts/test.sh --quick: 32). Needs what scripts/setup.sh
# installs (chromium, the wasm toolchain, PostgreSQL 15).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/build-web.sh
(cd web/e2e && npm ci --no-audit --no-fund --loglevel=error)
rm -rf web/e2e/artifacts
scripts/with-stack.sh node --test --test-concurrency=1 --test-timeout=1200000 web/e2e/web.test.js web/e2e/session.test.js web/e2e/saving.test.js web/e2e/rewrap.test.js wasm/js/test/live/rewrap.test.js wasm/js/test/live/account.test.js
