#!/usr/bin/env bash
# Installs everything pqfile's build, run and tests need on a fresh Debian 12
# machine (idempotent: each step is skipped when already satisfied).
# Usage: scripts/setup.sh [--all|--run]
#   --run: what the run command needs (PostgreSQL, wasm32 target, wasm-bindgen-cli)
#   --all: also Chromium + chromedriver, wrk, wasm-pack, the moto KMS emulator
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:---all}
WASM_BINDGEN_VERSION=0.2.130   # must equal the pinned wasm-bindgen in Cargo.toml
log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export PATH="$HOME/.cargo/bin:$PATH"

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    # Keep apt from creating (and starting) a system cluster on 5432.
    $SUDO mkdir -p /etc/postgresql-common/createcluster.d
    echo 'create_main_cluster = false' | $SUDO tee /etc/postgresql-common/createcluster.d/pqfile.conf >/dev/null
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# PostgreSQL server binaries (the run command embeds a cluster).
if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then apt_install postgresql; fi

# Rust -> wasm.
if ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
  log "rustup target add wasm32-unknown-unknown"; rustup target add wasm32-unknown-unknown
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (~4 min)"
  cargo install -q wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" --force
fi
[ "$MODE" = "--run" ] && { log "run prerequisites ok"; exit 0; }

# Browser tests and load tools.
apt_install chromium chromium-driver wrk

if ! command -v wasm-pack >/dev/null; then
  log "cargo install wasm-pack (~3 min)"; cargo install -q wasm-pack --locked
fi

# KMS emulator (moto server speaks the real AWS KMS API).
if [ ! -x "$ROOT/.venv/bin/moto_server" ]; then
  log "python venv with moto[server]"
  python3 -m venv "$ROOT/.venv"
  "$ROOT/.venv/bin/pip" install -q 'moto[server]==5.*'
fi
log "all prerequisites ok"
