// bpe_train.mjs: a minimal deterministic BPE trainer for the small tokenizer.json files the
// tokenizer tests and tiny checkpoints use (the merges only need to be consistent: Hugging Face
// tokenizers then encodes with them, and its output is the reference).
// Minimal BPE trainer (deterministic: most frequent pair, ties by the pair's text). Only the merges
// it produces are committed; HF encodes with them, so their quality does not matter.
export function trainMerges(words, nMerges, prefix = '') {
  const freq = new Map();
  for (const w of words) freq.set(w.join('\u0001'), (freq.get(w.join('\u0001')) ?? 0) + 1);
  let entries = [...freq.entries()].map(([k, c]) => [k.split('\u0001'), c]);
  const merges = [];
  for (let m = 0; m < nMerges; ++m) {
    const pairs = new Map();
    for (const [syms, c] of entries)
      for (let i = 0; i + 1 < syms.length; ++i) {
        const key = syms[i] + '\u0001' + syms[i + 1];
        pairs.set(key, (pairs.get(key) ?? 0) + c);
      }
    let best = null;
    for (const [k, c] of pairs) if (!best || c > best[1] || (c === best[1] && k < best[0])) best = [k, c];
    if (!best || best[1] < 2) break;
    const [a, b] = best[0].split('\u0001');
    merges.push([a, b]);
    const joined = a + b.slice(prefix.length);
    entries = entries.map(([syms, c]) => {
      const out = [];
      for (let i = 0; i < syms.length; ++i) {
        if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) {
          out.push(joined);
          ++i;
        } else out.push(syms[i]);
      }
      return [out, c];
    });
  }
  return merges;
}

export const byteAlphabet = (() => {
  const bs = [];
  for (let b = 33; b <= 126; ++b) bs.push(b);
  for (let b = 0xa1; b <= 0xac; ++b) bs.push(b);
  for (let b = 0xae; b <= 0xff; ++b) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; ++b) if (!bs.includes(b)) { bs.push(b); cs.push(256 + n++); }
  return cs.map((c) => String.fromCodePoint(c));
})();

