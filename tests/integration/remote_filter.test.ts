/**
 * RemoteFilter against a remote service on loopback: the JSON it is sent,
 * its reply taken over, 205, failures and the timeout.
 */

import assert from "node:assert/strict";
import { Context, HttpRequest, HttpResponse } from "../../filters/context.ts";
import type { FilterInstance } from "../../filters/filter.ts";
import { remoteFilterKind } from "../../filters/remote_filter.ts";
import { eventually, request, startNodeProcess } from "./helpers.ts";

type Reply = (sent: Record<string, Record<string, unknown>>) => Response | Promise<Response>;

function remote(reply: Reply): { url: string; seen: unknown[]; server: Deno.HttpServer } {
  const seen: unknown[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const sent = await req.json();
    seen.push(sent);
    return reply(sent);
  });
  return { url: `http://127.0.0.1:${server.addr.port}/filter`, seen, server };
}

function contextWith(init: ConstructorParameters<typeof HttpRequest>[0]): Context {
  return new Context(new HttpRequest({ host: "gw.example", ...init }), { realIP: "192.0.2.9" });
}

/** Filters made by a test, closed at its end (their pooled connections with them). */
const made: FilterInstance[] = [];

function closeFilters(): void {
  for (const f of made.splice(0)) f.close?.();
}

function filter(url: string, timeout?: string): FilterInstance {
  const instance = remoteFilterKind.create(
    remoteFilterKind.validate({ url, ...(timeout ? { timeout } : {}) }),
    {
      pipeline: "p",
      name: "remote",
      log: { debug() {}, info() {}, warn() {}, error() {} },
      resilience: () => undefined,
    },
  );
  made.push(instance);
  return instance;
}

Deno.test("RemoteFilter sends the request as Go's JSON and takes the reply's request and response over", async () => {
  const service = remote((sent) => {
    const request = sent.request;
    return Response.json({
      request: {
        ...request,
        method: "put",
        path: "/rewritten",
        query: "b=2",
        header: { "X-Authed": ["yes"] },
        body: btoa("new body"),
      },
      response: { statusCode: 202, header: { "X-Remote": ["1", "2"] }, body: btoa("remote") },
    });
  });
  try {
    const ctx = contextWith({
      method: "POST",
      path: "/orig",
      query: "a=1",
      headers: { "content-type": "text/plain", "x-request-id": "r1" },
      body: new TextEncoder().encode("hello"),
    });
    assert.equal(await filter(service.url).handle(ctx), "");
    const sent = service.seen[0] as Record<string, Record<string, unknown>>;
    assert.deepEqual(sent.request, {
      realIP: "192.0.2.9",
      method: "POST",
      scheme: "http",
      host: "gw.example",
      path: "/orig",
      query: "a=1",
      fragment: "",
      proto: "HTTP/1.1",
      header: { "Content-Type": ["text/plain"], "X-Request-Id": ["r1"] },
      body: btoa("hello"),
    });
    assert.deepEqual(sent.response, { statusCode: 200, header: {}, body: null });
    const request = ctx.request;
    assert.equal(request.method, "PUT");
    assert.equal(request.url, "/rewritten?b=2");
    assert.equal(request.header("x-authed"), "yes");
    assert.equal(request.header("x-request-id"), null, "the reply's headers replace the request's");
    assert.equal(await request.text(), "new body");
    assert.equal(ctx.response!.status, 202);
    assert.equal(ctx.response!.header("x-remote"), "1, 2");
    assert.equal(await ctx.response!.text(), "remote");
  } finally {
    closeFilters();
    await service.server.shutdown();
  }
});

