#!/usr/bin/env bash
# Configures and builds attnc into build/ (or $ATTNC_BUILD_DIR).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${ATTNC_BUILD_DIR:-$root/build}"
cuda="${CUDA_HOME:-/usr/local/cuda}"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCUDAToolkit_ROOT="$cuda" >/dev/null
cmake --build "$build"
