/**
 * A pool's memoryCache through the real binary, with the cookbook's spec:
 * repeated GETs are answered without the backend, per query, and the
 * status counts the hits.
 */

import assert from "node:assert/strict";
import { eventually, freePort, request, startNodeProcess } from "../helpers.ts";

Deno.test("memoryCache: repeated GETs skip the backend; the query, POSTs and private answers do not", async () => {
  let calls = 0;
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    calls++;
    const url = new URL(req.url);
    const headers = url.pathname === "/private" ? { "cache-control": "private" } : undefined;
    return new Response(`${req.method} ${url.pathname}${url.search} #${calls}`, { headers });
  });
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  try {
    const pipeline = `name: cached
kind: Pipeline
filters:
  - name: proxy
    kind: Proxy
    pools:
      - servers:
          - url: http://127.0.0.1:${backend.addr.port}
        memoryCache:
          expiration: 10s
          maxEntryBytes: 4096
          codes:
            - 200
            - 201
          methods:
            - GET
            - HEAD
`;
    assert.equal((await node.ctl(["object", "create"], pipeline)).code, 0);
    await node.ctl(
      ["object", "create"],
      `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - backend: cached\n`,
    );
    const url = `http://127.0.0.1:${port}`;
    await eventually("up", async () => (await request(`${url}/up`)).status === 200);
    const before = calls;
    const first = await request(`${url}/item?id=1`);
    const again = await request(`${url}/item?id=1`);
    assert.equal(again.body, first.body);
    assert.match(again.headers.get("age") ?? "", /^\d+$/);
    assert.equal(calls, before + 1);
    assert.notEqual((await request(`${url}/item?id=2`)).body, first.body);
    assert.equal(calls, before + 2);
    await request(`${url}/item?id=1`, { method: "POST", body: "x" });
    assert.equal(calls, before + 3);
    const fresh = await request(`${url}/item?id=1`, { headers: { "cache-control": "no-cache" } });
    assert.notEqual(fresh.body, first.body);
    await request(`${url}/private`);
    await request(`${url}/private`);
    assert.equal(calls, before + 6);

    const status = await node.ctl(["-o", "json", "object", "status", "get", "cached"]);
    const cache = JSON.parse(status.stdout)["eg-default-name"].filters.proxy.mainPool.memoryCache;
    assert.equal(cache.hits, 1, status.stdout);
    assert.equal(cache.entries, 3);
  } finally {
    await node.stop();
    await backend.shutdown();
  }
});
