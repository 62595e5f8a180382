#!/usr/bin/env node
// hf_bench.mjs: the Hugging Face tokenizers side of bench/tokenizer.cpp. Loads a tokenizer.json
// with the Rust library (Node binding @anush008/tokenizers), encodes a text file, and prints one
// JSON line: load time, encode time of each repetition, the token count and an FNV-1a hash of
// the ids (so the benchmark can check both sides produced the same ids).
//
//   node tools/tokenizer/hf_bench.mjs --npm DIR --tokenizer FILE --text FILE --mode whole|lines|batch --reps N
//
// whole: one encode() of the whole text; lines: one encode() per line (awaited in turn);
// batch: encodeBatch() of 1000 lines at a time (run it with RAYON_NUM_THREADS=1 for one thread).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const require = createRequire(import.meta.url);
const { Tokenizer } = require(path.join(args.npm, '@anush008', 'tokenizers'));
const text = fs.readFileSync(args.text, 'utf8');
const lines = text.split(/(?<=\n)/);
const reps = Number(args.reps ?? 3);
const now = () => Number(process.hrtime.bigint()) / 1e9;

let t0 = now();
const tok = Tokenizer.fromFile(args.tokenizer);
const load = now() - t0;
const times = [];
let ids = [];
for (let r = 0; r < reps; ++r) {
  t0 = now();
  ids = [];
  if (args.mode === 'whole') {
    ids = (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
  } else if (args.mode === 'lines') {
    for (const l of lines) ids.push(...(await tok.encode(l, null, { addSpecialTokens: false })).getIds());
  } else {
    for (let i = 0; i < lines.length; i += 1000)
      for (const e of await tok.encodeBatch(lines.slice(i, i + 1000), { addSpecialTokens: false })) ids.push(...e.getIds());
  }
  times.push(now() - t0);
}
let h = 0xcbf29ce484222325n;
for (const id of ids) for (let k = 0; k < 4; ++k) { h ^= BigInt((id >>> (8 * k)) & 0xff); h = (h * 0x100000001b3n) & 0xffffffffffffffffn; }
console.log(JSON.stringify({ load_s: load, encode_s: times, tokens: ids.length, bytes: Buffer.byteLength(text), fnv1a64: h.toString(16).padStart(16, '0') }));
