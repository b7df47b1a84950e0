#!/usr/bin/env bash
# The GPU check of the engine's CUDA backend, for a machine with an NVIDIA GPU (compute
# capability 8.0 or newer) and a CUDA toolkit (nvcc, cuBLAS); it needs neither Node.js nor
# OpenBLAS. Builds the parity test and the DPO benchmark (libs/engine/native/cuda/test) with
# CMake for this GPU's architecture, runs both, and prints their output, also into
# $OUT/gpu-run.log when OUT is set. Budget on an H200: under 8 minutes in all.
#
#   tools/gpu/run.sh            # build, parity test, benchmark (0.5B and 1.5B, with and
#                               # without recompute)
#   BENCH_ARGS="--model 0.5b --recompute off" tools/gpu/run.sh
set -uo pipefail
cd "$(dirname "$0")/../.."

log_dir="${OUT:-/tmp/delta-gpu}"
mkdir -p "$log_dir"

main() {
  build="${DELTA_GPU_BUILD:-/tmp/delta-gpu-build}"
  jobs="$(nproc)"
  started=$SECONDS
  phase() { echo "== $1 ($((SECONDS - started)) s)"; }

  phase "machine"
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader ||
    echo "nvidia-smi failed"
  nvcc="$(command -v nvcc || true)"
  for candidate in "${CUDA_HOME:-}/bin/nvcc" /usr/local/cuda/bin/nvcc; do
    [ -z "$nvcc" ] && [ -x "$candidate" ] && nvcc="$candidate"
  done
  if [ -z "$nvcc" ]; then
    echo "no nvcc found (PATH, \$CUDA_HOME, /usr/local/cuda): cannot build the CUDA backend"
    exit 3
  fi
  "$nvcc" --version | tail -n 2
  cmake --version | head -n 1
  cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1)"
  arch="${DELTA_CUDA_ARCH:-${cap/./}}"
  arch="${arch:-90}"
  echo "building for sm_$arch with $jobs jobs in $build"

  phase "configure"
  cmake -S libs/engine -B "$build" -DCMAKE_BUILD_TYPE=Release -DDELTA_ENGINE_CUDA=ON \
    -DDELTA_ENGINE_ADDON=OFF -DDELTA_ENGINE_BLAS=auto -DCMAKE_CUDA_COMPILER="$nvcc" \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" || { echo "configure failed"; exit 4; }

  phase "build"
  cmake --build "$build" --parallel "$jobs" --target engine_cuda_parity engine_cuda_bench ||
    { echo "build failed"; exit 4; }

  phase "parity test"
  timeout 150 "$build/native/cuda/engine_cuda_parity"
  parity=$?
  echo "parity exit status: $parity"

  phase "benchmark"
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of options
  timeout 200 "$build/native/cuda/engine_cuda_bench" ${BENCH_ARGS:-}
  bench=$?
  echo "benchmark exit status: $bench"

  phase "done"
  [ "$parity" -eq 0 ] && [ "$bench" -eq 0 ]
}

main 2>&1 | tee "$log_dir/gpu-run.log"
exit "${PIPESTATUS[0]}"
