// ddiff serve: the page at / (static HTML + JS, no build step, nothing fetched from elsewhere).
// It asks /ddiff/options for the decoder settings, posts a streamed completion with
// stream_canvas, and plays the canvas events: every position starts masked and is revealed at
// the step that commits it, with the step, NFE and tokens/s. For tests it keeps what it showed
// in window.ddiff (frames: the canvas text after each step, '\u2591' for a mask; done: the final
// text, NFE and steps).
#pragma once

#include <string_view>

namespace ddiff::serve {

inline constexpr std::string_view page_html = R"PAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ddiff serve</title>
<style>
  :root { --bg:#0f1115; --panel:#171a21; --ink:#e6e6e6; --dim:#7d8590; --mask:#2a2f3a; --new:#f0c674; --accent:#7aa2f7; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--ink); }
  header { padding:14px 20px; border-bottom:1px solid #242833; display:flex; gap:16px; align-items:baseline; }
  header h1 { font-size:18px; margin:0; }
  header .model { color:var(--dim); }
  main { display:grid; grid-template-columns: 320px 1fr; gap:18px; padding:18px 20px; }
  .panel { background:var(--panel); border:1px solid #242833; border-radius:8px; padding:14px; }
  label { display:block; color:var(--dim); font-size:12px; margin:10px 0 4px; }
  textarea, input, select { width:100%; background:#0c0e12; color:var(--ink); border:1px solid #2c313c; border-radius:5px; padding:7px 8px; font:inherit; }
  textarea { height:90px; resize:vertical; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
  .row { display:grid; grid-template-columns: 1fr 1fr; gap:8px; }
  button { margin-top:14px; width:100%; padding:9px; border:0; border-radius:5px; background:var(--accent); color:#0b0d12; font-weight:600; cursor:pointer; }
  button:disabled { opacity:.5; cursor:default; }
  #stats { display:flex; gap:22px; margin-bottom:12px; color:var(--dim); font-variant-numeric: tabular-nums; }
  #stats b { color:var(--ink); font-weight:600; }
  #canvas { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size:17px; line-height:1.9; word-break:break-all; min-height:120px; }
  #canvas span { display:inline-block; min-width:.62em; text-align:center; border-radius:3px; transition: background .35s, color .35s; white-space:pre; }
  #canvas span.m { background:var(--mask); color:transparent; }
  #canvas span.m::after { content:"\2591"; color:#465063; }
  #canvas span.n { background:var(--new); color:#111; }
  #canvas span.p { color:var(--dim); }
  #output { margin-top:14px; white-space:pre-wrap; font-family: ui-monospace, monospace; color:#c9d1d9; }
  #error { color:#f7768e; margin-top:10px; white-space:pre-wrap; }
  .hint { color:var(--dim); font-size:12px; margin-top:10px; }
</style>
</head>
<body>
<header><h1>ddiff serve</h1><span class="model" id="model">loading&hellip;</span></header>
<main>
  <section class="panel">
    <label for="prompt">Prompt</label>
    <textarea id="prompt">In the beginning</textarea>
    <label><input type="checkbox" id="chat" style="width:auto"> chat (the model's chat template)</label>
    <div class="row">
      <div><label for="max_tokens">max_tokens</label><input id="max_tokens" type="number" value="64" min="1"></div>
      <div><label for="steps">steps</label><input id="steps" type="number" value="64" min="1"></div>
    </div>
    <div class="row">
      <div><label for="block_length">block_length</label><input id="block_length" type="number" value="0" min="0"></div>
      <div><label for="temperature">temperature</label><input id="temperature" type="number" value="1" min="0" step="0.1"></div>
    </div>
    <label for="sampler">sampler</label><select id="sampler"></select>
    <label for="remask">remask</label><select id="remask"></select>
    <div class="row">
      <div><label for="seed">seed</label><input id="seed" type="number" value="1" min="0"></div>
      <div><label for="delay">ms per frame</label><input id="delay" type="number" value="40" min="0"></div>
    </div>
    <label for="key">API key (if the server asks for one)</label><input id="key" type="password" autocomplete="off">
    <button id="go">Generate</button>
    <div id="error"></div>
    <div class="hint">Each step of the decoder commits some masked positions; the canvas shows them as they are revealed.</div>
  </section>
  <section class="panel">
    <div id="stats"><span>step <b id="s-step">-</b></span><span>NFE <b id="s-nfe">-</b></span><span>masked <b id="s-masked">-</b></span><span>time <b id="s-time">-</b></span><span>tokens/s <b id="s-tps">-</b></span></div>
    <div id="canvas"></div>
    <div id="output"></div>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
window.ddiff = { frames: [], done: null, running: false };
let options = null;

function cellText(t) { return t === "\n" ? "\u21b5" : t; }

async function loadOptions() {
  const r = await fetch("/ddiff/options");
  options = await r.json();
  $("model").textContent = "model " + options.model + " \u00b7 max_tokens \u2264 " + options.limits.max_tokens +
                           " \u00b7 steps \u2264 " + options.limits.max_steps;
  for (const f of options.fields) {
    if (f.name === "sampler" || f.name === "remask") {
      const sel = $(f.name);
      for (const c of f.choices) { const o = document.createElement("option"); o.value = o.textContent = c; sel.appendChild(o); }
      sel.value = f.default;
    }
  }
  $("chat").disabled = !options.chat_template;
}

// Server-Sent Events from a fetch body: yields {event, data}.
async function* sse(body) {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i); buf = buf.slice(i + 2);
      let event = null, data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      yield { event, data };
    }
  }
}

// For tests and screenshots: /?autorun=1&prompt=...&max_tokens=...&steps=...&seed=...&delay=...
// fills the form and generates at once; freeze=K stops the animation after K frames (a picture
// mid-decode). When a run ends, window.ddiff is also written into <pre id="result">.
const query = new URLSearchParams(location.search);
const freezeAt = +(query.get("freeze") || 0);

function render(frame, prev) {
  if (freezeAt && window.ddiff.frames.length >= freezeAt) return;
  const c = $("canvas");
  if (c.children.length !== frame.tokens.length) {
    c.textContent = "";
    for (let i = 0; i < frame.tokens.length; i++) c.appendChild(document.createElement("span"));
  }
  const fresh = new Set(frame.committed);
  let masked = 0;
  frame.tokens.forEach((t, i) => {
    const s = c.children[i];
    if (t === null) { masked++; s.className = "m"; s.textContent = "_"; return; }
    s.textContent = cellText(t);
    s.className = fresh.has(i) ? "n" : "";
  });
  $("s-step").textContent = frame.step + 1;
  $("s-nfe").textContent = frame.nfe;
  $("s-masked").textContent = masked;
  $("s-time").textContent = frame.elapsed.toFixed(2) + " s";
  const revealed = frame.tokens.length - masked;
  $("s-tps").textContent = frame.elapsed > 0 ? (revealed / frame.elapsed).toFixed(0) : "-";
  window.ddiff.frames.push(frame.tokens.map((t) => (t === null ? "\u2591" : t)).join(""));
}

async function generate() {
  $("error").textContent = ""; $("output").textContent = ""; $("canvas").textContent = "";
  window.ddiff = { frames: [], done: null, running: true };
  $("go").disabled = true;
  const chat = $("chat").checked;
  const body = {
    max_tokens: +$("max_tokens").value, steps: +$("steps").value, block_length: +$("block_length").value,
    temperature: +$("temperature").value, sampler: $("sampler").value, remask: $("remask").value,
    seed: +$("seed").value, stream: true, stream_canvas: true, stream_options: { include_usage: true },
  };
  if (chat) body.messages = [{ role: "user", content: $("prompt").value }];
  else body.prompt = $("prompt").value;
  const headers = { "Content-Type": "application/json" };
  if ($("key").value) headers["Authorization"] = "Bearer " + $("key").value;
  const queue = [];
  let text = "", finished = false, last = null, summary = null;
  const delay = Math.max(0, +$("delay").value || 0);
  // Frames are played at `delay` ms each, so that a fast decode can still be watched.
  const player = (async () => {
    for (;;) {
      if (queue.length) { render(queue.shift(), last); await new Promise((r) => setTimeout(r, delay)); continue; }
      if (finished) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  try {
    const r = await fetch(chat ? "/v1/chat/completions" : "/v1/completions", { method: "POST", headers, body: JSON.stringify(body) });
    if (!r.ok) { const e = await r.json().catch(() => ({})); throw new Error((e.error && e.error.message) || ("HTTP " + r.status)); }
    for await (const ev of sse(r.body)) {
      if (ev.data === "[DONE]") break;
      const d = JSON.parse(ev.data);
      if (d.error) throw new Error(d.error.message);
      if (ev.event === "canvas") { if (d.index === 0) queue.push(d); continue; }
      if (d.choices && d.choices.length && d.choices[0].index === 0) {
        const ch = d.choices[0];
        text += chat ? (ch.delta.content || "") : ch.text;
        if (ch.finish_reason) summary = { finish_reason: ch.finish_reason, ddiff: d.ddiff };
      }
      if (d.usage) summary = Object.assign(summary || {}, { usage: d.usage });
    }
  } catch (e) {
    $("error").textContent = String(e.message || e);
  }
  finished = true;
  await player;
  if (!freezeAt) $("output").textContent = text;
  if (summary && summary.ddiff && !freezeAt) {
    $("s-nfe").textContent = summary.ddiff.nfe;
    $("s-time").textContent = summary.ddiff.decode_seconds.toFixed(2) + " s";
    const n = summary.usage ? summary.usage.completion_tokens : body.max_tokens;
    $("s-tps").textContent = summary.ddiff.decode_seconds > 0 ? (n / summary.ddiff.decode_seconds).toFixed(0) : "-";
  }
  window.ddiff.done = { text, nfe: summary && summary.ddiff ? summary.ddiff.nfe : null,
                        steps: summary && summary.ddiff ? summary.ddiff.steps : null, error: $("error").textContent };
  window.ddiff.running = false;
  $("go").disabled = false;
  let pre = $("result");
  if (!pre) { pre = document.createElement("pre"); pre.id = "result"; pre.hidden = true; document.body.appendChild(pre); }
  pre.textContent = JSON.stringify(window.ddiff);
}

$("go").addEventListener("click", generate);
loadOptions().then(() => {
  if (query.get("autorun") !== "1") return;
  for (const k of ["prompt", "max_tokens", "steps", "block_length", "temperature", "sampler", "remask", "seed", "delay"])
    if (query.has(k)) $(k).value = query.get(k);
  if (query.get("chat") === "1") $("chat").checked = true;
  return generate();
}).catch((e) => { $("error").textContent = "cannot read /ddiff/options: " + e; });
</script>
</body>
</html>
)PAGE";

}  // namespace ddiff::serve
