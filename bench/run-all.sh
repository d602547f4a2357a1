#!/usr/bin/env bash
# bench/run-all.sh — runs every benchmark and prints its numbers (`make bench`).
#
#   bench/run-all.sh [BUILD_DIR]      (default: build)
#
# In order: BUILD_DIR/vf-bench-probe, BUILD_DIR/vf-bench-sqlite-store,
# BUILD_DIR/vf-bench-dispatch, vf-bench-render, vf-bench-compose,
# vf-bench-redis-bus, vf-bench-request-timeouts (each skipped with a
# message when not built),
# bench/ingest.sh (POST /jobs, vidflow vs the FastAPI reference under wrk),
# bench/ingest_hop.py (POST /jobs through an ingestion node vs straight),
# bench/sqs_intake.py (object events from SQS vs the webhook, s3 mode),
# bench/state_backends.py (SQLite vs DynamoDB on dynalite),
# bench/e2e.py (300 clips through the real API), bench/load.py (vf-loadgen,
# the native end-to-end load generator), bench/cluster.py (jobs/s
# with 1, 2, 4 worker nodes). Numbers only: no benchmark fails on speed.
# Exits non-zero only if a benchmark itself broke. Extra options come
# through the environment: INGEST_ARGS="--duration 30s",
# E2E_ARGS="--jobs 1000", CLUSTER_ARGS="--nodes 1,2", HOP_ARGS="--duration 30s",
# SQS_ARGS="--events 2000", STATE_ARGS="--jobs 1000", LOAD_ARGS="--rate 300"
set -uo pipefail

case "${1:-}" in
  -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-$here/../build}" && pwd)" || {
  echo "run-all.sh: build directory '${1:-build}' not found" >&2; exit 2; }
status=0

section() { printf '\n==== %s ====\n' "$*"; }

run_program() {  # name
  local exe=""
  for cand in "$build/$1" "$build/bench/$1"; do
    [ -x "$cand" ] && { exe="$cand"; break; }
  done
  section "$1"
  if [ -z "$exe" ]; then
    echo "skipped: $1 is not built in $build"
    return
  fi
  "$exe" || { echo "run-all.sh: $1 exited with $?" >&2; status=1; }
}

echo "vidflow benchmarks — $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
run_program vf-bench-probe
run_program vf-bench-sqlite-store
run_program vf-bench-dispatch
run_program vf-bench-render
run_program vf-bench-compose
run_program vf-bench-redis-bus
run_program vf-bench-request-timeouts

section "ingest: POST /jobs, vidflow vs reference (bench/ingest.sh)"
# shellcheck disable=SC2086
"$here/ingest.sh" --build-dir "$build" ${INGEST_ARGS:-} || status=1

section "ingest hop: POST /jobs via an ingestion node vs straight (bench/ingest_hop.py)"
if [ -x "$build/vidflow" ]; then
  # shellcheck disable=SC2086
  /usr/bin/python3 "$here/ingest_hop.py" --binary "$build/vidflow" ${HOP_ARGS:-} || status=1
else
  echo "skipped: $build/vidflow is not built"
fi

section "SQS intake: object events from SQS vs the webhook (bench/sqs_intake.py)"
if [ -x "$build/vidflow" ]; then
  # shellcheck disable=SC2086
  /usr/bin/python3 "$here/sqs_intake.py" --binary "$build/vidflow" ${SQS_ARGS:-} || status=1
else
  echo "skipped: $build/vidflow is not built"
fi

section "state backends: SQLite vs DynamoDB (bench/state_backends.py)"
if [ -x "$build/vidflow" ]; then
  # shellcheck disable=SC2086
  /usr/bin/python3 "$here/state_backends.py" --binary "$build/vidflow" ${STATE_ARGS:-} || status=1
else
  echo "skipped: $build/vidflow is not built"
fi

section "end to end: clips through the real API (bench/e2e.py)"
if [ -x "$build/vidflow" ]; then
  # shellcheck disable=SC2086
  /usr/bin/python3 "$here/e2e.py" --binary "$build/vidflow" ${E2E_ARGS:-} || status=1
else
  echo "skipped: $build/vidflow is not built"
fi

section "end to end, native load generator (bench/load.py, vf-loadgen)"
if [ -x "$build/vidflow" ] && [ -x "$build/bench/vf-loadgen" ]; then
  # shellcheck disable=SC2086
  /usr/bin/python3 "$here/load.py" --binary "$build/vidflow" --loadgen "$build/bench/vf-loadgen" --single ${LOAD_ARGS:-} || status=1
else
  echo "skipped: $build/vidflow or $build/bench/vf-loadgen is not built"
fi

section "cluster: jobs/s with 1, 2, 4 worker nodes (bench/cluster.py)"
if [ -x "$build/vidflow" ]; then
  # shellcheck disable=SC2086
  /usr/bin/python3 "$here/cluster.py" --binary "$build/vidflow" ${CLUSTER_ARGS:-} || status=1
else
  echo "skipped: $build/vidflow is not built"
fi
exit "$status"
