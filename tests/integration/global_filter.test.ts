/**
 * GlobalFilter through the real binary: its before stage can answer for
 * every route (the pipeline then does not run), its after stage changes
 * every answer, and an HTTPServer naming a GlobalFilter that is gone runs
 * its pipelines alone.
 */

import assert from "node:assert/strict";
import { eventually, freePort, request, startNodeProcess } from "./helpers.ts";

const GLOBAL_FILTER = `name: gf
kind: GlobalFilter
beforePipeline:
  filters:
  - name: validator
    kind: Validator
    headers:
      X-Token:
        values:
        - ok
afterPipeline:
  flow:
  - filter: stamp
  filters:
  - name: stamp
    kind: ResponseAdaptor
    header:
      set:
        X-Global: "yes"
`;

const PIPELINE = `name: main
kind: Pipeline
filters:
- name: proxy
  kind: Proxy
  pools:
  - servers:
    - url: http://127.0.0.1:BACKEND
`;

Deno.test("globalFilter: the before stage answers for every route, the after stage stamps every answer", async () => {
  const backend = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("main ran"),
  );
  const node = await startNodeProcess();
  const port = freePort();
  const url = `http://127.0.0.1:${port}/any`;
  try {
    for (const yaml of [GLOBAL_FILTER, PIPELINE.replace("BACKEND", String(backend.addr.port))]) {
      const created = await node.ctl(["object", "create"], yaml);
      assert.equal(created.code, 0, created.stderr);
    }
    const server = `kind: HTTPServer\nname: s\nport: ${port}\nglobalFilter: gf\n` +
      `rules:\n  - paths:\n    - backend: main\n`;
    assert.equal((await node.ctl(["object", "create"], server)).code, 0);
    await eventually("served", async () => (await request(url)).status === 400);

    const refused = await request(url);
    assert.equal(refused.status, 400);
    assert.doesNotMatch(refused.body, /main ran/);
    assert.equal(refused.headers.get("x-global"), null, "the after stage does not run either");

    const passed = await request(url, { headers: { "X-Token": "ok" } });
    assert.equal(passed.status, 200);
    assert.equal(passed.body, "main ran");
    assert.equal(passed.headers.get("x-global"), "yes");

    const status = await node.ctl(["-o", "json", "object", "status", "get", "gf"]);
    const doc = JSON.parse(status.stdout)["eg-default-name"];
    assert.deepEqual(Object.keys(doc.beforePipeline.filters), ["validator"]);
    assert.deepEqual(Object.keys(doc.afterPipeline.filters), ["stamp"]);

    // Gone: the server's pipelines run alone.
    assert.equal((await node.ctl(["object", "delete", "gf"])).code, 0);
    await eventually("pipeline alone", async () => (await request(url)).status === 200);
    assert.equal((await request(url)).headers.get("x-global"), null);
  } finally {
    await node.stop();
    await backend.shutdown();
  }
});

Deno.test("globalFilter: a pipeline that ends with a result (a Mock's) skips the after stage, as in Easegress", async () => {
  const node = await startNodeProcess();
  const port = freePort();
  const url = `http://127.0.0.1:${port}/`;
  try {
    const mock = "name: main\nkind: Pipeline\nfilters:\n- name: mock\n  kind: Mock\n" +
      "  rules:\n  - code: 200\n    body: mocked\n";
    for (const yaml of [GLOBAL_FILTER, mock]) {
      assert.equal((await node.ctl(["object", "create"], yaml)).code, 0);
    }
    const server = `kind: HTTPServer\nname: s\nport: ${port}\nglobalFilter: gf\n` +
      `rules:\n  - paths:\n    - backend: main\n`;
    assert.equal((await node.ctl(["object", "create"], server)).code, 0);
    const headers = { "X-Token": "ok" };
    await eventually("served", async () => (await request(url, { headers })).status === 200);
    const answer = await request(url, { headers });
    assert.equal(answer.body, "mocked");
    assert.equal(answer.headers.get("x-global"), null);
  } finally {
    await node.stop();
  }
});

Deno.test("globalFilter: stage errors name their field; empty stages are no stages", async () => {
  const node = await startNodeProcess();
  try {
    const bad = await node.ctl(
      ["object", "create"],
      "name: gf\nkind: GlobalFilter\nbeforePipeline:\n  filters:\n  - name: x\n    kind: Nope\n",
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /beforePipeline\.filters\[0\]\.kind: unknown filter kind "Nope"/);
    const empty = await node.ctl(
      ["object", "create"],
      "name: gf\nkind: GlobalFilter\nbeforePipeline:\nafterPipeline:\n  filters: []\n",
    );
    assert.equal(empty.code, 0, empty.stderr);
  } finally {
    await node.stop();
  }
});
