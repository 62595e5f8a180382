#!/usr/bin/python3
# kjv_text.py OUT: writes the whole King James Bible (Debian's bible-kjv, through
# tools/train/kjv_data.py: one verse per line, each ending in '\n', 4.1 MB) to OUT. The tokenizer
# tests and bench/tokenizer.cpp encode this text.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
import kjv_data  # noqa: E402

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: kjv_text.py OUT")
    train, held = kjv_data.split_texts()
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(train + held)
    os.replace(tmp, sys.argv[1])
