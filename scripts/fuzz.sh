#!/usr/bin/env bash
# Fuzzes the io/ parsers (safetensors, config.json, GGUF): builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan,
# -fno-sanitize-recover) in their own build directory, generates the seed corpora, and runs
# each target for a bounded time. Fails on any crash, leak, timeout (an input taking > 5 s),
# out-of-memory or sanitizer report; the offending input is saved under <build>/artifacts/.
#
# usage: scripts/fuzz.sh [seconds per target, default 30]
# env:   DDIFF_FUZZ_BUILD (build dir, default build/fuzz), CXX_FUZZ (clang++ to use),
#        DDIFF_FUZZ_TARGETS (default: safetensors config gguf tokenizer_json tokenizer_encode chat_template
#        server_request)
set -euo pipefail

seconds=${1:-30}
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "usage: $0 [seconds per target]" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
build=${DDIFF_FUZZ_BUILD:-$root/build/fuzz}
cxx=${CXX_FUZZ:-$(command -v clang++-14 || command -v clang++ || true)}
[[ -n "$cxx" ]] || { echo "fuzz.sh: clang++ not found (apt-get install clang libclang-rt-dev)" >&2; exit 2; }

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
      -DDDIFF_BUILD_TESTS=ON -DDDIFF_BUILD_FUZZERS=ON -DDDIFF_BUILD_CLI=OFF -DDDIFF_BUILD_EXAMPLES=OFF \
      -DDDIFF_BUILD_BENCHMARKS=OFF -DDDIFF_SANITIZE=OFF >"$build.configure.log" 2>&1 \
  || { cat "$build.configure.log" >&2; exit 1; }
targets=(${DDIFF_FUZZ_TARGETS:-safetensors config gguf tokenizer_json tokenizer_encode chat_template server_request})
ninja -C "$build" -j1 "${targets[@]/#/fuzz_}" fuzz_make_seeds

rm -rf "$build/seeds"
"$build/tests/fuzz/fuzz_make_seeds" "$build/seeds"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

status=0
summary=()
for target in "${targets[@]}"; do
  corpus=$build/corpus/$target  # grows across runs: libFuzzer adds new inputs to the first dir
  mkdir -p "$corpus" "$build/artifacts"
  log=$build/fuzz_$target.log
  echo "== fuzz_$target: ${seconds}s" >&2
  set +e
  "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
      -print_final_stats=1 $([ -f "$root/tests/fuzz/$target.dict" ] && echo -dict="$root/tests/fuzz/$target.dict") \
      -artifact_prefix="$build/artifacts/$target-" "$corpus" "$build/seeds/$target" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' || echo 'cov: ?')
  # Belt and braces: a sanitizer or UBSan line is a failure even if the exit code were 0.
  if [[ $rc -ne 0 ]] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: ' "$log"; then
    echo "fuzz_$target FAILED (exit $rc); log: $log" >&2
    grep -E 'ERROR|runtime error|SUMMARY|Test unit written|artifact' "$log" | head -20 >&2
    status=1
  fi
  summary+=("fuzz_$target: exit $rc, $execs executions, $cov (log: $log)")
done
printf '%s\n' "${summary[@]}"
exit $status
