#!/usr/bin/env bash
# Benchmark of the web page (BENCHMARKS.md "## Web page"): 256 MiB encrypt and
# decrypt through the page vs raw WebCrypto AES-256-GCM in the same headless
# Chromium, and click-to-first-encrypted-byte for a 1 KiB file, against the
# real key server + PostgreSQL. BENCH_MIB, BENCH_ROUNDS, BENCH_TTFB_RUNS
# override the defaults (256, 3, 30).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/build-web.sh
cargo build -q -p pqfile-keyserver
(cd web/e2e && npm ci --no-audit --no-fund --loglevel=error)
web/e2e/with-stack.sh node web/e2e/bench.js
