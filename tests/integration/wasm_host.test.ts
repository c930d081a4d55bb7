/**
 * WasmHost through the real binary, with a module written against
 * Easegress's ABI (tests/fixtures/wasm/token_gate.wat, built with wabt's
 * `wat2wasm`): its parameters reach `wasm_init`, it reads and sets request
 * headers, answers with a status and body of its own and a result the flow
 * jumps on, and keeps a counter in the cluster data, shared by every
 * instance, worker and node and managed with `ctl wasm`; code reloads; the
 * module given as a file and in base64; bad code refused.
 */

import assert from "node:assert/strict";
import { assertRefused, eventually, freePort, request, startNodeProcess } from "./helpers.ts";
import { TestEtcdCluster } from "./cluster/etcd_fixture.ts";
import { loopbackServer, sendOnNewConnections, startNodes } from "./cluster_helpers.ts";

/** How long a module may take to compile and start serving: longer on a loaded machine. */
const MODULE_LOAD_MS = 20_000;

const WAT = new URL("../fixtures/wasm/token_gate.wat", import.meta.url).pathname;
const LOOP_WAT = new URL("../fixtures/wasm/loop.wat", import.meta.url).pathname;

/** The shared data of the WasmHost filter "wasm" of pipeline "p", as `ctl wasm list-data` shows it. */
async function wasmData(node: { ctl(args: string[]): Promise<{ stdout: string }> }) {
  return JSON.parse((await node.ctl(["-o", "json", "wasm", "list-data", "p", "wasm"])).stdout);
}

/** Builds token_gate.wat into `wasm` with "denied" spelled "DENIED": a changed module. */
async function buildChangedModule(dir: string, wasm: string): Promise<void> {
  const changed = `${dir}/changed.wat`;
  await Deno.writeTextFile(changed, (await Deno.readTextFile(WAT)).replace('denied")', 'DENIED")'));
  await wat2wasm(changed, wasm);
}

/** Builds `wat` into a new temporary dir (removed by the test); returns the dir and module path. */
async function buildModule(wat: string): Promise<{ dir: string; wasm: string }> {
  const dir = await Deno.makeTempDir({ prefix: "eg-wasm-" });
  const wasm = `${dir}/${wat.slice(wat.lastIndexOf("/") + 1, -".wat".length)}.wasm`;
  await wat2wasm(wat, wasm);
  return { dir, wasm };
}

async function wat2wasm(wat: string, out: string): Promise<void> {
  const built = await new Deno.Command("wat2wasm", { args: [wat, "-o", out], stderr: "piped" })
    .output();
  assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
}

