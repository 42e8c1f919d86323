#!/usr/bin/env bash
# Runs a real Apache Kafka broker for the integration tests: one KRaft node
# that is both broker and controller, on loopback only, from the jars that
# tools/kafka/setup.sh keeps under var/kafka/<version>/lib.
#
#   tools/kafka/broker.sh start  [--port 9092] [--dir DIR] [--secure CERTS]  start (or reuse) it; prints the bootstrap address
#   tools/kafka/broker.sh stop   [--port 9092] [--dir DIR]  TERM, then KILL after 15 s
#   tools/kafka/broker.sh status [--port 9092] [--dir DIR]  exit 0 when it answers a Metadata request
#
# Clients use 127.0.0.1:<port>; the controller listens on <port+1>. DIR
# (default var/kafka-data/<port>) holds server.properties, log4j2.properties,
# cluster.id, broker.pid, broker.out (the JVM's stdout and stderr), kafka.log
# (Log4j, WARN and above) and data/ (log.dirs). Storage is formatted once and
# kept between runs; delete DIR after a stop for an empty broker.
# --secure CERTS adds a SASL_SSL listener on <port+2> (advertised as
# 127.0.0.1:<port+2>) for the security tests: CERTS holds server.pem (the
# broker's PKCS#8 key, unencrypted, and its certificate chain), ca.pem (the
# CA whose clients it trusts: ssl.client.auth=required) and users (one
# "name password" per line, no spaces or quotes in either). Every user may
# log in with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (SCRAM credentials are
# written at format time, so use a fresh DIR). PLAINTEXT stays the
# inter-broker listener, and readiness is still checked on it.
# Topics are not created automatically (auto.create.topics.enable=false): the
# tests create theirs (CreateTopics); num.partitions=3 is the default count.
# Readiness is a Metadata round trip with kcat that lists broker 1.
# KAFKA_VERSION and SEGSTREAM_VAR as for setup.sh; KAFKA_HEAP (default 512m).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VAR="${SEGSTREAM_VAR:-$ROOT/var}"
cmd=${1:-}
[ $# -gt 0 ] && shift
PORT=9092
DIR=
SECURE=
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT=${2:?--port needs a number}; shift 2 ;;
    --port=*) PORT=${1#--port=}; shift ;;
    --dir) DIR=${2:?--dir needs a folder}; shift 2 ;;
    --dir=*) DIR=${1#--dir=}; shift ;;
    --secure) SECURE=${2:?--secure needs a folder}; shift 2 ;;
    --secure=*) SECURE=${1#--secure=}; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "broker.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$PORT" in ''|*[!0-9]*) echo "broker.sh: --port $PORT is not a number" >&2; exit 2 ;; esac
CPORT=$((PORT + 1))
SPORT=$((PORT + 2))
DIR=${DIR:-$VAR/kafka-data/$PORT}
BOOT="127.0.0.1:$PORT"
PIDF="$DIR/broker.pid"

log() { echo "kafka/broker.sh: $*" >&2; }
ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }

# answers: a Metadata round trip that lists broker 1 at our address.
answers() {
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || return 1
  kcat -L -J -b "$BOOT" -m 2 2>/dev/null | grep -q "\"id\":1,\"name\":\"$BOOT\""
}

