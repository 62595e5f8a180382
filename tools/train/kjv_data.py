#!/usr/bin/python3
# kjv_data.py: the King James Bible character corpus used by train.py, eval_elbo.py and
# ngram.py, read from the Debian `bible` program (package bible-kjv).
#
#   * `bible -f Gen1:1-Rev22:21` prints one verse per line as "<Book><chapter>:<verse> text";
#     the reference prefix is stripped, leaving one verse per line ('\n' separated, final '\n').
#   * split: training = Genesis 1:1 .. Philippians 4:23, held-out = Colossians 1:1 ..
#     Revelation 22:21 (about 5.0% of the characters).
#   * vocabulary: every character of the whole corpus (sorted by code point) gets ids
#     0..n-1, then "<|mdm_mask|>" = n, "<|eos|>" = n+1, "<|pad|>" = n+2.
#
# `/usr/bin/python3 tools/train/kjv_data.py OUTDIR` writes OUTDIR/kjv_train.txt and
# OUTDIR/kjv_heldout.txt and prints the split statistics.
import re
import subprocess
import sys

HELDOUT_FIRST_BOOK = "Col"      # bible's abbreviation for Colossians
SPECIAL_TOKENS = ["<|mdm_mask|>", "<|eos|>", "<|pad|>"]
_REF = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$")


def verses():
    out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True,
                         capture_output=True, text=True).stdout
    res = []
    for line in out.split("\n"):
        if not line.strip():
            continue
        m = _REF.match(line)
        if not m:
            raise ValueError(f"unexpected line from bible: {line!r}")
        res.append((m.group(1), int(m.group(2)), int(m.group(3)), m.group(4).strip()))
    assert len(res) == 31102, len(res)
    return res


def split_texts():
    """(train_text, heldout_text): verses joined by '\n', each ending in '\n'."""
    vs = verses()
    first = next(i for i, v in enumerate(vs) if v[0] == HELDOUT_FIRST_BOOK)
    train = "".join(v[3] + "\n" for v in vs[:first])
    held = "".join(v[3] + "\n" for v in vs[first:])
    return train, held


def build_vocab(text):
    chars = sorted(set(text))
    vocab = {c: i for i, c in enumerate(chars)}
    for s in SPECIAL_TOKENS:
        vocab[s] = len(vocab)
    return vocab


def encode(text, vocab):
    return [vocab[c] for c in text]


def decode(ids, vocab):
    inv = {i: s for s, i in vocab.items()}
    return "".join(inv[int(i)] for i in ids)


if __name__ == "__main__":
    import os
    tr, he = split_texts()
    if len(sys.argv) > 1:
        os.makedirs(sys.argv[1], exist_ok=True)
        open(os.path.join(sys.argv[1], "kjv_train.txt"), "w").write(tr)
        open(os.path.join(sys.argv[1], "kjv_heldout.txt"), "w").write(he)
    v = build_vocab(tr + he)
    print(f"train chars {len(tr)}  heldout chars {len(he)}  heldout fraction "
          f"{len(he) / (len(tr) + len(he)):.4f}  vocab {len(v)} (chars {len(v) - 3})")
    print("heldout-only chars:", sorted(set(he) - set(tr)))
