/**
 * Custom data through the real binary: kinds and items over ctl (schema
 * checked, ids unique, batch updates), and the filters that read them while
 * traffic flows: HeaderLookup and Validator `basicAuth` in mode ETCD,
 * following changes without a pipeline update.
 */

import assert from "node:assert/strict";
import { eventually, freePort, request, startNodeProcess } from "./helpers.ts";

Deno.test("custom data: kinds and items through ctl, checked against the kind's schema", async () => {
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  try {
    const kind = `name: client-info
idField: id
jsonSchema:
  type: object
  properties:
    id: {type: string}
    tier: {type: string, enum: [gold, silver]}
  required: [id, tier]
`;
    let r = await node.ctl(["custom-data-kind", "create"], kind);
    assert.equal(r.code, 0, r.stderr);
    r = await node.ctl(["custom-data-kind", "create"], kind);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /409: custom data kind client-info exists/);
    r = await node.ctl(["custom-data-kind", "create"], "name: broken\njsonSchema:\n  type: 12\n");
    assert.match(r.stderr, /400: jsonSchema of broken is not a JSON Schema/);
    r = await node.ctl(["-o", "json", "custom-data-kind", "list"]);
    assert.deepEqual(JSON.parse(r.stdout).map((k: { name: string }) => k.name), ["client-info"]);

    r = await node.ctl(["custom-data", "create", "client-info"], "id: abc\ntier: gold\n");
    assert.equal(r.code, 0, r.stderr);
    r = await node.ctl(["custom-data", "create", "client-info"], "id: bad\ntier: bronze\n");
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /400: client-info item bad: item\/tier must be equal to one of the allowed values/,
    );
    r = await node.ctl(["custom-data", "create", "client-info"], "tier: gold\n");
    assert.match(r.stderr, /400: a client-info item needs its id field "id"/);
    r = await node.ctl(["custom-data", "create", "nosuchkind"], "id: x\n");
    assert.match(r.stderr, /404: no custom data kind named nosuchkind/);
    r = await node.ctl(["custom-data", "update", "client-info"], "id: abc\ntier: silver\n");
    assert.equal(r.code, 0, r.stderr);
    r = await node.ctl(["-o", "json", "custom-data", "get", "client-info", "abc"]);
    assert.deepEqual(JSON.parse(r.stdout), { id: "abc", tier: "silver" });

    r = await node.ctl(
      ["custom-data", "batch-update", "client-info"],
      "rebuild: true\nlist:\n- {id: x1, tier: gold}\n- {id: x2, tier: silver}\n",
    );
    assert.equal(r.code, 0, r.stderr);
    r = await node.ctl(["-o", "json", "custom-data", "list", "client-info"]);
    assert.deepEqual(JSON.parse(r.stdout).map((i: { id: string }) => i.id), ["x1", "x2"]);
    // One bad item in a batch: nothing is written.
    r = await node.ctl(
      ["custom-data", "batch-update", "client-info"],
      "delete: [x1]\nlist:\n- {id: x3, tier: gold}\n- {id: x4, tier: wood}\n",
    );
    assert.equal(r.code, 1);
    r = await node.ctl(["-o", "json", "custom-data", "list", "client-info"]);
    assert.deepEqual(JSON.parse(r.stdout).map((i: { id: string }) => i.id), ["x1", "x2"]);

    r = await node.ctl(["custom-data", "delete", "client-info", "x1"]);
    assert.equal(r.code, 0, r.stderr);
    r = await node.ctl(["custom-data", "get", "client-info", "x1"]);
    assert.match(r.stderr, /404/);
    r = await node.ctl(["custom-data-kind", "delete", "client-info"]);
    assert.equal(r.code, 0, r.stderr);
    r = await node.ctl(["custom-data", "list", "client-info"]);
    assert.match(r.stderr, /404/);
  } finally {
    await node.stop();
  }
});

