#!/bin/sh
# Every public header compiles on its own (it includes what it uses): each is parsed alone with
# -fsyntax-only. Not part of the test command (about 5 minutes on 2 cores); run it after moving
# code between headers. Usage: scripts/check-headers.sh [header ...]
set -eu
cd "$(dirname "$0")/.."
CXX=${CXX:-c++}
flags="-std=c++20 -Iinclude $(pkg-config --cflags libpcre2-8 icu-uc 2>/dev/null) -march=native -Wall -Wextra -fsyntax-only"
[ $# -gt 0 ] || set -- $(find include -name '*.hpp' | sort)
failed=0
for h in "$@"; do
    rel=${h#include/}
    if ! printf '#include <%s>\n' "$rel" | $CXX $flags -x c++ - 2>/tmp/check-headers.err; then
        echo "FAIL $rel"; head -5 /tmp/check-headers.err; failed=$((failed + 1))
    fi
done
echo "$# headers, $failed failed"
[ "$failed" -eq 0 ]
