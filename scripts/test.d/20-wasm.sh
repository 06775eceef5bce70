#!/usr/bin/env bash
# pqfile-wasm: the wasm-bindgen tests in Node, then the same tests in
# headless Chromium (chromedriver + wasm/webdriver.json). Needs what
# scripts/setup.sh installs: the wasm32 target, wasm-bindgen-cli (the test
# runner), chromium and chromium-driver.
set -euo pipefail
cd "$(dirname "$0")/../../wasm"   # wasm/.cargo/config.toml sets the test runner
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=never
echo "== wasm-bindgen tests in Node"
cargo test --target wasm32-unknown-unknown -p pqfile-wasm
echo "== wasm-bindgen tests in headless Chromium"
WASM_BINDGEN_USE_BROWSER=1 WASM_BINDGEN_TEST_TIMEOUT=120 \
  cargo test --target wasm32-unknown-unknown -p pqfile-wasm --test web
