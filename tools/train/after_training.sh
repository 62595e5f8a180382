#!/bin/sh
# after_training.sh: waits for a running train.py (PID $1, optional) to finish, then evaluates
# the exported models/kjv-char checkpoint (MC NELBO on a spread-out eighth of the held-out split,
# Witten-Bell n-grams on the same subset and on the whole split, generation samples) and
# re-renders docs/training.md.  Everything single-threaded.
#
# Usage: nohup sh tools/train/after_training.sh [TRAIN_PID] > /work/after_training.log 2>&1 &
cd "$(dirname "$0")/../.." || exit 1
if [ -n "$1" ]; then
  while kill -0 "$1" 2>/dev/null; do sleep 30; done
fi
test -f models/kjv-char/training_summary.json || { echo "no finished training run"; exit 1; }
/usr/bin/python3 tools/train/eval_elbo.py --heldout --window-step 8 --mc-num 32 --record
/usr/bin/python3 tools/train/ngram.py --record
/usr/bin/python3 tools/train/ngram.py --record --window-step 8
/usr/bin/python3 tools/train/sample.py --record
/usr/bin/python3 tools/train/write_training_doc.py
