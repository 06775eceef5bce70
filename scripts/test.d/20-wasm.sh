#!/usr/bin/env bash
# pqfile-wasm: the wasm-bindgen tests (wasm/tests/web.rs) the way the crate's
# users run them, from wasm/: `wasm-pack test --node` (target tests/node.rs)
# and `wasm-pack test --headless --chrome` (target tests/browser.rs, Chromium
# flags in wasm/webdriver.json). wasm-pack works offline here because
# scripts/setup.sh puts wasm-bindgen 0.2.130 and chromedriver on PATH
# (docs/TOOLCHAIN.md). Fails if either run reports no test at all.
set -euo pipefail
cd "$(dirname "$0")/../../wasm"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=never

# Runs wasm-pack test with the given flags; fails unless some test passed.
run() {
  local log passed
  log=$(mktemp)
  trap 'rm -f "$log"' RETURN
  echo "== wasm-pack test $*"
  wasm-pack test "$@" 2>&1 | tee "$log"
  passed=$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$log" | awk '{ s += $1 } END { print s + 0 }')
  if [ "$passed" -eq 0 ]; then
    echo "FAILED: wasm-pack test $* ran no tests" >&2
    return 1
  fi
  echo "== wasm-pack test $*: $passed tests passed"
}
run --node
WASM_BINDGEN_TEST_TIMEOUT=120 run --headless --chrome
