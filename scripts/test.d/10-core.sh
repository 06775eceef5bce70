#!/usr/bin/env bash
# pqfile-core: unit tests, shared test vectors, property tests, doctests.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test -p pqfile-core --all-targets
cargo test -p pqfile-core --doc
# The committed vectors must be exactly what the generator produces today.
cargo run -q -p pqfile-core --example gen-vectors -- --check
