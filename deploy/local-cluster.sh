#!/usr/bin/env bash
# Starts a local vidflow cluster on 127.0.0.1: a coordinator (API, store,
# cluster port; no local workers) and N worker nodes, each with its own data
# directory and log file under DIR. Builds nothing: runs $VIDFLOW (default
# build/vidflow).
# The coordinator reads config/vidflow.conf (development secrets only).
#
#   deploy/local-cluster.sh [start] [options]   run in the foreground; Ctrl-C
#                                               stops the workers (they drain),
#                                               then the coordinator
#   deploy/local-cluster.sh stop [--dir DIR]    the same from another terminal
#
# Options: --workers N (3)  --slots N (2)  --dir DIR (./var/local-cluster)
#          --http-port P (8000)  --store-port P (9000)  --cluster-port P (4242)
set -euo pipefail

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }

vidflow=${VIDFLOW:-build/vidflow}
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
config=$repo_root/config/vidflow.conf
cmd=start
workers=3
slots=2
dir=./var/local-cluster
http_port=8000
store_port=9000
cluster_port=4242
# Seconds a node gets to stop after SIGTERM before it is killed: workers
# drain for up to worker.drain_timeout_s (120 s).
worker_grace=150
coordinator_grace=60

die() { echo "local-cluster: $*" >&2; exit 2; }

if [ $# -gt 0 ]; then
  case "$1" in
    start|stop) cmd=$1; shift ;;
  esac
fi
while [ $# -gt 0 ]; do
  opt=$1
  case "$opt" in
    -h|--help) usage; exit 0 ;;
    --workers|--slots|--dir|--http-port|--store-port|--cluster-port)
      if [ $# -lt 2 ] || [ -z "$2" ]; then die "option $opt needs a value"; fi
      val=$2
      shift 2
      if [ "$opt" != --dir ]; then
        if ! [[ "$val" =~ ^[0-9]{1,5}$ ]]; then
          die "option $opt must be a whole number, got '$val'"
        fi
        val=$((10#$val))
      fi
      case "$opt" in
        --workers) workers=$val ;;
        --slots) slots=$val ;;
        --dir) dir=$val ;;
        --http-port) http_port=$val ;;
        --store-port) store_port=$val ;;
        --cluster-port) cluster_port=$val ;;
      esac
      ;;
    *) die "unknown option '$opt' (see --help)" ;;
  esac
done
if [ "$workers" -lt 1 ] || [ "$workers" -gt 64 ]; then
  die "option --workers must be 1 to 64, got $workers"
fi
if [ "$slots" -lt 1 ]; then die "option --slots must be at least 1"; fi
for p in "$http_port" "$store_port" "$cluster_port"; do
  if [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then
    die "port $p is not 1 to 65535"
  fi
done

if [ "$cmd" = stop ] && [ ! -d "$dir" ]; then
  echo "local-cluster: nothing runs in $dir"
  exit 0
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pids_file=$dir/pids

# True if pid $1 runs and is not a zombie (our exited, unreaped children).
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ "$state" != Z* ]]
}

# True if pid $1 is the vidflow node $2 of this cluster (not a reused pid).
is_node() {
  [ -r "/proc/$1/cmdline" ] \
    && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "--data-dir $dir/$2 "
}

# Sends SIGTERM to the given "name pid" pairs, waits up to $1 seconds for
# all of them, then kills what is left.
terminate() {
  local grace=$1 name pid left i
  shift
  local -a pids=()
  while [ $# -ge 2 ]; do
    name=$1 pid=$2
    shift 2
    if alive "$pid" && is_node "$pid" "$name"; then
      echo "local-cluster: stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  for ((i = 0; i < grace * 5; i++)); do
    left=0
    for pid in "${pids[@]}"; do
      if alive "$pid"; then left=1; fi
    done
    [ "$left" = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do
    if alive "$pid"; then
      echo "local-cluster: pid $pid still runs after ${grace}s, killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
}

# Stops the nodes listed in the pids file: workers first, so they drain
# while the coordinator still takes their results.
stop_nodes() {
  [ -f "$pids_file" ] || return 0
  local -a worker_list=() coordinator_list=()
  local name pid
  while read -r name pid; do
    case "$name" in
      coordinator) coordinator_list+=("$name" "$pid") ;;
      worker-*) worker_list+=("$name" "$pid") ;;
    esac
  done <"$pids_file"
  if [ "${#worker_list[@]}" -gt 0 ]; then
    terminate "$worker_grace" "${worker_list[@]}"
  fi
  if [ "${#coordinator_list[@]}" -gt 0 ]; then
    terminate "$coordinator_grace" "${coordinator_list[@]}"
  fi
  rm -f "$pids_file"
}

launcher_pid() {
  [ -f "$pids_file" ] || return 1
  awk '$1 == "launcher" { print $2 }' "$pids_file"
}

if [ "$cmd" = stop ]; then
  [ -f "$pids_file" ] || { echo "local-cluster: nothing runs in $dir"; exit 0; }
  lpid=$(launcher_pid || true)
  if [ -n "$lpid" ] && alive "$lpid" \
      && tr '\0' ' ' <"/proc/$lpid/cmdline" | grep -q local-cluster; then
    # The launcher stops its nodes in order and exits.
    echo "local-cluster: asking the launcher (pid $lpid) to stop the cluster"
    kill -TERM "$lpid"
    while alive "$lpid"; do sleep 0.2; done
  fi
  stop_nodes
  echo "local-cluster: stopped"
  exit 0