# ourpid: the pid in the pid file when that process is our broker's JVM.
ourpid() {
  local pid
  pid=$(cat "$PIDF" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka' || return 1
  echo "$pid"
}

tail_logs() {
  for f in "$DIR/broker.out" "$DIR/kafka.log"; do
    if [ -s "$f" ]; then echo "--- last 40 lines of $f" >&2; tail -n 40 "$f" >&2; fi
  done
}

start() {
  command -v kcat >/dev/null 2>&1 || { log "needs kcat (tools/setup.sh installs it)"; exit 1; }
  if answers; then
    echo "$BOOT"; return 0
  fi
  mkdir -p "$DIR/data"
  DIR=$(cd "$DIR" && pwd)
  PIDF="$DIR/broker.pid"
  # One start at a time per folder (fd 9 is closed for the broker itself).
  exec 9>"$DIR/.lock"
  flock 9
  if answers; then
    echo "$BOOT"; return 0
  fi
  if pid=$(ourpid); then
    log "broker $pid (from $PIDF) runs but does not answer on $BOOT yet; waiting"
  else
    local lib listeners="PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT" advertised="PLAINTEXT://127.0.0.1:$PORT"
    local protomap="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT" secprops="" scram=()
    lib=$("$ROOT/tools/kafka/setup.sh" --print-lib)
    if [ -n "$SECURE" ]; then
      SECURE=$(cd "$SECURE" && pwd)
      local f name pw plain=""
      for f in server.pem ca.pem users; do
        [ -s "$SECURE/$f" ] || { log "--secure $SECURE: $f is missing"; exit 2; }
      done
      while read -r name pw; do
        [ -n "$name" ] || continue
        plain="$plain user_$name=\"$pw\""
        scram+=(--add-scram "SCRAM-SHA-256=[name=$name,password=$pw]" --add-scram "SCRAM-SHA-512=[name=$name,password=$pw]")
      done <"$SECURE/users"
      listeners="$listeners,SASL_SSL://127.0.0.1:$SPORT"
      advertised="$advertised,SASL_SSL://127.0.0.1:$SPORT"
      protomap="$protomap,SASL_SSL:SASL_SSL"
      secprops="# --secure $SECURE: a SASL_SSL listener with PEM key and trust stores
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$plain;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$SECURE/server.pem
listener.name.sasl_ssl.ssl.truststore.type=PEM
listener.name.sasl_ssl.ssl.truststore.location=$SECURE/ca.pem
listener.name.sasl_ssl.ssl.client.auth=required"
    fi
    cat >"$DIR/server.properties" <<EOF
# Written by tools/kafka/broker.sh at every start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protomap
log.dirs=$DIR/data
num.partitions=3
default.replication.factor=1
auto.create.topics.enable=false
delete.topic.enable=true
# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fast consumer groups: no wait for more members on the first join, and the
# short session timeouts of the tests (the broker's floor is 6 s by default).
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=100
log.retention.check.interval.ms=5000
# The compaction test forces the cleaner with small segments per topic.
log.cleaner.backoff.ms=200
$secprops
EOF
    cat >"$DIR/log4j2.properties" <<EOF
# Written by tools/kafka/broker.sh at every start.
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $DIR/kafka.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = file
EOF
    local jopts=(-Xmx"${KAFKA_HEAP:-512m}" -Xms128m -XX:+UseG1GC -XX:MaxGCPauseMillis=20
      -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
      -Dlog4j2.configurationFile="$DIR/log4j2.properties" -Dkafka.logs.dir="$DIR")
    if [ ! -s "$DIR/data/meta.properties" ]; then
      if [ ! -s "$DIR/cluster.id" ]; then
        java -cp "$lib/*" "${jopts[@]}" kafka.tools.StorageTool random-uuid >"$DIR/cluster.id.tmp"
        mv "$DIR/cluster.id.tmp" "$DIR/cluster.id"
      fi
      log "formatting $DIR/data (cluster $(cat "$DIR/cluster.id"))"
      if ! java -cp "$lib/*" "${jopts[@]}" kafka.tools.StorageTool format \
          -t "$(cat "$DIR/cluster.id")" -c "$DIR/server.properties" "${scram[@]}" >"$DIR/format.out" 2>&1; then
        cat "$DIR/format.out" >&2; log "formatting the storage failed"; exit 1
      fi
    fi
    log "starting Kafka $(basename "$(dirname "$lib")") on $BOOT (controller 127.0.0.1:$CPORT, files in $DIR)"
    : >"$DIR/broker.out"
    # A new session, detached from this shell, its output and the lock; the
    # subshell execs down to java, so the pid written is the JVM's.
    # shellcheck disable=SC2016 # $$ and $@ are for the inner bash
    (cd "$DIR" && exec setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PIDF" \
      java -cp "$lib/*" "${jopts[@]}" kafka.Kafka "$DIR/server.properties") \
      >>"$DIR/broker.out" 2>&1 </dev/null 9>&- &
  fi
  local t0=$SECONDS t0ms
  t0ms=$(ms)
  while [ $((SECONDS - t0)) -lt 90 ]; do
    if answers; then
      local d=$(( $(ms) - t0ms ))
      log "ready after $((d / 1000)).$(( d % 1000 / 100 ))s"
      echo "$BOOT"; return 0
    fi
    if [ $((SECONDS - t0)) -ge 2 ] && ! ourpid >/dev/null; then
      log "the broker exited"; tail_logs; exit 1
    fi
    sleep 0.2
  done
  log "the broker did not answer on $BOOT within 90s"; tail_logs; exit 1
}

stop() {
  local pid
  if ! pid=$(ourpid); then
    rm -f "$PIDF"
    if answers; then log "a broker answers on $BOOT but $PIDF does not name it; not stopping it"; exit 1; fi
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PIDF"; return 0; }
    sleep 0.1
  done
  log "broker $pid did not stop within 15s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$PIDF"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status)
    if answers; then echo "$BOOT"; exit 0; fi
    log "no broker answers on $BOOT"; exit 1 ;;
  *) echo "usage: tools/kafka/broker.sh start|stop|status [--port 9092] [--dir DIR] [--secure CERTS]" >&2; exit 2 ;;
esac
