#!/usr/bin/env bash
# bench/ingest.sh — POST /jobs throughput: vidflow vs the reference design.
#
# Starts build/vidflow and bench/reference/app.py (FastAPI + uvicorn, one
# worker, SQLite) on free ports, logs in to each, runs the same wrk load
# (bench/post_jobs.lua: POST /jobs with a bearer token) against each in turn,
# prints one table (requests/s, p50, p99, non-2xx) and the ratio, and stops
# both servers. Reports numbers only; never fails on speed.
#
#   bench/ingest.sh [--build-dir DIR] [--duration 10s] [--connections 50]
#                   [--threads 2] [--warmup 2s] [--only vidflow|reference]
#                   [--quiet]
#
#   --build-dir DIR   where the vidflow binary is (default: build)
#   --config FILE     vidflow config (default: config/vidflow.conf)
#   --duration D      wrk duration per server (default 10s)
#   --connections N   wrk connections (default 50)
#   --threads N       wrk threads (default 2)
#   --warmup D        unmeasured wrk run before each measurement (default 2s;
#                     0 to skip)
#   --only NAME       run one side only
#   --quiet           no raw wrk output, only the table
# Needs: wrk, curl, /usr/bin/python3 with python3-fastapi and python3-uvicorn
# (deploy/install-deps.sh --bench).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
PY=/usr/bin/python3
build="$repo/build"
config="$repo/config/vidflow.conf"
duration=10s
connections=50
threads=2
warmup=2s
only=""
quiet=0

while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --quiet) quiet=1; shift ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ingest.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
build="$(cd "$build" 2>/dev/null && pwd || echo "$build")"
vidflow="$build/vidflow"

command -v wrk >/dev/null || { echo "ingest.sh: wrk not installed (deploy/install-deps.sh --bench)" >&2; exit 1; }
command -v curl >/dev/null || { echo "ingest.sh: curl not installed" >&2; exit 1; }

tmp="$(mktemp -d -t vf-ingest-XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_healthy() {  # url pid log
  for _ in $(seq 300); do
    if ! kill -0 "$2" 2>/dev/null; then
      echo "ingest.sh: server exited during start-up; log:" >&2
      tail -n 30 "$3" >&2
      return 1
    fi
    curl -fsS -o /dev/null "$1/healthz" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "ingest.sh: $1 not healthy after 30 s; log:" >&2
  tail -n 30 "$3" >&2
  return 1
}

login() {  # url → token on stdout
  curl -fsS -X POST "$1/auth/login" -H 'Content-Type: application/json' \
       -d '{"username":"demo","password":"demo"}' |
    "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

run_wrk() {  # name url token
  local name="$1" url="$2" token="$3"
  if [ "$warmup" != 0 ] && [ "$warmup" != 0s ]; then
    TOKEN="$token" wrk -t"$threads" -c"$connections" -d"$warmup" \
      -s "$here/post_jobs.lua" "$url" >/dev/null 2>&1 || true
  fi
  TOKEN="$token" wrk -t"$threads" -c"$connections" -d"$duration" --timeout 10s --latency \
    -s "$here/post_jobs.lua" "$url" >"$tmp/$name.wrk" 2>&1 || {
      echo "ingest.sh: wrk failed against $name:" >&2; cat "$tmp/$name.wrk" >&2; return 1; }
  if [ "$quiet" = 0 ]; then
    echo "--- wrk against $name ($url) ---"
    grep -v '^VFBENCH' "$tmp/$name.wrk"
  fi
  grep '^VFBENCH' "$tmp/$name.wrk" | sed "s/^VFBENCH/$name/" >>"$tmp/results"
}

: >"$tmp/results"
echo "ingest bench: wrk -t$threads -c$connections -d$duration --timeout 10s --latency POST /jobs; $(nproc) CPUs; $(date -u +%FT%TZ)"

# --- vidflow ---------------------------------------------------------------
if [ "$only" != reference ]; then
  if [ -x "$vidflow" ]; then
    vport="$(free_port)"; sport="$(free_port)"
    mkdir -p "$tmp/vf-data"
    "$vidflow" serve --config "$config" --http-port "$vport" \
      --store-port "$sport" --data-dir "$tmp/vf-data" --rate-limit 0 \
      --jobs-in-flight-per-user 0 \
      >"$tmp/vidflow.log" 2>&1 &
    vpid=$!; pids+=("$vpid")
    wait_healthy "http://127.0.0.1:$vport" "$vpid" "$tmp/vidflow.log"
    run_wrk vidflow "http://127.0.0.1:$vport" "$(login "http://127.0.0.1:$vport")"
    kill -TERM "$vpid" 2>/dev/null || true
  else
    echo "ingest.sh: $vidflow not built; reporting the reference only" >&2
  fi
fi

# --- reference (FastAPI + uvicorn, one worker, SQLite) ---------------------
if [ "$only" != vidflow ]; then
  "$PY" -c 'import fastapi, uvicorn' 2>/dev/null || {
    echo "ingest.sh: python3-fastapi / python3-uvicorn missing for $PY (deploy/install-deps.sh --bench)" >&2; exit 1; }
  rport="$(free_port)"
  (cd "$here/reference" && REF_DB="$tmp/reference.db" \
     REF_PUBLIC_URL="http://127.0.0.1:9000" \
     exec "$PY" -m uvicorn app:app --host 127.0.0.1 --port "$rport" \
       --log-level warning) >"$tmp/reference.log" 2>&1 &
  rpid=$!; pids+=("$rpid")
  wait_healthy "http://127.0.0.1:$rport" "$rpid" "$tmp/reference.log"
  run_wrk reference "http://127.0.0.1:$rport" "$(login "http://127.0.0.1:$rport")"
  kill -TERM "$rpid" 2>/dev/null || true
fi

# --- table -----------------------------------------------------------------
echo
"$PY" - "$tmp/results" <<'EOF'
import sys
rows = {}
for line in open(sys.argv[1]):
    name, *kv = line.split()
    rows[name] = {k: float(v) for k, v in (x.split("=") for x in kv)}
print(f"{'server':<10} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} "
      f"{'max ms':>9} {'requests':>9} {'non-2xx':>8} {'sock-err':>8}")
for name, r in rows.items():
    print(f"{name:<10} {r['rps']:>10.1f} {r['p50_ms']:>9.2f} {r['p99_ms']:>9.2f} "
          f"{r['max_ms']:>9.2f} {int(r['requests']):>9} {int(r['non2xx']):>8} "
          f"{int(r['socket_errors']):>8}")
if "vidflow" in rows and "reference" in rows:
    v, ref = rows["vidflow"], rows["reference"]
    print(f"ratio vidflow/reference: throughput {v['rps'] / ref['rps']:.1f}x, "
          f"p99 {ref['p99_ms'] / max(v['p99_ms'], 1e-9):.1f}x lower")
print("target (reported, not asserted): vidflow >= 20x the reference's "
      "req/s with p99 < 10 ms")
EOF