fi

# -- start --------------------------------------------------------------------

[ -x "$vidflow" ] \
  || die "no vidflow binary at $vidflow: build it (make build) or set VIDFLOW"
[ -r "$config" ] || die "cannot read $config"
command -v curl >/dev/null || die "curl is needed to wait for /healthz"
command -v setsid >/dev/null || die "setsid (util-linux) is needed"
if [ -f "$pids_file" ]; then
  while read -r name pid; do
    if alive "$pid" && { [ "$name" = launcher ] || is_node "$pid" "$name"; }
    then
      die "a cluster already runs in $dir ($name, pid $pid): run" \
        "'$0 stop --dir $dir' first"
    fi
  done <"$pids_file"
  rm -f "$pids_file"
fi

certs=$dir/certs
logs=$dir/logs
mkdir -p "$logs"

# Certificates: once for the CA, later only for nodes that are new.
nodes=()
for name in coordinator $(seq -f 'worker-%g' 1 "$workers"); do
  if [ ! -f "$certs/$name.pem" ] || [ ! -f "$certs/$name.key" ]; then
    nodes+=("$name")
  fi
done
if [ "${#nodes[@]}" -gt 0 ]; then
  list=$(IFS=,; echo "${nodes[*]}")
  if ! "$vidflow" cluster init-certs --dir "$certs" --nodes "$list" \
      >"$logs/init-certs.log" 2>&1; then
    cat "$logs/init-certs.log" >&2
    die "vidflow cluster init-certs failed"
  fi
  echo "local-cluster: certificates for $list in $certs"
fi

# Sets tls to the certificate flags of node $1.
tls=()
set_tls() {
  tls=(--cluster-ca "$certs/ca.pem" --cluster-cert "$certs/$1.pem"
       --cluster-key "$certs/$1.key")
}

echo "launcher $$" >"$pids_file"

# Whatever ends the launcher (Ctrl-C, SIGTERM, a failure) stops the nodes.
stopping=0
cleanup() {
  [ "$stopping" = 1 ] && return
  stopping=1
  echo "local-cluster: stopping the cluster"
  stop_nodes
  echo "local-cluster: stopped"
}
trap cleanup EXIT
trap 'echo; exit 0' INT TERM

api=http://127.0.0.1:$http_port
# Each node runs in its own session (setsid): Ctrl-C on the terminal reaches
# only this script, which then stops the nodes in order.
set_tls coordinator
setsid "$vidflow" serve --config "$config" --workers 0 \
  --http-host 127.0.0.1 --http-port "$http_port" \
  --store-host 127.0.0.1 --store-port "$store_port" \
  --public-url "http://127.0.0.1:$store_port" \
  --data-dir "$dir/coordinator" \
  --cluster-host 127.0.0.1 --cluster-port "$cluster_port" \
  "${tls[@]}" >>"$logs/coordinator.log" 2>&1 &
coordinator_pid=$!
echo "coordinator $coordinator_pid" >>"$pids_file"
echo "local-cluster: coordinator pid $coordinator_pid," \
  "log $logs/coordinator.log"

for ((i = 0; i < 300; i++)); do
  if curl -fsS -o /dev/null --max-time 1 "$api/healthz" 2>/dev/null; then
    break
  fi
  if ! alive "$coordinator_pid"; then
    wait "$coordinator_pid" || true
    tail -n 20 "$logs/coordinator.log" >&2
    echo "local-cluster: the coordinator exited (log above)" >&2
    exit 1
  fi
  sleep 0.1
done
if ! curl -fsS -o /dev/null --max-time 1 "$api/healthz" 2>/dev/null; then
  echo "local-cluster: $api/healthz did not answer in 30s" >&2
  exit 1
fi

worker_pids=()
for ((n = 1; n <= workers; n++)); do
  name=worker-$n
  set_tls "$name"
  setsid "$vidflow" worker --join "127.0.0.1:$cluster_port" --name "$name" \
    --slots "$slots" --data-dir "$dir/$name" "${tls[@]}" \
    >>"$logs/$name.log" 2>&1 &
  worker_pids+=("$!")
  echo "$name $!" >>"$pids_file"
done

cat <<EOF

vidflow local cluster is up:
  API        $api  (accounts: auth.users in config/vidflow.conf)
  store      http://127.0.0.1:$store_port
  cluster    127.0.0.1:$cluster_port, $workers worker nodes x $slots slots
  logs       $logs/
  pids       $pids_file

Stop: Ctrl-C here, or $0 stop --dir $dir
EOF

# Watch the nodes; `sleep & wait` keeps the signal traps responsive.
reported=()
while true; do
  if ! alive "$coordinator_pid"; then
    wait "$coordinator_pid" && rc=0 || rc=$?
    echo "local-cluster: the coordinator exited (status $rc), see" \
      "$logs/coordinator.log" >&2
    exit 1
  fi
  for ((n = 1; n <= workers; n++)); do
    pid=${worker_pids[n - 1]}
    if [ -z "${reported[n]:-}" ] && ! alive "$pid"; then
      wait "$pid" && rc=0 || rc=$?
      reported[n]=1
      echo "local-cluster: worker-$n exited (status $rc), see" \
        "$logs/worker-$n.log" >&2
    fi
  done
  sleep 1 &
  wait $! || true
done
