/**
 * The Proxy filter against real backends on loopback: pools and their
 * filters, load-balancing policies, mirror pool, failure statuses and
 * results, hop-by-hop and forwarded headers, compression, streaming.
 */

import assert from "node:assert/strict";
import {
  Context,
  HttpRequest,
  HttpResponse,
  MalformedBodyError,
} from "../../../filters/context.ts";
import type { FilterInstance } from "../../../filters/filter.ts";
import { corsAdaptorKind } from "../../../filters/cors_adaptor.ts";
import { gunzip } from "../../../filters/gzip.ts";
import { MIRRORS_IN_FLIGHT_MAX, proxyKind } from "../../../filters/proxy/proxy.ts";
import { responseAdaptorKind } from "../../../filters/response_adaptor.ts";
import { silentLogger } from "../../../server/log.ts";
import { REFUSING_PORT } from "../../fixtures/refusing_port.ts";
import { RawServer } from "./http1_helpers.ts";

interface Backend {
  url: string;
  hits: number;
  seen: Request[];
  server: Deno.HttpServer<Deno.NetAddr>;
}

function backend(
  answer: (req: Request) => Response | Promise<Response> = () => new Response("ok"),
): Backend {
  const b = { hits: 0, seen: [] as Request[] } as unknown as Backend;
  b.server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    b.hits++;
    b.seen.push(req);
    return answer(req);
  });
  b.url = `http://127.0.0.1:${b.server.addr.port}`;
  return b;
}

function proxy(spec: Record<string, unknown>): FilterInstance {
  return proxyKind.create(proxyKind.validate(spec), {
    pipeline: "p",
    name: "proxy",
    log: silentLogger,
    resilience: () => undefined,
  });
}

async function send(
  filter: FilterInstance,
  init: ConstructorParameters<typeof HttpRequest>[0] = {},
  realIP = "203.0.113.7",
): Promise<{ result: string; response: HttpResponse; body: string }> {
  const ctx = new Context(new HttpRequest({ host: "gw.example", ...init }), { realIP });
  const result = await filter.handle(ctx);
  const response = ctx.response!;
  return { result, response, body: await response.text() };
}

async function stop(filter: FilterInstance, ...backends: Backend[]): Promise<void> {
  await filter.close?.();
  await Promise.all(backends.map((b) => b.server.shutdown()));
}

Deno.test("proxy answers 400 (clientError) to a streamed body the client framed wrongly mid-upload", async () => {
  const b = backend(async (req) => new Response(await req.text()));
  const filter = proxy({ pools: [{ servers: [{ url: b.url }] }] });
  let pulls = 0;
  // As the server's body stream fails on a bad chunk size line after the first chunk.
  const body = () =>
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ === 0) controller.enqueue(new TextEncoder().encode("hello"));
        else controller.error(new MalformedBodyError("Cannot read request body: bad chunk"));
      },
    });
  const r = await send(filter, { method: "POST", path: "/up", body });
  assert.equal(r.response.status, 400);
  assert.equal(r.result, "clientError");
  await stop(filter, b);
});

Deno.test("proxy balances round robin, and by ip hash and header hash consistently", async () => {
  const bs = [backend(), backend(), backend()];
  const rr = proxy({ pools: [{ servers: bs.map((b) => ({ url: b.url })) }] });
  for (let i = 0; i < 6; i++) await send(rr);
  assert.deepEqual(bs.map((b) => b.hits), [2, 2, 2]);
  // An empty policy is roundRobin, as Easegress's schema allows it.
  const unnamed = { servers: bs.map((b) => ({ url: b.url })), loadBalance: { policy: "" } };
  const rrUnnamed = proxy({ pools: [unnamed] });
  for (let i = 0; i < 3; i++) await send(rrUnnamed);
  assert.deepEqual(bs.map((b) => b.hits), [3, 3, 3]);
  await rrUnnamed.close?.();

  const byIp = proxy({
    pools: [{ servers: bs.map((b) => ({ url: b.url })), loadBalance: { policy: "ipHash" } }],
  });
  bs.forEach((b) => b.hits = 0);
  for (let i = 0; i < 5; i++) await send(byIp, {}, "198.51.100.1");
  assert.equal(bs.filter((b) => b.hits === 5).length, 1);

  const byHeader = proxy({
    pools: [{
      servers: bs.map((b) => ({ url: b.url })),
      loadBalance: { policy: "headerHash", headerHashKey: "X-User" },
    }],
  });
  bs.forEach((b) => b.hits = 0);
  for (let i = 0; i < 4; i++) await send(byHeader, { headers: { "x-user": "alice" } });
  assert.equal(bs.filter((b) => b.hits === 4).length, 1);

  const weighted = proxy({
    pools: [{
      servers: [{ url: bs[0].url, weight: 100 }, { url: bs[1].url, weight: 1 }],
      loadBalance: { policy: "weightedRandom" },
    }],
  });
  bs.forEach((b) => b.hits = 0);
  for (let i = 0; i < 40; i++) await send(weighted);
  assert.ok(bs[0].hits > bs[1].hits, `${bs[0].hits} vs ${bs[1].hits}`);
  await Promise.all([rr, byIp, byHeader].map((f) => f.close?.()));
  await stop(weighted, ...bs);
});

Deno.test("proxy picks a candidate pool by header or url, else the main pool (v1 spelling too)", async () => {
  const main = backend(() => new Response("main"));
  const canary = backend(() => new Response("canary"));
  const filter = proxy({
    mainPool: { servers: [{ url: main.url }] },
    candidatePools: [{
      servers: [{ url: canary.url }],
      filter: { headers: { "X-Canary": { exact: "yes" } }, urls: [{ url: { prefix: "/api" } }] },
    }],
  });
  assert.equal(
    (await send(filter, { path: "/api/x", headers: { "x-canary": "yes" } })).body,
    "canary",
  );
  assert.equal(
    (await send(filter, { path: "/other", headers: { "x-canary": "yes" } })).body,
    "main",
  );
  assert.equal((await send(filter, { path: "/api/x" })).body, "main");
  await stop(filter, main, canary);
});

Deno.test("proxy mirrors matching requests to the mirror pool", async () => {
  const main = backend(() => new Response("main"));
  const mirrored: string[] = [];
  const mirror = backend(async (req) => {
    const forwarded = ["for", "host", "proto"].map((f) => req.headers.get(`x-forwarded-${f}`));
    mirrored.push(`${await req.text()} ${forwarded.join(" ")}`);
    return new Response("mirror");
  });
  const filter = proxy({
    pools: [{ servers: [{ url: main.url }] }],
    mirrorPool: { servers: [{ url: mirror.url }], filter: { policy: "random", permil: 1000 } },
  });
  const ctx = new Context(
    new HttpRequest({ host: "gw.example", method: "POST", path: "/m", body: "payload" }),
    { remoteAddr: "203.0.113.7:50000" },
  );
  assert.equal(await filter.handle(ctx), "");
  assert.equal(await ctx.response!.text(), "main");
  for (let i = 0; i < 50 && mirrored.length === 0; i++) {
    await new Promise((res) => setTimeout(res, 20));
  }
  // The copy carries the X-Forwarded-* headers the real request gets.
  assert.deepEqual(mirrored, ["payload 203.0.113.7 gw.example http"]);
  await stop(filter, main, mirror);
});

