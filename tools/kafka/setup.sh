#!/usr/bin/env bash
# Fetches Apache Kafka (the broker, its KRaft controller and the command line
# tools) from Maven Central and lays its jars out under var/ at the repo root:
#
#   var/kafka/<version>/lib/*.jar   kafka_2.13 and kafka-tools with their runtime
#                                   dependencies and the Log4j 2 binding (pom.xml)
#
# The classpath of tools/kafka/broker.sh: java -cp 'var/kafka/<version>/lib/*' kafka.Kafka ...
# Idempotent and cached: a stamp (the sha256 of pom.xml and the version) says
# when lib/ is current; then it does nothing and prints nothing, and needs
# neither Maven nor the network. Otherwise Maven (its own cache is ~/.m2)
# copies the jars into a fresh lib/.
#
#   tools/kafka/setup.sh              ensure the jars
#   tools/kafka/setup.sh --print-lib  ensure them, then print the lib folder on stdout
#
# KAFKA_VERSION overrides the pinned version (any 4.x on Maven Central);
# SEGSTREAM_VAR moves var/. Needs: bash, sha256sum, and for a fresh copy Maven
# and a JDK 17 or later (installed from Debian with apt-get when missing and
# running as root).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/tools/kafka"
VAR="${SEGSTREAM_VAR:-$ROOT/var}"
# The newest Kafka on Maven Central when this was written (4.0.0 to 4.4.0 all
# resolve); the broker needs Java 17 or later.
KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
PRINT=0
for a in "$@"; do
  case "$a" in
    --print-lib) PRINT=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

log() { echo "kafka/setup.sh: $*" >&2; }

DIR="$VAR/kafka/$KAFKA_VERSION"
LIB="$DIR/lib"
want=$( { cat "$HERE/pom.xml"; echo "kafka.version=$KAFKA_VERSION"; } | sha256sum | cut -d' ' -f1)

if [ -s "$LIB/kafka_2.13-$KAFKA_VERSION.jar" ] && [ "$(cat "$DIR/.stamp" 2>/dev/null)" = "$want" ]; then
  [ "$PRINT" = 1 ] && echo "$LIB"
  exit 0
fi

need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${need_apt[*]} with apt-get"
    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null 2>&1) ||
      (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null)
  else
    log "needs ${need_apt[*]} (Debian: apt-get install ${need_apt[*]})"; exit 1
  fi
fi

log "copying org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its dependencies from Maven Central into $LIB"
start=$(date +%s)
mkdir -p "$DIR"
rm -rf "$LIB.tmp"
out=$(mktemp)
if ! mvn -B -q -Dstyle.color=never -f "$HERE/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -Dkafka.version="$KAFKA_VERSION" -DincludeScope=runtime -DoutputDirectory="$LIB.tmp" >"$out" 2>&1 ||
   [ ! -s "$LIB.tmp/kafka_2.13-$KAFKA_VERSION.jar" ]; then
  cat "$out" >&2; rm -f "$out"
  log "Maven could not fetch Kafka $KAFKA_VERSION"; exit 1
fi
rm -f "$out"
rm -rf "$LIB"
mv "$LIB.tmp" "$LIB"
echo "$want" > "$DIR/.stamp"
log "ok: $(find "$LIB" -name '*.jar' | wc -l) jars, $(du -sh "$LIB" | cut -f1) in $LIB ($(( $(date +%s) - start ))s)"
[ "$PRINT" = 1 ] && echo "$LIB"
exit 0
