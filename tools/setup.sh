#!/usr/bin/env bash
# Installs what builds and tests need on a fresh machine (Debian, Go, gcc,
# Node/npm): kcat for the interoperability tests, and the default encoder
# model and ONNX Runtime library (tools/encoder/setup.sh, cached under var/),
# and Debian's chromium with playwright-core for the dashboard's browser test
# (tools/ui-test/setup.sh, into var/ui-test/), and Apache Kafka's jars for
# the tests that run a real broker (tools/kafka/setup.sh, into var/kafka/).
# Idempotent: a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v kcat >/dev/null 2>&1 || need_apt+=(kcat)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} (apt)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ -x tools/encoder/setup.sh ]; then
  tools/encoder/setup.sh "$@"
fi

if [ -f tools/ui-test/setup.sh ]; then
  bash tools/ui-test/setup.sh
fi

# Apache Kafka's jars from Maven Central (tools/kafka/setup.sh, into
# var/kafka): the real broker of the integration tests that use one
# (testkit.ApacheKafka).
if [ -f tools/kafka/setup.sh ]; then
  bash tools/kafka/setup.sh
fi
