/**
 * HTTPServer `tracing` through the real binary: spans of routed requests
 * and of the Proxy's upstream calls reach a Zipkin endpoint, tagged with
 * the spec's tags, B3 headers reach the backend in place of the client's,
 * and a client's own B3 trace is joined (as the same span with `sameSpan`,
 * keeping its parent) or its "not sampled" kept.
 */

import assert from "node:assert/strict";
import { eventually, freePort, request, startNodeProcess } from "./helpers.ts";

interface Span {
  traceId: string;
  id: string;
  parentId?: string;
  shared?: boolean;
  name: string;
  kind: string;
  duration: number;
  localEndpoint: Record<string, unknown>;
  tags?: Record<string, string>;
}

const B3_FIELDS = ["x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "b3"];

Deno.test("tracing: server and proxy spans reach Zipkin; B3 goes upstream; client traces are joined", async () => {
  const spans: Span[] = [];
  const zipkin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    if (new URL(req.url).pathname === "/api/v2/spans") spans.push(...await req.json());
    return new Response(null, { status: 202 });
  });
  const seen: Record<string, string | null>[] = [];
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const b3: Record<string, string | null> = {};
    for (const name of B3_FIELDS) {
      b3[name] = req.headers.get(name);
    }
    seen.push(b3);
    return new Response("ok");
  });
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  const url = `http://127.0.0.1:${port}/api`;
  try {
    const pipeline = `name: p\nkind: Pipeline\nfilters:\n- name: proxy\n  kind: Proxy\n  pools:\n` +
      `  - servers:\n    - url: http://127.0.0.1:${backend.addr.port}\n`;
    assert.equal((await node.ctl(["object", "create"], pipeline)).code, 0);
    const server = `kind: HTTPServer
name: s
port: ${port}
tracing:
  serviceName: gateway
  tags:
    env: test
  zipkin:
    serverURL: http://127.0.0.1:${zipkin.addr.port}/api/v2/spans
    sampleRate: 1
    hostport: 127.0.0.1:${port}
rules:
- paths:
  - pathPrefix: /api
    backend: p
`;
    const created = await node.ctl(["object", "create"], server);
    assert.equal(created.code, 0, created.stderr);
    await eventually("served", async () => (await request(url)).status === 200);
    await eventually("spans", () => Promise.resolve(spans.length >= 2), 5000);

    const server1 = spans.find((s) => s.kind === "SERVER")!;
    const client1 = spans.find((s) => s.kind === "CLIENT" && s.traceId === server1.traceId)!;
    assert.equal(server1.name, "GET /api");
    assert.deepEqual(server1.localEndpoint, {
      serviceName: "gateway",
      ipv4: "127.0.0.1",
      port,
    });
    assert.equal(server1.tags?.env, "test");
    assert.equal(server1.tags?.["http.status_code"], "200");
    assert.equal(client1.name, "proxy#proxy#main");
    // The spec's tags are on every span, as zipkin-go's WithTags puts them.
    assert.deepEqual(client1.tags, { env: "test", "http.status_code": "200" });
    assert.equal(client1.parentId, server1.id);
    assert.ok(client1.duration > 0 && server1.duration >= client1.duration);
    const upstream = seen.find((b3) => b3["x-b3-spanid"] === client1.id)!;
    assert.deepEqual(upstream, {
      "x-b3-traceid": server1.traceId,
      "x-b3-spanid": client1.id,
      "x-b3-parentspanid": server1.id,
      "x-b3-sampled": "1",
      b3: null,
    });

    // A client's trace is joined: its span is the parent of ours, and the
    // backend gets our B3 fields in place of the client's (one value each).
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    seen.length = 0;
    await request(url, {
      headers: {
        "X-B3-TraceId": traceId,
        "X-B3-SpanId": "b7ad6b7169203331",
        "X-B3-ParentSpanId": "0020000000000001",
        "X-B3-Sampled": "1",
        b3: `${traceId}-b7ad6b7169203331-1-0020000000000001`,
      },
    });
    await eventually(
      "joined",
      () => Promise.resolve(spans.filter((s) => s.traceId === traceId).length >= 2),
      5000,
    );
    const joined = spans.find((s) => s.traceId === traceId && s.kind === "SERVER")!;
    const joinedCall = spans.find((s) => s.traceId === traceId && s.kind === "CLIENT")!;
    assert.equal(joined.parentId, "b7ad6b7169203331");
    assert.equal(joinedCall.parentId, joined.id);
    assert.deepEqual(seen, [{
      "x-b3-traceid": traceId,
      "x-b3-spanid": joinedCall.id,
      "x-b3-parentspanid": joined.id,
      "x-b3-sampled": "1",
      b3: `${traceId}-${joinedCall.id}-1-${joined.id}`,
    }]);

    // A client that says "not sampled" is not traced, and its headers go up as they were.
    const before = spans.length;
    seen.length = 0;
    await request(url, {
      headers: {
        "X-B3-TraceId": "1111111111111111",
        "X-B3-SpanId": "2222222222222222",
        "X-B3-Sampled": "0",
      },
    });
    assert.equal(seen[0]["x-b3-sampled"], "0");
    assert.equal(seen[0]["x-b3-spanid"], "2222222222222222");
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(spans.length, before);

    // sameSpan: the client's span is shared, and keeps the client's parent.
    const sharedPort = freePort();
    const sharedServer = server
      .replace("name: s\n", "name: s2\n")
      .replace(`port: ${port}\n`, `port: ${sharedPort}\n`)
      .replace(
        "    sampleRate: 1\n",
        "    sampleRate: 1\n    sameSpan: true\n    id128Bit: true\n",
      );
    const created2 = await node.ctl(["object", "create"], sharedServer);
    assert.equal(created2.code, 0, created2.stderr);
    const sharedUrl = `http://127.0.0.1:${sharedPort}/api`;
    await eventually("shared served", async () => (await request(sharedUrl)).status === 200);
    const sharedTrace = "463ac35c9f6413ad48485a3953bb6124";
    seen.length = 0;
    await request(sharedUrl, {
      headers: {
        "X-B3-TraceId": sharedTrace,
        "X-B3-SpanId": "a2fb4a1d1a96d312",
        "X-B3-ParentSpanId": "0020000000000001",
        "X-B3-Sampled": "1",
      },
    });
    await eventually(
      "shared",
      () => Promise.resolve(spans.filter((s) => s.traceId === sharedTrace).length >= 2),
      5000,
    );
    const sharedSpan = spans.find((s) => s.traceId === sharedTrace && s.kind === "SERVER")!;
    const sharedCall = spans.find((s) => s.traceId === sharedTrace && s.kind === "CLIENT")!;
    assert.equal(sharedSpan.id, "a2fb4a1d1a96d312");
    assert.equal(sharedSpan.shared, true);
    assert.equal(sharedSpan.parentId, "0020000000000001");
    assert.equal(sharedCall.parentId, "a2fb4a1d1a96d312");
    assert.equal(sharedCall.tags?.env, "test");
    assert.deepEqual(seen, [{
      "x-b3-traceid": sharedTrace,
      "x-b3-spanid": sharedCall.id,
      "x-b3-parentspanid": "a2fb4a1d1a96d312",
      "x-b3-sampled": "1",
      b3: null,
    }]);
  } finally {
    await node.stop();
    await backend.shutdown();
    await zipkin.shutdown();
  }
});