Deno.test("proxy stops mirroring while MIRRORS_IN_FLIGHT_MAX copies wait on the mirror", async () => {
  const main = backend(() => new Response("main"));
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  // A mirror server that reads each request and answers only once released.
  const mirror = new RawServer(async (reader) => {
    if ((await reader.head()) === null) return;
    await released;
    await reader.write("HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
  });
  const filter = proxy({
    pools: [{ servers: [{ url: main.url }] }],
    mirrorPool: {
      servers: [{ url: `http://127.0.0.1:${mirror.port}` }],
      filter: { policy: "random", permil: 1000 },
    },
  });
  const burst = async (n: number) => {
    for (let i = 0; i < n; i += 100) {
      const sends = Array.from({ length: Math.min(100, n - i) }, () => send(filter));
      for (const r of await Promise.all(sends)) assert.equal(r.body, "main");
    }
  };
  const settle = async (accepted: number) => {
    for (let i = 0; i < 100 && mirror.accepted < accepted; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 50));
  };
  await burst(MIRRORS_IN_FLIGHT_MAX + 20);
  await settle(MIRRORS_IN_FLIGHT_MAX);
  // The real requests were all answered; the mirror got no more copies than the bound.
  assert.equal(mirror.accepted, MIRRORS_IN_FLIGHT_MAX);
  // Once the mirror answers, copies go again.
  release();
  const answered = () =>
    (filter.status!() as { mirrorPool: { stat: { count: number } } }).mirrorPool.stat.count;
  for (let i = 0; i < 250 && answered() < MIRRORS_IN_FLIGHT_MAX; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  await burst(1);
  await settle(MIRRORS_IN_FLIGHT_MAX + 1);
  assert.equal(mirror.accepted, MIRRORS_IN_FLIGHT_MAX + 1);
  await mirror.close();
  await stop(filter, main);
});

Deno.test("proxy sends path, query, method and body; drops hop-by-hop; adds X-Forwarded-*", async () => {
  const b = backend(async (req) =>
    Response.json({
      url: req.url.slice(req.url.indexOf("/", 8)),
      method: req.method,
      body: await req.text(),
      host: req.headers.get("host"),
      xff: req.headers.get("x-forwarded-for"),
      proto: req.headers.get("x-forwarded-proto"),
      fwdHost: req.headers.get("x-forwarded-host"),
      hop: req.headers.get("x-hop"),
      kept: req.headers.get("x-kept"),
    }, { headers: { "keep-alive": "timeout=5", "x-answer": "1" } })
  );
  const filter = proxy({
    pools: [{ servers: [{ url: b.url.replace("127.0.0.1", "localhost") }] }],
  });
  const seenFor = async (init: ConstructorParameters<typeof HttpRequest>[0], remoteAddr = "") => {
    const ctx = new Context(new HttpRequest({ host: "gw.example", ...init }), {
      realIP: "6.6.6.6",
      remoteAddr,
    });
    assert.equal(await filter.handle(ctx), "");
    return { seen: JSON.parse(await ctx.response!.text()), response: ctx.response! };
  };
  const { seen, response } = await seenFor({
    method: "PUT",
    path: "/a/b",
    query: "x=1&y=2",
    body: "data",
    headers: {
      connection: "x-hop",
      "x-hop": "gone",
      "x-kept": "here",
      "content-type": "text/plain",
    },
  }, "203.0.113.7:50000");
  assert.deepEqual(seen, {
    url: "/a/b?x=1&y=2",
    method: "PUT",
    body: "data",
    host: `localhost:${b.server.addr.port}`,
    // The TCP peer, never realIP (which a client's X-Real-IP sets).
    xff: "203.0.113.7",
    proto: "http",
    fwdHost: "gw.example",
    hop: null,
    kept: "here",
  });
  assert.equal(response.header("keep-alive"), null);
  assert.equal(response.header("x-answer"), "1");
  const v6 = await seenFor({ headers: { "x-real-ip": "6.6.6.6" } }, "[2001:db8::1]:443");
  assert.equal(v6.seen.xff, "2001:db8::1");
  // No peer known: no X-Forwarded-For rather than a client-given address.
  assert.equal((await seenFor({ headers: { "x-real-ip": "6.6.6.6" } })).seen.xff, null);
  // A request's own X-Forwarded-* go on as they came, as in Easegress.
  const relayed = await seenFor({
    headers: {
      "x-forwarded-for": "192.0.2.1",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "front.example",
    },
  }, "203.0.113.7:50000");
  assert.deepEqual(
    [relayed.seen.xff, relayed.seen.proto, relayed.seen.fwdHost],
    ["192.0.2.1", "https", "front.example"],
  );
  // Listed in Connection, they go on all the same: a client cannot hide its address that way.
  const listed = await seenFor({
    headers: {
      connection: "X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host",
      "x-forwarded-for": "192.0.2.1, 203.0.113.7",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "front.example",
    },
  }, "203.0.113.7:50000");
  assert.deepEqual(
    [listed.seen.xff, listed.seen.proto, listed.seen.fwdHost],
    ["192.0.2.1, 203.0.113.7", "https", "front.example"],
  );
  // A Host a filter rewrote (a RequestAdaptor's `host`): X-Forwarded-Host is still the client's.
  const rewritten = new Context(new HttpRequest({ host: "gw.example" }), { remoteAddr: "" });
  rewritten.request.host = "internal.example";
  assert.equal(await filter.handle(rewritten), "");
  assert.equal(JSON.parse(await rewritten.response!.text()).fwdHost, "gw.example");
  await stop(filter, b);
});

Deno.test("proxy percent-encodes a space or non-ASCII a filter put into the path", async () => {
  const b = backend((req) => new Response(req.url.slice(req.url.indexOf("/", 8))));
  const filter = proxy({ pools: [{ servers: [{ url: b.url }] }] });
  const r = await send(filter, { path: "/a b/café", query: "q=x y" });
  assert.equal(r.response.status, 200);
  assert.equal(r.body, "/a%20b/caf%C3%A9?q=x%20y");
  await stop(filter, b);
});

Deno.test("a server url's path goes before the request's, as Easegress's url + path", async () => {
  const b = backend((req) => new Response(req.url.slice(req.url.indexOf("/", 8))));
  for (
    const [base, expected] of [
      ["/api", "/api/v1/users?id=7"],
      ["/api/", "/api/v1/users?id=7"],
      // Spelled as request paths are: WHATWG's pathname left "|" raw and %7e as written.
      ["/x{y}|\u00e9/%7e", "/x%7By%7D%7C%C3%A9/~/v1/users?id=7"],
    ]
  ) {
    const filter = proxy({ pools: [{ servers: [{ url: b.url + base }] }] });
    const r = await send(filter, { path: "/v1/users", query: "id=7" });
    assert.equal(r.body, expected);
    await filter.close?.();
  }
  assert.throws(
    () => proxy({ pools: [{ servers: [{ url: b.url + "/api?x=1" }] }] }),
    /url: must be/,
  );
  await stop(proxy({ pools: [{ servers: [{ url: b.url }] }] }), b);
});

Deno.test("an unreachable server is logged as a warning, once per interval with a count", async () => {
  const lines: string[] = [];
  const log = { ...silentLogger, warn: (m: string) => lines.push(m) };
  const filter = proxyKind.create(
    proxyKind.validate({ pools: [{ servers: [{ url: `http://127.0.0.1:${REFUSING_PORT}` }] }] }),
    { pipeline: "p", name: "proxy", log, resilience: () => undefined },
  );
  for (let i = 0; i < 3; i++) assert.equal((await send(filter)).response.status, 503);
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    new RegExp(`upstream connect error: Cannot connect to http://127\\.0\\.0\\.1:${REFUSING_PORT}`),
  );
  await filter.close?.();
});

