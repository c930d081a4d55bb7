import assert from "node:assert/strict";
import { serializeRequestHead } from "../../../filters/proxy/http1_request_head.ts";
import { Context, HttpRequest } from "../../../filters/context.ts";
import { proxyKind } from "../../../filters/proxy/proxy.ts";
import { Tracer, UnsampledTrace } from "../../../server/tracing/tracer.ts";
import { readTracingSpec } from "../../../server/tracing/spec.ts";
import { SpecReader } from "../../../filters/spec.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function collect(
  run: (tracer: Tracer) => void | Promise<void>,
  sampleRate = 1,
  extra = {},
) {
  const spans: Record<string, unknown>[] = [];
  const zipkin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    spans.push(...await req.json());
    return new Response(null, { status: 202 });
  });
  const r = SpecReader.root({
    serviceName: "svc",
    zipkin: { serverURL: `http://127.0.0.1:${zipkin.addr.port}/`, sampleRate, ...extra },
  });
  const tracer = new Tracer(readTracingSpec(r), quiet);
  try {
    await run(tracer);
    await tracer.close();
  } finally {
    await zipkin.shutdown();
  }
  return spans;
}

const get = (headers: Record<string, string> = {}) => new HttpRequest({ path: "/x", headers });

Deno.test("Tracer joins a single b3 header's trace, or shares its span with sameSpan", async () => {
  const b3 = { b3: "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1" };
  const joined = await collect((t) => t.start(get(b3), "GET /x", "")!.finish(200));
  assert.equal(joined[0].traceId, "80f198ee56343ba864fe8b2a57d3eff7");
  assert.equal(joined[0].parentId, "e457b5a2e4d86bd1");
  assert.notEqual(joined[0].id, "e457b5a2e4d86bd1");
  const shared = await collect(
    (t) => t.start(get(b3), "GET /x", "")!.finish(200),
    1,
    { sameSpan: true },
  );
  assert.equal(shared[0].id, "e457b5a2e4d86bd1");
  assert.equal(shared[0].shared, true);
  assert.equal(shared[0].parentId, undefined);
});

Deno.test("Tracer samples by rate unless the client decided; ids have the asked width", async () => {
  const none = await collect((t) => {
    for (let i = 0; i < 20; i++) {
      assert.ok(t.start(get(), "GET /x", "") instanceof UnsampledTrace);
    }
    // The client's decision wins over the rate.
    t.start(get({ "X-B3-Sampled": "1" }), "GET /x", "")!.finish(200);
    t.start(get({ b3: "d" }), "GET /x", "")!.finish(200);
  }, 0);
  assert.equal(none.length, 2);
  const wide = await collect(
    (t) => {
      assert.equal(t.start(get({ b3: "0" }), "GET /x", ""), undefined);
      t.start(get(), "GET /x", "192.0.2.1")!.finish(503);
    },
    1,
    { id128Bit: true },
  );
  assert.equal(wide.length, 1);
  assert.match(String(wide[0].traceId), /^[0-9a-f]{32}$/);
  assert.match(String(wide[0].id), /^[0-9a-f]{16}$/);
  assert.deepEqual(wide[0].remoteEndpoint, { ipv4: "192.0.2.1" });
  assert.equal((wide[0].tags as Record<string, string>).error, "503");
});

Deno.test("Tracer keeps the client span's parent on a span it shares (sameSpan)", async () => {
  const multi = {
    "X-B3-TraceId": "463ac35c9f6413ad48485a3953bb6124",
    "X-B3-SpanId": "a2fb4a1d1a96d312",
    "X-B3-ParentSpanId": "0020000000000001",
    "X-B3-Sampled": "1",
  };
  const single = { b3: "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90" };
  const shared = await collect(
    (t) => {
      t.start(get(multi), "GET /x", "")!.finish(200);
      t.start(get(single), "GET /x", "")!.finish(200);
    },
    1,
    { sameSpan: true },
  );
  const byTrace = (id: string) => shared.find((s) => s.traceId === id)!;
  assert.equal(byTrace(multi["X-B3-TraceId"]).id, "a2fb4a1d1a96d312");
  assert.equal(byTrace(multi["X-B3-TraceId"]).parentId, "0020000000000001");
  assert.equal(byTrace(multi["X-B3-TraceId"]).shared, true);
  assert.equal(byTrace("80f198ee56343ba864fe8b2a57d3eff7").id, "e457b5a2e4d86bd1");
  assert.equal(byTrace("80f198ee56343ba864fe8b2a57d3eff7").parentId, "05e3ac9a4f6e3b90");
  // A child span (no sameSpan) has the client's span as its parent, not the client's parent.
  const child = await collect((t) => t.start(get(multi), "GET /x", "")!.finish(200));
  assert.equal(child[0].parentId, "a2fb4a1d1a96d312");
  assert.equal(child[0].shared, undefined);
});

