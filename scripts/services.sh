#!/usr/bin/env bash
# Makes sure the local services the integration tests talk to are listening; starts any that
# are down with the machine's own start command. Never stops anything.
set -uo pipefail

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local name=$1 port=$2
  for _ in $(seq 1 50); do
    listening "$port" && { echo "$name is up on :$port"; return 0; }
    sleep 0.2
  done
  echo "$name did not come up on :$port" >&2
  return 1
}

ensure() {
  local name=$1 port=$2
  shift 2
  if listening "$port"; then
    echo "$name is up on :$port"
    return 0
  fi
  echo "$name is down; starting it"
  "$@" || true
  wait_for "$name" "$port"
}

status=0
ensure NATS 4222 start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
  -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || status=1
ensure Redis 6379 redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
  --dir /var/lib/redis --logfile /var/log/redis/ci.log || status=1
ensure PostgreSQL 5432 sh -c 'pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start' || status=1
exit $status