Deno.test("proxy maps failures to statuses and results", async () => {
  const slow = backend(async () => {
    await new Promise((r) => setTimeout(r, 300));
    return new Response("late");
  });
  const failing = backend(() => new Response("nope", { status: 503 }));
  const timeout = proxy({ pools: [{ servers: [{ url: slow.url }], timeout: "50ms" }] });
  const t = await send(timeout);
  assert.deepEqual([t.result, t.response.status], ["timeout", 408]);

  const codes = proxy({ pools: [{ servers: [{ url: failing.url }], failureCodes: [503] }] });
  const f = await send(codes);
  assert.deepEqual([f.result, f.response.status, f.body], ["failureCode", 503, "nope"]);

  const deadPort = REFUSING_PORT;
  const refused = proxy({ pools: [{ servers: [{ url: `http://127.0.0.1:${deadPort}` }] }] });
  const n = await send(refused);
  assert.deepEqual([n.result, n.response.status], ["serverError", 503]);

  // A response an earlier filter made (a CORSAdaptor's, say) gets the failure
  // status, keeping its headers, as in Easegress: the client must not see its 200.
  const earlier = new Context(new HttpRequest({ host: "gw.example" }));
  earlier.response = new HttpResponse(200, { "access-control-allow-origin": "*" });
  assert.equal(await refused.handle(earlier), "serverError");
  assert.equal(earlier.response.status, 503);
  assert.equal(earlier.response.header("access-control-allow-origin"), "*");
  // Retried too: the attempts in between do not drop it.
  const retried = proxyWithPolicies({
    pools: [{ servers: [{ url: `http://127.0.0.1:${deadPort}` }], retryPolicy: "r" }],
  }, { r: { kind: "Retry", maxAttempts: 3, waitDuration: "1ms" } });
  const again = new Context(new HttpRequest({ host: "gw.example" }));
  again.response = new HttpResponse(200, { "access-control-allow-origin": "*" });
  assert.equal(await retried.handle(again), "serverError");
  assert.equal(again.response.status, 503);
  assert.equal(again.response.header("access-control-allow-origin"), "*");
  await retried.close?.();
  await Promise.all([timeout, codes].map((x) => x.close?.()));
  await stop(refused, slow, failing);
});

Deno.test("an answer keeps the fields of a response an earlier filter made (a CORSAdaptor's)", async () => {
  const plain = backend(() =>
    new Response("data", { headers: { "content-type": "text/plain", vary: "Accept-Encoding" } })
  );
  const ownCors = backend(() =>
    new Response("data", { headers: { "access-control-allow-origin": "https://own.test" } })
  );
  const cors = corsAdaptorKind.create(
    corsAdaptorKind.validate({ supportCORSRequest: true, allowCredentials: true }),
    { pipeline: "p", name: "cors", log: silentLogger, resilience: () => undefined },
  );
  const viaCors = async (filter: FilterInstance) => {
    const ctx = new Context(
      new HttpRequest({ host: "gw.example", headers: { origin: "https://app.test" } }),
    );
    assert.equal(await cors.handle(ctx), "");
    assert.equal(await filter.handle(ctx), "");
    return ctx.response!;
  };

  const p = proxy({ pools: [{ servers: [{ url: plain.url }] }] });
  const answer = await viaCors(p);
  assert.equal(await answer.text(), "data");
  assert.equal(answer.header("access-control-allow-origin"), "*");
  assert.equal(answer.header("access-control-allow-credentials"), "true");
  assert.equal(answer.header("vary"), "Accept-Encoding, Origin");
  // The earlier response's empty body is not described: the upstream's is.
  assert.equal(answer.header("content-type"), "text/plain");
  assert.equal(answer.header("content-length"), "4");

  // The upstream's own CORS field stands alone: two would fail the browser's check.
  const own = proxy({ pools: [{ servers: [{ url: ownCors.url }] }] });
  const ownAnswer = await viaCors(own);
  await ownAnswer.text();
  assert.equal(ownAnswer.header("access-control-allow-origin"), "https://own.test");
  assert.equal(ownAnswer.header("access-control-allow-credentials"), "true");

  // An earlier upstream's answer (a first Proxy's failure code) adds only what the new one lacks.
  const failed = new Context(new HttpRequest({ host: "gw.example" }));
  failed.response = new HttpResponse(503, {
    date: "Mon, 01 Jan 2024 00:00:00 GMT",
    "cache-control": "no-store",
    "set-cookie": "a=1",
    "x-trace": "t1",
  }, "down");
  assert.equal(await p.handle(failed), "");
  const replaced = failed.response!;
  assert.equal(await replaced.text(), "data");
  assert.equal(replaced.status, 200);
  // One Date, the upstream's.
  assert.match(replaced.header("date")!, /^\w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT$/);
  assert.equal(replaced.header("date")!.includes("2024"), false);
  assert.equal(replaced.header("cache-control"), "no-store");
  assert.deepEqual(replaced.rawHeaders.getSetCookie(), ["a=1"]);
  assert.equal(replaced.header("x-trace"), "t1");

  // Without an earlier response, the answer is the upstream's as it came.
  const alone = await send(p);
  assert.equal(alone.response.header("access-control-allow-origin"), null);
  await stop(own, ownCors);
  await stop(p, plain);
});

Deno.test("a pool's timeout covers a response body still streaming, and not one that finished", async () => {
  const encoder = new TextEncoder();
  const b = backend((req) =>
    new Response(
      new ReadableStream({
        async start(controller) {
          controller.enqueue(encoder.encode("first "));
          if (new URL(req.url).pathname === "/slow") {
            await new Promise((r) => setTimeout(r, 600));
          }
          controller.enqueue(encoder.encode("last"));
          controller.close();
        },
      }),
    )
  );
  const filter = proxy({ pools: [{ servers: [{ url: b.url }], timeout: "200ms" }] });
  const slow = new Context(new HttpRequest({ host: "gw.example", path: "/slow" }));
  assert.equal(await filter.handle(slow), "");
  await assert.rejects(slow.response!.text());
  // Finished well within its timeout: nothing cuts it later.
  const quick = await send(filter, { path: "/quick" });
  assert.deepEqual([quick.result, quick.body], ["", "first last"]);
  await new Promise((r) => setTimeout(r, 300));
  await stop(filter, b);
});

Deno.test("a pool's timeout starts once a slow client's body is read, as in Easegress", async () => {
  const b = backend(async (req) => new Response(await req.text()));
  const breaker = {
    kind: "CircuitBreaker",
    slidingWindowSize: 1,
    minimumNumberOfCalls: 1,
    failureRateThreshold: 1,
  };
  const plain = proxy({ pools: [{ servers: [{ url: b.url }], timeout: "200ms" }] });
  const guarded = proxyWithPolicies({
    pools: [{ servers: [{ url: b.url }], timeout: "200ms", circuitBreakerPolicy: "cb" }],
  }, { cb: breaker });
  const encoder = new TextEncoder();
  // A client uploading its 3 declared bytes over 450 ms: longer than the timeout.
  const slowUpload = (replayLimit: number) => {
    const request = new HttpRequest({
      method: "POST",
      host: "gw.example",
      headers: { "content-length": "3" },
      body: new ReadableStream<Uint8Array>({
        async start(controller) {
          for (const part of ["a", "b", "c"]) {
            await new Promise((r) => setTimeout(r, 150));
            controller.enqueue(encoder.encode(part));
          }
          controller.close();
        },
      }),
    });
    request.replayLimit = replayLimit;
    return new Context(request, { realIP: "203.0.113.7" });
  };
  for (const filter of [plain, guarded]) {
    const ctx = slowUpload(4 * 1024 * 1024);
    assert.equal(await filter.handle(ctx), "");
    assert.deepEqual([ctx.response!.status, await ctx.response!.text()], [200, "abc"]);
  }
  // A body that must stream (clientMaxBodySize -1) goes as it comes, within the timeout.
  const streamed = slowUpload(-1);
  assert.equal(await plain.handle(streamed), "timeout");
  assert.equal(streamed.response!.status, 408);
  await stop(guarded);
  await stop(plain, b);
});

Deno.test("a pool's timeout reads an answer of known length whole: a slow reader is not cut", async () => {
  const encoder = new TextEncoder();
  const big = "b".repeat(1024 * 1024);
  const b = backend((req) => {
    const slow = new URL(req.url).pathname === "/slow";
    return new Response(
      new ReadableStream({
        async start(controller) {
          controller.enqueue(encoder.encode(big.slice(0, 1000)));
          if (slow) await new Promise((r) => setTimeout(r, 400));
          controller.enqueue(encoder.encode(big.slice(1000)));
          controller.close();
        },
      }),
      { headers: { "content-length": String(big.length) } },
    );
  });
  const filter = proxy({ pools: [{ servers: [{ url: b.url }], timeout: "200ms" }] });
  // The client reads the answer after the timeout has passed: it is whole all the same.
  const late = new Context(new HttpRequest({ host: "gw.example", path: "/fast" }));
  assert.equal(await filter.handle(late), "");
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await late.response!.text()).length, big.length);
  // A server slower than the timeout with its body: 408, not an answer cut short.
  const slow = await send(filter, { path: "/slow" });
  assert.deepEqual([slow.result, slow.response.status], ["timeout", 408]);
  await new Promise((r) => setTimeout(r, 300));
  await stop(filter, b);
});

Deno.test("serverMaxBodySize: a body over it fails with 500 when known, else is cut", async () => {
  const encoder = new TextEncoder();
  // Sizes by path; Deno.serve sends a stream chunked, and bytes with a Content-Length.
  const b = backend((req) => {
    const [kind, size] = new URL(req.url).pathname.slice(1).split("/");
    const bytes = encoder.encode("x".repeat(Number(size)));
    if (kind === "fixed") return new Response(bytes);
    return new Response(
      new ReadableStream({
        async start(controller) {
          for (let i = 0; i < bytes.length; i += 100) {
            controller.enqueue(bytes.subarray(i, i + 100));
            if (kind === "slow") await new Promise((r) => setTimeout(r, 5));
          }
          controller.close();
        },
      }),
    );
  });
  const filter = proxy({ pools: [{ servers: [{ url: b.url }] }], serverMaxBodySize: 500 });
  for (const path of ["/fixed/500", "/chunked/500", "/slow/500"]) {
    const within = await send(filter, { path });
    assert.deepEqual([within.result, within.response.status, within.body.length], ["", 200, 500]);
  }
  for (const path of ["/fixed/501", "/chunked/501"]) {
    const over = await send(filter, { path });
    assert.deepEqual([over.result, over.response.status], ["internalError", 500], path);
  }
  // Streamed past the limit after its head went on: the body errors, never ends short.
  const streamed = new Context(new HttpRequest({ host: "gw.example", path: "/slow/2000" }));
  assert.equal(await filter.handle(streamed), "");
  await assert.rejects(streamed.response!.text(), /serverMaxBodySize 500 bytes/);
  // -1 lifts the limit.
  const unlimited = proxy({ pools: [{ servers: [{ url: b.url }] }], serverMaxBodySize: -1 });
  assert.equal((await send(unlimited, { path: "/slow/2000" })).body.length, 2000);
  await unlimited.close?.();
  await stop(filter, b);
});

Deno.test("serverMaxBodySize -1: a template sees Easegress's note for the streamed answer, not its bytes read whole", async () => {
  // 1 MiB in chunks, without a Content-Length: the answer streams.
  const chunk = new Uint8Array(64 * 1024).fill(120);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 28501, onListen() {} }, () => {
    let left = 16;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (left-- > 0) c.enqueue(chunk);
        else c.close();
      },
    });
    return new Response(body);
  });
  const env = { pipeline: "p", name: "adaptor", log: silentLogger, resilience: () => undefined };
  const adaptor = responseAdaptorKind.create(
    responseAdaptorKind.validate({
      template: "header:\n  set:\n    X-Body: '{{ len .responses.DEFAULT.Body }}'\n",
    }),
    env,
  );
  const url = "http://127.0.0.1:28501";
  const streaming = proxy({ pools: [{ servers: [{ url }] }], serverMaxBodySize: -1 });
  const ctx = new Context(new HttpRequest({ host: "gw.example" }));
  assert.equal(await streaming.handle(ctx), "");
  assert.equal(await adaptor.handle(ctx), "");
  const note = 'the body of response "DEFAULT" is a stream';
  assert.equal(ctx.response!.header("x-body"), String(note.length));
  assert.ok(ctx.response!.isStream, "the answer was read whole for the template");
  assert.equal((await ctx.response!.bytes()).byteLength, 16 * chunk.byteLength);
  // Within a limit, the answer is read for the template, as Easegress reads it.
  const limited = proxy({ pools: [{ servers: [{ url }] }], serverMaxBodySize: 2 * 1024 * 1024 });
  const read = new Context(new HttpRequest({ host: "gw.example" }));
  assert.equal(await limited.handle(read), "");
  assert.equal(await adaptor.handle(read), "");
  assert.equal(read.response!.header("x-body"), String(16 * chunk.byteLength));
  await streaming.close?.();
  await limited.close?.();
  await server.shutdown();
});

