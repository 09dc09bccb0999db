#!/usr/bin/env bash
# Installs the Debian 12 packages attnc builds with, if any are missing.
# CUDA 13 itself is expected at /usr/local/cuda (or CUDA_HOME); it is not
# an apt package on Debian, so this script only checks for it.
set -euo pipefail

packages=(
  cmake ninja-build g++ python3 python3-numpy python3-matplotlib
  llvm-19-dev llvm-19-tools libmlir-19-dev mlir-19-tools
  libfmt-dev libzstd-dev zlib1g-dev libpng-dev libgtest-dev
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  echo "attnc setup: installing ${missing[*]}"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "attnc setup: need root or sudo to install packages" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cuda="${CUDA_HOME:-/usr/local/cuda}"
if [ ! -x "$cuda/bin/nvcc" ]; then
  echo "attnc setup: the CUDA toolkit was not found at $cuda (set CUDA_HOME)" >&2
  exit 1
fi
