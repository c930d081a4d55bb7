/**
 * The seed README's Getting Started, through the real CLI and HTTP: both
 * YAML versions (v2 Pipeline with pools, v1 HTTPPipeline with mainPool).
 */

import assert from "node:assert/strict";
import { startMirrors } from "../../examples/mirror.ts";
import { eventually, freePort, request, startNodeProcess } from "./helpers.ts";

function serverYaml(port: number) {
  return `
kind: HTTPServer
name: server-demo
port: ${port}
keepAlive: true
https: false
rules:
  - paths:
    - pathPrefix: /pipeline
      backend: pipeline-demo`;
}

function pipelineV2(ports: number[]) {
  return `
name: pipeline-demo
kind: Pipeline
flow:
  - filter: proxy
filters:
  - name: proxy
    kind: Proxy
    pools:
    - servers:
${ports.map((p) => `      - url: http://127.0.0.1:${p}`).join("\n")}
      loadBalance:
        policy: roundRobin`;
}

function pipelineV1(ports: number[]) {
  return `
name: pipeline-demo
kind: HTTPPipeline
flow:
  - filter: validator
    jumpIf: { invalid: END }
  - filter: requestAdaptor
  - filter: proxy
filters:
  - name: validator
    kind: Validator
    headers:
      Content-Type:
        values:
        - application/json
  - name: requestAdaptor
    kind: RequestAdaptor
    header:
      set:
        X-Adapt-Key: goodplan
  - name: proxy
    kind: Proxy
    mainPool:
      servers:
${ports.map((p) => `      - url: http://127.0.0.1:${p}`).join("\n")}
      loadBalance:
        policy: roundRobin`;
}

Deno.test("getting started: 503, round robin over three mirrors, validator, adaptor", async () => {
  const hits = [0, 0, 0];
  const mirrors = startMirrors([0, 0, 0], "127.0.0.1", (i) => hits[i]++);
  const ports = mirrors.map((m) => m.addr.port);
  const node = await startNodeProcess();
  const port = freePort();
  const url = `http://127.0.0.1:${port}/pipeline`;
  try {
    const created = await node.ctl(["object", "create"], serverYaml(port));
    assert.equal(created.code, 0, created.stderr);
    await eventually("server listening", async () => (await request(url)).status === 503);

    const pipeline = await node.ctl(["object", "create"], pipelineV2(ports));
    assert.equal(pipeline.code, 0, pipeline.stderr);
    await eventually("pipeline serving", async () => (await request(url)).status === 200);

    hits.fill(0);
    for (let i = 0; i < 6; i++) {
      const r = await request(url, { method: "POST", body: `Hello, Easegress ${i}` });
      assert.equal(r.status, 200);
      assert.match(r.body, /Method: POST/);
      assert.ok(r.body.includes(`Body  : Hello, Easegress ${i}`));
    }
    assert.deepEqual(hits, [2, 2, 2]);

    const updated = await node.ctl(["object", "update"], pipelineV1(ports));
    assert.equal(updated.code, 0, updated.stderr);
    await eventually("validator active", async () => (await request(url)).status === 400);
    const ok = await request(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"message": "Hello, Easegress"}',
    });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /X-Adapt-Key:\[goodplan\]/);
    assert.ok(ok.body.includes(`Body  : {"message": "Hello, Easegress"}`));

    const stored = await node.ctl(["object", "get", "pipeline-demo"]);
    assert.match(stored.stdout, /kind: Pipeline/);
    assert.match(stored.stdout, /pools:/);
  } finally {
    assert.equal(await node.stop(), 0);
    await Promise.all(mirrors.map((m) => m.shutdown()));
  }
});
