#!/usr/bin/env bash
# The main job: install dependencies, build the ddiff program (release), and run
# `ddiff generate` on the default model. Extra arguments go to `ddiff generate`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release -DDDIFF_BUILD_TESTS=OFF -DDDIFF_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/release --target ddiff_cli
exec build/release/tools/ddiff/ddiff generate "$@"