Deno.test("Tracer puts the spec's tags on client spans too", async () => {
  const spans: Record<string, unknown>[] = [];
  const zipkin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    spans.push(...await req.json());
    return new Response(null, { status: 202 });
  });
  const r = SpecReader.root({
    serviceName: "svc",
    tags: { env: "test", "http.status_code": "overridden" },
    zipkin: { serverURL: `http://127.0.0.1:${zipkin.addr.port}/`, sampleRate: 1 },
  });
  const tracer = new Tracer(readTracingSpec(r), quiet);
  try {
    const server = tracer.start(get(), "GET /x", "")!;
    server.child("ok").finish(201);
    server.child("failed").finish(0, "serverError");
    server.finish(201);
    await tracer.close();
  } finally {
    await zipkin.shutdown();
  }
  const byName = (name: string) => spans.find((s) => s.name === name)!.tags;
  assert.deepEqual(byName("ok"), { env: "test", "http.status_code": "201" });
  assert.deepEqual(byName("failed"), {
    env: "test",
    "http.status_code": "overridden",
    error: "serverError",
  });
  assert.equal((byName("GET /x") as Record<string, string>).env, "test");
});

Deno.test("A child span's B3 headers replace the upstream request's own", async () => {
  await collect((t) => {
    const server = t.start(get(), "GET /x", "")!;
    const plain = server.child("plain", new Headers({ accept: "*/*" }));
    assert.deepEqual(plain.headers.map(([name]) => name), [
      "x-b3-traceid",
      "x-b3-spanid",
      "x-b3-parentspanid",
      "x-b3-sampled",
    ]);
    assert.equal(server.child("no upstream").headers.length, 4);

    const client = new Headers({
      accept: "*/*",
      "X-B3-TraceId": "463ac35c9f6413ad48485a3953bb6124",
      "X-B3-SpanId": "a2fb4a1d1a96d312",
      "X-B3-ParentSpanId": "0020000000000001",
      "X-B3-Sampled": "1",
      "X-B3-Flags": "1",
      b3: "463ac35c9f6413ad48485a3953bb6124-a2fb4a1d1a96d312-1",
    });
    const span = server.child("joined", client);
    const sent = Object.fromEntries(span.headers);
    assert.equal(
      sent.b3,
      `${sent["x-b3-traceid"]}-${sent["x-b3-spanid"]}-1-${sent["x-b3-parentspanid"]}`,
    );
    // Written upstream as extra headers: what is left of the client's is all but the
    // fields the span sets (X-B3-Flags is not one).
    const head = serializeRequestHead(
      { method: "GET", target: "/x", host: "h", headers: client, extraHeaders: [...span.headers] },
      "",
    );
    const lines = head.split("\r\n").slice(2, -2);
    assert.deepEqual(lines.slice(0, 2), ["accept: */*", "x-b3-flags: 1"]);
    assert.deepEqual(lines.slice(2), span.headers.map(([name, value]) => `${name}: ${value}`));
    // The client's headers themselves are not touched.
    assert.equal(client.get("x-b3-spanid"), "a2fb4a1d1a96d312");
    span.finish(200);
    plain.finish(200);
    server.finish(200);
  });
});

