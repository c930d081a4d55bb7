/**
 * Fallback, CORSAdaptor and HeaderToJSON through the real binary: a
 * preflight answered at the gateway, a failing upstream replaced by the
 * fallback answer, a GlobalFilter's afterPipeline putting CORS fields on
 * answers, and headers merged into the JSON body the backend gets.
 */

import assert from "node:assert/strict";
import { eventually, freePort, request, startNodeProcess } from "./helpers.ts";

Deno.test("fallback and cors: preflight at the gateway, fallback for a down upstream, CORS stamped by a GlobalFilter", async () => {
  const node = await startNodeProcess();
  const port = freePort();
  const down = freePort();
  const url = `http://127.0.0.1:${port}/api`;
  try {
    const pipeline = `name: api
kind: Pipeline
flow:
- filter: cors
  jumpIf:
    preflighted: END
- filter: proxy
  jumpIf:
    serverError: fallback
- filter: END
- filter: fallback
filters:
- name: cors
  kind: CORSAdaptor
  allowedOrigins:
  - https://app.example.com
  allowedMethods:
  - GET
  - PUT
  maxAge: 60
- name: proxy
  kind: Proxy
  pools:
  - servers:
    - url: http://127.0.0.1:${down}
- name: fallback
  kind: Fallback
  mockCode: 200
  mockHeaders:
    X-Fallback: "yes"
  mockBody: try again later
`;
    const stamp = `name: stamp
kind: GlobalFilter
afterPipeline:
  filters:
  - name: cors
    kind: CORSAdaptor
    allowedOrigins:
    - https://app.example.com
`;
    const plain = `name: plain\nkind: Pipeline\nfilters:\n- name: proxy\n  kind: Proxy\n` +
      `  pools:\n  - servers:\n    - url: http://127.0.0.1:${down}\n`;
    for (const yaml of [pipeline, plain, stamp]) {
      const created = await node.ctl(["object", "create"], yaml);
      assert.equal(created.code, 0, created.stderr);
    }
    const server = `kind: HTTPServer\nname: s\nport: ${port}\nglobalFilter: stamp\n` +
      `rules:\n  - paths:\n    - path: /plain\n      backend: plain\n    - backend: api\n`;
    assert.equal((await node.ctl(["object", "create"], server)).code, 0);
    await eventually("served", async () => (await request(url)).status === 200);

    const pre = await request(url, {
      method: "OPTIONS",
      headers: { Origin: "https://app.example.com", "Access-Control-Request-Method": "PUT" },
    });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers.get("access-control-allow-origin"), "https://app.example.com");
    assert.equal(pre.headers.get("access-control-allow-methods"), "PUT");
    assert.equal(pre.headers.get("access-control-max-age"), "60");

    const fallback = await request(url, { headers: { Origin: "https://app.example.com" } });
    assert.equal(fallback.status, 200);
    assert.equal(fallback.body, "try again later");
    assert.equal(fallback.headers.get("x-fallback"), "yes");
    // A pipeline that ends early (the Fallback's result, an END step) skips the afterPipeline...
    assert.equal(fallback.headers.get("access-control-allow-origin"), null);

    // ...one that runs to its end gets the CORS fields from it.
    const backend = Deno.serve({ hostname: "127.0.0.1", port: down, onListen() {} }, () => {
      return new Response("from upstream");
    });
    try {
      const direct = await request(`http://127.0.0.1:${port}/plain`, {
        headers: { Origin: "https://app.example.com" },
      });
      assert.equal(direct.body, "from upstream");
      assert.equal(direct.headers.get("access-control-allow-origin"), "https://app.example.com");
    } finally {
      await backend.shutdown();
    }
  } finally {
    await node.stop();
  }
});

Deno.test("headerToJSON: the backend gets the mapped headers in its JSON body", async () => {
  const backend = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => new Response(await req.text()),
  );
  const node = await startNodeProcess();
  const port = freePort();
  const url = `http://127.0.0.1:${port}/`;
  try {
    const pipeline = `name: p
kind: Pipeline
filters:
- name: toJson
  kind: HeaderToJSON
  headerMap:
  - header: X-User
    json: user
- name: proxy
  kind: Proxy
  pools:
  - servers:
    - url: http://127.0.0.1:${backend.addr.port}
`;
    assert.equal((await node.ctl(["object", "create"], pipeline)).code, 0);
    await node.ctl(
      ["object", "create"],
      `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - backend: p\n`,
    );
    await eventually("served", async () => (await request(url)).status === 200);
    const answer = await request(url, {
      method: "POST",
      headers: { "X-User": "ann", "content-type": "application/json" },
      body: '{"order":7}',
    });
    assert.deepEqual(JSON.parse(answer.body), { order: 7, user: "ann" });
  } finally {
    await node.stop();
    await backend.shutdown();
  }
});