Deno.test("HeaderLookup and basicAuth mode ETCD read custom data, and follow its changes", async () => {
  const seen: Record<string, string | null>[] = [];
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push({ plan: req.headers.get("x-plan"), region: req.headers.get("x-region") });
    return new Response("ok");
  });
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const port = freePort();
  try {
    const setup = [
      "name: client-info\nidField: id\n",
      "name: credentials\nidField: key\n",
    ];
    for (const kind of setup) {
      const r = await node.ctl(["custom-data-kind", "create"], kind);
      assert.equal(r.code, 0, r.stderr);
    }
    const items: [string, string][] = [
      ["client-info", "id: abc-eu\nplan: gold\nregion: eu-west\n"],
      // "password" as an htpasswd {SHA} hash, and as plain text with a username.
      ["credentials", "key: alice\npassword: '{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g='\n"],
      ["credentials", "key: k2\nusername: bob\npassword: s3cret\n"],
    ];
    for (const [kind, item] of items) {
      const r = await node.ctl(["custom-data", "create", kind], item);
      assert.equal(r.code, 0, r.stderr);
    }
    const objects = `kind: Pipeline
name: lookup
filters:
- name: lookup
  kind: HeaderLookup
  headerKey: X-Client
  etcdPrefix: client-info
  pathRegExp: ^/api/([a-z]+)
  headerSetters:
  - {etcdKey: plan, headerKey: X-Plan}
  - {etcdKey: region, headerKey: X-Region}
- name: proxy
  kind: Proxy
  pools:
  - servers:
    - url: http://127.0.0.1:${backend.addr.port}
---
kind: Pipeline
name: auth
filters:
- name: validator
  kind: Validator
  basicAuth:
    mode: ETCD
- name: mock
  kind: Mock
  rules:
  - code: 200
    body: welcome
---
kind: HTTPServer
name: s
port: ${port}
rules:
- paths:
  - pathPrefix: /api
    backend: lookup
  - pathPrefix: /private
    backend: auth
`;
    const r = await node.ctl(["object", "create"], objects);
    assert.equal(r.code, 0, r.stderr);
    const base = `http://127.0.0.1:${port}`;

    // Key: client-info/ + "abc" + "-" + the path's first group ("eu").
    await eventually("the server answering", async () => {
      const first = await request(`${base}/api/eu/x`, { headers: { "x-client": "abc" } });
      return first.status === 200;
    });
    assert.deepEqual(seen.at(-1), { plan: "gold", region: "eu-west" });
    await request(`${base}/api/us/x`, { headers: { "x-client": "abc" } });
    assert.deepEqual(seen.at(-1), { plan: null, region: null });
    await request(`${base}/api/eu/x`);
    assert.deepEqual(seen.at(-1), { plan: null, region: null });

    const basic = (user: string, password: string) => ({
      headers: { authorization: `Basic ${btoa(`${user}:${password}`)}` },
    });
    assert.equal((await request(`${base}/private`, basic("alice", "password"))).status, 200);
    assert.equal((await request(`${base}/private`, basic("bob", "s3cret"))).status, 200);
    assert.equal((await request(`${base}/private`, basic("k2", "s3cret"))).status, 401);
    assert.equal((await request(`${base}/private`, basic("alice", "wrong"))).status, 401);
    assert.equal((await request(`${base}/private`)).status, 401);

    // Changes reach every worker without touching the pipelines.
    assert.equal(
      (await node.ctl(["custom-data", "update", "client-info"], "id: abc-eu\nplan: silver\n")).code,
      0,
    );
    assert.equal((await node.ctl(["custom-data", "delete", "credentials", "alice"])).code, 0);
    await eventually("the new plan and alice gone, on both workers", async () => {
      for (let i = 0; i < 6; i++) {
        await request(`${base}/api/eu/x`, { headers: { "x-client": "abc" } });
        if (seen.at(-1)?.plan !== "silver") return false;
        const denied = await request(`${base}/private`, basic("alice", "password"));
        if (denied.status !== 401) return false;
      }
      return true;
    });
    assert.equal((await request(`${base}/private`, basic("bob", "s3cret"))).status, 200);
  } finally {
    await node.stop();
    await backend.shutdown();
  }
});

Deno.test("custom data: a schema pattern that backtracks badly does not hold the node", async () => {
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const kind = "name: k\njsonSchema: {properties: {a: {pattern: '(a+)+$'}}}\n";
    assert.equal((await node.ctl(["custom-data-kind", "create"], kind)).code, 0);
    // Exponential for a backtracking engine; Go's, as V8's fallback, is linear.
    const item = `name: x\na: ${"a".repeat(40)}!\n`;
    const hung = new Promise<"hung">((r) => timer = setTimeout(() => r("hung"), 20_000));
    const created = await Promise.race([node.ctl(["custom-data", "create", "k"], item), hung]);
    assert.notEqual(created, "hung", "the item's check held the admin API");
    if (created === "hung") return;
    assert.equal(created.code, 1);
    assert.match(created.stderr, /k item x: item\/a must match pattern/);
  } finally {
    clearTimeout(timer);
    await node.stop("SIGKILL");
  }
});