Deno.test("A traced Proxy call sends its own B3 headers in place of the client's, then gives them back", async () => {
  const seen: [string, string][][] = [];
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push([...req.headers].filter(([name]) => name.startsWith("x-b3-") || name === "b3"));
    return new Response("ok");
  });
  const env = { pipeline: "p", name: "proxy", log: quiet, resilience: () => undefined };
  const proxy = proxyKind.create(
    proxyKind.validate({
      pools: [{ servers: [{ url: `http://127.0.0.1:${backend.addr.port}` }] }],
    }),
    env,
  );
  const client = {
    "X-B3-TraceId": "463ac35c9f6413ad48485a3953bb6124",
    "X-B3-SpanId": "a2fb4a1d1a96d312",
    "X-B3-ParentSpanId": "0020000000000001",
    "X-B3-Sampled": "1",
    b3: "463ac35c9f6413ad48485a3953bb6124-a2fb4a1d1a96d312-1-0020000000000001",
    "X-Other": "kept",
  };
  let sent: Record<string, string> = {};
  try {
    const spans = await collect(async (t) => {
      const ctx = new Context(new HttpRequest({ path: "/x", headers: new Headers(client) }));
      const server = t.start(ctx.request, "GET /x", "")!;
      ctx.trace = server;
      assert.equal(await proxy.handle(ctx), "");
      assert.equal(ctx.response?.status, 200);
      server.finish(200);
      // One field each, the span's.
      assert.equal(seen[0].length, 5);
      sent = Object.fromEntries(seen[0]);
      // The pipeline's request has the client's fields again.
      for (const [name, value] of Object.entries(client)) {
        assert.equal(ctx.request.header(name), value);
      }
    });
    const serverSpan = spans.find((s) => s.kind === "SERVER")!;
    const clientSpan = spans.find((s) => s.kind === "CLIENT")!;
    assert.deepEqual(sent, {
      "x-b3-traceid": client["X-B3-TraceId"],
      "x-b3-spanid": clientSpan.id,
      "x-b3-parentspanid": serverSpan.id,
      "x-b3-sampled": "1",
      b3: `${client["X-B3-TraceId"]}-${clientSpan.id}-1-${serverSpan.id}`,
    });
    assert.equal(serverSpan.parentId, client["X-B3-SpanId"]);
  } finally {
    proxy.close?.();
    await backend.shutdown();
  }
});

Deno.test("A child span is placed within its parent to the microsecond", async () => {
  let window = 0;
  const spans = await collect((t) => {
    const before = performance.now();
    const server = t.start(get(), "GET /x", "")!;
    const started = performance.now();
    while (performance.now() - started < 0.3) { /* a call starting 0.3 ms in */ }
    const call = server.child("proxy#p#main");
    window = (performance.now() - before) * 1000;
    call.finish(200);
    server.finish(200);
  });
  const [child, parent] = spans as { timestamp: number; duration: number }[];
  const offset = child.timestamp - parent.timestamp;
  assert.ok(offset >= 250 && offset <= window + 1, `child starts ${offset} µs in, of ${window}`);
  // Within rounding to whole microseconds.
  assert.ok(child.timestamp + child.duration <= parent.timestamp + parent.duration + 2);
});

Deno.test("An unsampled request's upstream calls carry the decision not to sample", async () => {
  const spans = await collect((t) => {
    const fresh = Object.fromEntries(t.start(get(), "GET /x", "")!.child("p").headers);
    assert.match(fresh["x-b3-traceid"], /^[0-9a-f]{16}$/);
    assert.match(fresh["x-b3-spanid"], /^[0-9a-f]{16}$/);
    assert.match(fresh["x-b3-parentspanid"], /^[0-9a-f]{16}$/);
    assert.equal(fresh["x-b3-sampled"], "0");
    // A client's trace that left the decision to the gateway goes on unsampled, in both
    // spellings it came in.
    const client = { b3: "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1" };
    const call = t.start(get(client), "GET /x", "")!.child("p", new Headers(client));
    const joined = Object.fromEntries(call.headers);
    assert.equal(joined["x-b3-traceid"], "80f198ee56343ba864fe8b2a57d3eff7");
    assert.equal(joined["x-b3-sampled"], "0");
    assert.notEqual(joined["x-b3-parentspanid"], "e457b5a2e4d86bd1");
    assert.equal(
      joined.b3,
      `80f198ee56343ba864fe8b2a57d3eff7-${joined["x-b3-spanid"]}-0-${joined["x-b3-parentspanid"]}`,
    );
    call.finish(200);
  }, 0);
  assert.equal(spans.length, 0);
});

Deno.test("A traced Proxy call makes a span per attempt, as Easegress does; a cache hit makes none", async () => {
  const sentIds: string[] = [];
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    sentIds.push(req.headers.get("x-b3-spanid") ?? "");
    // The first two attempts fail, the third is answered.
    return new Response("ok", { status: sentIds.length < 3 ? 503 : 200 });
  });
  const policy = { name: "r", kind: "Retry", maxAttempts: 3, waitDuration: "1ms" };
  const env = { pipeline: "p", name: "proxy", log: quiet, resilience: () => policy };
  const proxy = proxyKind.create(
    proxyKind.validate({
      pools: [{
        servers: [{ url: `http://127.0.0.1:${backend.addr.port}` }],
        retryPolicy: "r",
        failureCodes: [503],
        memoryCache: { expiration: "10s", maxEntryBytes: 100, codes: [200], methods: ["GET"] },
      }],
    }),
    env,
  );
  try {
    const spans = await collect(async (t) => {
      for (let i = 0; i < 2; i++) {
        const ctx = new Context(new HttpRequest({ path: "/x" }));
        const server = t.start(ctx.request, "GET /x", "")!;
        ctx.trace = server;
        assert.equal(await proxy.handle(ctx), "");
        assert.equal(ctx.response?.status, 200);
        await ctx.response?.text();
        server.finish(200);
      }
    });
    const calls = spans.filter((s) => s.kind === "CLIENT");
    // Three attempts for the first request, none for the second (the cache answered).
    assert.equal(sentIds.length, 3);
    assert.deepEqual(calls.map((s) => s.id), sentIds);
    assert.equal(new Set(sentIds).size, 3);
    assert.deepEqual(
      calls.map((s) => (s.tags as Record<string, string>)["http.status_code"]),
      ["503", "503", "200"],
    );
    assert.ok(calls.every((s) => s.name === "proxy#proxy#main"));
  } finally {
    proxy.close?.();
    await backend.shutdown();
  }
});

Deno.test("A client's debug trace is sampled, marked debug and goes upstream as debug", async () => {
  const sent: Record<string, string>[] = [];
  const spans = await collect((t) => {
    const multi = get({
      "X-B3-TraceId": "463ac35c9f6413ad",
      "X-B3-SpanId": "a2fb4a1d1a96d312",
      "X-B3-Flags": "1",
    });
    const single = { b3: "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d" };
    for (const [request, upstream] of [[multi, undefined], [get(single), new Headers(single)]]) {
      const server = t.start(request as HttpRequest, "GET /x", "")!;
      const call = server.child("p", upstream as Headers | undefined);
      sent.push(Object.fromEntries(call.headers));
      call.finish(200);
      server.finish(200);
    }
  }, 0);
  // Sampled though the rate is 0, each span marked debug.
  assert.equal(spans.length, 4);
  assert.ok(spans.every((s) => s.debug === true));
  // As zipkin-go's B3 injection writes debug: X-B3-Flags, not X-B3-Sampled; "d" in b3.
  assert.equal(sent[0]["x-b3-flags"], "1");
  assert.equal(sent[0]["x-b3-sampled"], undefined);
  assert.equal(sent[0]["x-b3-traceid"], "463ac35c9f6413ad");
  assert.equal(sent[1]["x-b3-flags"], "1");
  assert.equal(
    sent[1].b3,
    `80f198ee56343ba864fe8b2a57d3eff7-${sent[1]["x-b3-spanid"]}-d-${sent[1]["x-b3-parentspanid"]}`,
  );
});

