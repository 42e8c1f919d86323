#!/usr/bin/env bash
# Runs golangci-lint (pinned below, config in .golangci.yml) over the module.
# The tool is built from the Go module proxy into var/bin (git-ignored) the
# first time, or when the cached binary is another version or was built by
# another Go.
# Extra arguments are passed to `golangci-lint run` (default: ./...).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

VERSION=v2.15.0
PKG=github.com/golangci/golangci-lint/v2/cmd/golangci-lint
BIN="$repo/var/bin/golangci-lint"

GO=${GO:-go}
if ! command -v "$GO" >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
  GO=go
fi

# Rebuild when the cached binary is another version, or was built by another
# Go: golangci-lint refuses modules newer than the Go it was built with.
have="" built="" want_go=$("$GO" env GOVERSION)
if [ -x "$BIN" ]; then
  have=$("$BIN" version --short 2>/dev/null || true)
  built=$("$GO" version "$BIN" 2>/dev/null | awk '{print $2}' || true)
fi
if [ "${have#v}" != "${VERSION#v}" ] || [ "$built" != "$want_go" ]; then
  echo "lint: building golangci-lint $VERSION with $want_go into var/bin (a few minutes the first time)" >&2
  mkdir -p "$repo/var/bin"
  # The tool's own go.mod decides its dependencies; keep the project's
  # GOFLAGS (e.g. -mod=vendor) and any go.work out of its build.
  GOBIN="$repo/var/bin" GOFLAGS= GOWORK=off "$GO" install "$PKG@$VERSION"
fi

if [ $# -eq 0 ]; then
  set -- ./...
fi
exec "$BIN" run "$@"
