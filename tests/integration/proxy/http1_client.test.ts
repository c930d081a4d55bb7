import assert from "node:assert/strict";
import { Http1Pool, UpstreamError } from "../../../filters/proxy/http1_client.ts";
import { IdleBudget } from "../../../filters/proxy/idle_budget.ts";
import {
  checkPattern,
  eventually,
  get,
  patternStream,
  poolFor,
  serveBackend,
  settle,
  text,
} from "./http1_helpers.ts";
import { CA_CERT, LEAF_CERT, LEAF_KEY } from "./tls_fixture.ts";
import { tcpNoDelayOf } from "../../fixtures/socket_options.ts";
import { REFUSING_PORT } from "../../fixtures/refusing_port.ts";

const TEN_MB = 10 * 1024 * 1024;

Deno.test("pool sends a GET and reuses the keep-alive connection", async () => {
  const backend = serveBackend((req) => {
    const url = new URL(req.url);
    return new Response(
      `${req.method} ${url.pathname}${url.search} host=${req.headers.get("host")}`,
    );
  });
  const pool = poolFor(backend.port);
  try {
    for (let i = 0; i < 3; i++) {
      const res = await pool.request(get(`/items?i=${i}`));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/plain;charset=UTF-8");
      assert.equal(await text(res.body), `GET /items?i=${i} host=backend.test`);
    }
    assert.deepEqual(pool.stats, { open: 1, idle: 1, created: 1, reused: 2 });
  } finally {
    pool.close();
    await backend.close();
  }
});

Deno.test("pools sharing an idle budget keep no more idle connections together than it allows", async () => {
  const one = serveBackend(() => new Response("one"));
  const two = serveBackend(() => new Response("two"));
  const budget = new IdleBudget(1);
  const first = poolFor(one.port, { idleBudget: budget });
  const second = poolFor(two.port, { idleBudget: budget });
  try {
    assert.equal(await text((await first.request(get("/"))).body), "one");
    await eventually(() => first.stats.idle === 1, "first connection parked");
    // The budget is spent: the second pool's connection is closed after its exchange.
    assert.equal(await text((await second.request(get("/"))).body), "two");
    await eventually(() => second.stats.open === 0, "second connection closed");
    assert.equal(second.stats.idle, 0);
    assert.equal(budget.idle, 1);
    // Reusing the first pool's connection frees the budget while it is busy, and it is parked again.
    assert.equal(await text((await first.request(get("/"))).body), "one");
    await eventually(() => first.stats.idle === 1, "first connection parked again");
    assert.equal(budget.idle, 1);
    first.close();
    assert.equal(budget.idle, 0);
    assert.equal(await text((await second.request(get("/"))).body), "two");
    await eventually(() => second.stats.idle === 1, "second connection parked");
    assert.equal(budget.idle, 1);
  } finally {
    first.close();
    second.close();
    await one.close();
    await two.close();
  }
});

Deno.test({
  name: "pool connections have TCP_NODELAY, so a body after its head is not held back",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // The backend sees the pool's connection: its peer is the pool's socket.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const pool = poolFor((listener.addr as Deno.NetAddr).port);
    try {
      const accepted = listener.accept();
      const response = pool.request(get("/"));
      const conn = await accepted;
      // The request has arrived: the pool's socket is set up by now.
      assert.ok((await conn.read(new Uint8Array(4096))) !== null);
      assert.equal(tcpNoDelayOf(conn.remoteAddr, "local"), 1);
      await conn.write(new TextEncoder().encode("HTTP/1.1 204 No Content\r\n\r\n"));
      assert.equal((await response).status, 204);
      conn.close();
    } finally {
      pool.close();
      listener.close();
    }
  },
});

Deno.test("pool offers a small body as bodyBytes and as a stream", async () => {
  const backend = serveBackend(() => new Response("small"));
  const pool = poolFor(backend.port);
  try {
    const res = await pool.request(get("/"));
    assert.equal(new TextDecoder().decode(res.bodyBytes), "small");
    assert.equal(await text(res.body), "small");
  } finally {
    pool.close();
    await backend.close();
  }
});

