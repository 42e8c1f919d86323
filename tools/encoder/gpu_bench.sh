#!/usr/bin/env bash
# Benchmarks encoder/ on the GPU machine (ONNX Runtime's CUDA provider) and,
# for comparison, on that machine's CPUs. Two steps:
#
#   tools/encoder/gpu_bench.sh prepare   # here, after tools/encoder/setup.sh:
#                                        # fills var/gpu-carry/ (< 64 MiB)
#   tools/encoder/gpu_bench.sh run       # there, from the repo root, with
#                                        # var/gpu-carry carried; writes $OUT/gpu_bench.txt
#
# For the device tool:  command "bash tools/encoder/gpu_bench.sh run",
#                       carry ["var/gpu-carry"], timeout_s 540.
#
# Why it is built this way: that machine has no Go toolchain and no network, so
# the encoder's test binary (benchmarks included) is compiled here; the model
# and an ONNX Runtime core library are carried. The CUDA provider library of
# setup.sh --gpu (230 MB) is too large to carry, so on the machine the script
# uses the CUDA provider of the Python onnxruntime package when it has one,
# beside a core library of the same version (onnxruntime-node's, carried), and
# the CUDA 13 / cuDNN 9 libraries of the Python nvidia-* packages. If the
# machine has no CUDA provider it says so and still runs the CPU benchmarks.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CARRY="$ROOT/var/gpu-carry"
# The core library must match the version of the provider on the machine
# (onnxruntime 1.30.0 was listed there); override with ORT_CORE_VERSION.
ORT_CORE_VERSION=${ORT_CORE_VERSION:-1.30.0}

prepare() {
  cd "$ROOT"
  [ -s var/models/use-lite/model.onnx ] || bash tools/encoder/setup.sh
  rm -rf "$CARRY" && mkdir -p "$CARRY"
  echo "building the encoder test binary"
  CGO_ENABLED=1 go test -c -o "$CARRY/encoder.test" ./encoder
  gzip -9 "$CARRY/encoder.test"
  tar -C var/models -czf "$CARRY/use-lite.tgz" use-lite
  local cache="$ROOT/var/cache/npm" tgz="onnxruntime-node-$ORT_CORE_VERSION.tgz"
  mkdir -p "$cache"
  [ -s "$cache/$tgz" ] || (cd "$cache" && npm pack --silent "onnxruntime-node@$ORT_CORE_VERSION" >/dev/null)
  tar -xzf "$cache/$tgz" -O package/bin/napi-v6/linux/x64/libonnxruntime.so.1 | gzip -9 > "$CARRY/libonnxruntime-$ORT_CORE_VERSION.so.gz"
  echo "$ORT_CORE_VERSION" > "$CARRY/ORT_CORE_VERSION"
  du -sh "$CARRY"/*
  local total
  total=$(du -sm "$CARRY" | cut -f1)
  if [ "$total" -ge 60 ]; then echo "var/gpu-carry is ${total} MiB: too large to carry" >&2; exit 1; fi
}

# need_gpu stops with a clear message where there is no NVIDIA GPU to benchmark.
need_gpu() {
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu_bench.sh: no NVIDIA GPU here: nvidia-smi is not installed (no NVIDIA driver)." >&2
    echo "gpu_bench.sh: run 'bash tools/encoder/gpu_bench.sh run' on the GPU machine, with var/gpu-carry carried." >&2
    exit 1
  fi
  if ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu_bench.sh: nvidia-smi finds no GPU: $(nvidia-smi -L 2>&1 | head -1)" >&2
    exit 1
  fi
}

run() {
  need_gpu
  cd "$ROOT"
  local out="${OUT:-$ROOT/var/gpu-out}" ver
  mkdir -p "$out" var/models var/lib/ort
  exec > >(tee "$out/gpu_bench.txt") 2>&1
  ver=$(cat "$CARRY/ORT_CORE_VERSION")
  echo "== machine"; date -u; nproc; nvidia-smi -L
  gunzip -c "$CARRY/encoder.test.gz" > var/encoder.test && chmod +x var/encoder.test
  tar -C var/models -xzf "$CARRY/use-lite.tgz"
  gunzip -c "$CARRY/libonnxruntime-$ver.so.gz" > var/lib/ort/libonnxruntime.so
  # The CUDA provider and the CUDA libraries of the Python packages there.
  local py info capi site libs=""
  py=$(command -v python3 || true)
  if [ -n "$py" ]; then
    info=$("$py" -c 'import onnxruntime as o, os; print(os.path.dirname(o.__file__)+"/capi", o.__version__, ",".join(o.get_available_providers()))' 2>/dev/null || true)
    echo "== python onnxruntime: ${info:-none}"
    capi=${info%% *}
    site=$("$py" -c 'import site; print(site.getsitepackages()[0])' 2>/dev/null || true)
    for d in "$site"/nvidia/*/lib; do [ -d "$d" ] && libs="$libs:$d"; done
    if [ -n "$capi" ] && [ -e "$capi/libonnxruntime_providers_cuda.so" ]; then
      ln -sf "$capi/libonnxruntime_providers_cuda.so" var/lib/ort/
      ln -sf "$capi/libonnxruntime_providers_shared.so" var/lib/ort/
      echo "using the CUDA provider in $capi (its version must be $ver)"
    else
      echo "no libonnxruntime_providers_cuda.so in the Python onnxruntime package: CUDA runs will fail"
    fi
  fi
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}$libs"
  export SEGSTREAM_ORT_LIB="$ROOT/var/lib/ort/libonnxruntime.so"
  cd encoder # the test binary reads ../testdata and finds ../var
  local bin="$ROOT/var/encoder.test"

  echo "== GPU: parity of the embeddings on the CUDA provider"
  local gpu=1
  if ! SEGSTREAM_TEST_PROVIDER=cuda timeout 120 "$bin" -test.run 'TestUseLiteParityEmbeddings|TestBertStyleEncoder' \
      -test.v > "$out/gpu_parity.log" 2>&1; then
    gpu=0
    echo "CUDA provider not usable; first error:"
    grep -m1 -o 'execution provider unavailable.*' "$out/gpu_parity.log" | cut -c1-600 || tail -5 "$out/gpu_parity.log"
  fi
  grep -E '^(---|ok|PASS|FAIL)|embeddings:' "$out/gpu_parity.log" | cut -c1-300 || true

  if [ "$gpu" = 1 ]; then
    echo "== GPU: whole path against the bare session, by batch size"
    SEGSTREAM_TEST_PROVIDER=cuda SEGSTREAM_BENCH_BATCHES=1,16,64,256,512,1024 timeout 240 "$bin" \
      -test.run '^$' -test.bench 'BenchmarkPathRatio' -test.benchtime 2s 2>&1 | grep -E '^(Benchmark|ok|FAIL|PASS)' || true
  fi

  echo "== CPU ($(nproc) cores) for comparison"
  SEGSTREAM_BENCH_BATCHES=1,16,64,256 timeout 150 "$bin" \
    -test.run '^$' -test.bench 'BenchmarkPathRatio' -test.benchtime 1s 2>&1 | grep -E '^(Benchmark|ok|FAIL|PASS)' || true
  echo "== done"; date -u
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac
