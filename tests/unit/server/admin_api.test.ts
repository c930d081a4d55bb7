import assert from "node:assert/strict";
import { openEmbeddedStore } from "../../../cluster/embedded_store.ts";
import { type Store, StoreUnavailableError } from "../../../cluster/store.ts";
import { purgeMember } from "../../../cluster/members.ts";
import { builtinFilters } from "../../../filters/registry.ts";
import { type AdminContext, handleAdmin } from "../../../server/admin/api.ts";
import type { NodeProfiler } from "../../../server/profiling/node_profiler.ts";
import { validateObject } from "../../../server/objects.ts";
import { parse as parseYaml } from "yaml";
import { REFUSING_PORT } from "../../fixtures/refusing_port.ts";

/** An admin API over an embedded store in a temporary dir, called in-process. */
async function adminApi(
  options: {
    mqttSessions?: unknown;
    status?: Record<string, unknown>;
    members?: Record<string, unknown>[];
    /** Purges a member from `store`; none is known by default. */
    purgeMember?: (store: Store, name: string) => Promise<boolean>;
    /** Gets what the API logs as warnings. */
    warn?: (message: string) => void;
  } = {},
) {
  const dir = await Deno.makeTempDir();
  const store: Store = await openEmbeddedStore(dir);
  const ctx: AdminContext = {
    store,
    filters: builtinFilters(),
    memberName: "eg-test",
    localStatus: () => Promise.resolve(options.status),
    members: () => Promise.resolve(options.members ?? []),
    purgeMember: (name) => options.purgeMember?.(store, name) ?? Promise.resolve(false),
    mqttAdmin: () => Promise.resolve(options.mqttSessions),
    log: { warn: options.warn ?? (() => {}) },
    profiler: {} as NodeProfiler,
    logFile: `${dir}/stdout.log`,
    stopping: new AbortController().signal,
  };
  /** One request; answers come as JSON unless `headers` say otherwise. */
  const call = async (
    method: string,
    path: string,
    body?: BodyInit,
    headers: HeadersInit = { accept: "application/json" },
  ) => {
    const req = new Request(`http://127.0.0.1/apis/v2${path}`, { method, body, headers });
    const res = await handleAdmin(req, ctx);
    const text = await res.text();
    const type = res.headers.get("content-type");
    // An error's message, to match without the body's quoting.
    const message = type === "application/json" && text ? JSON.parse(text).message : undefined;
    return { status: res.status, type, body: text, message, headers: res.headers };
  };
  const close = async () => {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  };
  return { call, store, close };
}

Deno.test("admin API refuses the names . and .., which no URL path can reach again", async () => {
  const api = await adminApi();
  try {
    for (const name of [".", ".."]) {
      const r = await api.call(
        "POST",
        "/objects",
        `kind: GlobalFilter\nname: "${name}"\nbeforePipeline: {flow: [], filters: []}\n`,
      );
      assert.equal(r.status, 400, name);
      assert.equal(r.message, `name: "${name}" cannot be a name: no URL path can reach it`);
    }
    // Dots inside a name stay valid.
    const ok = await api.call(
      "POST",
      "/objects",
      "kind: GlobalFilter\nname: a..b\nbeforePipeline: {flow: [], filters: []}\n",
    );
    assert.equal(ok.status, 201, ok.body);

    assert.equal((await api.call("POST", "/customdatakinds", "name: ..\n")).status, 400);
    assert.equal((await api.call("POST", "/customdatakinds", "name: k\n")).status, 201);
    const item = await api.call("POST", "/customdata/k", "name: .\n");
    assert.equal(item.status, 400);
    assert.match(item.message, /not "\." or "\.\."/);
    const listed = await api.call("GET", "/objects");
    assert.deepEqual(JSON.parse(listed.body).map((o: { name: string }) => o.name), ["a..b"]);
    // One stored before they were refused still loads: only creating one is refused.
    const stored = { kind: "GlobalFilter", name: "..", beforePipeline: { flow: [], filters: [] } };
    assert.equal(validateObject(stored, builtinFilters()).name, "..");
  } finally {
    await api.close();
  }
});

Deno.test("admin API answers an MQTTProxy session query in JSON, as Easegress does", async () => {
  const sessions = { sessions: [{ sessionID: "c1", topic: "a/b" }] };
  const api = await adminApi({ mqttSessions: sessions });
  try {
    const created = await api.call("POST", "/objects", "kind: MQTTProxy\nname: mq\nport: 21883\n");
    assert.equal(created.status, 201, created.body);
    // No Accept header, as curl sends none.
    const r = await api.call("GET", "/mqttproxy/mq/session/query", undefined, {});
    assert.equal(r.status, 200);
    assert.equal(r.type, "application/json");
    assert.deepEqual(JSON.parse(r.body), sessions);
  } finally {
    await api.close();
  }
});

Deno.test("admin API passes a publish on to members whose API address names no host", async () => {
  const forwarded: string[] = [];
  const other = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    forwarded.push(`${new URL(req.url).pathname} ${(await req.json()).distributed}`);
    return new Response(null, { status: 200 });
  });
  const { port } = other.addr;
  // As `--api-addr :PORT` and `0.0.0.0:PORT` list them; the peer URL names the member's host.
  const cluster = { "initial-advertise-peer-urls": ["http://127.0.0.1:2380"] };
  const members = [
    { name: "eg-a", apiAddr: `:${port}`, alive: true, options: { cluster } },
    { name: "eg-b", apiAddr: `0.0.0.0:${port}`, alive: true, options: { cluster } },
  ];
  const api = await adminApi({ members });
  try {
    const created = await api.call("POST", "/objects", "kind: MQTTProxy\nname: mq\nport: 21883\n");
    assert.equal(created.status, 201, created.body);
    const r = await api.call("POST", "/mqttproxy/mq/topics/publish", '{"topic": "a/b"}');
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(forwarded, [
      "/apis/v2/mqttproxy/mq/topics/publish true",
      "/apis/v2/mqttproxy/mq/topics/publish true",
    ]);
  } finally {
    await api.close();
    await other.shutdown();
  }
});

Deno.test("admin API logs a member a publish could not be passed on to, and still publishes", async () => {
  const refusing = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("code: 401\nmessage: unauthorized\n", { status: 401 }),
  );
  const warnings: string[] = [];
  const members = [
    { name: "eg-a", apiAddr: `127.0.0.1:${refusing.addr.port}`, alive: true },
    { name: "eg-b", apiAddr: `127.0.0.1:${REFUSING_PORT}`, alive: true },
  ];
  const api = await adminApi({ members, warn: (message) => warnings.push(message) });
  try {
    const created = await api.call("POST", "/objects", "kind: MQTTProxy\nname: mq\nport: 21883\n");
    assert.equal(created.status, 201, created.body);
    const r = await api.call("POST", "/mqttproxy/mq/topics/publish", '{"topic": "a/b"}');
    assert.equal(r.status, 200, r.body);
    assert.equal(warnings.length, 2, warnings.join("\n"));
    const path = "POST /mqttproxy/mq/topics/publish not passed on to member";
    assert.match(
      warnings.find((w) => w.includes("eg-a"))!,
      new RegExp(`^${path} eg-a at .*: it answered 401$`),
    );
    assert.match(
      warnings.find((w) => w.includes("eg-b"))!,
      new RegExp(`^${path} eg-b at .*: .*refused`, "i"),
    );
  } finally {
    await api.close();
    await refusing.shutdown();
  }
});

Deno.test("admin API refuses a custom data batch it would misread, and changes nothing", async () => {
  const api = await adminApi();
  try {
    assert.equal((await api.call("POST", "/customdatakinds", "name: k\n")).status, 201);
    assert.equal((await api.call("POST", "/customdata/k", "name: a\n")).status, 201);
    const cases: [string, RegExp][] = [
      ["rebuild: maybe\nlist: [{name: b}]\n", /^rebuild must be true or false, got "maybe"$/],
      ["rebuld: true\nlist: [{name: b}]\n", /^unknown field\(s\) of a batch: rebuld; use rebuild/],
      ["items: [{name: b}]\n", /^unknown field\(s\) of a batch: items/],
      ["delete: a\n", /^delete must be a list of ids$/],
      ["list: {name: b}\n", /^list must be a list of items$/],
    ];
    for (const [batch, message] of cases) {
      const r = await api.call("POST", "/customdata/k/items", batch);
      assert.equal(r.status, 400, batch);
      assert.match(r.message, message, batch);
    }
    const items = await api.call("GET", "/customdata/k");
    assert.deepEqual(JSON.parse(items.body), [{ name: "a" }]);

    const ok = await api.call("POST", "/customdata/k/items", "rebuild: true\nlist: [{name: b}]\n");
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(JSON.parse((await api.call("GET", "/customdata/k")).body), [{ name: "b" }]);
  } finally {
    await api.close();
  }
});

Deno.test("admin API names the id field a custom data item lacks", async () => {
  const api = await adminApi();
  try {
    assert.equal(
      (await api.call("POST", "/customdatakinds", "name: k\nidField: id\n")).status,
      201,
    );
    for (const item of ["tier: gold\n", "id: null\n"]) {
      const r = await api.call("POST", "/customdata/k", item);
      assert.equal(r.status, 400, item);
      assert.equal(r.message, 'a k item needs its id field "id"');
    }
    const batch = await api.call("POST", "/customdata/k/items", "list: [{tier: gold}]\n");
    assert.equal(batch.message, 'a k item needs its id field "id"');
  } finally {
    await api.close();
  }
});

Deno.test("admin API takes any custom data item id Easegress stores, but no slash", async () => {
  const api = await adminApi();
  try {
    assert.equal(
      (await api.call("POST", "/customdatakinds", "name: k\nidField: id\n")).status,
      201,
    );
    for (const id of ["John Smith", "café", "a+b=c", "x@y.example"]) {
      const created = await api.call("POST", "/customdata/k", `id: "${id}"\ntier: gold\n`);
      assert.equal(created.status, 201, created.body);
      const got = await api.call("GET", `/customdata/k/${encodeURIComponent(id)}`);
      assert.equal(JSON.parse(got.body).id, id);
    }
    for (const id of ["a/b", "tab\there", "."]) {
      const r = await api.call("POST", "/customdata/k", `id: ${JSON.stringify(id)}\n`);
      assert.equal(r.status, 400, id);
      assert.match(r.message, /without \/ or control characters/);
    }
  } finally {
    await api.close();
  }
});

/** Creates GlobalFilter `g`, an object any member can report a status for. */
async function createGlobalFilter(api: Awaited<ReturnType<typeof adminApi>>): Promise<void> {
  const created = await api.call(
    "POST",
    "/objects",
    "kind: GlobalFilter\nname: g\nbeforePipeline: {flow: [], filters: []}\n",
  );
  assert.equal(created.status, 201, created.body);
}

Deno.test("admin API stamps this member's live status with a timestamp, as synced ones are", async () => {
  const api = await adminApi({ status: { state: "running" } });
  try {
    await createGlobalFilter(api);
    const before = Math.floor(Date.now() / 1000);
    const one = JSON.parse((await api.call("GET", "/status/objects/g")).body);
    const all = JSON.parse((await api.call("GET", "/status/objects")).body);
    const after = Math.floor(Date.now() / 1000);
    for (const status of [one["eg-test"], all.g["eg-test"]]) {
      assert.equal(status.state, "running");
      assert.ok(status.timestamp >= before && status.timestamp <= after, String(status.timestamp));
    }
  } finally {
    await api.close();
  }
});

Deno.test("admin API lists its routes with their parameters named", async () => {
  const api = await adminApi();
  try {
    const [group] = JSON.parse((await api.call("GET", "")).body);
    const routes = group.entries.map((e: { method: string; path: string }) =>
      `${e.method} ${e.path}`
    );
    for (
      const route of [
        "GET /objects/{name}",
        "DELETE /status/members/{member}",
        "GET /metadata/objects/pipeline/filters/{kind}/results",
        "GET /customdata/{kind}/{id}",
        "POST /customdata/{kind}/items",
        "PUT /wasm/data/{pipeline}/{filter}",
      ]
    ) assert.ok(routes.includes(route), `${route} in ${routes.join(", ")}`);
    // The names are only labels: any segment still matches.
    assert.equal((await api.call("GET", "/objects/nope")).message, "not found: nope");
  } finally {
    await api.close();
  }
});

Deno.test("admin API takes custom data schemas of drafts 04 and 06, as Easegress's gojsonschema does", async () => {
  const api = await adminApi();
  try {
    const kind = (name: string, schema: string) =>
      api.call("POST", "/customdatakinds", `name: ${name}\njsonSchema:\n${schema}`);
    const draft04 = `  $schema: "http://json-schema.org/draft-04/schema#"
  id: "http://example.com/client"
  type: object
  properties:
    id: {type: string}
    age: {type: integer, minimum: 0, exclusiveMinimum: false, maximum: 10, exclusiveMaximum: true}
    tier: {enum: [{exclusiveMaximum: true}, gold]}
`;
    // Refused: "no schema with key or ref" draft-04's or draft-06's meta-schema.
    const created = await kind("d4", draft04);
    assert.equal(created.status, 201, created.body);
    // The kind is kept as written.
    assert.equal(
      JSON.parse((await api.call("GET", "/customdatakinds/d4")).body).jsonSchema.id,
      "http://example.com/client",
    );
    const item = (body: string) => api.call("POST", "/customdata/d4", `name: ${body}\n`);
    assert.equal((await item("a\nid: x\nage: 9")).status, 201);
    assert.equal((await item("b\nage: 0")).status, 201);
    const over = await item("c\nage: 10");
    assert.equal(over.status, 400);
    assert.match(over.message, /item\/age must be < 10/);
    assert.equal((await item("d\ntier: gold")).status, 201);
    assert.equal((await item("e\ntier: {exclusiveMaximum: true}")).status, 201);
    // Without $schema, gojsonschema takes draft-04's boolean too.
    assert.equal(
      (await kind("hybrid", "  properties:\n    n: {maximum: 5, exclusiveMaximum: true}\n")).status,
      201,
    );
    assert.equal((await api.call("POST", "/customdata/hybrid", "name: x\nn: 5\n")).status, 400);
    const draft06 = `  $schema: "http://json-schema.org/draft-06/schema#"
  properties:
    n: {type: number, exclusiveMaximum: 5}
`;
    assert.equal((await kind("d6", draft06)).status, 201);
    assert.equal((await api.call("POST", "/customdata/d6", "name: x\nn: 5\n")).status, 400);
    assert.equal((await api.call("POST", "/customdata/d6", "name: y\nn: 4\n")).status, 201);
  } finally {
    await api.close();
  }
});

Deno.test("admin API refuses a custom data kind whose idField is not a field name", async () => {
  const api = await adminApi();
  try {
    for (const [idField, shown] of [["{a: 1}", '{"a":1}'], ["[id]", '["id"]'], ["5", "5"]]) {
      const r = await api.call("POST", "/customdatakinds", `name: k\nidField: ${idField}\n`);
      assert.equal(r.status, 400, idField);
      assert.equal(r.message, `idField must be a field name, got ${shown}`);
    }
    assert.equal((await api.call("GET", "/customdatakinds/k")).status, 404);
    // A kind without a name is told so, not "got undefined".
    for (const doc of ["idField: id\n", "name:\nidField: id\n"]) {
      const r = await api.call("POST", "/customdatakinds", doc);
      assert.equal(r.status, 400, doc);
      assert.equal(r.message, "name is required");
    }
    assert.equal(
      (await api.call("POST", "/customdatakinds", "name: k\nidField: ''\n")).status,
      201,
    );
    assert.equal(JSON.parse((await api.call("GET", "/customdatakinds/k")).body).idField, "name");
  } finally {
    await api.close();
  }
});

Deno.test("admin API YAML quotes strings a YAML 1.1 reader (egctl, PyYAML) would misread", async () => {
  const api = await adminApi();
  try {
    const created = await api.call(
      "POST",
      "/objects",
      'kind: Pipeline\nname: p\nfilters:\n- {name: m, kind: Mock, rules: [{code: 200, body: "yes", headers: {X-Flag: "on"}}]}\n',
    );
    assert.equal(created.status, 201, created.body);
    const r = await api.call("GET", "/objects/p", undefined, {});
    assert.equal(r.type, "text/vnd.yaml");
    const mock = (parseYaml(r.body, { version: "1.1" }) as {
      filters: { rules: { body: unknown; headers: Record<string, unknown> }[] }[];
    }).filters[0].rules[0];
    assert.equal(mock.body, "yes");
    assert.equal(mock.headers["X-Flag"], "on");
  } finally {
    await api.close();
  }
});

Deno.test("admin API says what is wrong with a profile request's path", async () => {
  const api = await adminApi();
  try {
    const cases: [string, string][] = [
      ["", 'missing path: send "path: FILE"'],
      ["path: ''\n", 'missing path: send "path: FILE"'],
      ["[1]\n", 'missing path: send "path: FILE"'],
      ["path: 5\n", "path must be a file path, got 5"],
      ["path: [a.prof]\n", 'path must be a file path, got ["a.prof"]'],
    ];
    for (const [body, message] of cases) {
      const r = await api.call("POST", "/profile/start/cpu", body);
      assert.equal(r.status, 400, body);
      assert.equal(r.message, message, body);
    }
  } finally {
    await api.close();
  }
});

Deno.test("admin API merges << keys in an object, as Easegress's YAML reader does", async () => {
  const api = await adminApi();
  try {
    const created = await api.call(
      "POST",
      "/objects",
      "kind: Pipeline\nname: p\nfilters:\n- &m {name: m1, kind: Mock, rules: [{code: 201}]}\n" +
        "- <<: *m\n  name: m2\n",
    );
    assert.equal(created.status, 201, created.body);
    const spec = JSON.parse((await api.call("GET", "/objects/p")).body);
    assert.deepEqual(spec.filters.map((f: { name: string; kind: string }) => [f.name, f.kind]), [
      ["m1", "Mock"],
      ["m2", "Mock"],
    ]);
  } finally {
    await api.close();
  }
});

Deno.test("admin API answers 503 at once when the store is down, without asking it for the version", async () => {
  const api = await adminApi();
  try {
    // Each call to an unreachable etcd costs a whole request timeout.
    let calls = 0;
    const down = () => {
      calls++;
      return Promise.reject(new StoreUnavailableError("etcd is unavailable"));
    };
    api.store.range = down;
    api.store.get = down;
    const r = await api.call("GET", "/objects");
    assert.equal(r.status, 503);
    assert.match(r.message, /the config store is unavailable: etcd is unavailable/);
    assert.equal(calls, 1);
  } finally {
    await api.close();
  }
});

Deno.test("admin API answers /healthz at once when the store does not answer, without the version", async () => {
  const api = await adminApi();
  const get = api.store.get;
  // etcd without quorum: calls fail only at the request timeout (10 s; 5 s here).
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError("etcd is unavailable")), 5_000);
  });
  hung.catch(() => {});
  try {
    api.store.get = () => hung;
    const started = Date.now();
    const r = await api.call("GET", "/healthz");
    assert.equal(r.status, 200);
    assert.ok(Date.now() - started < 3_000, `answered after ${Date.now() - started} ms`);
    assert.equal(r.headers.get("x-config-version"), null);
  } finally {
    clearTimeout(timer);
    api.store.get = get;
    await api.close();
  }
});

Deno.test("admin API lists an object's statuses in member-name order, this member's among them", async () => {
  const api = await adminApi({ status: { state: "running" } });
  try {
    await createGlobalFilter(api);
    for (const member of ["zz", "aa"]) {
      await api.store.put(`/status/objects/g/${member}`, JSON.stringify({ state: "running" }));
    }
    const one = JSON.parse((await api.call("GET", "/status/objects/g")).body);
    const all = JSON.parse((await api.call("GET", "/status/objects")).body);
    assert.deepEqual(Object.keys(one), ["aa", "eg-test", "zz"]);
    assert.deepEqual(Object.keys(all.g), ["aa", "eg-test", "zz"]);
  } finally {
    await api.close();
  }
});

Deno.test("admin API takes updates of one object sent at once, the last written staying", async () => {
  const api = await adminApi();
  try {
    const doc = (n: number) =>
      `kind: Pipeline\nname: g\nfilters: [{name: m, kind: Mock, rules: [{code: 200, body: f${n}}]}]\n`;
    assert.equal((await api.call("POST", "/objects", doc(0))).status, 201);
    const answers = await Promise.all(
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => api.call("PUT", "/objects/g", doc(n))),
    );
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(8).fill(200),
      answers.map((a) => a.body).join(),
    );
    const stored = JSON.parse((await api.call("GET", "/objects/g")).body);
    assert.match(stored.filters[0].rules[0].body, /^f[1-8]$/);
    // Each update raised the config version once.
    const version = (await api.store.get("/config/version"))?.value;
    assert.equal(version, "9");
  } finally {
    await api.close();
  }
});

Deno.test("admin API takes more updates of one object at once than a writer retries, each a 200", async () => {
  const api = await adminApi();
  try {
    const doc = (n: number) =>
      `kind: Pipeline\nname: g\nfilters: [{name: m, kind: Mock, rules: [{code: 200, body: f${n}}]}]\n`;
    assert.equal((await api.call("POST", "/objects", doc(0))).status, 201);
    // Past the compare-and-swap rounds an update makes, which others on this node used to win.
    const count = 60;
    const answers = await Promise.all(
      Array.from({ length: count }, (_, i) => api.call("PUT", "/objects/g", doc(i + 1))),
    );
    const failed = answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.message}`);
    assert.deepEqual(failed, []);
    assert.equal((await api.store.get("/config/version"))?.value, String(count + 1));
  } finally {
    await api.close();
  }
});

Deno.test("admin API takes updates of one custom data kind or item sent at once, each a 200", async () => {
  const api = await adminApi();
  try {
    assert.equal((await api.call("POST", "/customdatakinds", "name: k\n")).status, 201);
    assert.equal((await api.call("POST", "/customdata/k", "name: i\n")).status, 201);
    const count = 30;
    const answers = await Promise.all(
      Array.from({ length: count }, (_, i) => [
        api.call("PUT", "/customdatakinds", `name: k\nidField: name\njsonSchema: {title: t${i}}\n`),
        api.call("PUT", "/customdata/k", `name: i\nn: ${i}\n`),
      ]).flat(),
    );
    const failed = answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.message}`);
    assert.deepEqual(failed, []);
    assert.match(JSON.parse((await api.call("GET", "/customdata/k/i")).body).n.toString(), /^\d+$/);
    // A create of what exists is still refused, and an update of what does not is still 404.
    assert.equal((await api.call("POST", "/customdata/k", "name: i\n")).status, 409);
    assert.equal((await api.call("PUT", "/customdata/k", "name: j\n")).status, 404);
    assert.equal((await api.call("PUT", "/customdatakinds", "name: nk\n")).status, 404);
  } finally {
    await api.close();
  }
});

Deno.test("admin API refuses a body nested deeper than its YAML answers can give back", async () => {
  const api = await adminApi();
  try {
    assert.equal((await api.call("POST", "/customdatakinds", "name: k\n")).status, 201);
    const nested = (levels: number) => '{"v":'.repeat(levels) + "1" + "}".repeat(levels);
    const deep = await api.call("POST", "/customdata/k", `{"name":"deep","v":${nested(2000)}}`);
    assert.equal(deep.status, 400);
    assert.equal(deep.message, "the request body nests maps and lists more than 256 levels deep");
    const yaml = await api.call(
      "POST",
      "/customdata/k",
      `name: deep\nv: ${"[".repeat(300)}${"]".repeat(300)}\n`,
    );
    assert.equal(yaml.status, 400, yaml.body);
    // Every item of the kind can still be listed as YAML.
    const list = await api.call("GET", "/customdata/k", undefined, {});
    assert.equal(list.status, 200, list.body);
    // Nesting a real document could hold is taken, and given back.
    assert.equal(
      (await api.call("POST", "/customdata/k", `{"name":"ok","v":${nested(200)}}`)).status,
      201,
    );
    assert.equal((await api.call("GET", "/customdata/k/ok", undefined, {})).status, 200);
  } finally {
    await api.close();
  }
});

Deno.test("admin API writes a custom data batch to the embedded store in one change", async () => {
  const api = await adminApi();
  const controller = new AbortController();
  try {
    assert.equal((await api.call("POST", "/customdatakinds", "name: k\n")).status, 201);
    assert.equal((await api.call("POST", "/customdata/k", "name: gone\n")).status, 201);
    // One file write per item made a batch of 2000 items take minutes.
    let changes = 0;
    api.store.watch("/custom-data/k/", () => changes++, controller.signal);
    const list = Array.from({ length: 300 }, (_, i) => ({ name: `i${i}`, n: i }));
    const r = await api.call(
      "POST",
      "/customdata/k/items",
      JSON.stringify({ rebuild: true, list }),
    );
    assert.equal(r.status, 200, r.body);
    const items = JSON.parse((await api.call("GET", "/customdata/k")).body);
    assert.equal(items.length, 300);
    assert.ok(!items.some((item: { name: string }) => item.name === "gone"));
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(changes, 1);
  } finally {
    controller.abort();
    await api.close();
  }
});

Deno.test("admin API writes a WasmHost filter's data to the embedded store in one change", async () => {
  const api = await adminApi();
  const controller = new AbortController();
  try {
    // Stored as a node of a cluster would have it; the routes only look for the filter.
    await api.store.put(
      "/config/objects/wp",
      JSON.stringify({ name: "wp", kind: "Pipeline", filters: [{ name: "w", kind: "WasmHost" }] }),
    );
    let changes = 0;
    api.store.watch("/wasm/data/", () => changes++, controller.signal);
    const body = Array.from({ length: 200 }, (_, i) => `k${i}: v${i}`).join("\n");
    const r = await api.call("PUT", "/wasm/data/wp/w", body);
    assert.equal(r.status, 200, r.body);
    const data = JSON.parse((await api.call("GET", "/wasm/data/wp/w")).body);
    assert.equal(Object.keys(data).length, 200);
    assert.equal(data.k199, "v199");
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(changes, 1);
  } finally {
    controller.abort();
    await api.close();
  }
});

Deno.test("admin API refuses custom data numbers JSON cannot hold, rather than store null", async () => {
  const api = await adminApi();
  try {
    assert.equal((await api.call("POST", "/customdatakinds", "name: k\n")).status, 201);
    for (
      const [body, where] of [
        ['{"name":"a","v":1e400}', "item/v"],
        ["name: a\nlimits: [1, .inf]\n", "item/limits/1"],
        ["name: a\nw: {x: .nan}\n", "item/w/x"],
      ]
    ) {
      const r = await api.call("POST", "/customdata/k", body);
      assert.equal(r.status, 400, body);
      assert.equal(
        r.message,
        `k item a: ${where} must be a finite number (not .inf, .nan or 1e400)`,
      );
    }
    const batch = await api.call(
      "POST",
      "/customdata/k/items",
      '{"list":[{"name":"b","v":-1e999}]}',
    );
    assert.equal(batch.status, 400);
    const kind = await api.call(
      "PUT",
      "/customdatakinds",
      "name: k\njsonSchema: {maximum: .inf}\n",
    );
    assert.equal(kind.status, 400);
    assert.equal(
      kind.message,
      "custom data kind k: jsonSchema/maximum must be a finite number (not .inf, .nan or 1e400)",
    );
    assert.equal((await api.call("GET", "/customdata/k")).body, "[]");
    // Large finite numbers stay as they are.
    assert.equal((await api.call("POST", "/customdata/k", '{"name":"c","v":1e300}')).status, 201);
    assert.equal(JSON.parse((await api.call("GET", "/customdata/k/c")).body).v, 1e300);
  } finally {
    await api.close();
  }
});

Deno.test("admin API refuses YAML sets, ordered maps and binaries, which were stored as {}", async () => {
  const api = await adminApi();
  try {
    assert.equal((await api.call("POST", "/customdatakinds", "name: k\n")).status, 201);
    for (
      const [value, tag, at] of [
        ["!!set {a, b}", "!!set", "v"],
        ["{x: [1, !!omap [{a: 1}]]}", "!!omap", "v.x[1]"],
        ["!!binary aGVsbG8=", "!!binary", "v"],
      ]
    ) {
      const r = await api.call("POST", "/customdata/k", `name: a\nv: ${value}\n`);
      assert.equal(r.status, 400, value);
      assert.equal(
        r.message,
        `the request body holds a YAML ${tag} at ${at}, which is not stored: ` +
          "write it as a map, a list or a string",
      );
    }
    assert.equal((await api.call("GET", "/customdata/k")).body, "[]");
    // Their plain spellings are taken.
    const plain = await api.call("POST", "/customdata/k", "name: a\nv: {a: null, b: null}\n");
    assert.equal(plain.status, 201, plain.body);
  } finally {
    await api.close();
  }
});

Deno.test("admin API names the key of a stored value that is not JSON, and can delete it", async () => {
  const api = await adminApi();
  try {
    assert.equal((await api.call("POST", "/customdatakinds", "name: k\n")).status, 201);
    // Damaged, or put by hand into a cluster's etcd.
    await api.store.put("/config/objects/bad", "{garbage");
    await api.store.put("/custom-data/k/bad", "{garbage");
    await api.store.put("/custom-data-kinds/broken", "{garbage");
    for (
      const [path, key] of [
        ["/objects", "/config/objects/bad"],
        ["/objects/bad", "/config/objects/bad"],
        ["/customdata/k", "/custom-data/k/bad"],
        ["/customdata/k/bad", "/custom-data/k/bad"],
        ["/customdatakinds", "/custom-data-kinds/broken"],
      ]
    ) {
      const r = await api.call("GET", path);
      assert.equal(r.status, 500, path);
      assert.ok(r.message.startsWith(`the value stored at ${key} is not JSON: `), r.message);
    }
    assert.equal((await api.call("DELETE", "/objects/bad")).status, 200);
    assert.equal((await api.call("GET", "/objects")).body, "[]");
  } finally {
    await api.close();
  }
});

