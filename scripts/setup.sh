#!/usr/bin/env bash
# Installs everything pqfile's build, run and tests need on a fresh Debian 12
# machine (idempotent: each step is skipped when already satisfied).
# Usage: scripts/setup.sh [--all|--run|--check]
#   --run:   what the run command needs (PostgreSQL, wasm32 target, wasm-bindgen-cli)
#   --all:   also Chromium + chromedriver, wrk, wasm-pack, the moto KMS emulator
#   --check: installs nothing; exits 0 when everything --all installs is
#            present, else lists what is missing and exits 1 (a second or so)
# docs/TOOLCHAIN.md says why each tool is installed the way it is.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:---all}
WASM_BINDGEN_VERSION=0.2.130   # must equal the pinned wasm-bindgen in Cargo.toml
APT_ALL=(chromium chromium-driver wrk)
log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export PATH="$HOME/.cargo/bin:$PATH"

# One check per prerequisite, shared by --check and the install steps.
have_postgres() { [ -x /usr/lib/postgresql/15/bin/initdb ]; }
have_wasm_target() { rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; }
have_wasm_bindgen() { wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; }
have_deb() { dpkg -s "$1" >/dev/null 2>&1; }
have_wasm_pack() { command -v wasm-pack >/dev/null; }
have_moto() { [ -x "$ROOT/.venv/bin/moto_server" ]; }

if [ "$MODE" = "--check" ]; then
  missing=()
  have_postgres || missing+=("PostgreSQL 15")
  have_wasm_target || missing+=("wasm32-unknown-unknown target")
  have_wasm_bindgen || missing+=("wasm-bindgen-cli $WASM_BINDGEN_VERSION")
  for p in "${APT_ALL[@]}"; do have_deb "$p" || missing+=("$p"); done
  have_wasm_pack || missing+=("wasm-pack")
  have_moto || missing+=("moto (.venv)")
  if [ ${#missing[@]} -gt 0 ]; then log "missing: ${missing[*]}"; exit 1; fi
  log "all prerequisites present"
  exit 0
fi

apt_install() {
  local missing=()
  for p in "$@"; do have_deb "$p" || missing+=("$p"); done
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
have_postgres || apt_install postgresql

# Rust -> wasm.
if ! have_wasm_target; then
  log "rustup target add wasm32-unknown-unknown"; rustup target add wasm32-unknown-unknown
fi
if ! have_wasm_bindgen; then
  # Not --locked: the lock file inside wasm-bindgen-cli names a version the registry no longer has.
  log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (~4 min)"
  cargo install -q wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" --force
fi
[ "$MODE" = "--run" ] && { log "run prerequisites ok"; exit 0; }

# Browser tests and load tools.
apt_install "${APT_ALL[@]}"

if ! have_wasm_pack; then
  log "cargo install wasm-pack (~3 min)"; cargo install -q wasm-pack --locked
fi

# KMS emulator (moto server speaks the real AWS KMS API).
if ! have_moto; then
  log "python venv with moto[server]"
  python3 -m venv "$ROOT/.venv"
  "$ROOT/.venv/bin/pip" install -q 'moto[server]==5.*'
fi
log "all prerequisites ok"
