#!/usr/bin/env bash
# Runs a command with a throwaway redis-server for the integration tests.
#
#   scripts/with-redis.sh go test ./...
#
# When TEST_REDIS_URL is already set, that Redis is used and nothing is
# started. Otherwise redis-server (Debian package redis-server) is started on a
# free loopback port with its data in a temporary folder, TEST_REDIS_URL points
# at its database 14, and the server is stopped when the command ends.
# REQUIRE_INTEGRATION=1 is exported so that no integration test can skip.
set -euo pipefail

export REQUIRE_INTEGRATION=1
if [ -n "${TEST_REDIS_URL:-}" ]; then
  exec "$@"
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "with-redis: redis-server not found; install it (apt-get install -y redis-server) or set TEST_REDIS_URL" >&2
  exit 1
fi

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 6390)
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
  --maxmemory-policy noeviction --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
cleanup() {
  if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
  sleep 0.2
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 50); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
export TEST_REDIS_URL="redis://127.0.0.1:$port/14"
echo "with-redis: redis-server on 127.0.0.1:$port (data in $dir)" >&2
"$@"