Deno.test("a streamed answer a later filter replaces is dropped: the upstream's connection closes", async () => {
  // An endless answer: only the proxy closing its connection ends it.
  let cancelled: () => void;
  const closed = new Promise<void>((resolve) => cancelled = resolve);
  const chunk = new Uint8Array(64 * 1024);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 28502, onListen() {} },
    () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            c.enqueue(chunk);
          },
          cancel() {
            cancelled();
          },
        }),
      ),
  );
  const env = { pipeline: "p", name: "adaptor", log: silentLogger, resilience: () => undefined };
  const adaptor = responseAdaptorKind.create(
    responseAdaptorKind.validate({ body: "replaced" }),
    env,
  );
  const filter = proxy({
    pools: [{ servers: [{ url: "http://127.0.0.1:28502" }] }],
    serverMaxBodySize: -1,
  });
  const ctx = new Context(new HttpRequest({ host: "gw.example" }));
  assert.equal(await filter.handle(ctx), "");
  assert.equal(await adaptor.handle(ctx), "");
  assert.equal(await ctx.response!.text(), "replaced");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const gaveUp = new Promise<string>((r) => timer = setTimeout(() => r("still open"), 2000));
  assert.equal(await Promise.race([closed.then(() => "closed"), gaveUp]), "closed");
  clearTimeout(timer);
  await filter.close?.();
  await server.shutdown();
});

Deno.test("proxy compresses responses for clients that accept gzip and streams large bodies", async () => {
  const big = "x".repeat(2 * 1024 * 1024);
  const b = backend(() => new Response(big, { headers: { "content-type": "text/plain" } }));
  const filter = proxy({
    pools: [{ servers: [{ url: b.url }] }],
    compression: { minLength: 1024 },
  });
  const ctx = new Context(new HttpRequest({ headers: { "accept-encoding": "gzip" } }));
  assert.equal(await filter.handle(ctx), "");
  const response = ctx.response!;
  assert.equal(response.header("content-encoding"), "gzip");
  const gz = await response.bytes();
  const plain = new TextDecoder().decode(await gunzip(gz));
  assert.equal(plain.length, big.length);
  const identity = await send(filter, { headers: { "accept-encoding": "identity" } });
  assert.equal(identity.response.header("content-encoding"), null);
  assert.equal(identity.body.length, big.length);
  await stop(filter, b);
});

Deno.test("proxy compresses small bodies that came with the head, keeping a Content-Length", async () => {
  const b = backend((req) =>
    new Response("y".repeat(Number(new URL(req.url).searchParams.get("n"))))
  );
  const filter = proxy({
    pools: [{ servers: [{ url: b.url }] }],
    compression: { minLength: 100 },
  });
  const headers = { "accept-encoding": "gzip, br" };
  const ctx = new Context(new HttpRequest({ query: "n=5000", headers }));
  assert.equal(await filter.handle(ctx), "");
  const response = ctx.response!;
  assert.equal(response.header("content-encoding"), "gzip");
  assert.equal(response.header("vary"), "Accept-Encoding");
  const bytes = await response.bytes();
  assert.equal(response.header("content-length"), String(bytes.length));
  assert.equal(new TextDecoder().decode(await gunzip(bytes)), "y".repeat(5000));
  // Under minLength: as it came.
  const tiny = await send(filter, { query: "n=99", headers });
  assert.equal(tiny.response.header("content-encoding"), null);
  assert.equal(tiny.body, "y".repeat(99));
  await stop(filter, b);
});

Deno.test("proxy compresses as Accept-Encoding asks: weights, any case, *, and says Vary", async () => {
  const b = backend((req) =>
    new Response("z".repeat(500), {
      headers: req.url.endsWith("/varied") ? { vary: "Origin" } : {},
    })
  );
  const filter = proxy({
    pools: [{ servers: [{ url: b.url }] }],
    compression: { minLength: 100 },
  });
  const cases: [string | undefined, boolean][] = [
    [undefined, true],
    ["gzip", true],
    ["GZIP", true],
    ["Gzip;Q=0.5", true],
    ["br, x-gzip", true],
    ["br;q=1, *;q=0.1", true],
    ["*/*", true],
    ["gzip;q=0", false],
    ["gzip; q=0.000, *", false],
    ["*;q=0", false],
    ["br, deflate", false],
    ["identity", false],
    ["", false],
    ["gzipx, xgzip", false],
  ];
  for (const [accept, compressed] of cases) {
    const r = await send(
      filter,
      accept === undefined ? {} : { headers: { "accept-encoding": accept } },
    );
    const named = accept ?? "(no Accept-Encoding)";
    assert.equal(r.response.header("content-encoding"), compressed ? "gzip" : null, named);
    // Compressed or not, the answer depends on Accept-Encoding.
    assert.equal(r.response.header("vary"), "Accept-Encoding", named);
  }
  // The upstream's own Vary is kept, Accept-Encoding added to it once.
  const varied = await send(filter, { path: "/varied", headers: { "accept-encoding": "gzip" } });
  assert.equal(varied.response.header("vary"), "Origin, Accept-Encoding");
  await stop(filter, b);
});

Deno.test("proxy gives an answer to HEAD the compression fields the GET's gets", async () => {
  const b = backend((req) =>
    new Response(
      req.method === "HEAD" ? null : "h".repeat(Number(new URL(req.url).pathname.slice(1))),
      {
        headers: { "content-length": new URL(req.url).pathname.slice(1), etag: '"h1"' },
      },
    )
  );
  const filter = proxy({
    pools: [{ servers: [{ url: b.url }] }],
    compression: { minLength: 100 },
  });
  const fields = async (method: string, path: string, accept = "gzip") => {
    const r = await send(filter, { method, path, headers: { "accept-encoding": accept } });
    return ["content-encoding", "vary", "etag", "content-length"].map((n) => r.response.header(n));
  };
  assert.deepEqual(await fields("HEAD", "/500"), ["gzip", "Accept-Encoding", 'W/"h1"', null]);
  assert.deepEqual((await fields("GET", "/500")).slice(0, 3), [
    "gzip",
    "Accept-Encoding",
    'W/"h1"',
  ]);
  assert.deepEqual(await fields("HEAD", "/500", "identity"), [
    null,
    "Accept-Encoding",
    '"h1"',
    "500",
  ]);
  assert.deepEqual(await fields("HEAD", "/50"), [null, null, '"h1"', "50"]);
  await stop(filter, b);
});

