/**
 * WasmHost through the real binary, with a module written against
 * Easegress's ABI (tests/fixtures/wasm/token_gate.wat, built with wabt's
 * `wat2wasm`): its parameters reach `wasm_init`, it reads and sets request
 * headers, answers with a status and body of its own and a result the flow
 * jumps on, and keeps a counter in the cluster data; the module given as a
 * file and in base64; bad code refused.
 */

import assert from "node:assert/strict";
import { encodeBase64 } from "../../filters/base64.ts";
import { assertRefused, eventually, freePort, request, startNodeProcess } from "./helpers.ts";

const WAT = new URL("../fixtures/wasm/token_gate.wat", import.meta.url).pathname;
const LOOP_WAT = new URL("../fixtures/wasm/loop.wat", import.meta.url).pathname;

async function wat2wasm(wat: string, out: string): Promise<void> {
  const built = await new Deno.Command("wat2wasm", { args: [wat, "-o", out], stderr: "piped" })
    .output();
  assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
}

Deno.test("WasmHost: a module on Easegress's ABI gates, rewrites and counts requests", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eg-wasm-" });
  const wasm = `${dir}/token_gate.wasm`;
  await wat2wasm(WAT, wasm);
  const seen: Record<string, string | null>[] = [];
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push({ from: req.headers.get("x-from-wasm"), count: req.headers.get("x-count") });
    return new Response("backend");
  });
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  const pipeline = (name: string, code: string) =>
    `kind: Pipeline
name: ${name}
flow:
- filter: wasm
  jumpIf: {wasmResult1: END}
- filter: proxy
filters:
- name: wasm
  kind: WasmHost
  code: ${code}
  parameters:
    greeting: hello-from-parameters
- name: proxy
  kind: Proxy
  pools:
  - servers:
    - url: http://127.0.0.1:${backend.addr.port}
`;
  try {
    const objects = [
      pipeline("from-file", wasm),
      pipeline("from-base64", encodeBase64(await Deno.readFile(wasm))),
      `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n- paths:\n` +
      "  - {pathPrefix: /file, backend: from-file}\n  - {pathPrefix: /b64, backend: from-base64}\n",
    ].join("---\n");
    const created = await node.ctl(["object", "create"], objects);
    assert.equal(created.code, 0, created.stderr);
    const base = `http://127.0.0.1:${port}`;
    await eventually("served", async () => (await request(`${base}/file`)).status === 401);

    const denied = await request(`${base}/file`);
    assert.equal(denied.status, 401);
    assert.equal(denied.body, "denied");
    for (const count of ["1", "2"]) {
      const ok = await request(`${base}/file`, { headers: { "x-token": "t" } });
      assert.equal(ok.body, "backend");
      assert.deepEqual(seen.at(-1), { from: "hello-from-parameters", count });
    }
    // The base64 module is another instance, with its own counter.
    const b64 = await request(`${base}/b64`, { headers: { "x-token": "t" } });
    assert.equal(b64.body, "backend");
    assert.deepEqual(seen.at(-1), { from: "hello-from-parameters", count: "1" });

    const status = JSON.parse(
      (await node.ctl(["-o", "json", "object", "status", "get", "from-file"])).stdout,
    );
    type WasmStatus = { health: string; numOfRequest: number; numOfWasmError: number };
    const docs = Object.values(status as Record<string, { filters: Record<string, WasmStatus> }>);
    const wasmStatus = docs[0].filters.wasm;
    // The requests that waited for the server went through the module too.
    assert.equal(wasmStatus.health, "");
    assert.equal(wasmStatus.numOfWasmError, 0);
    assert.ok(wasmStatus.numOfRequest >= 4, JSON.stringify(wasmStatus));

    await assertRefused(node, [
      [
        "kind: Pipeline\nname: bad\nfilters:\n- {name: w, kind: WasmHost, code: AGFzbQEAAAAF}\n",
        /code: is not a valid WebAssembly module/,
      ],
      [
        "kind: Pipeline\nname: bad\nfilters:\n- {name: w, kind: WasmHost, code: /no/such/module.wasm}\n",
        /code: is neither base64 WebAssembly, an http\(s\) URL nor a readable file/,
      ],
    ]);
  } finally {
    await node.stop();
    await backend.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("WasmHost: a call past its timeout ends its instance; all instances busy is outOfVM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eg-wasm-" });
  const wasm = `${dir}/loop.wasm`;
  await wat2wasm(LOOP_WAT, wasm);
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  try {
    const objects = `kind: Pipeline
name: p
flow:
- filter: wasm
  jumpIf: {wasmError: END, outOfVM: END}
- filter: mock
filters:
- {name: wasm, kind: WasmHost, code: ${wasm}, timeout: 1s, maxConcurrency: 1}
- {name: mock, kind: Mock, rules: [{code: 200, body: after}]}
---
kind: HTTPServer
name: s
port: ${port}
rules:
- paths:
  - {pathPrefix: /, backend: p}
`;
    const created = await node.ctl(["object", "create"], objects);
    assert.equal(created.code, 0, created.stderr);
    const url = `http://127.0.0.1:${port}/`;
    await eventually("served", async () => (await request(url)).body === "after");
    const started = Date.now();
    const looping = request(url, { headers: { "x-loop": "1" } });
    await new Promise((r) => setTimeout(r, 200));
    // The only instance is busy: no queueing behind a module that may never return.
    assert.equal((await request(url)).status, 503);
    const stopped = await looping;
    assert.equal(stopped.status, 500);
    const waited = Date.now() - started;
    assert.ok(waited >= 900 && waited < 5_000, `answered after ${waited} ms`);
    // A new instance serves the next request.
    assert.equal((await request(url)).body, "after");
    const status = JSON.parse(
      (await node.ctl(["-o", "json", "object", "status", "get", "p"])).stdout,
    );
    const docs = Object.values(
      status as Record<string, { filters: Record<string, { numOfWasmError: number }> }>,
    );
    assert.equal(docs[0].filters.wasm.numOfWasmError, 1);
  } finally {
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