Deno.test("tracing: spec errors name the field", async () => {
  const node = await startNodeProcess();
  try {
    const bad = await node.ctl(
      ["object", "create"],
      `kind: HTTPServer\nname: s\nport: ${freePort()}\ntracing:\n  zipkin:\n    serverURL: nope\n` +
        `    sampleRate: 2\nrules: []\n`,
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /tracing\.serviceName: is required/);
    assert.match(bad.stderr, /tracing\.zipkin\.serverURL: must be an http\(s\) URL/);
    assert.match(bad.stderr, /tracing\.zipkin\.sampleRate: must be at most 1/);
  } finally {
    await node.stop();
  }
});

/**
 * A Zipkin collector keeping the spans it receives, and a node whose
 * HTTPServer on `port` traces every request and routes `paths` (YAML list
 * items, each with `backend: mock`) to a Mock answering 200.
 */
async function tracedMock(paths: string) {
  const spans: Span[] = [];
  const zipkin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    spans.push(...await req.json());
    return new Response(null, { status: 202 });
  });
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  const objects = `name: mock\nkind: Pipeline\nfilters:\n- name: m\n  kind: Mock\n  rules:\n` +
    `  - match: {}\n    code: 200\n---\nkind: HTTPServer\nname: s\nport: ${port}\ntracing:\n` +
    `  serviceName: gateway\n  zipkin:\n` +
    `    serverURL: http://127.0.0.1:${zipkin.addr.port}/api/v2/spans\n    sampleRate: 1\n` +
    `rules:\n- paths:\n${paths}`;
  const created = await node.ctl(["object", "create"], objects);
  const stop = async () => {
    await node.stop();
    await zipkin.shutdown();
  };
  if (created.code !== 0) {
    await stop();
    throw new Error(created.stderr);
  }
  return { spans, port, stop };
}

Deno.test("tracing: a server span starts when its request came in, its body's upload included", async () => {
  const { spans, port, stop } = await tracedMock("  - backend: mock\n");
  try {
    await eventually(
      "served",
      async () => (await request(`http://127.0.0.1:${port}/`)).status === 200,
    );
    await eventually("first span", () => Promise.resolve(spans.length === 1), 5000);

    // A chunked body whose last chunk comes 400 ms after the head: the node
    // reads it whole before the pipeline runs.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const sentAt = Date.now();
    const text = new TextEncoder();
    await conn.write(text.encode(
      "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n",
    ));
    await new Promise((r) => setTimeout(r, 400));
    await conn.write(text.encode("3\r\ndef\r\n0\r\n\r\n"));
    const answer = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
    assert.match(answer, /^HTTP\/1\.1 200 /);
    await eventually("upload span", () => Promise.resolve(spans.length === 2), 5000);
    const span = spans[1] as Span & { timestamp: number };
    assert.equal(span.name, "POST /*");
    assert.ok(span.duration >= 300_000, `duration ${span.duration} µs`);
    assert.ok(
      span.timestamp <= (sentAt + 100) * 1000,
      `timestamp ${span.timestamp}, sent ${sentAt}`,
    );
  } finally {
    await stop();
  }
});

Deno.test("tracing: a server span tags the path the client asked for, before a rewriteTarget", async () => {
  const { spans, port, stop } = await tracedMock(
    "  - pathPrefix: /old\n    rewriteTarget: /new\n    backend: mock\n",
  );
  try {
    await eventually(
      "served",
      async () => (await request(`http://127.0.0.1:${port}/old/thing?x=1`)).status === 200,
    );
    await eventually("span", () => Promise.resolve(spans.length > 0), 5000);
    assert.equal(spans[0].name, "GET /old");
    assert.equal(spans[0].tags?.["http.path"], "/old/thing");
  } finally {
    await stop();
  }
});
