#!/usr/bin/env node
// make_tiny_bpe.mjs: the Hugging Face side of tools/tokenizer/make_tiny_bpe_checkpoints.py.
//
//   node make_tiny_bpe.mjs tokenizer DATA OUT.json SPECIALS_JSON   writes a small byte-level BPE
//       tokenizer.json (NFC, Qwen2's pre-tokenizer regex + ByteLevel, 256 byte tokens and 200
//       merges trained on KJV verses, the given special tokens appended as added tokens), built
//       and saved by Hugging Face tokenizers itself
//   node make_tiny_bpe.mjs encode DATA TOKENIZER.json TEXT_FILE    prints the ids HF gives the text
//       (add_special_tokens=false, as transformers' apply_chat_template(tokenize=True) encodes)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

import { byteAlphabet, trainMerges } from './bpe_train.mjs';

const [mode, data, a, b] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const { Tokenizer } = require(path.join(data, 'npm', 'node_modules', '@anush008', 'tokenizers'));

if (mode === 'tokenizer') {
  const specials = JSON.parse(b);
  const qwen2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const base = {
    version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: { type: 'NFC' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: qwen2 }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false }] },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
  };
  const vocab = new Map(byteAlphabet.map((c, i) => [c, i]));
  const model = { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
    fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: Object.fromEntries(vocab), merges: [] };
  const probe = Tokenizer.fromString(JSON.stringify({ ...base, model }));
  const verses = fs.readFileSync(path.join(data, 'kjv.txt'), 'utf8').split('\n').filter((l, i) => l && i % 20 === 0);
  const words = [];
  for (const v of verses) for (const [w] of probe.getPreTokenizer().preTokenizeString(v)) words.push(Array.from(w));
  const merges = trainMerges(words, 200);
  for (const [x, y] of merges) if (!vocab.has(x + y)) vocab.set(x + y, vocab.size);
  model.vocab = Object.fromEntries(vocab);
  model.merges = merges;
  base.added_tokens = specials.map((content, i) => ({ id: vocab.size + i, content, single_word: false, lstrip: false,
    rstrip: false, normalized: false, special: true }));
  Tokenizer.fromString(JSON.stringify({ ...base, model })).save(a, true);
  console.log(JSON.stringify({ vocab_size: vocab.size + specials.length, ids: Object.fromEntries(base.added_tokens.map((t) => [t.content, t.id])) }));
} else if (mode === 'encode') {
  const tok = Tokenizer.fromFile(a);
  const e = await tok.encode(fs.readFileSync(b, 'utf8'), null, { addSpecialTokens: false });
  console.log(JSON.stringify(e.getIds()));
} else {
  console.error('usage: make_tiny_bpe.mjs tokenizer|encode DATA ...');
  process.exit(2);
}
