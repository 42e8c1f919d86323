#!/usr/bin/env bash
# Creates var/venv-encoder, the Python environment of the reference and experiment tools
# (tools/encoder/reference.py, tools/encoder/sentiment.py), from the pinned
# tools/encoder/requirements.txt (PyPI). Idempotent: a stamp (the sum of the requirements
# and of the Python version) says when it is current; then it does nothing. Prints the
# venv's python on stdout. The Go tests do not need it: they read committed fixtures.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VAR="${SEGSTREAM_VAR:-$ROOT/var}"
VENV="$VAR/venv-encoder"
REQ="$ROOT/tools/encoder/requirements.txt"
log() { echo "venv.sh: $*" >&2; }

PY=""
for p in python3.11 python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import venv, ensurepip' >/dev/null 2>&1; then PY=$(command -v "$p"); break; fi
done
[ -n "$PY" ] || { log "a python3 with the venv and ensurepip modules is needed (Debian: apt-get install python3-venv)"; exit 1; }
want=$( { cat "$REQ"; "$PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$want" ]; then
  log "creating $VENV with $PY"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$REQ"
  echo "$want" > "$VENV/.stamp"
fi
echo "$VENV/bin/python"
