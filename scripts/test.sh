#!/usr/bin/env bash
# The README's test command: installs what is missing (skipped when
# `scripts/setup.sh --check` finds everything present), then runs the test
# suites in scripts/test.d in order. Fails on the first failing suite.
#
#   scripts/test.sh                 every suite, full sizes (what CI runs)
#   scripts/test.sh --quick         the quick tier for development: the large
#                                   stream tests run on small sizes (64 MiB
#                                   instead of 1 GiB in the package's memory
#                                   tests, 32 MiB instead of 256 MiB in the
#                                   page's round trip); every assertion runs
#   scripts/test.sh [--quick] 20 40 only the suites with these numbers
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
tier=full
suites=()
for arg in "$@"; do
  case "$arg" in
    --quick) tier=quick ;;
    [0-9][0-9]) suites+=(scripts/test.d/"$arg"-*.sh) ;;
    *) echo "usage: $0 [--quick] [NN ...]   (NN: a suite number in scripts/test.d)" >&2; exit 2 ;;
  esac
done
[ ${#suites[@]} -gt 0 ] || suites=(scripts/test.d/*.sh)
for suite in "${suites[@]}"; do
  [ -f "$suite" ] || { echo "no such suite: $suite" >&2; exit 2; }
done
if [ "$tier" = quick ]; then
  # The tests read these sizes; an explicit setting wins.
  export PQFILE_MEMORY_GIB=${PQFILE_MEMORY_GIB:-0.0625} WEB_E2E_LARGE_MIB=${WEB_E2E_LARGE_MIB:-32}
fi

scripts/setup.sh --check || scripts/setup.sh --all
export PATH="$HOME/.cargo/bin:$PATH"
echo "test tier: $tier (${#suites[@]} suites)"
failed=0
for suite in "${suites[@]}"; do
  printf '\n\033[1;35m==== %s ====\033[0m\n' "$suite"
  start=$(date +%s)
  if ! bash "$suite"; then
    echo "FAILED: $suite ($tier tier)"; failed=1; break
  fi
  echo "---- $suite passed in $(( $(date +%s) - start ))s"
done
if [ $failed -eq 0 ]; then
  if [ "$tier" = full ] && [ ${#suites[@]} -eq "$(ls scripts/test.d/*.sh | wc -l)" ]; then
    echo "ALL TEST SUITES PASSED (full tier)"
  else
    echo "TEST SUITES PASSED: ${suites[*]##*/} ($tier tier; not the full run CI does)"
  fi
fi
exit $failed
