// The page at / of `ddiff serve` in a real browser: headless Chromium (Debian's `chromium`)
// loads /?autorun=1&..., which fills the form, submits the prompt and plays the canvas stream;
// what the page showed is read back over the DevTools protocol (window.ddiff). The canvas
// must change over several steps, its masks only decrease to none, and the page's final text
// must equal the API's answer for the same settings.
//
// usage: node page_chromium.mjs PATH/TO/ddiff [--screenshot FILE]   (FILE: a picture mid-decode)
import { spawn } from "node:child_process";
import assert from "node:assert/strict";
import http from "node:http";
import fs from "node:fs";

const [ddiff, flag, shot] = process.argv.slice(2);
const chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => fs.existsSync(p));
if (!chromium) {
  console.error("page_chromium: chromium not found (scripts/install-deps.sh installs Debian's chromium)");
  process.exit(1);
}

function serve() {
  return new Promise((resolve, reject) => {
    const proc = spawn(ddiff, ["serve", "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    proc.stdout.on("data", (d) => {
      out += d.toString();
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.on("exit", (code) => reject(new Error(`ddiff serve exited (${code}): ${out}`)));
  });
}
function post(port, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method: "POST", headers: { "Content-Type": "application/json" } },
      (res) => {
        let data = "";
        res.on("data", (d) => (data += d));
        res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(data) }));
      });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}
// Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: fd 3
// takes commands, fd 4 gives answers, each a JSON text ending with a NUL byte).
class browser {
  constructor() {
    this.proc = spawn(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                                 "--hide-scrollbars", "--window-size=1280,720", "--remote-debugging-pipe",
                                 "--user-data-dir=" + fs.mkdtempSync("/tmp/ddiff-chromium-"), "about:blank"],
                      { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"] });
    this.next = 1;
    this.waiting = new Map();
    let buf = Buffer.alloc(0);
    this.proc.stdio[4].on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      for (let i; (i = buf.indexOf(0)) >= 0;) {
        const msg = JSON.parse(buf.subarray(0, i).toString("utf8"));
        buf = buf.subarray(i + 1);
        const w = msg.id !== undefined && this.waiting.get(msg.id);
        if (w) {
          this.waiting.delete(msg.id);
          msg.error ? w.reject(new Error(JSON.stringify(msg.error))) : w.resolve(msg.result);
        }
      }
    });
  }
  send(method, params = {}, sessionId = undefined) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.proc.stdio[3].write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + "\0");
    });
  }
  async open(url) {
    const { targetId } = await this.send("Target.createTarget", { url });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
    return sessionId;
  }
  async evaluate(session, expression) {
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true }, session);
    return r.result.value;
  }
  // Waits for the page's run to end: window.ddiff with done set.
  async result(session, seconds = 180) {
    for (let t = 0; t < seconds * 10; ++t) {
      const v = await this.evaluate(session, "window.ddiff && window.ddiff.done ? JSON.stringify(window.ddiff) : ''");
      if (v) return JSON.parse(v);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("the page did not finish its run");
  }
  close() { this.proc.kill("SIGKILL"); }
}

const { proc, port } = await serve();
try {
  const settings = { prompt: "In the beginning", max_tokens: 32, steps: 32, block_length: 8, seed: 3 };
  const api = await post(port, "/v1/completions", settings);
  assert.equal(api.status, 200);
  const q = new URLSearchParams({ autorun: "1", delay: "0", ...Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, String(v)])) });
  const b = new browser();
  try {
    if (flag === "--screenshot") {
      q.set("freeze", "14");
      const session = await b.open(`http://127.0.0.1:${port}/?${q}`);
      await b.result(session);
      const png = await b.send("Page.captureScreenshot", { format: "png" }, session);
      fs.writeFileSync(shot, Buffer.from(png.data, "base64"));
      console.log(`page_chromium: screenshot written to ${shot}`);
    } else {
      const session = await b.open(`http://127.0.0.1:${port}/?${q}`);
      const result = await b.result(session);
      assert.equal(result.done.error, "");
      const frames = result.frames;
      assert.equal(frames.length, 32, "one canvas frame per step");
      const masks = frames.map((f) => [...f].filter((c) => c === "\u2591").length);
      for (let i = 1; i < masks.length; ++i) assert.ok(masks[i] <= masks[i - 1], `masks grew at frame ${i}: ${masks}`);
      assert.ok(masks[0] > 0 && masks[0] < 32);
      assert.equal(masks[masks.length - 1], 0);
      assert.ok(new Set(frames).size >= 8, "the canvas changed over several steps");
      assert.equal(result.done.nfe, api.body.ddiff.nfe);
      assert.equal(result.done.text, api.body.choices[0].text);
      // The page shows it too.
      assert.equal(await b.evaluate(session, "document.getElementById('output').textContent"), api.body.choices[0].text);
      console.log(`page_chromium: ${frames.length} frames, masks ${masks.join(" ")}; final text equals the API's`);
    }
  } finally {
    b.close();
  }
} finally {
  proc.kill("SIGTERM");
}
