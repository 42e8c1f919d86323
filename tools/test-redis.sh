#!/usr/bin/env bash
# Starts the replicated Redis servers the tests use, on 127.0.0.1, no
# persistence, data under var/test-redis, DEBUG allowed from localhost (the
# tests stall a replica with DEBUG SLEEP):
#   - a Redis Cluster of three masters with one replica each, ports 7101-7106
#     (cluster bus 17101-17106): SEGSTREAM_TEST_REDIS_CLUSTER=127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103
#   - a master on 7111 with one replica on 7112:
#     SEGSTREAM_TEST_REDIS_REPLICATED=127.0.0.1:7111,127.0.0.1:7112
# Does nothing for what already answers.
#   tools/test-redis.sh         start (or reuse)
#   tools/test-redis.sh stop    shut them all down
set -euo pipefail
cd "$(dirname "$0")/.."
cluster=(7101 7102 7103 7104 7105 7106)
all=("${cluster[@]}" 7111 7112)
base="$PWD/var/test-redis"

if [[ "${1:-}" == stop ]]; then
  for p in "${all[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  exit 0
fi

start() { # port [extra args...]
  local p=$1; shift
  redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
  local dir="$base/$p"; rm -rf "$dir"; mkdir -p "$dir"
  redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no --enable-debug-command local \
    --dir "$dir" --logfile "$dir/log" --daemonize yes "$@" >/dev/null
  for _ in $(seq 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "test-redis.sh: redis-server on $p did not start (see $dir/log)" >&2; return 1
}

cluster_ok() {
  redis-cli -p 7101 cluster info 2>/dev/null | grep -q '^cluster_state:ok' &&
    [[ $(redis-cli -p 7101 cluster nodes 2>/dev/null | grep -c 'connected') -eq ${#cluster[@]} ]]
}

if ! cluster_ok; then
  for p in "${cluster[@]}"; do
    start "$p" --cluster-enabled yes --cluster-config-file "$base/$p/nodes.conf" --cluster-node-timeout 5000
  done
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "${cluster[@]}") --cluster-replicas 1 --cluster-yes >/dev/null
  for _ in $(seq 200); do cluster_ok && break; sleep 0.1; done
  cluster_ok || { echo "test-redis.sh: the cluster did not become ready" >&2; exit 1; }
fi

if ! redis-cli -p 7111 info replication 2>/dev/null | grep -q '^connected_slaves:1'; then
  start 7111
  start 7112 --replicaof 127.0.0.1 7111
  for _ in $(seq 100); do
    redis-cli -p 7111 info replication | grep -q '^connected_slaves:1' && break; sleep 0.1
  done
  redis-cli -p 7111 info replication | grep -q '^connected_slaves:1' || { echo "test-redis.sh: 7112 did not attach to 7111" >&2; exit 1; }
fi
# every replica of the cluster attached and in sync
for _ in $(seq 100); do
  n=0; for p in "${cluster[@]}"; do
    redis-cli -p "$p" info replication | grep -q '^master_link_status:up' && n=$((n+1)); done
  [[ $n -eq 3 ]] && break; sleep 0.1
done
echo ok