Deno.test("proxy does not compress a part (206) or an answer marked no-transform", async () => {
  const b = backend((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/part") {
      return new Response("p".repeat(500), {
        status: 206,
        headers: { "content-range": "bytes 0-499/1000" },
      });
    }
    const control = path === "/kept" ? "public, no-transform" : "max-age=60";
    return new Response("q".repeat(500), { headers: { "cache-control": control } });
  });
  const filter = proxy({
    pools: [{ servers: [{ url: b.url }] }],
    compression: { minLength: 100 },
  });
  const headers = { "accept-encoding": "gzip" };
  for (const path of ["/part", "/kept"]) {
    const r = await send(filter, { path, headers });
    assert.equal(r.response.header("content-encoding"), null, path);
    assert.equal(r.body.length, 500, path);
  }
  const other = await send(filter, { path: "/other", headers });
  assert.equal(other.response.header("content-encoding"), "gzip");
  await stop(filter, b);
});

Deno.test("proxy makes a compressed answer's strong ETag weak, and leaves a plain one's", async () => {
  const b = backend((req) =>
    new Response("e".repeat(500), {
      headers: { etag: new URL(req.url).pathname === "/weak" ? 'W/"w1"' : '"s1"' },
    })
  );
  const filter = proxy({
    pools: [{ servers: [{ url: b.url }] }],
    compression: { minLength: 100 },
  });
  const gzipped = { "accept-encoding": "gzip" };
  const etagOf = async (path: string, headers: Record<string, string>) =>
    (await send(filter, { path, headers })).response.header("etag");
  assert.equal(await etagOf("/strong", gzipped), 'W/"s1"');
  assert.equal(await etagOf("/weak", gzipped), 'W/"w1"');
  assert.equal(await etagOf("/strong", { "accept-encoding": "identity" }), '"s1"');
  await stop(filter, b);
});

/** Answers every request on a connection with `answer`, the request head given. */
function rawBackend(answer: (head: string) => string | Uint8Array): RawServer {
  return new RawServer(async (reader) => {
    for (;;) {
      const head = await reader.head();
      if (head === null) return;
      await reader.write(answer(head));
    }
  });
}

Deno.test("serverMaxBodySize does not apply to answers without a body: HEAD, 204, 304", async () => {
  const server = rawBackend((head) => {
    const [method, path] = head.split(" ");
    const status = path === "/304" ? "304 Not Modified" : "200 OK";
    const length = path === "/huge" ? 2097152000 : 5000;
    const body = method === "GET" && path === "/5000" ? "b".repeat(length) : "";
    return `HTTP/1.1 ${status}\r\nContent-Length: ${length}\r\n\r\n${body}`;
  });
  const url = `http://127.0.0.1:${server.port}`;
  const byDefault = proxy({ pools: [{ servers: [{ url }] }] });
  const small = proxy({ pools: [{ servers: [{ url }] }], serverMaxBodySize: 1000 });
  try {
    const huge = await send(byDefault, { method: "HEAD", path: "/huge" });
    assert.deepEqual([huge.result, huge.response.status], ["", 200]);
    assert.equal(huge.response.header("content-length"), "2097152000");
    const head = await send(small, { method: "HEAD", path: "/5000" });
    assert.deepEqual([head.result, head.response.status], ["", 200]);
    assert.equal(head.response.header("content-length"), "5000");
    const notModified = await send(small, { path: "/304" });
    assert.deepEqual([notModified.result, notModified.response.status], ["", 304]);
    assert.equal(notModified.response.header("content-length"), "5000");
    // A GET of the same answer has a body over the limit.
    const get = await send(small, { path: "/5000" });
    assert.deepEqual([get.result, get.response.status], ["internalError", 500]);
  } finally {
    await byDefault.close?.();
    await small.close?.();
    await server.close();
  }
});

Deno.test("serverMaxBodySize: a body of unknown length over it with the head fails with 500", async () => {
  // The head and 2000 body bytes in one write, the rest (its last chunk) never sent.
  const server = new RawServer(async (reader) => {
    if (await reader.head() === null) return;
    await reader.write(
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n${"x".repeat(2000)}\r\n`,
    );
    await reader.drain();
  });
  const filter = proxy({
    pools: [{ servers: [{ url: `http://127.0.0.1:${server.port}` }] }],
    serverMaxBodySize: 1000,
  });
  try {
    const r = await send(filter);
    assert.deepEqual([r.result, r.response.status], ["internalError", 500]);
  } finally {
    await filter.close?.();
    await server.close();
  }
});

Deno.test("a small body cut short after its head fails with 500 internalError, as Easegress", async () => {
  // Read whole before answering, as Easegress reads every body up to serverMaxBodySize.
  const server = new RawServer(async (reader) => {
    if (await reader.head() === null) return;
    await reader.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part");
  });
  const filter = proxy({ pools: [{ servers: [{ url: `http://127.0.0.1:${server.port}` }] }] });
  try {
    const r = await send(filter);
    assert.deepEqual([r.result, r.response.status, r.body], ["internalError", 500, ""]);
  } finally {
    await filter.close?.();
    await server.close();
  }
});

Deno.test("proxy answers 503 to a transfer coding other than chunked, as Easegress", async () => {
  const server = rawBackend(() =>
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: gzip\r\n\r\nnot plain"
  );
  const filter = proxy({ pools: [{ servers: [{ url: `http://127.0.0.1:${server.port}` }] }] });
  try {
    for (let i = 0; i < 2; i++) {
      const r = await send(filter);
      assert.deepEqual([r.result, r.response.status], ["serverError", 503]);
    }
    assert.equal(server.accepted, 2, "the connection is not reused");
  } finally {
    await filter.close?.();
    await server.close();
  }
});

Deno.test("proxy spec errors name the field", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ pools: [] }, /pools: is required/],
    [
      { pools: [{ servers: [{ url: "ftp://x" }] }] },
      /pools\[0\]\.servers\[0\]\.url: must be an http\(s\) URL/,
    ],
    [
      { pools: [{ servers: [{ url: "http://a" }] }, { servers: [{ url: "http://b" }] }] },
      /exactly one pool without a filter/,
    ],
    [
      { pools: [{ servers: [{ url: "http://a" }], loadBalance: { policy: "fastest" } }] },
      /loadBalance\.policy: must be one of roundRobin, random, weightedRandom, ipHash, headerHash, got "fastest"/,
    ],
    [
      { pools: [{ servers: [{ url: "http://a" }], timeout: "soon" }] },
      /pools\[0\]\.timeout: must be a duration/,
    ],
    [
      { pools: [{ servers: [{ url: "http://a" }], timeout: "-1s" }] },
      /pools\[0\]\.timeout: must not be negative, got "-1s"/,
    ],
    [{
      pools: [{ servers: [{ url: "http://a" }] }],
      mirrorPool: { servers: [{ url: "http://m" }] },
    }, /mirrorPool\.filter: is required/],
    [
      { pools: [{ servers: [{ url: "http://a" }], memoryCache: { expiration: "10s" } }] },
      /memoryCache\.maxEntryBytes: is required.*memoryCache\.codes: is required.*memoryCache\.methods: is required/s,
    ],
    [
      {
        pools: [{
          servers: [{ url: "http://a" }],
          memoryCache: { expiration: "0s", maxEntryBytes: 0, codes: [99], methods: ["FETCH"] },
        }],
      },
      /maxEntryBytes: must be at least 1.*codes\[0\]: must be at least 100.*expiration: must be longer than 0.*methods\[0\]: "FETCH" is not an HTTP method/s,
    ],
    [{
      pools: [{ servers: [{ url: "http://a" }] }],
      mirrorPool: {
        servers: [{ url: "http://m" }],
        filter: { policy: "random", permil: 10 },
        memoryCache: { expiration: "1s", maxEntryBytes: 1, codes: [200], methods: ["GET"] },
      },
    }, /mirrorPool\.memoryCache: is not allowed on the mirror pool/],
  ];
  for (const [spec, message] of cases) {
    assert.throws(() => proxyKind.validate(spec), message);
  }
});

