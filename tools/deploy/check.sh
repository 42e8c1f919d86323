#!/usr/bin/env bash
# Offline checks of the deploy kit (deploy/): no Docker engine, no cluster.
#
#   tools/deploy/check.sh        (or: make deploy-check)
#
# 1. Installs the pinned helm into var/bin (built from the Go module proxy
#    once, about 3 minutes on 2 cores; reused while its version matches).
# 2. Runs the Go tests of deploy/check (its own module): helm lint and
#    template of the chart, strict decoding into the Kubernetes,
#    prometheus-operator and KEDA types, the rendered config through the
#    service's own loader, deploy/Dockerfile through BuildKit's parser,
#    compose.yaml through compose-go, the Grafana dashboard's PromQL against
#    the service's metric names.
# 3. `docker compose config -q` when the compose plugin is installed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

HELM_MODULE=helm.sh/helm/v4
HELM_VERSION=v4.3.2
GO=${GO:-go}
BIN="$ROOT/var/bin"
HELM_BIN="$BIN/helm"

log() { echo "deploy-check: $*" >&2; }

helm_ok() {
  [ -x "$HELM_BIN" ] && "$GO" version -m "$HELM_BIN" 2>/dev/null |
    awk -v m="$HELM_MODULE" -v v="$HELM_VERSION" '$1 == "mod" && $2 == m && $3 == v { ok = 1 } END { exit !ok }'
}

if ! helm_ok; then
  log "installing helm $HELM_VERSION into var/bin (go install $HELM_MODULE/cmd/helm@$HELM_VERSION)"
  mkdir -p "$BIN"
  tmp=$(mktemp -d "$BIN/.helm.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # -p 2: keep the build modest beside other work.
  GOBIN="$tmp" CGO_ENABLED=0 "$GO" install -p 2 "$HELM_MODULE/cmd/helm@$HELM_VERSION"
  mv "$tmp/helm" "$HELM_BIN"
  helm_ok || { log "var/bin/helm does not report $HELM_MODULE $HELM_VERSION"; exit 1; }
fi
export HELM="$HELM_BIN"
log "helm: $HELM ($HELM_MODULE $HELM_VERSION)"

(cd deploy/check && "$GO" test -count=1 ./...)

if docker compose version >/dev/null 2>&1; then
  log "docker compose config -q"
  docker compose -f deploy/compose/compose.yaml config -q
else
  log "skipped: docker compose config (no compose plugin here; deploy/check loaded compose.yaml with compose-go instead)"
fi
log "ok"