Deno.test("pool forwards end-to-end headers and drops hop-by-hop ones both ways", async () => {
  const backend = serveBackend((req) => {
    const seen = [...req.headers].filter(([name]) => name !== "accept-encoding");
    return new Response(JSON.stringify(seen), {
      headers: { connection: "x-resp-private", "x-resp-private": "1", "x-resp-public": "2" },
    });
  });
  const pool = poolFor(backend.port);
  try {
    const headers = new Headers({
      connection: "keep-alive, x-private",
      "keep-alive": "timeout=5",
      "x-private": "secret",
      te: "trailers",
      "proxy-authorization": "Basic eA==",
      upgrade: "websocket",
      "x-public": "yes",
    });
    const res = await pool.request(
      get("/", { headers, extraHeaders: [["x-forwarded-for", "192.0.2.1"]] }),
    );
    const seen = new Map(JSON.parse(await text(res.body)) as [string, string][]);
    assert.equal(seen.get("x-public"), "yes");
    assert.equal(seen.get("x-forwarded-for"), "192.0.2.1");
    assert.equal(seen.get("host"), "backend.test");
    for (const name of ["x-private", "keep-alive", "te", "proxy-authorization", "upgrade"]) {
      assert.equal(seen.has(name), false, `${name} reached the backend`);
    }
    assert.equal(res.headers.get("x-resp-public"), "2");
    assert.equal(res.headers.has("x-resp-private"), false);
    assert.equal(res.headers.has("connection"), false);
  } finally {
    pool.close();
    await backend.close();
  }
});

Deno.test("pool sends byte bodies with Content-Length", async () => {
  const backend = serveBackend(async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    return new Response(
      `${req.headers.get("content-length")} ${req.headers.get("transfer-encoding")} ${body.length}`,
    );
  });
  const pool = poolFor(backend.port);
  try {
    for (const size of [0, 5, 100_000]) {
      const res = await pool.request({
        ...get("/"),
        method: "POST",
        body: new Uint8Array(size).fill(1),
      });
      assert.equal(await text(res.body), `${size} null ${size}`);
    }
    const empty = await pool.request({ ...get("/"), method: "POST", body: null });
    assert.equal(await text(empty.body), "0 null 0");
  } finally {
    pool.close();
    await backend.close();
  }
});

Deno.test("pool streams a 10 MB request body chunked and echoes 10 MB back", async () => {
  const backend = serveBackend((req) =>
    new Response(req.body, { headers: { "x-te": String(req.headers.get("transfer-encoding")) } })
  );
  const pool = poolFor(backend.port);
  try {
    const res = await pool.request({ ...get("/echo"), method: "PUT", body: patternStream(TEN_MB) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-te"), "chunked");
    assert.equal(await checkPattern(res.body!), TEN_MB);
  } finally {
    pool.close();
    await backend.close();
  }
});

Deno.test("pool streams a request body with the client's Content-Length", async () => {
  const backend = serveBackend(async (req) => {
    const size = (await req.arrayBuffer()).byteLength;
    return new Response(`${req.headers.get("content-length")} ${size}`);
  });
  const pool = poolFor(backend.port);
  try {
    const headers = new Headers({ "content-length": String(TEN_MB) });
    const res = await pool.request({
      ...get("/"),
      method: "POST",
      headers,
      body: patternStream(TEN_MB),
    });
    assert.equal(await text(res.body), `${TEN_MB} ${TEN_MB}`);
    // The pump may still be finishing its last write when the response ends.
    await eventually(() => pool.stats.idle === 1, "the connection is back in the pool");
    const again = await pool.request({ ...get("/"), method: "POST", body: new Uint8Array(3) });
    assert.equal(await text(again.body), "3 3");
    assert.equal(pool.stats.reused, 1);
  } finally {
    pool.close();
    await backend.close();
  }
});

Deno.test("pool rejects a stream body longer than its Content-Length", async () => {
  const backend = serveBackend(async (req) =>
    new Response(String((await req.arrayBuffer()).byteLength))
  );
  const pool = poolFor(backend.port);
  try {
    const headers = new Headers({ "content-length": "10" });
    await assert.rejects(
      pool.request({ ...get("/"), method: "POST", headers, body: patternStream(100, 50) }),
      (error) =>
        error instanceof UpstreamError && error.kind === "protocol" &&
        /longer than/.test(error.message),
    );
  } finally {
    pool.close();
    await backend.close();
    await settle();
  }
});

Deno.test("pool rejects with aborted when the request body stream fails", async () => {
  const backend = serveBackend(async (req) => {
    await req.arrayBuffer().catch(() => {});
    return new Response("unreachable");
  });
  const pool = poolFor(backend.port);
  try {
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ === 0) controller.enqueue(new Uint8Array(10));
        else controller.error(new Error("client went away"));
      },
    });
    await assert.rejects(
      pool.request({ ...get("/"), method: "POST", body }),
      (error) =>
        error instanceof UpstreamError && error.kind === "aborted" &&
        /body stream failed/.test(error.message),
    );
    assert.equal(pool.stats.open, 0);
  } finally {
    pool.close();
    await backend.close();
    await settle();
  }
});

