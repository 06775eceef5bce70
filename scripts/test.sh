#!/usr/bin/env bash
# The README's test command: installs what is missing, then runs every test
# suite in scripts/test.d in order. Fails on the first failing suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
scripts/setup.sh --all
export PATH="$HOME/.cargo/bin:$PATH"
failed=0
for suite in scripts/test.d/*.sh; do
  printf '\n\033[1;35m==== %s ====\033[0m\n' "$suite"
  start=$(date +%s)
  if ! bash "$suite"; then
    echo "FAILED: $suite"; failed=1; break
  fi
  echo "---- $suite passed in $(( $(date +%s) - start ))s"
done
[ $failed -eq 0 ] && echo "ALL TEST SUITES PASSED"
exit $failed
