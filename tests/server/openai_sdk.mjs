// ddiff serve and OpenAI's official Node SDK (npm package `openai`, installed outside the source
// tree by scripts/tokenizer-data.sh): completions, chat completions, streaming of both, an error
// case and authentication, against `ddiff serve` with the shipped model, started here on a free
// loopback port and stopped with SIGTERM (it must exit 0).
//
// usage: node openai_sdk.mjs PATH/TO/ddiff DATA_DIR   ($DDIFF_DATA overrides DATA_DIR)
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { createRequire } from "node:module";
import assert from "node:assert/strict";
import path from "node:path";
import fs from "node:fs";

const execFileAsync = promisify(execFile);
const [ddiff, dataArg] = process.argv.slice(2);
const data = process.env.DDIFF_DATA || dataArg;
const modules = path.join(data, "npm", "node_modules");
if (!fs.existsSync(path.join(modules, "openai", "package.json"))) {
  console.error(`openai_sdk: the npm package 'openai' is not in ${modules}; run scripts/tokenizer-data.sh ` +
                "(scripts/test.sh does) to install it");
  process.exit(1);
}
const require = createRequire(path.join(modules, "index.js"));
const OpenAI = require("openai");
const sdkVersion = JSON.parse(fs.readFileSync(path.join(modules, "openai", "package.json"), "utf8")).version;

// Starts `ddiff serve --port 0 ...`; resolves with { proc, port } once it listens.
function serve(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(ddiff, ["serve", "--port", "0", ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    const timer = setTimeout(() => reject(new Error("ddiff serve did not start: " + out)), 120000);
    proc.stdout.on("data", (d) => {
      out += d.toString();
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]) });
      }
    });
    proc.on("exit", (code) => reject(new Error(`ddiff serve exited (${code}) before listening: ${out}`)));
  });
}
function stop(proc) {
  return new Promise((resolve) => {
    proc.removeAllListeners("exit");
    proc.on("exit", (code, signal) => resolve(code ?? 128 + (signal ? 15 : 0)));
    proc.kill("SIGTERM");
  });
}
// `ddiff generate ... --print-ids --no-progress`: the ids of each sample line. Asynchronous, so
// that the SDK's pooled connections see the server's keep-alive closes meanwhile.
async function cliIds(args) {
  const { stdout } = await execFileAsync(ddiff, ["generate", ...args, "--print-ids", "--no-progress"], { encoding: "utf8" });
  return stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number));
}
const untilEos = (ids) => (ids.indexOf(64) < 0 ? ids : ids.slice(0, ids.indexOf(64)));

let checks = 0;
async function check(name, fn) {
  await fn();
  ++checks;
  console.log(`ok - ${name}`);
}

const key = "sdk-test-key";
const { proc, port } = await serve(["--api-key", key]);
try {
  const client = new OpenAI({ apiKey: key, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0, timeout: 120000 });
  const prompt = "In the beginning";

  await check("models.list", async () => {
    const models = [];
    for await (const m of client.models.list()) models.push(m);
    assert.equal(models.length, 1);
    assert.equal(models[0].id, "kjv-char");
    assert.equal(models[0].object, "model");
  });

  await check("completions.create equals ddiff generate", async () => {
    const c = await client.completions.create({ model: "kjv-char", prompt, max_tokens: 24, steps: 24, seed: 13,
                                                n: 2, return_tokens: true });
    assert.equal(c.object, "text_completion");
    assert.equal(c.choices.length, 2);
    assert.equal(c.usage.prompt_tokens, 16);
    assert.equal(c.ddiff.steps, 24);
    const ref = await cliIds(["--prompt", prompt, "--length", "24", "--steps", "24", "--seed", "13", "--num-samples", "2"]);
    for (const i of [0, 1]) {
      assert.deepEqual(untilEos(c.ddiff.choices[i].tokens), untilEos(ref[i].slice(16)));
      assert.equal(typeof c.choices[i].text, "string");
    }
  });

  await check("chat.completions.create", async () => {
    const c = await client.chat.completions.create({
      model: "kjv-char", messages: [{ role: "user", content: "And God said" }], max_tokens: 16, steps: 16, seed: 4,
      return_tokens: true });
    assert.equal(c.object, "chat.completion");
    assert.equal(c.choices[0].message.role, "assistant");
    assert.equal(typeof c.choices[0].message.content, "string");
    assert.equal(c.usage.prompt_tokens, 13);
    const ref = await cliIds(["--chat", "--prompt", "And God said", "--length", "16", "--steps", "16", "--seed", "4"]);
    assert.deepEqual(untilEos(c.ddiff.choices[0].tokens), untilEos(ref[0].slice(13)));
  });

  await check("streaming completion: chunks add up to the whole answer", async () => {
    const body = { model: "kjv-char", prompt, max_tokens: 32, steps: 32, block_length: 8, seed: 21 };
    const whole = await client.completions.create(body);
    const stream = await client.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
    let text = "", chunks = 0, finish = null, usage = null;
    for await (const chunk of stream) {
      ++chunks;
      if (chunk.usage) usage = chunk.usage;
      for (const ch of chunk.choices) {
        text += ch.text;
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    assert.ok(chunks >= 3, `only ${chunks} chunks`);
    assert.equal(text, whole.choices[0].text);
    assert.equal(finish, whole.choices[0].finish_reason);
    assert.deepEqual(usage, whole.usage);
  });

  await check("streaming chat completion", async () => {
    const body = { model: "kjv-char", messages: [{ role: "system", content: "In the beginning" },
                                                  { role: "user", content: "And God said" }],
                   max_tokens: 16, steps: 16, seed: 8 };
    const whole = await client.chat.completions.create(body);
    const stream = await client.chat.completions.create({ ...body, stream: true });
    let text = "", role = null;
    for await (const chunk of stream) {
      const d = chunk.choices[0]?.delta ?? {};
      if (d.role) role = d.role;
      if (d.content) text += d.content;
    }
    assert.equal(role, "assistant");
    assert.equal(text, whole.choices[0].message.content);
  });

  await check("an error: the SDK raises BadRequestError with the param", async () => {
    await assert.rejects(client.completions.create({ model: "kjv-char", prompt, steps: 0 }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.equal(e.status, 400);
      assert.equal(e.error?.param ?? e.param, "steps");
      assert.match(e.message, /steps = '0', expected an integer in \[1, 1048576\]/);
      return true;
    });
    await assert.rejects(client.completions.create({ model: "no-such-model", prompt }), (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, String(e));
      return true;
    });
  });

  await check("authentication: a wrong key is AuthenticationError", async () => {
    const bad = new OpenAI({ apiKey: "wrong", baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
    await assert.rejects(bad.completions.create({ model: "kjv-char", prompt, max_tokens: 4, steps: 4 }), (e) => {
      assert.ok(e instanceof OpenAI.AuthenticationError, String(e));
      assert.equal(e.status, 401);
      return true;
    });
  });
} finally {
  const code = await stop(proc);
  assert.equal(code, 0, `ddiff serve exited with ${code} after SIGTERM`);
}
console.log(`openai_sdk: ${checks} checks passed with openai ${sdkVersion}`);