Deno.test("pool streams a 10 MB response body", async () => {
  const backend = serveBackend(() => new Response(patternStream(TEN_MB)));
  const pool = poolFor(backend.port);
  try {
    const res = await pool.request(get("/big"));
    assert.equal(res.bodyBytes, undefined);
    assert.equal(await checkPattern(res.body!), TEN_MB);
    assert.equal(pool.stats.idle, 1);
  } finally {
    pool.close();
    await backend.close();
  }
});

Deno.test("pool gives no body for HEAD, 204 and 304, and keeps the connection", async () => {
  const backend = serveBackend((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/204") return new Response(null, { status: 204 });
    if (path === "/304") return new Response(null, { status: 304, headers: { etag: '"x"' } });
    return new Response("twelve bytes");
  });
  const pool = poolFor(backend.port);
  try {
    const head = await pool.request({ ...get("/"), method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.body, null);
    assert.equal(head.headers.get("content-length"), "12");
    const noContent = await pool.request(get("/204"));
    assert.equal(noContent.status, 204);
    assert.equal(noContent.body, null);
    const notModified = await pool.request(get("/304"));
    assert.equal(notModified.status, 304);
    assert.equal(notModified.body, null);
    assert.equal(await text((await pool.request(get("/"))).body), "twelve bytes");
    assert.deepEqual(pool.stats, { open: 1, idle: 1, created: 1, reused: 3 });
  } finally {
    pool.close();
    await backend.close();
  }
});

Deno.test("pool serves concurrent requests without mixing responses", async () => {
  const backend = serveBackend(async (req) => {
    const path = new URL(req.url).pathname;
    await new Promise((resolve) => setTimeout(resolve, path.length % 3));
    return new Response(path.repeat(100));
  });
  const pool = poolFor(backend.port);
  try {
    const results = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const res = await pool.request(get(`/r${i}`));
        return [i, await text(res.body)] as const;
      }),
    );
    for (const [i, body] of results) assert.equal(body, `/r${i}`.repeat(100));
    assert.ok(pool.stats.created <= 100);
    assert.equal(pool.stats.open, pool.stats.idle);
  } finally {
    pool.close();
    await backend.close();
  }
});

Deno.test("pool aborts mid-response: the body stream errors and the connection is dropped", async () => {
  let cancelled!: () => void;
  const backendCancelled = new Promise<void>((resolve) => cancelled = resolve);
  const backend = serveBackend(() => {
    let sent = false;
    return new Response(
      new ReadableStream({
        async pull(controller) {
          if (!sent) {
            sent = true;
            controller.enqueue(new TextEncoder().encode("first"));
            return;
          }
          await backendCancelled;
        },
        cancel() {
          cancelled();
        },
      }),
    );
  });
  const pool = poolFor(backend.port);
  const controller = new AbortController();
  try {
    const res = await pool.request(get("/slow", { signal: controller.signal }));
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.equal(new TextDecoder().decode(first.value), "first");
    const next = reader.read();
    controller.abort(new Error("client gone"));
    await assert.rejects(
      next,
      (error) => error instanceof UpstreamError && error.kind === "aborted",
    );
    assert.deepEqual({ open: pool.stats.open, idle: pool.stats.idle }, { open: 0, idle: 0 });
    await backendCancelled;
  } finally {
    pool.close();
    await backend.close();
  }
});

Deno.test("pool rejects with aborted when the signal fires before the response head", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const backend = serveBackend(async () => {
    await released;
    return new Response("late");
  });
  const pool = poolFor(backend.port);
  const controller = new AbortController();
  try {
    const pending = pool.request(get("/", { signal: controller.signal }));
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(
      pending,
      (error) => error instanceof UpstreamError && error.kind === "aborted",
    );
    assert.equal(pool.stats.open, 0);
    await assert.rejects(
      pool.request(get("/", { signal: controller.signal })),
      (error) => error instanceof UpstreamError && error.kind === "aborted",
    );
  } finally {
    release();
    pool.close();
    await backend.close();
  }
});

Deno.test("pool drops the connection when the consumer cancels the body", async () => {
  const backend = serveBackend(() => new Response(patternStream(TEN_MB)));
  const pool = poolFor(backend.port);
  try {
    const res = await pool.request(get("/"));
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    assert.equal(pool.stats.open, 0);
    const again = await pool.request(get("/"));
    assert.equal(await checkPattern(again.body!), TEN_MB);
    assert.equal(pool.stats.created, 2);
  } finally {
    pool.close();
    await backend.close();
  }
});

