#!/usr/bin/env bash
# Builds and runs vidflow's libFuzzer targets (tests/fuzz/*.fuzz.cpp) in a
# separate clang build. Used by the CTest tests fuzz.* (make test) and by
# `make fuzz`.
#
#   tests/fuzz/run-fuzzers.sh build [--build-dir DIR]
#   tests/fuzz/run-fuzzers.sh run [--build-dir DIR] [--seconds N] [TARGET...]
#   tests/fuzz/run-fuzzers.sh list
#
# build: configures (clang, VF_ENABLE_FUZZING=ON) and builds DIR (default
#   build/fuzz) unless it is up to date; concurrent callers wait for each
#   other. Fails, saying what to install, when clang or libFuzzer is missing.
# run: builds if needed, then runs each TARGET (default: all) for N seconds
#   (default $FUZZ_SECONDS, else 60). Seeds: tests/fuzz/corpus/<target>
#   (read only); inputs found are kept in DIR/corpus/<target> for the next
#   run. A crash, leak, UB report, timeout or broken property fails the run:
#   the report, the saved input and the command that reproduces it are
#   printed. Extra libFuzzer flags: FUZZ_FLAGS="-jobs=2 ...".
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
targets_all=(minio_events sigv4_presigned sigv4_roundtrip jwt media_probe
             aws_chunked multipart_complete)

die() { echo "run-fuzzers: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 build|run|list [options] (see --help)"
cmd="$1"; shift
build_dir="$root/build/fuzz"
seconds="${FUZZ_SECONDS:-60}"
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    all) targets+=("${targets_all[@]}"); shift ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ "${#targets[@]}" -gt 0 ] || targets=("${targets_all[@]}")
case "$seconds" in ''|*[!0-9]*) die "--seconds wants a whole number, not '$seconds'" ;; esac

find_tool() {
  for name in "$@"; do
    if command -v "$name" >/dev/null; then command -v "$name"; return 0; fi
  done
  return 1
}

build() {
  local cc cxx
  cxx="$(find_tool clang++ clang++-14)" \
    || die "clang++ not found: the fuzz tests need clang and libclang-rt-14-dev (make test-deps, or apt-get install clang libclang-rt-14-dev)"
  cc="$(find_tool clang clang-14)" \
    || die "clang not found: the fuzz tests need clang and libclang-rt-14-dev (make test-deps)"
  mkdir -p "$build_dir"
  # CTest may run fuzz tests in parallel (ctest -j): one builder at a time.
  exec 9>"$build_dir/.build.lock"
  flock 9
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    echo "run-fuzzers: configuring $build_dir with $cxx"
    cmake -S "$root" -B "$build_dir" -DVF_ENABLE_FUZZING=ON \
      -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_CXX_COMPILER="$cxx" -DVF_ENABLE_TESTING=OFF \
      -DVF_ENABLE_BENCH=OFF >"$build_dir/configure.log" 2>&1 || {
        cat "$build_dir/configure.log" >&2
        rm -f "$build_dir/CMakeCache.txt"
        die "configuring the fuzz build failed (see above)"
      }
  fi
  cmake --build "$build_dir" --target vf_fuzzers -j "$(nproc)" \
    || die "building the fuzzers failed (see above)"
  flock -u 9
}

# Prints what a developer needs to reproduce a failure of `target`.
report() {
  local target="$1" exe="$2" log="$3" artifacts="$4"
  echo "---- fuzz.$target FAILED; libFuzzer's report (progress lines left out):"
  grep -a -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|INITED|RELOAD)' "$log" \
    | tail -n 200
  echo "---- reproducer(s):"
  local found=0
  for f in "$artifacts"/*; do
    [ -f "$f" ] || continue
    found=1
    echo "input: $f ($(stat -c %s "$f") bytes), base64:"
    head -c 4096 "$f" | base64 -w 76
    echo "reproduce: $exe $f"
    echo "minimize:  $exe -minimize_crash=1 -runs=10000 $f"
  done
  [ "$found" = 1 ] || echo "(no input saved: see the report above)"
}

run_one() {
  local target="$1"
  local exe="$build_dir/bin/fuzz_$target"
  [ -x "$exe" ] || die "no fuzzer '$target' ($exe); known: ${targets_all[*]}"
  local seeds="$here/corpus/$target"
  local corpus="$build_dir/corpus/$target"
  local artifacts="$build_dir/artifacts/$target"
  local log="$build_dir/logs/$target.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  rm -f "$artifacts"/*
  local flags=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
               -print_final_stats=1 -artifact_prefix="$artifacts/")
  [ -f "$here/dict/$target.dict" ] && flags+=(-dict="$here/dict/$target.dict")
  [ -f "$here/$target.options" ] && read -r -a extra <"$here/$target.options" \
    && flags+=("${extra[@]}")
  # shellcheck disable=SC2206
  [ -n "${FUZZ_FLAGS:-}" ] && flags+=(${FUZZ_FLAGS})
  echo "run-fuzzers: fuzz_$target for ${seconds}s (log: $log)"
  local rc=0
  # Found inputs go to the first directory; the seeds are only read.
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
    "$exe" "${flags[@]}" "$corpus" "$seeds" >"$log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    report "$target" "$exe" "$log" "$artifacts"
    return 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|cov: ' \
    "$log" | tail -n 4
  # A run that only replayed its corpus (or started nothing at all) fuzzed
  # nothing: after loading the corpus (the INITED line) it must execute
  # more new units than the inputs it was given.
  local units inited inputs
  units="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' \
    "$log" | tail -n 1)"
  inited="$(sed -n 's/^#\([0-9]*\)[[:space:]]*INITED.*/\1/p' "$log" | head -n 1)"
  inputs=$(( $(find "$corpus" "$seeds" -type f | wc -l) ))
  if [ -z "$units" ] || [ -z "$inited" ] \
     || [ $(( units - inited )) -le "$inputs" ]; then
    echo "run-fuzzers: fuzz_$target executed ${units:-no} units, ${inited:-?} of them loading the corpus, for $inputs corpus inputs: it did not fuzz (log: $log)" >&2
    return 1
  fi
  echo "run-fuzzers: fuzz_$target: no failure in ${seconds}s, corpus $(find "$corpus" -type f | wc -l) inputs"
}

case "$cmd" in
  list) printf '%s\n' "${targets_all[@]}" ;;
  build) build ;;
  run)
    build
    failed=()
    for t in "${targets[@]}"; do
      run_one "$t" || failed+=("$t")
    done
    [ "${#failed[@]}" = 0 ] || die "failed: ${failed[*]}"
    ;;
  *) die "unknown command '$cmd' (build, run or list)" ;;
esac
