#!/usr/bin/env bash
# The main job on a fresh machine: install, build, check every bundled pattern
# and draw what each one attends to at a small size.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${ATTNC_BUILD_DIR:-$root/build}"
attnc="$build/bin/attnc"

"$root/tools/setup.sh"
"$root/tools/build.sh"
cd "$root"

patterns=(patterns/*.pattern)
echo "== attnc check: ${#patterns[@]} bundled patterns"
"$attnc" check "${patterns[@]}"
echo "all ${#patterns[@]} patterns are well-formed"

# Small parameters make each structure visible at 40 x 40.
demo_args() {
  case "$1" in
    sliding_window) echo "-D window=6" ;;
    strided|strided_merged) echo "-D stride=6" ;;
    fixed) echo "-D stride=8 -D c=2" ;;
    fixed_heads) echo "-D stride=8 -D c=2 -D v=4" ;;
    document) echo "--tensor doc=examples/document_ids_40.txt" ;;
    relative_bias) echo "-D K=8 --tensor table=examples/relative_bias_table_4x8.txt" ;;
    prefix_lm) echo "-D prefix=8" ;;
    longformer) echo "-D window=8 -D globals=2" ;;
    bigbird) echo "-D block=4 -D window=3 -D globals=1 -D random=2" ;;
    dilated_sliding_window) echo "-D window=5 -D dilation=3" ;;
    *) echo "" ;;
  esac
}

for file in "${patterns[@]}"; do
  name="$(basename "$file" .pattern)"
  args="$(demo_args "$name")"
  echo
  echo "== $file ${args:+($args)}"
  # The pattern's own header comment says what it is.
  sed -n '/^[^#]/q;s/^# \{0,1\}/  /p' "$file"
  # shellcheck disable=SC2086
  "$attnc" show "$file" --seq 40 --heads 4 $args
done

# Each pattern through the whole compiler: its kernel bundle with the forward
# and backward kernels, compiled by NVRTC to PTX for sm_80 (no GPU needed).
kernels="$build/kernels"
mkdir -p "$kernels"
echo
echo "== attnc compile --emit=ptx --backward: ${#patterns[@]} bundled patterns (bf16, head dim 128, sm_80)"
for file in "${patterns[@]}"; do
  name="$(basename "$file" .pattern)"
  "$attnc" compile "$file" --emit=ptx --backward --arch sm_80 -o "$kernels/$name.ptx"
  echo "  $name: $(grep -c '^\.visible \.entry' "$kernels/$name.ptx") kernels, $(wc -c <"$kernels/$name.ptx") bytes of PTX"
done

# With a GPU, the examples run: the forward pass checked against a CPU
# attention, and a training loop that learns ALiBi's slopes through the
# backward pass. Without one they exit 2, which is no failure here.
run_example() { # binary, what it shows
  local log="$kernels/$1.log" status=0
  "$build/bin/$1" >"$log" 2>&1 || status=$?
  echo
  if [ "$status" -eq 0 ]; then
    echo "== $1 ($2)"
    cat "$log"
  else
    echo "== $1 (exit $status)"
    sed 's/^/  /' "$log"
    [ "$status" -eq 2 ] || exit "$status" # 2: no GPU here
  fi
}
run_example attnc-example-forward "sliding window on the GPU, checked on the CPU"
run_example attnc-example-training "a relative-bias table trained to reproduce ALiBi"
