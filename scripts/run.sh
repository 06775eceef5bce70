#!/usr/bin/env bash
# Interim run command (issue 2): the key server does not exist yet, so this
# builds the core and encrypts + decrypts a sample file with a local key.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --run
f=${1:-$(mktemp /tmp/pqfile-demo.XXXXXX)}
[ -s "$f" ] || head -c 50000000 /dev/urandom > "$f"
cargo run -q --release -p pqfile-core --example demo -- "$f"
cmp "$f" "$f.pqf.out" && echo "round trip OK: $f -> $f.pqf -> $f.pqf.out"