Deno.test("Tracer looks a hostport's host name up for the spans' local endpoint, as zipkin-go does", async () => {
  const spans = await collect(
    async (t) => {
      await t.resolved;
      const server = t.start(get(), "GET /x", "")!;
      server.child("p").finish(200);
      server.finish(200);
    },
    1,
    { hostport: "localhost:10080" },
  );
  assert.equal(spans.length, 2);
  for (const span of spans) {
    const local = span.localEndpoint as Record<string, unknown>;
    assert.equal(local.port, 10080);
    assert.ok(local.ipv4 === "127.0.0.1" || local.ipv6 === "::1", JSON.stringify(local));
  }
  // A name that does not resolve leaves the endpoint without an address, and the spans go.
  const unresolved = await collect(
    async (t) => {
      await t.resolved;
      t.start(get(), "GET /x", "")!.finish(200);
    },
    1,
    { hostport: "no-such-host.invalid:10080" },
  );
  assert.deepEqual(unresolved[0].localEndpoint, { serviceName: "svc", port: 10080 });
});

Deno.test("readTracingSpec refuses a hostport zipkin-go would not take, naming the field", () => {
  const read = (hostport: string) => {
    const r = SpecReader.root({
      serviceName: "svc",
      zipkin: { serverURL: "http://127.0.0.1:9411/", sampleRate: 1, hostport },
    });
    const spec = readTracingSpec(r);
    return r.problems.length ? r.problems.join("; ") : spec.zipkin.hostport;
  };
  for (const good of ["0.0.0.0:10080", "gateway", "[::1]:80", "gw.example:0", ":0"]) {
    assert.equal(read(good), good);
  }
  for (
    const bad of ["a:b:c", "::1", "[::1", "[::1]", "[::1]x:80", "h:", "h:port", "h:65536", ":80"]
  ) {
    assert.match(String(read(bad)), /^zipkin\.hostport: .*, got "/, bad);
  }
});

Deno.test("Tracer takes B3 ids of zeros only as none, as zipkin-go does, and starts its own trace", async () => {
  const zero16 = "0000000000000000";
  const spans = await collect(
    (t) => {
      const multi = { "X-B3-TraceId": zero16, "X-B3-SpanId": zero16, "X-B3-Sampled": "1" };
      t.start(get(multi), "GET /x", "")!.finish(200);
      t.start(get({ b3: `${zero16}${zero16}-${zero16}-1` }), "GET /x", "")!.finish(200);
      // A good trace with a parent of zeros: joined, the parent left out.
      const joined = { b3: `463ac35c9f6413ad-a2fb4a1d1a96d312-1-${zero16}` };
      t.start(get(joined), "GET /x", "")!.finish(200);
    },
    1,
    { sameSpan: true },
  );
  assert.equal(spans.length, 3);
  for (const span of spans.slice(0, 2)) {
    assert.match(String(span.traceId), /^(?!0+$)[0-9a-f]{16}$/);
    assert.match(String(span.id), /^(?!0+$)[0-9a-f]{16}$/);
    assert.equal(span.parentId, undefined);
  }
  assert.equal(spans[2].traceId, "463ac35c9f6413ad");
  assert.equal(spans[2].id, "a2fb4a1d1a96d312");
  assert.equal(spans[2].parentId, undefined);
});

Deno.test("A server span's remote endpoint is the real IP when it is an address, else none", async () => {
  const ips = [
    "8.8.8.8",
    "2001:db8::1",
    "fe80::1%eth0",
    "zz:zz",
    "1.2.3.4:80",
    "999.1.1.1",
    "host",
  ];
  const spans = await collect((t) => {
    for (const ip of ips) t.start(get(), "GET /x", ip)!.finish(200);
  });
  assert.deepEqual(spans.map((s) => s.remoteEndpoint), [
    { ipv4: "8.8.8.8" },
    { ipv6: "2001:db8::1" },
    { ipv6: "fe80::1" },
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
});

Deno.test("readTracingSpec refuses an empty serviceName, as Easegress's schema does", () => {
  const r = SpecReader.root({
    serviceName: "",
    zipkin: { serverURL: "http://127.0.0.1:9411/", sampleRate: 1 },
  });
  readTracingSpec(r);
  assert.deepEqual(r.problems, ['serviceName: must be a name, not empty, got ""']);
});