Deno.test("admin API creates many objects sent at once, each raising the config version", async () => {
  const api = await adminApi();
  try {
    const count = 60;
    const answers = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        api.call(
          "POST",
          "/objects",
          `kind: GlobalFilter\nname: g${i}\nbeforePipeline: {flow: [], filters: []}\n`,
        )),
    );
    const failed = answers.filter((a) => a.status !== 201).map((a) => `${a.status} ${a.message}`);
    assert.deepEqual(failed, []);
    assert.equal((await api.store.get("/config/version"))?.value, String(count));
  } finally {
    await api.close();
  }
});

Deno.test("admin API answers an object change made even when raising the config version fails", async () => {
  const warnings: string[] = [];
  const api = await adminApi({ warn: (m) => warnings.push(m) });
  try {
    // The disk fills up between the object's write and the counter's.
    const put = api.store.put.bind(api.store);
    api.store.put = (key, value, options) =>
      key === "/config/version"
        ? Promise.reject(new Error("No space left on device (os error 28)"))
        : put(key, value, options);
    const object = "kind: GlobalFilter\nname: g\nbeforePipeline: {flow: [], filters: []}\n";
    // A 500 said the create failed, and the same create sent again met a 409.
    assert.equal((await api.call("POST", "/objects", object)).status, 201);
    assert.equal((await api.call("PUT", "/objects/g", object)).status, 200);
    assert.equal((await api.call("DELETE", "/objects/g")).status, 200);
    assert.deepEqual(warnings, [
      "object g created, but the config version was not raised: " +
      "No space left on device (os error 28)",
      "object g updated, but the config version was not raised: " +
      "No space left on device (os error 28)",
      "object g deleted, but the config version was not raised: " +
      "No space left on device (os error 28)",
    ]);
  } finally {
    await api.close();
  }
});

Deno.test("admin API answers a purge of a member name with a slash 404, as of any unknown member", async () => {
  const api = await adminApi({ purgeMember });
  try {
    const r = await api.call("DELETE", "/status/members/a%2Fb");
    assert.equal(r.status, 404, r.body);
    assert.equal(r.message, "no member named a/b");
  } finally {
    await api.close();
  }
});

Deno.test("admin API reads an object that ends with ---, and refuses two with their count", async () => {
  const api = await adminApi();
  try {
    const pipeline = "kind: Pipeline\nname: p\nfilters: []\n";
    const created = await api.call("POST", "/objects", `${pipeline}---\n`);
    assert.equal(created.status, 201, created.body);
    const two = await api.call("PUT", "/objects/p", `${pipeline}---\n${pipeline}`);
    assert.equal(two.status, 400);
    assert.equal(two.message, "the request body must hold one document, found 2");
    const comments = await api.call("PUT", "/objects/p", "# only a comment\n");
    assert.equal(comments.status, 400);
    assert.equal(comments.message, "the request body is empty; send one object as YAML or JSON");
  } finally {
    await api.close();
  }
});

Deno.test("admin API answers a method a path does not take with 405 and the Allow it takes", async () => {
  const api = await adminApi();
  try {
    const patch = await api.call("PATCH", "/objects/p");
    assert.equal(patch.status, 405);
    assert.equal(patch.headers.get("allow"), "GET, PUT, DELETE");
    const kind = await api.call("POST", "/customdatakinds/k");
    assert.equal(kind.status, 405);
    assert.equal(kind.headers.get("allow"), "GET, DELETE");
  } finally {
    await api.close();
  }
});

Deno.test("admin API refuses a body that is not UTF-8 rather than store it damaged", async () => {
  const api = await adminApi();
  try {
    // "café" in Latin-1: read leniently, the é would be stored as U+FFFD.
    const encode = (text: string) => [...new TextEncoder().encode(text)];
    const body = new Uint8Array([
      ...encode(
        "kind: Pipeline\nname: p\nfilters: [{name: m, kind: Mock, rules: [{code: 200, body: caf",
      ),
      0xe9,
      ...encode("}]}]\n"),
    ]);
    const r = await api.call("POST", "/objects", body);
    assert.equal(r.status, 400);
    assert.equal(r.message, "the request body is not UTF-8 text");
    assert.equal((await api.call("GET", "/objects/p")).status, 404);
  } finally {
    await api.close();
  }
});

