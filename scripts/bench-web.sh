#!/usr/bin/env bash
# Benchmark of the web page (BENCHMARKS.md "## Web page"): 256 MiB encrypt and
# decrypt through the page vs raw WebCrypto AES-256-GCM in the same headless
# Chromium, and click-to-first-encrypted-byte for a 1 KiB file, against the
# real key server + PostgreSQL. BENCH_MIB, BENCH_ROUNDS, BENCH_TTFB_RUNS
# override the defaults (256, 3, 30).
#
# Side by side against a baseline (git revision AB_REV, default HEAD):
#   scripts/bench-web.sh ab        the package's streams alone, A = AB_REV's wasm/js/src, B = working copy
#   scripts/bench-web.sh ab-page   the whole page (service-worker download; AB_SINK=file-system: File System Access),
#                                  A = AB_REV's web/ + package (+ AB_A_PATCH), B = working copy
#   scripts/bench-web.sh profile   CDP CPU profile of one encrypt and decrypt through the page
#   scripts/bench-web.sh sink      the service-worker download alone (no crypto), 256 MiB
#   scripts/bench-web.sh ceiling   save paths alone and a package-free seal pipeline into them (web/bench/ceiling.js)
# (these default to BENCH_MIB=64, BENCH_ROUNDS=3).
# The scripts live in web/bench/ and run through scripts/with-stack.sh (a fresh
# PostgreSQL + key-server stack, scripts/lib/stack.sh) with the e2e harness.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
# The benchmark pages fire requests faster than a person: no rate limits
# in the measurement.
export PQFILE_RATE_LIMIT_PER_ADDRESS=0 PQFILE_RATE_LIMIT_PER_TOKEN=0
scripts/build-web.sh
(cd web/e2e && npm ci --no-audit --no-fund --loglevel=error)
mode=${1:-}
rev=${AB_REV:-HEAD}
case "$mode" in
  "") exec scripts/with-stack.sh node web/bench/bench.js ;;
  profile) exec scripts/with-stack.sh node web/bench/profile.js ;;
  sink) exec scripts/with-stack.sh node web/bench/sink.js ;;
  ceiling) exec scripts/with-stack.sh node web/bench/ceiling.js ;;
  ab)
    base=$ROOT/web/vendor/pqfile-base
    rm -rf "$base" && cp -a "$ROOT/web/vendor/pqfile" "$base"
    for f in $(git ls-tree --name-only "$rev" wasm/js/src/); do git show "$rev:$f" > "$base/src/$(basename "$f")"; done
    exec scripts/with-stack.sh node web/bench/ab.js ;;
  ab-page)
    A=$(mktemp -d /var/tmp/pqfile-web-a.XXXXXX)
    trap 'rm -rf "$A"' EXIT
    git archive "$rev" web | tar -x -C "$A"
    cp -a web/vendor "$A/web/vendor"
    for f in $(git ls-tree --name-only "$rev" wasm/js/src/); do git show "$rev:$f" > "$A/web/vendor/pqfile/src/$(basename "$f")"; done
    # AB_A_PATCH: a diff (against AB_REV, paths under web/) applied to A, to compare two variants.
    if [ -n "${AB_A_PATCH:-}" ]; then patch -d "$A" -p1 < "$AB_A_PATCH"; fi
    AB_WEB_DIR=$A/web AB_PORT=$(scripts/pg.sh free-port) scripts/with-stack.sh node web/bench/ab-page.js ;;
  *) echo "usage: $0 [ab|ab-page|profile|sink|ceiling]" >&2; exit 2 ;;
esac
