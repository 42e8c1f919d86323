#!/usr/bin/env bash
# Regenerates docs/sentiment/ (REPORT.md, results.json, plots): review sentiment on the
# Chinese corpus with segstream's encoder embeddings + logistic regression against a
# character n-gram TF-IDF baseline (tools/encoder/sentiment.py). After
# tools/encoder/setup.sh; builds segstream, makes var/venv-encoder; embeddings are cached
# in var/sentiment/ (delete it to re-encode). Extra arguments go to sentiment.py, e.g.
# --models bge-small-zh-v15,use-lite --train 8000 --test 2000.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
VAR="${SEGSTREAM_VAR:-$ROOT/var}"
DATA=${SEGSTREAM_DATA:-$ROOT/../shared/data}
PY=$(tools/encoder/venv.sh)
mkdir -p "$VAR/sentiment"
CGO_ENABLED=1 go build -o "$VAR/sentiment/segstream" ./cmd/segstream
"$PY" tools/encoder/sentiment.py --data "$DATA/online_shopping_10_cats.csv.gz" --bin "$VAR/sentiment/segstream" \
  --out docs/sentiment --cache "$VAR/sentiment" --command "tools/encoder/sentiment.sh${*:+ $*}" "$@"
