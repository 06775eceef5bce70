#!/usr/bin/env bash
# Makes the web page (web/) servable: builds the npm package `pqfile`
# (wasm/js) if its wasm output is missing or older than its sources, then
# copies the package's browser entry (src/) and its wasm-bindgen `web` build
# (dist/web/) into web/vendor/pqfile/, keeping their relative layout so the
# page can `import ... from './vendor/pqfile/src/browser.js'` as a plain ES
# module. No bundler, no CDN. web/vendor/ is a build output (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PKG=$ROOT/wasm/js
export PATH="$HOME/.cargo/bin:$PATH"
log() { printf '[build-web] %s\n' "$*" >&2; }

wasm_out=$PKG/dist/web/pqfile_wasm_bg.wasm
stale=0
if [ ! -f "$wasm_out" ]; then
  stale=1
elif [ -n "$(find "$ROOT/core/src" "$ROOT/wasm/src" "$ROOT/wasm/Cargo.toml" "$ROOT/core/Cargo.toml" -newer "$wasm_out" -print -quit 2>/dev/null)" ]; then
  stale=1
fi
if [ "$stale" -eq 1 ]; then
  if [ ! -x "$PKG/node_modules/.bin/wasm-opt" ]; then
    log "npm ci in wasm/js (the package build needs binaryen's wasm-opt)"
    (cd "$PKG" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  log "building the pqfile package (wasm/js/scripts/build.sh)"
  bash "$PKG/scripts/build.sh"
else
  log "pqfile package is up to date (wasm/js/dist/web)"
fi

VENDOR=$ROOT/web/vendor/pqfile
rm -rf "$VENDOR"
mkdir -p "$VENDOR/src" "$VENDOR/dist/web"
cp "$PKG"/src/*.js "$VENDOR/src/"
cp "$PKG/dist/web/pqfile_wasm.js" "$PKG/dist/web/pqfile_wasm_bg.wasm" "$VENDOR/dist/web/"
cp "$PKG/package.json" "$VENDOR/"
log "web/vendor/pqfile ready ($(du -sh "$VENDOR" | cut -f1))"
