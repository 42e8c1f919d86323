#!/usr/bin/env bash
# Installs what the browser tests of the /ui/ dashboard need
# (tools/ui-test/dashboard.test.mjs, run by a Go test):
#
#   /usr/bin/chromium                    Debian's chromium (and fonts-liberation), with apt-get
#   var/ui-test/node_modules/            playwright-core, pinned in package-lock.json (npm ci)
#
# playwright-core drives the system chromium; no browser is downloaded
# (never run `npx playwright install` here: it fetches browsers from outside).
# Idempotent and quiet when done: npm ci reruns only when package-lock.json's
# sha256 differs from var/ui-test/.lock-hash. Needs apt-get (as root, or sudo)
# when chromium is missing, and npm with registry access the first time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/tools/ui-test"
VAR="${SEGSTREAM_VAR:-$ROOT/var}"
DEST="$VAR/ui-test"
for a in "$@"; do
  case "$a" in
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

log() { echo "ui-test/setup.sh: $*" >&2; }

# 1. Debian's chromium, and a font for text rendering.
need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -d /usr/share/fonts/truetype/liberation ] || need_apt+=(fonts-liberation)
if [ ${#need_apt[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || { log "apt-get is needed to install ${need_apt[*]}"; exit 1; }
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  log "installing ${need_apt[*]} (apt)"
  aptlog=$(mktemp)
  if ! { $SUDO apt-get update -qq &&
         $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"; } >"$aptlog" 2>&1; then
    cat "$aptlog" >&2; rm -f "$aptlog"; log "apt-get install ${need_apt[*]} failed"; exit 1
  fi
  rm -f "$aptlog"
  [ -x /usr/bin/chromium ] || { log "apt-get did not install /usr/bin/chromium"; exit 1; }
fi

# 2. playwright-core into var/ui-test/node_modules, from the pinned lock file.
want=$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$DEST/node_modules/playwright-core/package.json" ] ||
   [ "$(cat "$DEST/.lock-hash" 2>/dev/null)" != "$want" ]; then
  command -v npm >/dev/null 2>&1 || { log "npm is needed (Debian: apt-get install npm)"; exit 1; }
  log "npm ci playwright-core into $DEST"
  mkdir -p "$DEST"
  rm -f "$DEST/.lock-hash"
  cp "$HERE/package.json" "$HERE/package-lock.json" "$DEST/"
  (cd "$DEST" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" > "$DEST/.lock-hash"
fi
