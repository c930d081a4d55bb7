/** CPU and memory profiles of a running node: admin routes, ctl and the serve flags. */

import assert from "node:assert/strict";
import { eventually, freePort, request, startNodeProcess } from "./helpers.ts";

interface CpuProfileFile {
  nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

const isolateNames = (profile: CpuProfileFile) =>
  profile.nodes[0].children!.map((id) =>
    profile.nodes.find((node) => node.id === id)!.callFrame.functionName
  );

Deno.test("profiling: ctl profiles every isolate of a node with workers into one file each", async () => {
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "eg-profile-" });
  try {
    const objects = `name: p
kind: Pipeline
filters:
  - {name: m, kind: Mock, rules: [{code: 200, body: hi}]}
---
kind: HTTPServer
name: s
port: ${port}
rules:
  - paths: [{backend: p}]
`;
    assert.equal((await node.ctl(["object", "create"], objects)).code, 0);
    await eventually(
      "served",
      async () => (await request(`http://127.0.0.1:${port}/`)).status === 200,
    );

    const info = async () => JSON.parse((await node.ctl(["-o", "json", "profile", "info"])).stdout);
    assert.deepEqual(await info(), { cpuPath: "", memoryPath: "" });
    const cpu = `${dir}/node.cpuprofile`;
    const memory = `${dir}/node.heapprofile`;
    assert.equal((await node.ctl(["profile", "start", "cpu", cpu])).code, 0);
    assert.equal((await node.ctl(["profile", "start", "memory", memory])).code, 0);
    assert.deepEqual(await info(), { cpuPath: cpu, memoryPath: memory });

    const again = await node.ctl(["profile", "start", "cpu", `${dir}/other`]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /400: a CPU profile is already being taken into .*node\.cpuprofile/);

    for (let i = 0; i < 200; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/n`, { headers: { connection: "close" } });
      assert.equal(await r.text(), "hi");
    }
    const stopped = await node.ctl(["profile", "stop"]);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, /Profiles written: .*node\.cpuprofile, .*node\.heapprofile/);
    assert.deepEqual(await info(), { cpuPath: "", memoryPath: "" });

    const profile: CpuProfileFile = JSON.parse(await Deno.readTextFile(cpu));
    assert.deepEqual(isolateNames(profile), ["(control plane)", "(worker 0)", "(worker 1)"]);
    assert.equal(profile.samples.length, profile.timeDeltas.length);
    assert.ok(profile.samples.length > 0);
    // The workers' own code is in their trees.
    assert.ok(profile.nodes.some((n) => n.callFrame.url.includes("/server/httpserver/")));
    const heap = JSON.parse(await Deno.readTextFile(memory));
    assert.deepEqual(
      heap.head.children.map((c: { callFrame: { functionName: string } }) =>
        c.callFrame.functionName
      ),
      ["(control plane)", "(worker 0)", "(worker 1)"],
    );
    assert.match((await node.ctl(["profile", "stop"])).stdout, /No profile was running/);
  } finally {
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("profiling: bad requests are refused with the reason", async () => {
  const node = await startNodeProcess({ args: ["--workers", "0"] });
  try {
    const api = `http://${node.apiAddr}/apis/v1/profile`;
    const post = async (path: string, body?: string) => {
      const r = await fetch(api + path, {
        method: "POST",
        body,
        headers: { accept: "application/json" },
      });
      return { status: r.status, text: await r.text() };
    };
    const missing = await post("/start/cpu");
    assert.equal(missing.status, 400);
    assert.match(missing.text, /missing path/);
    assert.match((await post("/start/memory", "path: 3")).text, /path must be a file path, got 3/);
    const unwritable = await post("/start/cpu", "path: /nonexistent-dir/cpu.prof");
    assert.equal(unwritable.status, 400);
    assert.match(unwritable.text, /cannot create \/nonexistent-dir\/cpu\.prof/);
    // The node's own files are out of reach, however the path is spelled.
    const pipeline =
      "name: p\nkind: Pipeline\nfilters: [{name: m, kind: Mock, rules: [{code: 200}]}]\n";
    assert.equal((await node.ctl(["object", "create"], pipeline)).code, 0);
    const store = `${node.homeDir}/data/store.json`;
    const before = await Deno.readTextFile(store);
    for (const path of [store, `${node.homeDir}/log/../data/./store.json`]) {
      const refused = await post("/start/cpu", `path: ${path}`);
      assert.equal(refused.status, 400);
      assert.match(refused.text, /is in \S*data, a dir of the node's own: a profile may not/);
    }
    assert.equal(await Deno.readTextFile(store), before);
    const cpu = `${node.homeDir}/cpu.prof`;
    assert.equal((await post("/start/cpu", `path: ${cpu}`)).status, 200);
    assert.match((await post("/start/memory", `path: ${cpu}`)).text, /already taking the other/);
    assert.equal((await post("/stop")).status, 200);
    // Not a DevTools extension: pprof's gzipped protobuf, as Easegress writes.
    const written = await Deno.readFile(cpu);
    assert.deepEqual([written[0], written[1]], [0x1f, 0x8b]);
    const unpacked = new Blob([written]).stream().pipeThrough(new DecompressionStream("gzip"));
    const text = new TextDecoder().decode(await new Response(unpacked).arrayBuffer());
    for (const name of ["samples", "cpu", "nanoseconds"]) {
      assert.ok(text.includes(name), `${name} in the profile's strings`);
    }
    // Nothing was left running.
    const info = await (await fetch(api, { headers: { accept: "application/json" } })).json();
    assert.deepEqual(info, { cpuPath: "", memoryPath: "" });
  } finally {
    await node.stop();
  }
});

Deno.test("profiling: --cpu-profile-file and --memory-profile-file are written at exit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eg-profile-" });
  const cpu = `${dir}/life.cpuprofile`;
  const memory = `${dir}/life.heapprofile`;
  const node = await startNodeProcess({
    args: ["--workers", "0", "--cpu-profile-file", cpu, "--memory-profile-file", memory],
  });
  try {
    const info = await node.ctl(["-o", "json", "profile", "info"]);
    assert.deepEqual(JSON.parse(info.stdout), { cpuPath: cpu, memoryPath: memory });
    assert.equal(await node.stop(), 0);
    const profile: CpuProfileFile = JSON.parse(await Deno.readTextFile(cpu));
    // One isolate: its profile as V8 made it.
    assert.equal(profile.nodes[0].callFrame.functionName, "(root)");
    assert.ok(profile.samples.length > 0);
    assert.ok(JSON.parse(await Deno.readTextFile(memory)).head);
  } finally {
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
