#!/usr/bin/env bash
# gguf_memory.sh: peak resident memory of ddiff running a GGUF file, against the file's size
# (issue 13: at most file + 20%). Runs one short generation (the weights are loaded, packed and
# used) under GNU time and prints file bytes, peak RSS and their ratio; the same for the tiny
# tests/data GGUF as the program's baseline (code, tokenizer, canvas). The canvas is 3 prompt ids + 285 positions, one step.
#   usage: tools/bench/gguf_memory.sh DDIFF_BINARY FILE.gguf [threads (default 2)]
# FILE.gguf e.g. from tools/bench/make_bench_gguf.py. Run it under /work/bin/cpu on the shared host.
set -euo pipefail
ddiff=$1 file=$2 threads=${3:-2}
here=$(cd "$(dirname "$0")/../.." && pwd)
measure() {
    local f=$1 length=$2 out
    out=$( { /usr/bin/time -f '%M' "$ddiff" generate --model "$f" --prompt-ids 1,2,3 --length "$length" --steps 1 \
             --threads "$threads" --no-progress --print-ids >/dev/null; } 2>&1 | tail -1)
    local bytes kb
    bytes=$(stat -c %s "$f")
    kb=$out
    awk -v f="$f" -v b="$bytes" -v k="$kb" 'BEGIN { printf "%-50s file %8.1f MB  peak RSS %8.1f MB  ratio %.2f\n", f, b / 1e6, k * 1024 / 1e6, k * 1024 / b }'
}
measure "$here/tests/data/gguf/llada_tiny/llada-Q8_0.gguf" 8   # the tiny model holds 64 positions
measure "$file" 285                                              # a 288-position canvas