Deno.test("WasmHost: a module on Easegress's ABI gates, rewrites and counts requests", async () => {
  const { dir, wasm } = await buildModule(WAT);
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
      pipeline("from-base64", (await Deno.readFile(wasm)).toBase64()),
      `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n- paths:\n` +
      "  - {pathPrefix: /file, backend: from-file}\n  - {pathPrefix: /b64, backend: from-base64}\n",
    ].join("---\n");
    const created = await node.ctl(["object", "create"], objects);
    assert.equal(created.code, 0, created.stderr);
    const base = `http://127.0.0.1:${port}`;
    await eventually(
      "served",
      async () => (await request(`${base}/file`)).status === 401,
      MODULE_LOAD_MS,
    );

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
  const { dir, wasm } = await buildModule(LOOP_WAT);
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
${loopbackServer("s", port, "p")}`;
    const created = await node.ctl(["object", "create"], objects);
    assert.equal(created.code, 0, created.stderr);
    const url = `http://127.0.0.1:${port}/`;
    await eventually("served", async () => (await request(url)).body === "after", MODULE_LOAD_MS);
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

/** A module whose `wasm_init` never returns. */
const INIT_LOOP_WAT = `(module
  (memory (export "memory") 1)
  (func (export "wasm_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "wasm_free") (param i32))
  (func (export "wasm_init") (loop $l (br $l)))
  (func (export "wasm_run") (result i32) (i32.const 0)))
`;

Deno.test("WasmHost: a wasm_init that never returns is bounded by timeout; update and delete answer requests waiting for one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eg-wasm-" });
  const wasm = `${dir}/init_loop.wasm`;
  await Deno.writeTextFile(`${dir}/init_loop.wat`, INIT_LOOP_WAT);
  await wat2wasm(`${dir}/init_loop.wat`, wasm);
  const goodWasm = `${dir}/loop.wasm`; // returns at once without an X-Loop header
  await wat2wasm(LOOP_WAT, goodWasm);
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  const pipeline = (wasmFilter: string) =>
    `kind: Pipeline
name: p
flow:
- filter: wasm
  jumpIf: {wasmError: END, outOfVM: END}
- filter: mock
filters:
- ${wasmFilter}
- {name: mock, kind: Mock, rules: [{code: 200, body: after}]}
`;
  const looping = (timeout: string) =>
    pipeline(`{name: wasm, kind: WasmHost, code: ${wasm}, timeout: ${timeout}, maxConcurrency: 2}`);
  const good = pipeline(`{name: wasm, kind: WasmHost, code: ${goodWasm}, timeout: 1s}`);
  const url = `http://127.0.0.1:${port}/`;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const probes: Promise<{ status: number }>[] = [];
  try {
    const created = await node.ctl(
      ["object", "create"],
      `${looping("200ms")}---\n${loopbackServer("s", port, "p")}`,
    );
    assert.equal(created.code, 0, created.stderr);
    await eventually("served", async () => (await request(url)).status === 500, MODULE_LOAD_MS);
    // A request waits for an instance whose wasm_init is stopped at the timeout; once one
    // hung, no more start for this code (their threads may still run): later ones fail at once.
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const r = await request(url);
      const waited = Date.now() - started;
      assert.equal(r.status, 500);
      assert.ok(waited < 1_500, `answered after ${waited} ms`);
    }
    const status = JSON.parse(
      (await node.ctl(["-o", "json", "object", "status", "get", "p"])).stdout,
    );
    type WasmStatus = { health: string; numOfRequest: number; numOfWasmError: number };
    const docs = Object.values(status as Record<string, { filters: Record<string, WasmStatus> }>);
    const wasmStatus = docs[0].filters.wasm;
    assert.equal(wasmStatus.health, "wasm_init did not return within 200ms");
    assert.ok(wasmStatus.numOfRequest >= 4, JSON.stringify(wasmStatus));
    assert.equal(wasmStatus.numOfWasmError, wasmStatus.numOfRequest);
    const log = await Deno.readTextFile(`${node.homeDir}/log/stdout.log`);
    assert.match(log, /wasm_init did not return within 200ms: its instance was stopped/);

    // With a long timeout, the instances are still in wasm_init when the pipeline changes.
    const loopingLong = async () => {
      assert.equal((await node.ctl(["object", "update"], looping("60s"))).code, 0);
      await eventually("the 60s timeout is in", async () => {
        const probe = request(url);
        probes.push(probe);
        return await Promise.race([probe.then(() => false), sleep(1_000).then(() => true)]);
      });
    };
    await loopingLong();
    const waiting = [request(url), request(url)];
    await sleep(300);
    const started = Date.now();
    assert.equal((await node.ctl(["object", "update"], good)).code, 0);
    // The requests that waited for them are answered (outOfVM), not after 60 s.
    const answers = await Promise.all([...waiting, ...probes.splice(0)]);
    assert.ok(answers.every((a) => a.status === 503), JSON.stringify(answers));
    assert.ok(Date.now() - started < 5_000);
    await eventually(
      "the new module serves",
      async () => (await request(url)).body === "after",
      MODULE_LOAD_MS,
    );

    await loopingLong();
    const waitingAgain = [request(url), request(url)];
    await sleep(300);
    assert.equal((await node.ctl(["object", "delete", "p"])).code, 0);
    const answered = await Promise.all([...waitingAgain, ...probes.splice(0)]);
    assert.ok(answered.every((a) => a.status >= 500), JSON.stringify(answered));
  } finally {
    await Promise.allSettled(probes);
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("WasmHost: shared data is one for every instance and worker; ctl wasm reads, sets, clears it and reloads code", async () => {
  const { dir, wasm } = await buildModule(WAT);
  const counts: number[] = [];
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    counts.push(Number(req.headers.get("x-count")));
    return new Response("backend");
  });
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const port = freePort();
  try {
    const objects = `kind: Pipeline
name: p
flow:
- filter: wasm
  jumpIf: {wasmResult1: END}
- filter: proxy
filters:
- {name: wasm, kind: WasmHost, code: ${wasm}, maxConcurrency: 8, timeout: 5s, parameters: {greeting: hi}}
- name: proxy
  kind: Proxy
  pools: [{servers: [{url: "http://127.0.0.1:${backend.addr.port}"}]}]
---
${loopbackServer("s", port, "p")}`;
    const created = await node.ctl(["object", "create"], objects);
    assert.equal(created.code, 0, created.stderr);
    const url = `http://127.0.0.1:${port}/`;
    await eventually("served", async () => (await request(url)).status === 401, MODULE_LOAD_MS);
    const counted = () =>
      fetch(url, { headers: { "x-token": "t", connection: "close" } }).then((r) => r.text());
    const listData = () => wasmData(node);

    // Concurrent requests over new connections: both workers, several instances each (at
    // most 8 at once, so none finds every instance busy).
    const total = 40;
    for (let i = 0; i < total; i += 8) {
      await Promise.all(Array.from({ length: 8 }, counted));
    }
    await eventually("every count stored", async () => (await listData()).count === `${total}`);

    const applied = await node.ctl(
      ["wasm", "apply-data", "p", "wasm"],
      "count: 100\nother: x\nversion: 1.10\nid: 0123\n",
    );
    assert.equal(applied.code, 0, applied.stderr);
    // Unquoted numbers as written, as Easegress reads them into strings.
    assert.deepEqual(await listData(), { count: "100", other: "x", version: "1.10", id: "0123" });
    // Every instance learns the new value before its next call.
    await eventually("instances see the stored value", async () => {
      await counted();
      return counts.at(-1)! > 100;
    });

    assert.equal((await node.ctl(["wasm", "delete-data", "p", "wasm"])).code, 0);
    assert.deepEqual(await listData(), {});
    await eventually("counting starts over", async () => {
      await counted();
      return counts.at(-1)! < 10;
    });

    const notWasm = await node.ctl(["wasm", "list-data", "p", "proxy"]);
    assert.equal(notWasm.code, 1);
    assert.match(notWasm.stderr, /404: no WasmHost filter proxy in a Pipeline p/);
    const bad = await node.ctl(["wasm", "apply-data", "p", "wasm"], "count: {nested: 1}\n");
    assert.match(bad.stderr, /400: count: must be a string, number or boolean/);

    // A changed module is served after a reload; "denied" becomes "DENIED".
    await buildChangedModule(dir, wasm);
    assert.equal((await request(url)).body, "denied");
    const reload = await node.ctl(["wasm", "reload-code"]);
    assert.equal(reload.code, 0, reload.stderr);
    assert.match(reload.stdout, /^wasm code reload event posted at: \d{4}-/);
    await eventually(
      "the new code serves",
      async () => (await request(url)).body === "DENIED",
      MODULE_LOAD_MS,
    );
    for (let i = 0; i < 8; i++) assert.equal((await request(url)).body, "DENIED");
  } finally {
    await node.stop();
    await backend.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("WasmHost: two nodes on etcd count into one shared counter and reload together", async () => {
  const { dir, wasm } = await buildModule(WAT);
  const etcd = await TestEtcdCluster.start(1);
  const common = [
    "--cluster-name",
    "wasm",
    "--etcd-endpoints",
    etcd.endpoints[0],
    "--workers",
    "1",
  ];
  const nodes = await startNodes([
    { name: "n1", args: common },
    { name: "n2", args: common },
  ]).catch(async (error) => {
    await etcd.close();
    throw error;
  });
  const [n1, n2] = nodes;
  const port = freePort();
  try {
    const objects = `kind: Pipeline
name: p
flow:
- filter: wasm
  jumpIf: {wasmResult1: END}
- filter: mock
filters:
- {name: wasm, kind: WasmHost, code: ${wasm}, timeout: 5s, parameters: {greeting: hi}}
- {name: mock, kind: Mock, rules: [{code: 200, body: counted}]}
---
${loopbackServer("s", port, "p")}`;
    const created = await n1.ctl(["object", "create"], objects);
    assert.equal(created.code, 0, created.stderr);
    await eventually("both nodes serve", async () => {
      const status = await Promise.all(nodes.map((node) => node.localStatus("s")));
      return status.every((s) => s?.state === "running");
    });
    const counted = async () => {
      const r = await fetch(`http://127.0.0.1:${port}/`, {
        headers: { "x-token": "t", connection: "close" },
      });
      return await r.text();
    };
    const total = 30;
    for (let i = 0; i < total; i++) assert.equal(await counted(), "counted");
    // Both nodes took some of them (each request on a new connection, the port shared).
    const served = await Promise.all(nodes.map((node) => node.servedCount("s")));
    assert.ok(served.every((n) => n > 0), `served ${served}`);
    for (const node of nodes) {
      await eventually(
        `${node.name} lists the whole count`,
        async () => (await wasmData(node)).count === `${total}`,
      );
    }

    await buildChangedModule(dir, wasm);
    assert.equal((await n2.ctl(["wasm", "reload-code"])).code, 0);
    await eventually("both nodes serve the new code", async () => {
      const bodies = await sendOnNewConnections(port, 10);
      return bodies.every((body) => body === "DENIED");
    });
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
    await etcd.close();
    await Deno.remove(dir, { recursive: true });
  }
});