Deno.test("RemoteFilter: the reply's response headers replace those of their names, the others stay", async () => {
  // The service sends back the response it was given, changing one header, leaving one out and
  // adding one.
  const service = remote((sent) => {
    const response = sent.response as { header: Record<string, string[]> };
    response.header["Content-Type"] = ["application/json"];
    delete response.header["X-Keep"];
    response.header["X-New"] = ["n"];
    return Response.json(sent);
  });
  try {
    const ctx = contextWith({ path: "/x" });
    ctx.response = new HttpResponse(200, [["content-type", "text/plain"], ["x-keep", "k"]], "ok");
    assert.equal(await filter(service.url).handle(ctx), "");
    const fields: string[] = [];
    ctx.response.headers.forEach((value, name) => fields.push(`${name}: ${value}`));
    assert.deepEqual(fields.sort(), [
      "content-length: 2",
      "content-type: application/json",
      "x-keep: k",
      "x-new: n",
    ]);
  } finally {
    closeFilters();
    await service.server.shutdown();
  }
});

Deno.test("RemoteFilter: 205 is responseAlready; errors, big bodies and the timeout are a 503 and failed", async () => {
  const service = remote(async (sent) => {
    const path = sent.request.path;
    if (path === "/slow") await new Promise((r) => setTimeout(r, 500));
    if (path === "/error") return new Response("no", { status: 500 });
    if (path === "/garbage") return new Response("{not json");
    if (path === "/badheader") {
      return Response.json({
        request: { ...sent.request, path: "/changed", header: { "Bad Name": ["x"] } },
      });
    }
    if (path === "/badmethod") {
      return Response.json({ request: { ...sent.request, method: "GET X", path: "/changed" } });
    }
    if (path === "/badstatus") {
      return Response.json({ request: sent.request, response: { statusCode: 700 } });
    }
    return Response.json({ request: sent.request, response: sent.response });
  });
  // A 205 with its JSON, as Easegress's remote services answer (fetch and Deno.serve drop such bodies).
  const reset = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of reset) {
      const buf = new Uint8Array(65536);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) break;
        head += new TextDecoder().decode(buf.subarray(0, n));
      }
      const json = JSON.stringify({
        request: { method: "GET", path: "/any", query: "", header: {} },
        response: { statusCode: 403, header: {}, body: btoa("blocked") },
      });
      await conn.write(new TextEncoder().encode(
        `HTTP/1.1 205 Reset Content\r\ncontent-length: ${json.length}\r\n\r\n${json}`,
      ));
      conn.close();
    }
  })().catch(() => {});
  try {
    const blocked = contextWith({ path: "/any" });
    const resetUrl = `http://127.0.0.1:${(reset.addr as Deno.NetAddr).port}/`;
    assert.equal(await filter(resetUrl).handle(blocked), "responseAlready");
    assert.equal(blocked.response!.status, 403);
    assert.equal(await blocked.response!.text(), "blocked");

    for (const path of ["/error", "/garbage", "/badstatus", "/badheader", "/badmethod"]) {
      const ctx = contextWith({ path });
      assert.equal(await filter(service.url).handle(ctx), "failed", path);
      assert.equal(ctx.response!.status, 503, path);
      assert.equal(ctx.request.path, path, "nothing of a failed reply is taken");
    }
    const slow = contextWith({ path: "/slow" });
    assert.equal(await filter(service.url, "100ms").handle(slow), "failed");
    assert.equal(slow.response!.status, 503);
    assert.deepEqual(slow.tags, [
      "remoteFilterErr: the remote service did not answer within 100ms",
    ]);

    const big = contextWith({ method: "POST", path: "/big", body: new Uint8Array(64 * 1024 + 1) });
    assert.equal(await filter(service.url).handle(big), "failed");
    const paths = service.seen.map((s) => (s as { request: { path: string } }).request.path);
    assert.ok(!paths.includes("/big"), "a body over 64 KiB is not sent");
  } finally {
    closeFilters();
    reset.close();
    await service.server.shutdown();
  }
});

