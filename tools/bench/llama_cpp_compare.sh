#!/usr/bin/env bash
# llama_cpp_compare.sh: ddiff against llama.cpp on the same GGUF files (issue 13; the table of
# docs/gguf.md "Against llama.cpp"). Not part of the test command; run it on an idle machine (on
# the shared 2-core host: under /work/bin/cpu).
#
#   usage: tools/bench/llama_cpp_compare.sh LLAMA_CPP_TREE [OUT_DIR] [bench_llama_cpp flags...]
#
# LLAMA_CPP_TREE: a llama.cpp source tree (never committed; the table names its commit, measured
# at e2eb39e81). The script
#  1. builds its library and llama-diffusion-cli in LLAMA_CPP_TREE/build (Release, -march=native,
#     OpenMP: llama.cpp's defaults);
#  2. writes random-weight LLaDA-architecture files with tools/bench/make_bench_gguf.py and that
#     tree's gguf-py into OUT_DIR (default /tmp/ddiff-llama-bench; generated data, never committed):
#     hidden 2048, 8 layers, 16 heads, FFN 5632, vocabulary 4096 at Q8_0 and Q4_K_M (the issue's
#     shape), and the 111M shape (hidden 1024, FFN 2816) at F32, Q8_0 and Q4_K_M;
#  3. configures the bench preset with -DDDIFF_LLAMA_CPP_DIR and runs bench_llama_cpp on them:
#     2 threads, a 288-position canvas, 5 repetitions with the implementations interleaved, JSON
#     in OUT_DIR/llama_cpp.json, and prints the table (tools/bench/llama_cpp_table.py).
set -euo pipefail
tree=$(cd "$1" && pwd)
out=${2:-/tmp/ddiff-llama-bench}
shift $(( $# >= 2 ? 2 : 1 ))
here=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"

cmake -S "$tree" -B "$tree/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_OPENSSL=OFF \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
cmake --build "$tree/build" --target llama llama-diffusion-cli -j"$(nproc)"

files=()
make() {  # name type hidden ffn
    local f="$out/$1.gguf"
    [[ -s $f ]] || /usr/bin/python3 "$here/tools/bench/make_bench_gguf.py" "$tree" "$f" "$2" \
                       --hidden "$3" --ffn "$4" --layers 8 --heads 16 --vocab 4096 >/dev/null
    files+=("--gguf=$f")
}
make h2048-Q8_0 Q8_0 2048 5632
make h2048-Q4_K_M Q4_K_M 2048 5632
make h1024-F32 F32 1024 2816
make h1024-Q8_0 Q8_0 1024 2816
make h1024-Q4_K_M Q4_K_M 1024 2816

cmake --preset bench -S "$here" -DDDIFF_LLAMA_CPP_DIR="$tree" >/dev/null
cmake --build "$here/build/bench" --target bench_llama_cpp -j"$(nproc)"
"$here/build/bench/bench/bench_llama_cpp" "${files[@]}" --threads=2 --canvas=288 \
    --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
    --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/llama_cpp.json" --benchmark_out_format=json "$@"
echo "llama.cpp commit: $(git -C "$tree" rev-parse HEAD 2>/dev/null || echo "unknown (not a git checkout)")"
/usr/bin/python3 "$here/tools/bench/llama_cpp_table.py" "$out/llama_cpp.json"
