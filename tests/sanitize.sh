#!/usr/bin/env bash
# Builds vidflow with AddressSanitizer + UndefinedBehaviorSanitizer (gcc) in
# a separate build directory and runs every CTest test except the fuzzers,
# the browser tests (label `browser`, see tests/integration/e2e.cmake) and
# the long chaos runs and Python-only checks (label `nosan`, see
# tests/integration/chaos.cmake and cluster.cmake) — unit, integration,
# end-to-end — under them. Used by `make sanitize`.
#
#   tests/sanitize.sh [--build-dir DIR] [--all] [-- CTEST_ARGS...]
#
# DIR defaults to build-asan; --all runs the `nosan` tests too. Any
# sanitizer report fails the test it happens in: ASan aborts (leaks
# included), UBSan halts on the first report. UBSan suppressions, each with
# its reason, live in tests/ubsan.supp (LeakSanitizer ones in
# tests/lsan.supp). Extra
# options: ASAN_OPTIONS / UBSAN_OPTIONS from the environment are appended.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$root/build-asan"
ctest_args=()
exclude="fuzz|browser|nosan"
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --all) exclude="fuzz|browser"; shift ;;
    --) shift; ctest_args=("$@"); break ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "sanitize: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

start=$(date +%s)
# -O0 -g1: sanitizer reports keep file:line stacks. gcc 12 compiles
# template-heavy code with UBSan at -O1 about 2.5 times slower than at -O0
# (actors/orchestrator.cpp: 42 s vs 17 s; -O3 without sanitizers: 12 s),
# which pushed CI past its budget; at -O0 every check stays on and ASan
# sees every access (nothing optimised away). The tests run a little
# slower: most of their time is spent in processes waiting and in the
# system's own (uninstrumented) libav*, CAF and SQLite.
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE= \
  -DCMAKE_CXX_FLAGS="-O0 -g1" -DCMAKE_C_FLAGS="-O0 -g1" \
  -DVF_SANITIZERS=address,undefined -DCMAKE_C_COMPILER=gcc \
  -DCMAKE_CXX_COMPILER=g++ -DVF_ENABLE_BENCH=OFF
cmake --build "$build_dir" -j "$(nproc)"
built=$(date +%s)
echo "sanitize: build took $((built - start)) s"

asan="detect_leaks=1:abort_on_error=1"
ubsan="print_stacktrace=1:halt_on_error=1"
if [ -s "$root/tests/ubsan.supp" ]; then
  ubsan+=":suppressions=$root/tests/ubsan.supp"
fi
export ASAN_OPTIONS="$asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
lsan=""
if [ -s "$root/tests/lsan.supp" ]; then
  lsan="suppressions=$root/tests/lsan.supp"
fi
export LSAN_OPTIONS="$lsan${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="$ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
echo "sanitize: ASAN_OPTIONS=$ASAN_OPTIONS"
echo "sanitize: UBSAN_OPTIONS=$UBSAN_OPTIONS"
echo "sanitize: LSAN_OPTIONS=$LSAN_OPTIONS"
rc=0
"$root/tests/run-ctest.sh" "$build_dir" --output-on-failure --timeout 900 \
  -LE "$exclude" "${ctest_args[@]}" || rc=$?
echo "sanitize: tests took $(($(date +%s) - built)) s (exit $rc)"
exit "$rc"
