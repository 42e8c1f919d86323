#!/usr/bin/env bash
# Starts a local Redis Cluster of three masters (no replicas) for the tests:
# ports 7101-7103 on 127.0.0.1 (cluster bus 17101-17103), data in
# var/redis-cluster, no persistence. Does nothing when it already answers.
# Prints the seed addresses for SEGSTREAM_TEST_REDIS_CLUSTER.
#   tools/redis-cluster.sh         start (or reuse)
#   tools/redis-cluster.sh stop    shut the three servers down
set -euo pipefail
cd "$(dirname "$0")/.."
ports=(7101 7102 7103)
addrs=$(printf '127.0.0.1:%s,' "${ports[@]}"); addrs=${addrs%,}

if [[ "${1:-}" == stop ]]; then
  for p in "${ports[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  exit 0
fi

if redis-cli -p "${ports[0]}" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; then
  echo "$addrs"; exit 0
fi
for p in "${ports[@]}"; do
  redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
  dir="var/redis-cluster/$p"; rm -rf "$dir"; mkdir -p "$dir"
  redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file "$PWD/$dir/nodes.conf" \
    --cluster-node-timeout 5000 --dir "$PWD/$dir" --save '' --appendonly no --daemonize yes --logfile "$PWD/$dir/log" >/dev/null
done
for p in "${ports[@]}"; do
  for _ in $(seq 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
redis-cli --cluster create ${addrs//,/ } --cluster-replicas 0 --cluster-yes >/dev/null
for _ in $(seq 100); do
  if redis-cli -p "${ports[0]}" cluster info | grep -q '^cluster_state:ok'; then echo "$addrs"; exit 0; fi
  sleep 0.1
done
echo "redis-cluster.sh: the cluster did not become ready" >&2; exit 1
