#!/usr/bin/env bash
# pqfile-core: unit tests, shared test vectors, property tests, doctests,
# with each ML-KEM implementation (RustCrypto ml-kem by default; libcrux-ml-kem
# with the `libcrux` feature, as the key server and CLI build it).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test -p pqfile-core --all-targets
cargo test -p pqfile-core --doc
cargo test -p pqfile-core --features libcrux --lib --tests
# The committed vectors must be exactly what the generator produces today,
# with either implementation.
cargo run -q -p pqfile-core --example gen-vectors -- --check
cargo run -q -p pqfile-core --features libcrux --example gen-vectors -- --check