function proxyWithPolicies(
  spec: Record<string, unknown>,
  policies: Record<string, { kind: string; [field: string]: unknown }>,
): FilterInstance {
  return proxyKind.create(proxyKind.validate(spec), {
    pipeline: "p",
    name: "proxy",
    log: silentLogger,
    resilience: (name) => policies[name] ? { name, ...policies[name] } : undefined,
  });
}

/**
 * A backend that answers 503 until its third call (its count in `state.calls`,
 * which a test may set back), and a Proxy that retries 503s up to three times.
 */
function flakyRetried() {
  const state = { calls: 0 };
  const flaky = backend(() =>
    ++state.calls < 3 ? new Response("busy", { status: 503 }) : new Response("ok")
  );
  const filter = proxyWithPolicies({
    pools: [{ servers: [{ url: flaky.url }], failureCodes: [503], retryPolicy: "retry3" }],
  }, { retry3: { kind: "Retry", maxAttempts: 3, waitDuration: "1ms" } });
  return { state, flaky, filter };
}

Deno.test("proxy retries failed attempts; the backend sees each one", async () => {
  const { state, flaky, filter } = flakyRetried();
  const ok = await send(filter);
  assert.deepEqual([ok.result, ok.response.status, ok.body, flaky.hits], ["", 200, "ok", 3]);

  state.calls = -10;
  flaky.hits = 0;
  const failed = await send(filter);
  assert.deepEqual([failed.result, failed.response.status, failed.body], [
    "failureCode",
    503,
    "busy",
  ]);
  assert.equal(flaky.hits, 3);

  // A streamed body can be sent once only: no retry.
  flaky.hits = 0;
  const streamed = await send(filter, {
    method: "POST",
    body: new Blob(["data"]).stream(),
  });
  assert.deepEqual([streamed.result, flaky.hits], ["failureCode", 1]);
  await stop(filter, flaky);
});

Deno.test("a body that breaks off after its head is a failed attempt: retried, and counted by the breaker", async () => {
  // The first connection sends half its body, waits (so the part does not come
  // with the head), and closes; the next ones answer whole.
  const server = new RawServer(async (reader, index) => {
    if (await reader.head() === null) return;
    if (index > 0) return void await reader.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    await reader.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
    await new Promise((r) => setTimeout(r, 50));
    await reader.write("a".repeat(50_000));
    await new Promise((r) => setTimeout(r, 50));
  });
  const url = `http://127.0.0.1:${server.port}`;
  const retried = proxyWithPolicies({
    pools: [{ servers: [{ url }], retryPolicy: "retry2" }],
  }, { retry2: { kind: "Retry", maxAttempts: 2, waitDuration: "1ms" } });
  const broken = proxyWithPolicies({
    pools: [{ servers: [{ url }], circuitBreakerPolicy: "cb" }],
  }, {
    cb: { kind: "CircuitBreaker", slidingWindowSize: 1, minimumNumberOfCalls: 1 },
  });
  try {
    // Read whole as the attempt's, as Easegress reads it: the Retry sends it again.
    const r = await send(retried);
    assert.deepEqual([r.result, r.response.status, r.body, server.accepted], ["", 200, "ok", 2]);
    // Not streamed to the client cut short: the breaker sees the failure and opens.
    server.accepted = 0;
    const failed = await send(broken);
    assert.deepEqual([failed.result, failed.response.status], ["internalError", 500]);
    const rejected = await send(broken);
    assert.deepEqual([rejected.result, rejected.response.status], ["shortCircuited", 503]);
  } finally {
    await retried.close?.();
    await broken.close?.();
    await server.close();
  }
});

Deno.test("a pool counts each request once in its stats: retried attempts as one, kept answers too", async () => {
  const { flaky, filter: retried } = flakyRetried();
  assert.equal((await send(retried)).response.status, 200);
  assert.equal(flaky.hits, 3);
  const stat = (f: FilterInstance) =>
    (f.status!() as { mainPool: { stat: { count: number; codes: Record<string, number> } } })
      .mainPool.stat;
  const once = stat(retried);
  assert.deepEqual([once.count, once.codes], [1, { "200": 1 }]);

  const cached = proxy({
    pools: [{
      servers: [{ url: flaky.url }],
      memoryCache: { expiration: "10s", maxEntryBytes: 1024, codes: [200], methods: ["GET"] },
    }],
  });
  flaky.hits = 0;
  assert.equal((await send(cached, { path: "/kept" })).body, "ok");
  assert.equal((await send(cached, { path: "/kept" })).body, "ok");
  assert.equal(flaky.hits, 1);
  const both = stat(cached);
  assert.deepEqual([both.count, both.codes], [2, { "200": 2 }]);
  await stop(retried);
  await stop(cached, flaky);
});

Deno.test("proxy circuit breaker short-circuits after failures and recovers half-open", async () => {
  let healthy = false;
  const b = backend(() => healthy ? new Response("ok") : new Response("down", { status: 500 }));
  const policies = {
    cb: {
      kind: "CircuitBreaker",
      slidingWindowSize: 2,
      minimumNumberOfCalls: 2,
      failureRateThreshold: 50,
      permittedNumberOfCallsInHalfOpenState: 1,
      waitDurationInOpenState: "50ms",
    },
  };
  const filter = proxyWithPolicies({
    pools: [{ servers: [{ url: b.url }], failureCodes: [500], circuitBreakerPolicy: "cb" }],
  }, policies);
  assert.equal((await send(filter)).result, "failureCode");
  assert.equal((await send(filter)).result, "failureCode");

  const ctx = new Context(new HttpRequest({ host: "gw.example" }));
  assert.equal(await filter.handle(ctx), "shortCircuited");
  assert.equal(ctx.response?.status, 503);
  assert.ok(ctx.tags.includes("short circuited"));
  assert.equal(b.hits, 2);

  healthy = true;
  await new Promise((r) => setTimeout(r, 80)); // past waitDurationInOpenState
  const probe = await send(filter);
  assert.deepEqual([probe.result, probe.response.status, probe.body], ["", 200, "ok"]);
  for (let i = 0; i < 3; i++) assert.equal((await send(filter)).result, "");
  assert.equal(b.hits, 6);
  await stop(filter, b);
});