Deno.test("admin API custom data batch never removes, even for a moment, an item it keeps", async () => {
  const api = await adminApi();
  const events: string[] = [];
  const watching = new AbortController();
  try {
    assert.equal((await api.call("POST", "/customdatakinds", "name: k\n")).status, 201);
    const three = "list: [{name: a, v: 1}, {name: b, v: 1}, {name: c, v: 1}]\n";
    assert.equal((await api.call("POST", "/customdata/k/items", three)).status, 200);
    api.store.watch("/custom-data/k/", (batch) => {
      for (const e of batch) events.push(`${e.type} ${e.key.slice("/custom-data/k/".length)}`);
    }, watching.signal);
    const rebuild =
      "rebuild: true\ndelete: [a]\nlist: [{name: a, v: 1}, {name: b, v: 2}, {name: d, v: 1}]\n";
    const r = await api.call("POST", "/customdata/k/items", rebuild);
    assert.equal(r.status, 200, r.body);
    const items = JSON.parse((await api.call("GET", "/customdata/k")).body);
    assert.deepEqual(items, [{ name: "a", v: 1 }, { name: "b", v: 2 }, { name: "d", v: 1 }]);
    // a, kept as it was, is neither deleted nor written again; c, not kept, goes last.
    assert.deepEqual(events, ["put b", "put d", "delete c"]);
  } finally {
    watching.abort();
    await api.close();
  }
});

Deno.test("admin API reads a custom data schema's patterns as Go regular expressions", async () => {
  const api = await adminApi();
  try {
    const kind = "name: k\njsonSchema:\n  properties:\n    a: {pattern: '\\A[[:alpha:]]+\\z'}\n";
    const created = await api.call("POST", "/customdatakinds", kind);
    assert.equal(created.status, 201, created.body);
    assert.equal((await api.call("POST", "/customdata/k", "name: x\na: abc\n")).status, 201);
    const bad = await api.call("POST", "/customdata/k", "name: y\na: ab1\n");
    assert.equal(bad.status, 400);
    assert.match(bad.message, /item\/a must match pattern/);
    // Go has no lookarounds: the schema is refused, as gojsonschema refuses it.
    const lookahead = await api.call(
      "POST",
      "/customdatakinds",
      "name: k2\njsonSchema: {properties: {a: {pattern: '(?=a)'}}}\n",
    );
    assert.equal(lookahead.status, 400);
    assert.match(lookahead.message, /^jsonSchema of k2 is not a JSON Schema: .*\(\?=/);
  } finally {
    await api.close();
  }
});

Deno.test("admin API keeps plain YAML numbers and booleans in text fields as written, as Go's YAML decoder does", async () => {
  const api = await adminApi();
  try {
    const spec = `name: m
kind: Pipeline
filters:
  - name: mock
    kind: Mock
    rules:
      - code: 200
        headers: { X-A: 0123, X-B: 1e3, X-C: 1.10, X-D: 0x1F, X-E: .inf, X-F: True, X-G: 12 }
`;
    const created = await api.call("POST", "/objects", spec);
    assert.equal(created.status, 201, created.body);
    const stored = JSON.parse((await api.call("GET", "/objects/m")).body);
    assert.deepEqual(stored.filters[0].rules[0].headers, {
      "X-A": "0123",
      "X-B": "1e3",
      "X-C": "1.10",
      "X-D": "0x1F",
      "X-E": ".inf",
      "X-F": "True",
      "X-G": "12",
    });
  } finally {
    await api.close();
  }
});

Deno.test("admin API refuses to publish to a topic of more than 65535 UTF-8 bytes, which no PUBLISH can carry", async () => {
  const api = await adminApi();
  try {
    const created = await api.call("POST", "/objects", "kind: MQTTProxy\nname: mq\nport: 21883\n");
    assert.equal(created.status, 201, created.body);
    const publish = (topic: string) =>
      api.call("POST", "/mqttproxy/mq/topics/publish", JSON.stringify({ topic, payload: "x" }));
    // 65 535 bytes is the most; "é" takes two of them.
    assert.equal((await publish("t".repeat(65_535))).status, 200);
    const long = await publish("t".repeat(65_536));
    assert.equal(long.status, 400);
    assert.match(long.body, /has 65536 bytes, more than 65535/);
    assert.equal((await publish("é".repeat(32_768))).status, 400);
  } finally {
    await api.close();
  }
});

Deno.test("admin API refuses a publish whose base64 or distributed is no bool, as Go's decoder does", async () => {
  const api = await adminApi();
  try {
    const created = await api.call("POST", "/objects", "kind: MQTTProxy\nname: mq\nport: 21883\n");
    assert.equal(created.status, 201, created.body);
    const publish = (fields: string) =>
      api.call(
        "POST",
        "/mqttproxy/mq/topics/publish",
        `{"topic": "a", "payload": "eA==", ${fields}}`,
      );
    const quoted = await publish('"base64": "true"');
    assert.equal(quoted.status, 400);
    assert.match(quoted.body, /base64 must be true or false, got \\"true\\"/);
    assert.equal((await publish('"distributed": 1')).status, 400);
    assert.equal((await publish('"base64": true, "distributed": null')).status, 200);
  } finally {
    await api.close();
  }
});
