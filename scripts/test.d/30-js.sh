#!/usr/bin/env bash
# The npm package `pqfile` (wasm/js): installs its dev dependencies from the
# committed lock, builds the wasm (three wasm-bindgen targets + npm binaryen's
# wasm-opt), then runs the JS tests: every testdata/ vector, WebCrypto-vs-wasm
# equivalence, the key-server client (in-process stub), the error-code lists
# of the core, the wasm layer, the package and the page, the same in headless
# Chromium, the TypeScript types (tsc), import tests from a packed tarball
# (Node, Vite 7, plain page) and the 1 GiB bounded-memory tests (Node, Chromium).
set -euo pipefail
cd "$(dirname "$0")/../../wasm/js"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=never
npm ci --no-audit --no-fund --loglevel=error
# eslint 9 over the package, its tests, the web page and the page's e2e tests
# (eslint.config.js; package.json "lint" lists the paths).
npm run -s lint
bash scripts/build.sh
# tsc (checkJs, strict) over the package's JavaScript, src/index.d.ts against
# the code (test/types/conformance.ts) and the page (tsconfig.json,
# tsconfig.sw.json); needs the wasm's generated .d.ts, hence after the build.
npm run -s typecheck
node --test --test-concurrency=1 --test-reporter=spec \
  test/vectors.test.js test/api.test.js test/equivalence.test.js test/keyserver.test.js \
  test/retry.test.js test/rewrap.test.js test/error-codes.test.js test/types.test.js test/browser.test.js test/import.test.js test/memory.test.js