Deno.test("clients leaving before a slow answer do not open the circuit breaker", async () => {
  const b = backend(async () => {
    await new Promise((r) => setTimeout(r, 200));
    return new Response("late");
  });
  const filter = proxyWithPolicies({
    pools: [{ servers: [{ url: b.url }], failureCodes: [500], circuitBreakerPolicy: "cb" }],
  }, { cb: { kind: "CircuitBreaker", slidingWindowSize: 2, minimumNumberOfCalls: 2 } });
  for (let i = 0; i < 3; i++) {
    const client = new AbortController();
    const ctx = new Context(new HttpRequest({ host: "gw.example" }), { signal: client.signal });
    setTimeout(() => client.abort(), 20);
    assert.equal(await filter.handle(ctx), "clientError");
  }
  const answered = await send(filter);
  assert.deepEqual([answered.result, answered.body], ["", "late"]);
  await stop(filter, b);
});

Deno.test("proxy refuses to start with a missing or wrong-kind policy", () => {
  const spec = { pools: [{ servers: [{ url: "http://127.0.0.1:1" }], retryPolicy: "cb" }] };
  assert.throws(
    () => proxyWithPolicies(spec, {}),
    /pools\[0\]\.retryPolicy: no Retry policy named "cb"/,
  );
  assert.throws(
    () => proxyWithPolicies(spec, { cb: { kind: "CircuitBreaker" } }),
    /no Retry policy named "cb"/,
  );
});

Deno.test("a pipeline update that changes maxIdleConnsPerHost applies the new limit", async () => {
  // Counts the TCP connections the proxy opens; answers after a short wait so requests overlap.
  let connections = 0;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of listener) {
      connections++;
      (async () => {
        const buf = new Uint8Array(4096);
        try {
          while ((await conn.read(buf)) !== null) {
            await new Promise((r) => setTimeout(r, 20));
            await conn.write(
              new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
            );
          }
        } catch { /* closed by the proxy */ }
        conn.close();
      })();
    }
  })();
  const url = `http://127.0.0.1:${listener.addr.port}`;
  const env = { pipeline: "p", name: "proxy", log: silentLogger, resilience: () => undefined };
  const burst = async (filter: FilterInstance) => {
    const results = await Promise.all([0, 1, 2, 3].map(() => send(filter)));
    assert.deepEqual(results.map((r) => r.body), ["ok", "ok", "ok", "ok"]);
  };
  const first = proxyKind.create(proxyKind.validate({ pools: [{ servers: [{ url }] }] }), env);
  await burst(first);
  assert.equal(connections, 4);
  const second = proxyKind.create(
    proxyKind.validate({ pools: [{ servers: [{ url }] }], maxIdleConnsPerHost: 1 }),
    env,
    first,
  );
  await first.close?.();
  connections = 0;
  await burst(second); // fresh pools with the new limit: 4 connections, 1 kept idle
  await burst(second);
  assert.equal(connections, 4 + 3);
  await second.close?.();
  listener.close();
  await serving.catch(() => {});
});

Deno.test("a streamed body within the route's limit is read whole to be retried and mirrored", async () => {
  const bodies: string[] = [];
  let calls = 0;
  const flaky = backend(async (req) => {
    bodies.push(await req.text());
    return ++calls < 2 ? new Response("busy", { status: 503 }) : new Response("ok");
  });
  const mirrored: string[] = [];
  const mirror = backend(async (req) => {
    mirrored.push(await req.text());
    return new Response("mirror");
  });
  const policies = { retry: { kind: "Retry", maxAttempts: 2, waitDuration: "1ms" } };
  const filter = proxyWithPolicies({
    pools: [{ servers: [{ url: flaky.url }], failureCodes: [503], retryPolicy: "retry" }],
    mirrorPool: { servers: [{ url: mirror.url }], filter: { policy: "random", permil: 1000 } },
  }, policies);
  const payload = "x".repeat(100_000);
  const streamed = (replayLimit: number) => {
    const request = new HttpRequest({
      method: "POST",
      host: "gw.example",
      headers: { "content-length": String(payload.length) },
      body: new Blob([payload]).stream(),
    });
    request.replayLimit = replayLimit;
    return new Context(request, { realIP: "203.0.113.7" });
  };
  const ctx = streamed(4 * 1024 * 1024);
  assert.equal(await filter.handle(ctx), "");
  assert.equal(await ctx.response!.text(), "ok");
  assert.deepEqual(bodies, [payload, payload]);
  for (let i = 0; i < 50 && mirrored.length === 0; i++) {
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.deepEqual(mirrored, [payload]);

  // A body that must stream (clientMaxBodySize -1) is sent once; the mirror gets a note.
  calls = 0;
  bodies.length = mirrored.length = 0;
  const once = streamed(-1);
  assert.equal(await filter.handle(once), "failureCode");
  assert.deepEqual(bodies, [payload]);
  for (let i = 0; i < 50 && mirrored.length === 0; i++) {
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.deepEqual(mirrored, ["mirror of a streamed body"]);
  await stop(filter, flaky, mirror);
});

Deno.test("loadBalance healthCheck keeps requests off a failing server until it passes again", async () => {
  let bHealthy = false;
  const a = backend(() => new Response("a"));
  const b = backend((req) =>
    new URL(req.url).pathname === "/health" && !bHealthy
      ? new Response("down", { status: 503 })
      : new Response("b")
  );
  const filter = proxy({
    pools: [{
      servers: [{ url: a.url }, { url: b.url }],
      loadBalance: { healthCheck: { interval: "50ms", uri: "/health" } },
    }],
  });
  try {
    const bodies = async () => {
      const out = new Set<string>();
      for (let i = 0; i < 4; i++) out.add((await send(filter)).body);
      return [...out].sort();
    };
    for (let i = 0; i < 100 && (await bodies()).length > 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(await bodies(), ["a"]);
    const status = filter.status?.() as { mainPool: { unhealthyServers: string[] } };
    assert.deepEqual(status.mainPool.unhealthyServers, [b.url]);
    bHealthy = true;
    for (let i = 0; i < 100 && (await bodies()).length < 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(await bodies(), ["a", "b"]);
  } finally {
    await stop(filter, a, b);
  }
});

Deno.test("loadBalance stickySession sends a session back to its server", async () => {
  const bs = [backend(() => new Response("0")), backend(() => new Response("1"))];
  const filter = proxy({
    pools: [{
      servers: bs.map((b) => ({ url: b.url })),
      loadBalance: { stickySession: { mode: "DurationBased", lbCookieName: "lb" } },
    }],
  });
  try {
    const first = await send(filter);
    const cookie = first.response.headers.getSetCookie()[0];
    assert.match(cookie, /^lb=[0-9a-f]{80}; Path=\/; Expires=/);
    const session = cookie.slice(0, cookie.indexOf(";"));
    for (let i = 0; i < 4; i++) {
      assert.equal((await send(filter, { headers: { cookie: session } })).body, first.body);
    }
    // Without the cookie, round robin as usual.
    const others = new Set<string>();
    for (let i = 0; i < 4; i++) others.add((await send(filter)).body);
    assert.equal(others.size, 2);
  } finally {
    await stop(filter, ...bs);
  }
});
