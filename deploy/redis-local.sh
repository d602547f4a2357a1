#!/usr/bin/env bash
# Makes sure a Redis answers on 127.0.0.1:${REDIS_PORT:-6379} for
# `make run PROFILE=redis`: uses one that already answers, otherwise starts
# Debian's redis-server in the background (AOF on, data in ./var/redis),
# installing it first if it is missing. Stop it with:
#   redis-cli -p 6379 shutdown
set -euo pipefail

case "${1:-}" in
  -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
port="${REDIS_PORT:-6379}"
here="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  "$here/deploy/install-deps.sh" --redis
fi
if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null || true)" = PONG ]; then
  echo "redis-local: using the Redis that answers on 127.0.0.1:$port"
  exit 0
fi
dir="$here/var/redis"
mkdir -p "$dir"
chmod 700 "$dir"
redis-server --port "$port" --bind 127.0.0.1 --appendonly yes \
  --dir "$dir" --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" \
  --daemonize yes
for _ in $(seq 1 100); do
  if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null || true)" = PONG ]; then
    echo "redis-local: started redis-server on 127.0.0.1:$port (data in $dir;" \
         "stop: redis-cli -p $port shutdown)"
    exit 0
  fi
  sleep 0.1
done
echo "redis-local: redis-server did not answer on 127.0.0.1:$port; see $dir/redis.log" >&2
exit 1
