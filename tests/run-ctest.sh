#!/usr/bin/env bash
# Runs CTest in a build directory and fails if a test was skipped without
# being declared expected: in tests/expected-skips (for every machine) or in
# VF_EXPECTED_SKIPS (space-separated test names, for this machine). Used by
# `make test` and tests/sanitize.sh.
#
#   tests/run-ctest.sh BUILD_DIR [CTEST_ARGS...]
set -euo pipefail

if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  sed -n "2,8p" "$0"
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$1"; shift
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
rc=0
(cd "$build_dir" && ctest --output-log "$log" "$@") || rc=$?

expected=" ${VF_EXPECTED_SKIPS:-} "
while read -r name _; do
  expected+="$name "
done < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$root/tests/expected-skips")

# CTest's summary: "<tab> 12 - integration.e2e_cluster_netns (Skipped)".
unexpected=()
while read -r name; do
  case "$expected" in
    *" $name "*) echo "run-ctest: $name skipped (declared expected)" ;;
    *) unexpected+=("$name") ;;
  esac
done < <(sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (Skipped)$/\1/p' "$log")

if [ "${#unexpected[@]}" -gt 0 ]; then
  echo "run-ctest: FAILED: skipped without being declared expected:" \
       "${unexpected[*]}" >&2
  echo "run-ctest: a skip proves nothing; make the test run here, or" \
       "declare it in tests/expected-skips (every machine) or" \
       "VF_EXPECTED_SKIPS (this machine)" >&2
  [ "$rc" = 0 ] && rc=1
fi
exit "$rc"
