#!/usr/bin/env bash
# On the GPU machine, with the build folder carried there: the GPU unit tests
# (forward and layout), the runtime tests, then compute-sanitizer on a few
# forward cases (memcheck, and racecheck on one: the kernel's shared memory).
# One summary line per step; full logs in OUT_DIR. Exits 1 if any step failed.
#
#   tools/gpu_check.sh OUT_DIR [GTEST_FILTER]   (ATTNC_BUILD_DIR overrides build/)
#
# GTEST_FILTER picks the unit tests of the first step (default '*Gpu*': the
# forward, backward and layout GPU tests).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${ATTNC_BUILD_DIR:-$root/build}"
out="${1:?usage: tools/gpu_check.sh OUT_DIR [GTEST_FILTER]}"
filter="${2:-*Gpu*}"
mkdir -p "$out"
cd "$root"

sanitizer="$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)"
# Small but varied: MHA and GQA, both dtypes and head dims, a tensor
# pattern, rows without keys (Nq > Nk, causal), [B, N, H, D] memory.
forward_subset='Matrix/GpuForward.MatchesTheReference/causal_bf16_D128_B2_H4_KV2_N1000'
forward_subset+=':Matrix/GpuForward.MatchesTheReference/document_fp16_D64_B2_H4_N128'
forward_subset+=':Matrix/GpuForward.MatchesTheReference/strided_bf16_D64_B2_H4_N17'
forward_subset+=':CrossLength/GpuForward.MatchesTheReference/causal_bf16_D128_B2_H4_Nq1000_Nk100'
forward_subset+=':TokenMajor/GpuForward.MatchesTheReference/dense_fp16_D128_B2_H4_KV2_N1000_bnhd'
backward_subset='Matrix/GpuBackward.MatchesTheReferenceAndIsDeterministic/causal_bf16_D128_B2_H4_KV2_N1000'
backward_subset+=':Matrix/GpuBackward.MatchesTheReferenceAndIsDeterministic/document_fp16_D64_B2_H4_N128'
backward_subset+=':Matrix/GpuBackward.MatchesTheReferenceAndIsDeterministic/relative_bias_bf16_D64_B2_H4_KV2_N17'
backward_subset+=':OtherShapes/GpuBackward.MatchesTheReferenceAndIsDeterministic/softcap_fp16_D64_B2_H4_KV2_Nq1000_Nk100'
race_case='Matrix/GpuForward.MatchesTheReference/sliding_window_bf16_D128_B2_H4_N128'
race_case+=':Matrix/GpuBackward.MatchesTheReferenceAndIsDeterministic/sliding_window_bf16_D128_B2_H4_N128'

status=0

# "P passed, F failed, S skipped" from a GoogleTest log.
gtest_counts() {
  local log=$1 passed failed skipped
  passed=$(grep -oE '^\[  PASSED  \] [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$')
  failed=$(grep -oE '^\[  FAILED  \] [0-9]+ tests?, listed below' "$log" | grep -oE '[0-9]+')
  skipped=$(grep -oE '^\[  SKIPPED \] [0-9]+ tests?, listed below' "$log" | grep -oE '[0-9]+')
  echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
}

# step NAME COMMAND...: runs it into OUT_DIR/NAME.log and prints a summary,
# the sanitizer's error count where there is one, and the failed tests. A
# step fails on a nonzero exit or when no test ran (a filter that matches
# nothing, e.g. after test names changed).
step() {
  local name=$1 log="$out/$1.log" start=$SECONDS code
  shift
  "$@" >"$log" 2>&1
  code=$?
  local summary
  summary="$(gtest_counts "$log")"
  local sanitizer_line
  sanitizer_line="$(grep -E '^========= ERROR SUMMARY' "$log" | tail -1 | sed 's/^========= //')"
  echo "$name: exit $code; $summary${sanitizer_line:+; $sanitizer_line}; $((SECONDS - start)) s (log: $log)"
  grep -E '^\[  FAILED  \] [^0-9]' "$log" | sort -u | head -20 | sed 's/^/    /'
  if [ "$code" -ne 0 ] || [[ "$summary" == "0 passed, 0 failed"* ]]; then
    status=1
  fi
}

echo "gpu_check: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
step unittests-gpu "$build/bin/attnc-unittests" --gtest_filter="$filter"
step runtime-tests "$build/bin/attnc-runtime-tests"
step memcheck "$sanitizer" --tool memcheck --error-exitcode 99 \
  "$build/bin/attnc-unittests" \
  --gtest_filter="$forward_subset:$backward_subset:*GpuForwardRejects*:GpuForwardCall*:GpuBackwardCall*"
step racecheck "$sanitizer" --tool racecheck --error-exitcode 99 \
  "$build/bin/attnc-unittests" --gtest_filter="$race_case"

if [ "$status" -eq 0 ]; then
  echo "gpu_check: all steps passed"
else
  echo "gpu_check: FAILED (see the logs in $out)"
fi
exit "$status"