Deno.test("RemoteFilter spec: the url must be http(s); the timeout a duration", () => {
  assert.throws(() => remoteFilterKind.validate({}), /url: is required/);
  assert.throws(
    () => remoteFilterKind.validate({ url: "ftp://x" }),
    /url: must be an http\(s\) URL/,
  );
  assert.throws(
    () => remoteFilterKind.validate({ url: "http://x", timeout: "soon" }),
    /timeout: must be a duration/,
  );
});

Deno.test("RemoteFilter's failure quoting a bad reply stays one access log line, without its raw bytes", async () => {
  // Ports of this test's own range, so parallel test files never share them.
  const [apiPort, port, servicePort] = [23901, 23902, 23903];
  const service = Deno.serve(
    { hostname: "127.0.0.1", port: servicePort, onListen() {} },
    async (req) => {
      await req.body?.cancel();
      return new Response("nope\nforged] [line\x00");
    },
  );
  const node = await startNodeProcess({ apiPort });
  try {
    const objects = `kind: Pipeline
name: remote
flow:
  - filter: rf
filters:
  - name: rf
    kind: RemoteFilter
    url: http://127.0.0.1:${servicePort}/filter
---
kind: HTTPServer
name: s
port: ${port}
rules:
  - paths:
    - backend: remote
`;
    assert.equal((await node.ctl(["object", "create"], objects)).code, 0);
    await eventually(
      "served",
      async () => (await request(`http://127.0.0.1:${port}/x`)).status === 503,
    );
    const logFile = `${node.homeDir}/log/filter_http_access.log`;
    await eventually("logged", async () => (await Deno.readTextFile(logFile)).includes("GET /x "));
    const lines = (await Deno.readTextFile(logFile)).split("\n").filter((l) => l);
    for (const line of lines) {
      assert.match(line, /^\[\S+\] \[\S+ \S+ GET \/x HTTP\/1\.1 503\] /, line);
      assert.ok(!line.includes("\x00"), line);
    }
    assert.match(lines[0], /remoteFilterErr: .*\\nforged\] \[line\\x00/);
  } finally {
    await node.stop();
    await service.shutdown();
  }
});

Deno.test("RemoteFilter sends its URL's user and password as basic auth, as Go's client does", async () => {
  const seen: (string | null)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 23904, onListen() {} }, async (req) => {
    seen.push(req.headers.get("authorization"));
    return Response.json(await req.json());
  });
  try {
    const withUser = filter("http://us%40er:p%3Ass@127.0.0.1:23904/filter");
    assert.equal(await withUser.handle(contextWith({ path: "/a" })), "");
    const plain = filter("http://127.0.0.1:23904/filter");
    assert.equal(await plain.handle(contextWith({ path: "/a" })), "");
    assert.deepEqual(seen, [`Basic ${btoa("us@er:p:ss")}`, null]);
  } finally {
    closeFilters();
    await server.shutdown();
  }
});

Deno.test("RemoteFilter refuses a URL whose user or password is badly escaped", () => {
  assert.throws(
    () => remoteFilterKind.validate({ url: "http://us%zzer:pw@127.0.0.1:23904/filter" }),
    /url: has a malformed %-escape in its user or password/,
  );
});

Deno.test("RemoteFilter asks for gzip and takes a gzipped reply, as Go's client does", async () => {
  const seen: (string | null)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push(req.headers.get("accept-encoding"));
    const reply = await req.json();
    reply.response.statusCode = 202;
    const packed = new Response(JSON.stringify(reply)).body!.pipeThrough(
      new CompressionStream("gzip"),
    );
    return new Response(packed, { headers: { "content-encoding": "gzip" } });
  });
  try {
    const ctx = contextWith({ path: "/a" });
    const gzipped = filter(`http://127.0.0.1:${server.addr.port}/filter`);
    assert.equal(await gzipped.handle(ctx), "");
    assert.equal(ctx.response?.status, 202);
    assert.deepEqual(seen, ["gzip"]);
  } finally {
    closeFilters();
    await server.shutdown();
  }
});
