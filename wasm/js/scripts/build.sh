#!/usr/bin/env bash
# Builds the npm package's wasm: cargo (wasm32, release) -> wasm-bindgen for
# the web, bundler and nodejs targets -> wasm-opt from npm's binaryen (Debian's
# breaks wasm-bindgen output, see docs/TOOLCHAIN.md). Output: dist/.
# Needs `npm ci` first (for binaryen). Honors CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
JS=$PWD
ROOT=$(cd ../.. && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
# Whole-program optimization for the one wasm artifact (the workspace's
# release profile stays as it is for everything else), and wasm SIMD128
# (all current browsers and Node >= 16.4) for the KEM's polynomial arithmetic.
export CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128"
(cd "$ROOT" && cargo build -q --release --target wasm32-unknown-unknown -p pqfile-wasm)
WASM=$TARGET_DIR/wasm32-unknown-unknown/release/pqfile_wasm.wasm
WASM_OPT=$JS/node_modules/.bin/wasm-opt
[ -x "$WASM_OPT" ] || { echo "run npm ci in $JS first (needs binaryen's wasm-opt)" >&2; exit 1; }
rm -rf dist
for target in web bundler nodejs; do
  out=dist/${target/nodejs/node}
  wasm-bindgen --target "$target" --out-dir "$out" "$WASM"
  # Features rustc enables by default for wasm32-unknown-unknown, plus SIMD.
  "$WASM_OPT" -O3 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-simd \
    "$out/pqfile_wasm_bg.wasm" -o "$out/pqfile_wasm_bg.wasm"
done
# The nodejs target is CommonJS inside a "type": "module" package.
echo '{ "type": "commonjs" }' > dist/node/package.json
rm -f dist/*/.gitignore
raw=$(stat -c %s dist/web/pqfile_wasm_bg.wasm)
gz=$(gzip -9 -c dist/web/pqfile_wasm_bg.wasm | wc -c)
echo "pqfile_wasm_bg.wasm: $raw bytes, $gz bytes gzipped (-9) after wasm-opt -O3"