Deno.test("pool closes idle connections after idleTimeoutMs", async () => {
  const backend = serveBackend(() => new Response("ok"));
  const pool = poolFor(backend.port, { idleTimeoutMs: 30 });
  try {
    await text((await pool.request(get("/"))).body);
    assert.equal(pool.stats.idle, 1);
    await eventually(() => pool.stats.open === 0, "the idle connection expires");
    assert.equal(pool.stats.idle, 0);
  } finally {
    pool.close();
    await backend.close();
    await settle();
  }
});

Deno.test("pool keeps at most maxIdlePerHost idle connections", async () => {
  const backend = serveBackend(async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return new Response("ok");
  });
  const pool = poolFor(backend.port, { maxIdlePerHost: 1 });
  try {
    await Promise.all([1, 2, 3].map(async () => await text((await pool.request(get("/"))).body)));
    assert.equal(pool.stats.created, 3);
    assert.deepEqual({ open: pool.stats.open, idle: pool.stats.idle }, { open: 1, idle: 1 });
  } finally {
    pool.close();
    await backend.close();
    await settle();
  }
});

Deno.test("pool reports a refused connection as a connect error", async () => {
  const port = REFUSING_PORT;
  const pool = poolFor(port);
  try {
    await assert.rejects(
      pool.request(get("/")),
      (error) =>
        error instanceof UpstreamError && error.kind === "connect" &&
        error.message.includes(`127.0.0.1:${port}`),
    );
  } finally {
    pool.close();
  }
});

Deno.test("pool refuses requests after close and lets in-flight ones finish", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const backend = serveBackend(async () => {
    await released;
    return new Response("finished");
  });
  const pool = poolFor(backend.port);
  try {
    const inFlight = pool.request(get("/"));
    await eventually(() => pool.stats.open === 1, "the request is connected");
    pool.close();
    await assert.rejects(
      pool.request(get("/")),
      (error) => error instanceof UpstreamError && error.kind === "closed",
    );
    release();
    assert.equal(await text((await inFlight).body), "finished");
    assert.equal(pool.stats.open, 0, "released connection closed, not pooled");
  } finally {
    release();
    pool.close();
    await backend.close();
  }
});

Deno.test("pool rejects bad requests and options with errors naming the problem", async () => {
  assert.throws(() => new Http1Pool({ hostname: "", port: 80 }), /origin.hostname/);
  assert.throws(() => new Http1Pool({ hostname: "h", port: 70000 }), /origin.port/);
  assert.throws(
    () => new Http1Pool({ hostname: "h", port: 80 }, { idleTimeoutMs: -1 }),
    /idleTimeoutMs/,
  );
  const pool = new Http1Pool({ hostname: "127.0.0.1", port: 9 });
  await assert.rejects(pool.request(get("/a b")), /invalid target "\/a b"/);
  await assert.rejects(pool.request({ ...get("/"), method: "BAD METHOD" }), /invalid method/);
  assert.equal(pool.stats.created, 0, "nothing was connected for a bad request");
  pool.close();
});

Deno.test("pool talks TLS to an upstream with a private CA and server name", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: LEAF_CERT, key: LEAF_KEY, onListen() {} },
    (req) => new Response(`secure ${new URL(req.url).pathname}`),
  );
  const origin = { hostname: "127.0.0.1", port: server.addr.port, tls: true, caCerts: [CA_CERT] };
  const good = new Http1Pool({ ...origin, serverName: "localhost" });
  const wrongName = new Http1Pool({ ...origin, serverName: "other.test" });
  const untrusted = new Http1Pool({ ...origin, caCerts: undefined, serverName: "localhost" });
  const nameNotChecked = new Http1Pool({ ...origin, serverName: "other.test", insecure: true });
  try {
    for (let i = 0; i < 2; i++) {
      assert.equal(await text((await good.request(get("/tls"))).body), "secure /tls");
    }
    assert.equal(good.stats.reused, 1);
    await assert.rejects(
      wrongName.request(get("/")),
      (error) =>
        error instanceof UpstreamError && error.kind === "connect" &&
        /not valid for name/.test(error.message),
    );
    await assert.rejects(
      untrusted.request(get("/")),
      (error) =>
        error instanceof UpstreamError && error.kind === "connect" &&
        /UnknownIssuer/.test(error.message),
    );
    assert.equal(await text((await nameNotChecked.request(get("/x"))).body), "secure /x");
  } finally {
    for (const pool of [good, wrongName, untrusted, nameNotChecked]) pool.close();
    await server.shutdown();
    await settle();
  }
});
