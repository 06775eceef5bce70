#!/usr/bin/env bash
# Schema-driven API fuzzing (issue 12, item 7): schemathesis generates
# requests from the key server's own /openapi.json, valid and invalid, and
# checks every answer: never a 5xx, and the status code, content type,
# headers and body the document gives for that operation. Against a real
# stack (scripts/lib/stack.sh: a fresh PostgreSQL cluster, the local KMS, the
# debug key server) seeded through the CLI with documents, a stored
# ciphertext and a grant; half the time the generator takes a seeded value
# (document and key ids, user names, the file's header and stanza, a valid
# encapsulation key) so requests get past the 404s into the routes' own
# checks. Runs twice: with a user's token, then with an admin's. Fixed seed,
# one worker; about a minute of fuzzing on 2 cores once the build is warm.
# Exits non-zero on any failure.
#
#   scripts/test.d/70-api-fuzz.sh [EXAMPLES]   examples per operation (default 100)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
log() { printf '\033[1;36m[70-api-fuzz]\033[0m %s\n' "$*"; }
EXAMPLES=${1:-100}
SCHEMATHESIS_VERSION=4.32.5
VENV=$ROOT/.venv
ST=$VENV/bin/schemathesis

if [ ! -x "$VENV/bin/pip" ]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi
if ! "$ST" --version 2>/dev/null | grep -qx "schemathesis, version $SCHEMATHESIS_VERSION"; then
  log "pip install schemathesis==$SCHEMATHESIS_VERSION"
  "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" </dev/null
fi

source scripts/lib/stack.sh
stack_trap
stack_workdir api-fuzz
W=$STACK_WORK
stack_pg "$W/pg"
stack_keyserver_build
cargo build -q -p pqfile-cli
CLI=${CARGO_TARGET_DIR:-$ROOT/target}/debug/pqfile
stack_db_env
export PQFILE_DATA_DIR=$W/data PQFILE_POOL_SIZE=5 PQFILE_KMS=local PQFILE_LOG_FORMAT=json
export PQFILE_BIND=127.0.0.1:$(stack_free_port)
# No rate limits: the generator sends requests as fast as the server answers.
export PQFILE_RATE_LIMIT_PER_ADDRESS=0 PQFILE_RATE_LIMIT_PER_TOKEN=0
"$STACK_KS" migrate >/dev/null 2>&1
ALICE=$(stack_user alice 2>/dev/null)
BOB=$(stack_user bob 2>/dev/null)
ADMIN=$(stack_user root admin 2>/dev/null)
stack_keyserver_start "$W/server.log"
log "key server on $STACK_URL"

# Seed data: alice's file encrypted and stored by the CLI and shared with
# bob; a document each of alice, bob and root without content.
head -c 100000 /dev/urandom >"$W/plain.bin"
"$CLI" encrypt --server "$STACK_URL" --token "$ALICE" -q -o "$W/a.pqf" "$W/plain.bin" </dev/null
"$CLI" upload --server "$STACK_URL" --token "$ALICE" "$W/a.pqf" </dev/null >/dev/null
URL=$STACK_URL ALICE=$ALICE BOB=$BOB ADMIN=$ADMIN W=$W python3 - <<'PY'
import base64, json, os, struct, urllib.request

url, w = os.environ["URL"], os.environ["W"]
tokens = {k: os.environ[k] for k in ("ALICE", "BOB", "ADMIN")}

def call(method, path, who, body=None):
    req = urllib.request.Request(url + path, method=method, headers={"Authorization": "Bearer " + tokens[who]})
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)

# The header (FORMAT.md §2-§5): 24-byte prefix, stanzas (kem 2, key id 4,
# body length 2, body), 32-byte MAC.
raw = open(os.path.join(w, "a.pqf"), "rb").read()
doc = raw[6:22].hex()
(count,) = struct.unpack(">H", raw[22:24])
at, stanzas, key_ids = 24, [], set()
for _ in range(count):
    _kem, kid, n = struct.unpack(">HIH", raw[at:at + 8])
    stanzas.append(raw[at:at + 8 + n])
    key_ids.add(kid)
    at += 8 + n
header = raw[:at + 32]
call("POST", f"/v1/documents/{doc}/grants", "ALICE", {"user": "bob"})
docs = [doc] + [call("POST", "/v1/documents", who)["document_id"] for who in ("ALICE", "BOB", "ADMIN")]
keys = call("GET", "/v1/admin/keys", "ADMIN")["keys"]
key_ids |= {k["key_id"] for k in keys}
public = call("GET", f"/v1/keys/{min(key_ids)}", "ALICE")["public_key"]

def values(xs):
    return "[" + ", ".join(json.dumps(x) for x in xs) + "]"

b64 = lambda b: base64.b64encode(b).decode()
# The users, and names no user can have: unknown, too long, and one with a
# NUL (PostgreSQL text cannot hold it: it was a 500 before it was refused).
users = ["alice", "bob", "root", "nobody", "x" * 300, "bob\0"]
# Each seeded value is taken half the time; the other half is generated.
config = f"""
[dictionaries.documents]
values = {values(docs)}
[dictionaries.keys]
values = {values(sorted(key_ids))}
[dictionaries.users]
values = {values(users)}
[dictionaries.headers]
values = {values([b64(header)])}
[dictionaries.stanzas]
values = {values([b64(s) for s in stanzas])}
[dictionaries.public_keys]
values = {values([public])}

[parameters]
document_id = {{ dictionary = "documents", probability = 0.5 }}
key_id = {{ dictionary = "keys", probability = 0.5 }}
user = {{ dictionary = "users", probability = 0.5 }}
"body.user" = {{ dictionary = "users", probability = 0.5 }}
"body.header" = {{ dictionary = "headers", probability = 0.5 }}
"body.stanza" = {{ dictionary = "stanzas", probability = 0.5 }}
"body.ephemeral_public_key" = {{ dictionary = "public_keys", probability = 0.5 }}
"""
open(os.path.join(w, "schemathesis.toml"), "w").write(config)
PY
log "seeded: $(grep -c . "$W/schemathesis.toml") config lines"

# Every check that compares an answer with the document, and no 5xx.
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
failed=()
fuzz() {
  local name=$1 token=$2
  log "schemathesis as $name ($EXAMPLES examples per operation)"
  # Run from the work directory: nothing (hypothesis' cache) lands in the
  # tree. One worker: deterministic, and hypothesis' lambda parsing is not
  # thread-safe on Python 3.11 ("AST constructor recursion depth mismatch").
  if ! (cd "$W" && "$ST" --config-file "$W/schemathesis.toml" run "$STACK_URL/openapi.json" \
        -H "Authorization: Bearer $token" --checks "$CHECKS" \
        --max-examples "$EXAMPLES" --seed 1 --workers 1 --generation-database none \
        --no-color </dev/null); then
    failed+=("$name")
  fi
}
start=$(date +%s)
fuzz user "$ALICE"
fuzz admin "$ADMIN"
log "fuzzing took $(( $(date +%s) - start ))s"
echo "api-fuzz: $(( 2 - ${#failed[@]} )) passed, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
  log "FAILED as: ${failed[*]}; the key server's last errors:"
  grep -E '"level":"ERROR"' "$W/server.log" | tail -20 >&2 || true
  exit 1
fi
log "no 5xx, every answer as the OpenAPI document says (user and admin)"
