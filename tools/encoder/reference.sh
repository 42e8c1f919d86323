#!/usr/bin/env bash
# Regenerates the BERT-family references under testdata/encoder/ and the generated Go
# tables encoder/berttables.go, from Hugging Face `tokenizers` and Python onnxruntime
# (tools/encoder/reference.py; both pinned in tools/encoder/requirements.txt).
#
#   tools/encoder/reference.sh           # after tools/encoder/setup.sh
#
# Inputs: ../shared/data (Chinese reviews, product descriptions), the English review
# fixtures of the npm package sentiment@5.0.2 (the UCI "Sentiment Labelled Sentences":
# 3,000 Amazon, IMDb and Yelp review sentences, CC BY 4.0; cached in var/cache/npm,
# sha256 pinned), the models in var/models. Deterministic: same bytes on each run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VAR="${SEGSTREAM_VAR:-$ROOT/var}"
DATA=${SEGSTREAM_DATA:-$ROOT/../shared/data}
TGZ="$VAR/cache/npm/sentiment-5.0.2.tgz"
SUM=89302eb03d2005d03b214fe65814bb48adb7d3c42c8ca80bdee6a3ecb7e4480f
PY=$("$ROOT/tools/encoder/venv.sh")
if [ ! -s "$TGZ" ]; then
  mkdir -p "$(dirname "$TGZ")"
  (cd "$(dirname "$TGZ")" && npm pack --silent sentiment@5.0.2 >/dev/null)
fi
[ "$(sha256sum "$TGZ" | cut -d' ' -f1)" = "$SUM" ] || { echo "reference.sh: $TGZ: sha256 is not $SUM; delete it to fetch again" >&2; exit 1; }
for m in all-minilm-l6-v2 all-minilm-l6-v2-q bge-small-zh-v15 bge-small-zh-v15-q; do
  [ -s "$VAR/models/$m/model.onnx" ] || { echo "reference.sh: $VAR/models/$m is missing: run tools/encoder/setup.sh" >&2; exit 1; }
done
"$PY" "$ROOT/tools/encoder/reference.py" tables "$ROOT/encoder/berttables.go" "$ROOT/testdata/encoder/bert-sweep.json.gz"
gofmt -w "$ROOT/encoder/berttables.go"
"$PY" "$ROOT/tools/encoder/reference.py" fixtures "$DATA" "$TGZ" "$VAR/models" "$ROOT/testdata/encoder"
