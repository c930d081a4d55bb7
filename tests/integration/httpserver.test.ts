/**
 * HTTPServer behaviour over real sockets: routing statuses, body limits,
 * X-Forwarded-For, keepAlive off, keepAliveTimeout, maxConnections, status
 * documents, the access log, rule updates on open connections, and graceful
 * shutdown of in-flight requests.
 */

import assert from "node:assert/strict";
import { connect } from "node:net";
import { eventually, freePort, type NodeProcess, request, startNodeProcess } from "./helpers.ts";
import { anyAddress } from "../../server/any_address.ts";

const PIPELINES = `
name: echo
kind: Pipeline
filters:
  - name: proxy
    kind: Proxy
    pools:
      - servers:
          - url: http://127.0.0.1:BACKEND
`;

/** Creates the `echo` pipeline to `backendPort` and server `s` in front of it; its port once running. */
async function serveEcho(node: NodeProcess, backendPort: number): Promise<number> {
  const port = freePort();
  await node.ctl(["object", "create"], PIPELINES.replace("BACKEND", String(backendPort)));
  await node.ctl(
    ["object", "create"],
    `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - backend: echo\n`,
  );
  await eventually("listening", async () => {
    const status = await node.ctl(["-o", "json", "object", "status", "get", "s"]);
    return JSON.parse(status.stdout)["eg-default-name"]?.state === "running";
  });
  return port;
}

Deno.test("httpserver: statuses, limits, X-Forwarded-For, status and access log", async () => {
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.arrayBuffer();
    return Response.json({
      path: new URL(req.url).pathname,
      xff: req.headers.get("x-forwarded-for"),
      size: body.byteLength,
    });
  });
  const node = await startNodeProcess();
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  try {
    await node.ctl(["object", "create"], PIPELINES.replace("BACKEND", String(backend.addr.port)));
    const server = `
kind: HTTPServer
name: s
port: ${port}
xForwardedFor: true
clientMaxBodySize: 1000
rules:
  - paths:
    - path: /get
      methods: [GET]
      backend: echo
    - path: /hdr
      headers: [{key: X-Env, values: [prod]}]
      backend: echo
    - pathPrefix: /old/
      rewriteTarget: /new/
      backend: echo
    - path: /missing
      backend: nope
    - path: /blocked
      ipFilter: {blockIPs: [127.0.0.1]}
      backend: echo
`;
    const r = await node.ctl(["object", "create"], server);
    assert.equal(r.code, 0, r.stderr);
    await eventually("up", async () => (await request(`${base}/get`)).status === 200);

    assert.equal((await request(`${base}/nothing`)).status, 404);
    const notAllowed = await request(`${base}/get`, { method: "DELETE" });
    assert.equal(notAllowed.status, 405);
    assert.equal(notAllowed.headers.get("allow"), "GET");
    assert.equal((await request(`${base}/hdr`)).status, 400);
    assert.equal((await request(`${base}/hdr`, { headers: { "x-env": "prod" } })).status, 200);
    assert.equal((await request(`${base}/missing`)).status, 503);
    assert.equal((await request(`${base}/blocked`)).status, 403);
    const rewritten = JSON.parse((await request(`${base}/old/a/b`)).body);
    assert.equal(rewritten.path, "/new/a/b");
    assert.equal(rewritten.xff, "127.0.0.1");

    const big = await request(`${base}/old/x`, { method: "POST", body: "x".repeat(1001) });
    assert.equal(big.status, 413);
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(800));
        c.enqueue(new Uint8Array(800));
        c.close();
      },
    });
    const bigChunked = await request(`${base}/old/x`, { method: "POST", body: chunked });
    assert.equal(bigChunked.status, 413);
    const fits = JSON.parse(
      (await request(`${base}/old/x`, { method: "POST", body: "y".repeat(999) })).body,
    );
    assert.equal(fits.size, 999);
    // HTTP/2 data without a Content-Length is held to the limit too.
    for (const [size, want] of [[1001, "413"], [999, "200"]] as const) {
      const upload = new Deno.Command("curl", {
        args: ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--http2-prior-knowledge"]
          .concat(["-X", "POST", "-T", "-", `${base}/old/x`]),
        stdin: "piped",
        stdout: "piped",
      }).spawn();
      const writer = upload.stdin.getWriter();
      await writer.write(new Uint8Array(size));
      await writer.close();
      const out = await upload.output();
      assert.equal(new TextDecoder().decode(out.stdout), want, `h2 body of ${size}`);
    }
    // A GET body is forwarded like any other, so it is held to the limit too: by its
    // Content-Length over HTTP/1.1, as it comes over HTTP/2 (read whole before any
    // answer, which curl might otherwise take as a reset while still sending).
    for (const version of [["--http1.1"], ["--http2-prior-knowledge", "-H", "content-length:"]]) {
      for (const [size, want] of [[1001, "413"], [999, "200"]] as const) {
        const out = await new Deno.Command("curl", {
          args: ["-sS", "-o", "/dev/null", "-w", "%{http_code}", ...version, "-X", "GET"]
            .concat(["--data-binary", "x".repeat(size), `${base}/get`]),
          stdout: "piped",
        }).output();
        assert.equal(
          new TextDecoder().decode(out.stdout),
          want,
          `${version[0]} GET body of ${size}`,
        );
      }
    }

    const status = await node.ctl(["-o", "json", "object", "status", "get", "s"]);
    const doc = JSON.parse(status.stdout)["eg-default-name"];
    assert.equal(doc.state, "running");
    assert.ok(doc.count >= 10, `count ${doc.count}`);
    assert.ok(doc.codes["404"] >= 1);
    assert.ok(doc.topN.length >= 1);
    const all = await node.ctl(["-o", "json", "object", "status", "list"]);
    assert.ok(JSON.parse(all.stdout).s["eg-default-name"]);

    await eventually("access log written", async () => {
      const log = await Deno.readTextFile(`${node.homeDir}/log/filter_http_access.log`);
      return log.includes("GET /nothing HTTP/1.1 404] [") &&
        log.includes("POST /old/x HTTP/1.1 413");
    });
    // Easegress's format: [start] [remoteAddr realIP method URI proto status] [duration rx tx] [tags]
    const log = await Deno.readTextFile(`${node.homeDir}/log/filter_http_access.log`);
    const answer = JSON.stringify({ path: "/new/x", xff: "127.0.0.1", size: 999 });
    const line = new RegExp(
      String.raw`^\[\S+\] \[127\.0\.0\.1:\d+ 127\.0\.0\.1 POST /old/x HTTP/1\.1 200\] ` +
        String.raw`\[[\d.]+(µs|ms|s) rx:999B tx:${answer.length}B\] ` +
        // Tags as Easegress's: the pool's time, then the pipeline's filters and theirs.
        String
          .raw`\[proxy#proxy#main#duration: [\d.]+(µs|ms) \| pipeline\(echo\): proxy\([\d.]+(µs|ms)\)\]$`,
      "m",
    );
    assert.match(log, line);
    assert.match(log, / POST \/old\/x HTTP\/2\.0 413\] /);
  } finally {
    await node.stop();
    await backend.shutdown();
  }
});

/** Sends raw HTTP/1.1 requests on one socket; resolves each response head. */
function rawConnection(port: number) {
  const socket = connect(port, "127.0.0.1");
  let buffer = "";
  let waiter: (() => void) | undefined;
  let closed = false;
  socket.on("data", (d: Uint8Array) => {
    buffer += new TextDecoder().decode(d);
    waiter?.();
  });
  socket.on("close", () => {
    closed = true;
    waiter?.();
  });
  // A reset ends the connection as a close does ("close" follows).
  socket.on("error", () => {});
  return {
    async get(path: string): Promise<string> {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      while (!/\r\n\r\n[\s\S]*$/.test(buffer) || !/content-length: (\d+)/i.test(buffer)) {
        if (closed) break;
        await new Promise<void>((r) => waiter = r);
      }
      const len = Number(/content-length: (\d+)/i.exec(buffer)?.[1] ?? 0);
      while (buffer.length < buffer.indexOf("\r\n\r\n") + 4 + len && !closed) {
        await new Promise<void>((r) => waiter = r);
      }
      const out = buffer;
      buffer = "";
      return out;
    },
    get closed() {
      return closed;
    },
    close() {
      socket.destroy();
    },
  };
}

Deno.test("httpserver: status documents count request and response sizes as Easegress does", async () => {
  const node = await startNodeProcess();
  const port = freePort();
  try {
    await node.ctl(
      ["object", "create"],
      `name: m\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n` +
        `      - code: 201\n        body: made\n        headers: {X-Made: yes}\n`,
    );
    await node.ctl(
      ["object", "create"],
      `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - backend: m\n`,
    );
    const status = async () => {
      const out = await node.ctl(["-o", "json", "object", "status", "get", "s"]);
      return JSON.parse(out.stdout)["eg-default-name"];
    };
    await eventually("listening", async () => (await status())?.state === "running");
    // Sizes are counted from the head as HTTP/1.1 writes it: for a request
    // like this one, exactly its bytes.
    const sent = "POST /made?x=1 HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\nhello";
    let expectedResponse = 0;
    // Two connections, so with two workers each may serve one.
    for (let i = 0; i < 2; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new TextEncoder().encode(sent));
      let answer = "";
      const buf = new Uint8Array(4096);
      while (!answer.endsWith("made")) {
        const n = await conn.read(buf);
        if (n === null) break;
        answer += new TextDecoder().decode(buf.subarray(0, n));
      }
      conn.close();
      assert.match(answer, /^HTTP\/1\.1 201 Created\r\n/);
      // The server adds Date after the pipeline answered: not one of the
      // answer's own fields (the Mock's Content-Length is).
      const own = answer.split("\r\n").filter((line) => !/^date:/i.test(line));
      expectedResponse += own.join("\r\n").length;
    }
    await eventually("both counted", async () => (await status()).count === 2);
    const doc = await status();
    assert.equal(doc.reqSize, 2 * sent.length);
    assert.equal(doc.respSize, expectedResponse);
    assert.equal(doc.m1ErrPercent, 0);
  } finally {
    await node.stop();
  }
});

Deno.test("httpserver: rule updates keep open connections; keepAlive false closes them", async () => {
  const node = await startNodeProcess();
  const port = freePort();
  const mock = (name: string, body: string) =>
    `name: ${name}\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n      - code: 200\n        body: ${body}\n`;
  const server = (backend: string, keepAlive: boolean) =>
    `kind: HTTPServer\nname: s\nport: ${port}\nkeepAlive: ${keepAlive}\nrules:\n  - paths:\n    - backend: ${backend}\n`;
  try {
    await node.ctl(["object", "create"], mock("one", "first"));
    await node.ctl(["object", "create"], mock("two", "second"));
    await node.ctl(["object", "create"], server("one", true));
    await eventually(
      "up",
      async () => (await request(`http://127.0.0.1:${port}/`)).body === "first",
    );
    const conn = rawConnection(port);
    assert.match(await conn.get("/"), /first$/);
    await node.ctl(["object", "update"], server("two", true));
    await eventually(
      "rules swapped on the same connection",
      async () => (await conn.get("/")).endsWith("second"),
    );
    assert.equal(conn.closed, false);
    conn.close();

    await node.ctl(["object", "update"], server("two", false));
    await eventually("connection: close sent", async () => {
      const r = await request(`http://127.0.0.1:${port}/`);
      return r.headers.get("connection") === "close";
    });
  } finally {
    await node.stop();
  }
});

Deno.test("httpserver: keepAliveTimeout closes idle connections; maxConnections makes others wait", async () => {
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const [port, limitedPort] = [freePort(), freePort()];
  const mock =
    `name: m\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n      - code: 200\n        body: hi\n`;
  const server = (name: string, at: number, extra: string) =>
    `kind: HTTPServer\nname: ${name}\nport: ${at}\n${extra}\nrules:\n  - paths:\n    - backend: m\n`;
  try {
    await node.ctl(["object", "create"], mock);
    await node.ctl(["object", "create"], server("idle", port, "keepAliveTimeout: 1s"));
    await node.ctl(["object", "create"], server("limited", limitedPort, "maxConnections: 1"));
    // "Connection: close", so no pooled client connection keeps the only slot.
    const once = { headers: { connection: "close" } };
    for (const p of [port, limitedPort]) {
      await eventually(
        "up",
        async () => (await request(`http://127.0.0.1:${p}/`, once)).status === 200,
      );
    }
    const idle = rawConnection(port);
    assert.match(await idle.get("/"), /hi$/);
    await eventually("idle connection closed by the server", () => Promise.resolve(idle.closed));
    idle.close();

    const first = rawConnection(limitedPort);
    assert.match(await first.get("/"), /hi$/);
    // The second connection is accepted only once the first one is gone.
    const second = rawConnection(limitedPort);
    let secondDone = false;
    const answered = second.get("/").finally(() => secondDone = true);
    assert.match(await first.get("/"), /hi$/);
    // Time enough for an admitted connection to be answered many times over.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(secondDone, false);
    first.close();
    assert.match(await answered, /hi$/);
    second.close();
  } finally {
    await node.stop();
  }
});

Deno.test("httpserver: a maxConnections change applies in place: open connections stay, a waiting one is admitted", async () => {
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  const mock =
    `name: m\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n      - code: 200\n        body: hi\n`;
  const server = (max: number) =>
    `kind: HTTPServer\nname: s\nport: ${port}\nmaxConnections: ${max}\n` +
    `rules:\n  - paths:\n    - backend: m\n`;
  try {
    await node.ctl(["object", "create"], mock);
    await node.ctl(["object", "create"], server(1));
    const once = { headers: { connection: "close" } };
    await eventually(
      "up",
      async () => (await request(`http://127.0.0.1:${port}/`, once)).status === 200,
    );
    const first = rawConnection(port);
    assert.match(await first.get("/"), /hi$/);
    // Waits in the backlog for the only slot.
    const second = rawConnection(port);
    const answered = second.get("/");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await node.ctl(["object", "update"], server(2))).code, 0);
    assert.match(await answered, /hi$/);
    const again = await first.get("/");
    assert.match(again, /hi$/);
    assert.doesNotMatch(again, /connection: close/i, "the open connection was drained");
    assert.equal(first.closed, false);
    first.close();
    second.close();
  } finally {
    await node.stop();
  }
});

Deno.test("httpserver: a keepAliveTimeout change applies in place: open connections stay and take the new timeout", async () => {
  const node = await startNodeProcess();
  const port = freePort();
  const mock =
    `name: m\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n      - code: 200\n        body: hi\n`;
  const server = (timeout: string) =>
    `kind: HTTPServer\nname: s\nport: ${port}\nkeepAliveTimeout: ${timeout}\n` +
    `rules:\n  - paths:\n    - backend: m\n`;
  try {
    await node.ctl(["object", "create"], mock);
    await node.ctl(["object", "create"], server("60s"));
    const once = { headers: { connection: "close" } };
    await eventually(
      "up",
      async () => (await request(`http://127.0.0.1:${port}/`, once)).status === 200,
    );
    const open = rawConnection(port);
    assert.match(await open.get("/"), /hi$/);
    // Two seconds: the connection idles through the update (a ctl process
    // starting) and the wait below, which together could pass one second.
    assert.equal((await node.ctl(["object", "update"], server("2s"))).code, 0);
    // Past the 250 ms a restarted listener leaves idle connections.
    await new Promise((r) => setTimeout(r, 600));
    const again = await open.get("/");
    assert.match(again, /hi$/);
    assert.doesNotMatch(again, /connection: close/i, "the open connection was drained");
    await eventually("closed after two seconds idle", () => Promise.resolve(open.closed));
    open.close();
  } finally {
    await node.stop();
  }
});

Deno.test("httpserver: maxConnections is one count over the node's worker isolates", async () => {
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const port = freePort();
  const mock =
    `name: m\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n      - code: 200\n        body: hi\n`;
  try {
    await node.ctl(["object", "create"], mock);
    await node.ctl(
      ["object", "create"],
      `kind: HTTPServer\nname: s\nport: ${port}\nmaxConnections: 3\nrules:\n  - paths:\n    - backend: m\n`,
    );
    const once = { headers: { connection: "close" } };
    await eventually(
      "up",
      async () => (await request(`http://127.0.0.1:${port}/`, once)).status === 200,
    );
    // The kernel spreads these over both workers by their addresses.
    const clients = Array.from({ length: 10 }, () => rawConnection(port));
    const answered = new Set<number>();
    clients.forEach((c, i) => c.get("/").then((text) => /hi$/.test(text) && answered.add(i)));
    await eventually("three answered", () => Promise.resolve(answered.size >= 3));
    // Time enough for more admitted connections to be answered many times over.
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(answered.size, 3, "connections served at once");
    for (const i of answered) clients[i].close();
    await eventually("three more answered", () => Promise.resolve(answered.size >= 6));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(answered.size, 6);
    for (const c of clients) c.close();
  } finally {
    await node.stop();
  }
});

Deno.test("httpserver: h2c with prior knowledge through the Proxy, bodies both ways (curl)", async () => {
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    let sum = 0;
    for (const byte of body) sum = (sum + byte) % 65521;
    return new Response(`${req.method} ${body.length} ${sum} ${"z".repeat(100_000)}`);
  });
  const node = await startNodeProcess();
  const dir = await Deno.makeTempDir();
  try {
    const port = await serveEcho(node, backend.addr.port);
    const upload = new Uint8Array(300_000).map((_, i) => (i * 31) & 0xff);
    let sum = 0;
    for (const byte of upload) sum = (sum + byte) % 65521;
    await Deno.writeFile(`${dir}/upload`, upload);
    const out = await new Deno.Command("curl", {
      args: [
        "-s",
        "--http2-prior-knowledge",
        "-w",
        "\n%{http_code} %{http_version}",
        "--data-binary",
        `@${dir}/upload`,
        `http://127.0.0.1:${port}/up`,
      ],
      stdout: "piped",
    }).output();
    const [body, status] = new TextDecoder().decode(out.stdout).split("\n");
    assert.equal(status, "200 2");
    assert.equal(body, `POST ${upload.length} ${sum} ${"z".repeat(100_000)}`);
  } finally {
    await node.stop();
    await backend.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("httpserver: --http1-server deno serves plain HTTP through Deno.serve", async () => {
  const node = await startNodeProcess({ args: ["--http1-server", "deno", "--workers", "0"] });
  const port = freePort();
  try {
    await node.ctl(
      ["object", "create"],
      `name: m\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n      - code: 200\n        body: hi\n`,
    );
    await node.ctl(
      ["object", "create"],
      `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - backend: m\n`,
    );
    await eventually("up", async () => (await request(`http://127.0.0.1:${port}/`)).body === "hi");
    // A malformed request: the builtin server names the problem in its answer, hyper does not.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n"),
    );
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    conn.close();
    const answer = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    assert.match(answer, /^HTTP\/1\.1 400/);
    assert.doesNotMatch(answer, /invalid header/);
  } finally {
    await node.stop();
  }
});

Deno.test("httpserver: SIGTERM lets an in-flight request finish", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    await released;
    return new Response("finished");
  });
  const node = await startNodeProcess();
  try {
    const port = await serveEcho(node, backend.addr.port);
    const inFlight = request(`http://127.0.0.1:${port}/slow`);
    await new Promise((r) => setTimeout(r, 300));
    const stopped = node.stop("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    release();
    const r = await inFlight;
    assert.equal(r.status, 200);
    assert.equal(r.body, "finished");
    assert.equal(await stopped, 0);
  } finally {
    release();
    await node.stop();
    await backend.shutdown();
  }
});

Deno.test("httpserver: a taken port shows as failed, then the listener retries and runs", async () => {
  const node = await startNodeProcess();
  const port = freePort();
  const squatter = Deno.listen({ hostname: "0.0.0.0", port });
  const state = async () => {
    const status = await node.ctl(["-o", "json", "object", "status", "get", "s"]);
    return JSON.parse(status.stdout)["eg-default-name"] as { state: string; error: string };
  };
  try {
    const mock =
      "name: p\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n      - code: 200\n        body: up\n";
    await node.ctl(["object", "create"], mock);
    await node.ctl(
      ["object", "create"],
      `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - backend: p\n`,
    );
    await eventually("failed state", async () => {
      const s = await state();
      return s.state === "failed" && /^cannot listen on port \d+: .*in use/i.test(s.error);
    });
    squatter.close();
    await eventually(
      "retried and running",
      async () => (await request(`http://127.0.0.1:${port}/`)).body === "up",
      20_000,
    );
    assert.equal((await state()).state, "running");
  } finally {
    try {
      squatter.close();
    } catch { /* closed above */ }
    await node.stop();
  }
});

Deno.test("httpserver: a client that leaves mid-request makes the Proxy drop its upstream exchange", async () => {
  // A backend that reads requests and never answers: only the proxy closing
  // the upstream connection ends each one.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const upstreamClosed: Promise<void>[] = [];
  let accepted = 0;
  const accepting = (async () => {
    for await (const conn of listener) {
      accepted++;
      upstreamClosed.push((async () => {
        const buf = new Uint8Array(4096);
        try {
          while ((await conn.read(buf)) !== null) { /* a request, left unanswered */ }
        } catch { /* reset: closed too */ }
        conn.close();
      })());
    }
  })();
  const node = await startNodeProcess();
  try {
    const port = await serveEcho(node, listener.addr.port);
    // Two clients in turn, each leaving while its request waits upstream.
    for (let i = 0; i < 2; i++) {
      const client = await Deno.connect({ hostname: "127.0.0.1", port });
      await client.write(new TextEncoder().encode("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
      await eventually("the request reached the backend", () => Promise.resolve(accepted > i));
      client.close();
    }
    const ended = await Promise.race([
      Promise.all(upstreamClosed).then(() => "closed"),
      new Promise<string>((resolve) => setTimeout(() => resolve("still open"), 5000)),
    ]);
    assert.equal(ended, "closed");
  } finally {
    await node.stop();
    listener.close();
    await accepting.catch(() => {});
    await Promise.allSettled(upstreamClosed);
  }
});

/** A backend that answers each request with its request line, as it came over the socket. */
function requestLineBackend(): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(16 * 1024);
        let head = "";
        while (!head.includes("\r\n\r\n")) {
          const n = await conn.read(buf);
          if (n === null) break;
          head += new TextDecoder().decode(buf.subarray(0, n));
        }
        const line = head.slice(0, head.indexOf("\r\n"));
        await conn.write(
          new TextEncoder().encode(
            `HTTP/1.1 200 OK\r\ncontent-length: ${line.length}\r\nconnection: close\r\n\r\n${line}`,
          ),
        );
        conn.close();
      })().catch(() => {});
    }
  })().catch(() => {});
  return { port: listener.addr.port, close: () => listener.close() };
}

Deno.test("httpserver: dot segments and escapes are normalized before routing and forwarding, over HTTP/1.1 and h2c", async () => {
  const backend = requestLineBackend();
  const node = await startNodeProcess();
  const port = freePort();
  try {
    await node.ctl(["object", "create"], PIPELINES.replace("BACKEND", String(backend.port)));
    await node.ctl(
      ["object", "create"],
      `name: admin\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n      - code: 200\n        body: admin\n`,
    );
    await node.ctl(
      ["object", "create"],
      `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n` +
        `    - pathPrefix: /public\n      backend: echo\n    - pathPrefix: /admin\n      backend: admin\n`,
    );
    await eventually(
      "up",
      async () => (await request(`http://127.0.0.1:${port}/admin`)).body === "admin",
    );
    for (const version of ["--http1.1", "--http2-prior-knowledge"]) {
      const get = async (path: string, ...extra: string[]) => {
        const out = await new Deno.Command("curl", {
          args: ["-s", "--path-as-is", version, ...extra, `http://127.0.0.1:${port}${path}`],
          stdout: "piped",
        }).output();
        return new TextDecoder().decode(out.stdout);
      };
      // Routed as the path it resolves to, not by the prefix it was sent with.
      assert.equal(await get("/public/../admin"), "admin", version);
      assert.equal(await get("/public/%2e%2E/admin/x"), "admin", version);
      // Forwarded as routed; the query is left alone.
      assert.equal(await get("/public/a/./b/../c?q=/../x"), "GET /public/a/c?q=/../x HTTP/1.1");
      assert.equal(await get("/public/../../public/d"), "GET /public/d HTTP/1.1");
      // Escaped unreserved characters are the characters: routed and forwarded decoded.
      assert.equal(await get("/%61dmin/x"), "admin", version);
      assert.equal(await get("/public/%7Eu/caf%c3%a9"), "GET /public/~u/caf%C3%A9 HTTP/1.1");
      // A "%" without two hex digits makes no URL: refused, as Go's server does, not forwarded.
      for (const path of ["/public/100%", "/public/%zz/x", "/public/a%2"]) {
        assert.equal(await get(path, "-o", "/dev/null", "-w", "%{http_code}"), "400", path);
      }
    }
    // The access log shows each target as the client sent it, as Go's RequestURI.
    const sent = [
      "GET /public/../admin HTTP/1.1 200",
      "GET /public/%2e%2E/admin/x HTTP/2.0 200",
      "GET /public/a/./b/../c?q=/../x HTTP/1.1 200",
      "GET /%61dmin/x HTTP/2.0 200",
      "GET /public/%7Eu/caf%c3%a9 HTTP/1.1 200",
    ];
    await eventually("access log written", async () => {
      const log = await Deno.readTextFile(`${node.homeDir}/log/filter_http_access.log`);
      return sent.every((line) => log.includes(` ${line}] [`));
    });
  } finally {
    await node.stop();
    backend.close();
  }
});

Deno.test("httpserver: OPTIONS * is answered 200 by the server, as Go's does, not routed, over HTTP/1.1 and h2c", async () => {
  const node = await startNodeProcess();
  const port = freePort();
  try {
    await node.ctl(
      ["object", "create"],
      `name: teapot\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n      - code: 418\n`,
    );
    // A rule that would take any path, "*" included.
    await node.ctl(
      ["object", "create"],
      `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - pathRegexp: ".*"\n      backend: teapot\n`,
    );
    await eventually("up", async () => (await request(`http://127.0.0.1:${port}/`)).status === 418);
    for (const version of ["--http1.1", "--http2-prior-knowledge"]) {
      const out = await new Deno.Command("curl", {
        args: [
          "-s",
          "-i",
          version,
          "-X",
          "OPTIONS",
          "--request-target",
          "*",
          `http://127.0.0.1:${port}`,
        ],
        stdout: "piped",
      }).output();
      const head = new TextDecoder().decode(out.stdout).toLowerCase();
      assert.match(head, /^http\/[\d.]+ 200/, version);
      assert.match(head, /\r\ncontent-length: 0\r\n/, version);
    }
  } finally {
    await node.stop();
  }
});

Deno.test("httpserver: a pipeline answering a 1xx status is answered 200, as Go's server does, not with an interim head", async () => {
  const node = await startNodeProcess();
  const port = freePort();
  try {
    await node.ctl(
      ["object", "create"],
      `name: hints\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n      - code: 103\n        body: hint\n`,
    );
    await node.ctl(
      ["object", "create"],
      `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - backend: hints\n`,
    );
    await eventually("listening", async () => {
      const status = await node.ctl(["-o", "json", "object", "status", "get", "s"]);
      return JSON.parse(status.stdout)["eg-default-name"]?.state === "running";
    });
    // Pipelined: a 103 sent as the final answer to the first would make the
    // client take the second's answer for the first's.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(
      new TextEncoder().encode(
        "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      ),
    );
    let answer = "";
    const buf = new Uint8Array(4096);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      answer += new TextDecoder().decode(buf.subarray(0, n));
    }
    conn.close();
    const statuses = [...answer.matchAll(/^HTTP\/1\.1 (\d+)/gm)].map((m) => m[1]);
    assert.deepEqual(statuses, ["200", "200"], answer);
  } finally {
    await node.stop();
  }
});

Deno.test("httpserver: a listener restarted on its port takes new connections at once while the old ones drain", async () => {
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    if (new URL(req.url).pathname === "/slow") await new Promise((r) => setTimeout(r, 3000));
    return new Response(new URL(req.url).pathname);
  });
  // One data plane: its listener does not share the port, so the old one must let it go first.
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  const server = (address: string) =>
    `kind: HTTPServer\nname: s\nport: ${port}\n${address}` +
    `rules:\n  - paths:\n    - backend: echo\n`;
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  try {
    await node.ctl(["object", "create"], PIPELINES.replace("BACKEND", String(backend.addr.port)));
    await node.ctl(["object", "create"], server("address: 127.0.0.1\n"));
    const url = `http://127.0.0.1:${port}`;
    await eventually("up", async () => (await request(`${url}/up`)).body === "/up");
    const slow = request(`${url}/slow`, { client } as RequestInit);
    await new Promise((r) => setTimeout(r, 300));
    // An address change restarts the listener on the same port (127.0.0.1 is in the any address).
    const started = Date.now();
    assert.equal((await node.ctl(["object", "update"], server(""))).code, 0);
    await eventually(
      "the new listener",
      async () => (await request(`${url}/fast`, { client } as RequestInit)).body === "/fast",
      2000,
    );
    assert.ok(Date.now() - started < 2000, "new connections waited for the old one to drain");
    assert.deepEqual(
      (({ status, body }) => ({ status, body }))(await slow),
      { status: 200, body: "/slow" },
    );
  } finally {
    client.close();
    await node.stop();
    await backend.shutdown();
  }
});

Deno.test({
  name: "httpserver: without an address, IPv6 clients are served too, as by Easegress's :port",
  // A host without IPv6, or with IPv6-only sockets, keeps IPv4 listeners.
  ignore: anyAddress() !== "::",
  async fn() {
    const backend = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => new Response(req.headers.get("x-forwarded-for")),
    );
    const node = await startNodeProcess();
    try {
      const port = await serveEcho(node, backend.addr.port);
      // Each client is forwarded as itself: IPv4 ones not in their IPv4-mapped form.
      assert.equal((await request(`http://[::1]:${port}/`)).body, "::1");
      assert.equal((await request(`http://127.0.0.1:${port}/`)).body, "127.0.0.1");
    } finally {
      await node.stop();
      await backend.shutdown();
    }
  },
});

Deno.test("httpserver: the access log stamps a request with when it came in", async () => {
  const node = await startNodeProcess();
  const port = freePort();
  try {
    const objects =
      `kind: Pipeline\nname: slow\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n      - code: 200\n        body: late\n        delay: 1s\n---\nkind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - backend: slow\n`;
    assert.equal((await node.ctl(["object", "create"], objects)).code, 0);
    await eventually(
      "served",
      async () => (await request(`http://127.0.0.1:${port}/warm`)).status === 200,
    );
    const sent = Date.now();
    assert.equal((await request(`http://127.0.0.1:${port}/timed`)).body, "late");
    const logFile = `${node.homeDir}/log/filter_http_access.log`;
    await eventually("logged", async () => (await Deno.readTextFile(logFile)).includes("/timed"));
    const logged = /^\[(\S+)\] \[\S+ \S+ GET \/timed /m.exec(await Deno.readTextFile(logFile));
    const stamp = Date.parse(logged![1]);
    // The answer took the Mock's second; the stamp is its start, not its end.
    assert.ok(stamp >= sent - 5 && stamp < sent + 600, `stamp ${stamp - sent} ms after sending`);
  } finally {
    await node.stop();
  }
});

Deno.test("httpserver: the access log and statistics time a streamed answer to its last byte, over HTTP/1.1 and h2c", async () => {
  // A body of unknown length whose second half comes 700 ms after its head.
  const backend = Deno.serve({ hostname: "127.0.0.1", port: freePort(), onListen() {} }, () => {
    const body = new ReadableStream<Uint8Array>({
      async start(c) {
        c.enqueue(new TextEncoder().encode("first "));
        await new Promise((r) => setTimeout(r, 700));
        c.enqueue(new TextEncoder().encode("second"));
        c.close();
      },
    });
    return new Response(body);
  });
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  try {
    await node.ctl(["object", "create"], PIPELINES.replace("BACKEND", String(backend.addr.port)));
    await node.ctl(
      ["object", "create"],
      `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - backend: echo\n`,
    );
    await eventually(
      "up",
      async () => (await request(`http://127.0.0.1:${port}/warm`)).status === 200,
    );
    for (const version of ["--http1.1", "--http2-prior-knowledge"]) {
      const out = await new Deno.Command("curl", {
        args: ["-s", version, `http://127.0.0.1:${port}/streamed${version}`],
        stdout: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(out.stdout), "first second", version);
    }
    const logFile = `${node.homeDir}/log/filter_http_access.log`;
    const durations = async () =>
      [...(await Deno.readTextFile(logFile)).matchAll(
        /GET \/streamed\S+ HTTP\/\S+ 200\] \[([\d.]+)(µs|ms|s) /g,
      )].map(([, n, unit]) => Number(n) * (unit === "s" ? 1000 : unit === "µs" ? 0.001 : 1));
    await eventually("logged", async () => (await durations()).length === 2);
    for (const ms of await durations()) assert.ok(ms >= 650, `logged ${ms} ms`);
    const status = await node.ctl(["-o", "json", "object", "status", "get", "s"]);
    const max = JSON.parse(status.stdout)["eg-default-name"].max;
    assert.ok(max >= 650, `max ${max} ms`);
  } finally {
    await node.stop();
    await backend.shutdown();
  }
});

Deno.test("httpserver: the access log's tx of a streamed answer is the bytes that went, over HTTP/1.1 and h2c", async () => {
  // 300 000 bytes without a Content-Length, and an answer cut at 100 000 of its 1 000 000.
  const chunk = new Uint8Array(50_000).fill(97);
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 28611, onListen() {} }, () => {
    let left = 6;
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(c) {
          if (left-- > 0) c.enqueue(chunk);
          else c.close();
        },
      }),
    );
  });
  const cutting = Deno.listen({ hostname: "127.0.0.1", port: 28612 });
  (async () => {
    for await (const conn of cutting) {
      const head = "HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n";
      conn.read(new Uint8Array(4096)).then(async () => {
        await conn.write(new TextEncoder().encode(head));
        for (let i = 0; i < 2; i++) await conn.write(chunk);
        conn.close();
      }).catch(() => {});
    }
  })();
  const node = await startNodeProcess({ apiPort: 28610, args: ["--workers", "1"] });
  const port = 28613;
  try {
    await node.ctl(["object", "create"], PIPELINES.replace("BACKEND", "28611"));
    await node.ctl(
      ["object", "create"],
      PIPELINES.replace("BACKEND", "28612").replace("name: echo", "name: cut"),
    );
    await node.ctl(
      ["object", "create"],
      `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - pathPrefix: /cut\n      backend: cut\n    - backend: echo\n`,
    );
    await eventually(
      "up",
      async () => (await request(`http://127.0.0.1:${port}/warm`)).status === 200,
    );
    for (const version of ["--http1.1", "--http2-prior-knowledge"]) {
      for (const path of ["/streamed", "/cut"]) {
        await new Deno.Command("curl", {
          args: ["-s", "-o", "/dev/null", version, `http://127.0.0.1:${port}${path}${version}`],
        }).output();
      }
    }
    const logFile = `${node.homeDir}/log/filter_http_access.log`;
    const sizes = async () =>
      Object.fromEntries(
        [...(await Deno.readTextFile(logFile)).matchAll(
          /GET (\/\w+)--(http\S+) HTTP\/\S+ 200\] \[\S+ rx:0B tx:(\d+)B\]/g,
        )].map(([, path, version, tx]) => [`${path} ${version}`, Number(tx)]),
      );
    await eventually("logged", async () => Object.keys(await sizes()).length === 4);
    assert.deepEqual(await sizes(), {
      "/streamed http1.1": 300_000,
      "/streamed http2-prior-knowledge": 300_000,
      "/cut http1.1": 100_000,
      "/cut http2-prior-knowledge": 100_000,
    });
  } finally {
    await node.stop();
    await backend.shutdown();
    cutting.close();
  }
});

Deno.test("httpserver: the access log's rx is the body the client sent, whatever filters made of it", async () => {
  const node = await startNodeProcess({ apiPort: 28620, args: ["--workers", "1"] });
  const port = 28621;
  try {
    await node.ctl(
      ["object", "create"],
      `name: adapt\nkind: Pipeline\nfilters:\n  - name: a\n    kind: RequestAdaptor\n    body: short\n  - name: m\n    kind: Mock\n    rules:\n      - code: 200\n        body: ok\n`,
    );
    await node.ctl(
      ["object", "create"],
      `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - backend: adapt\n`,
    );
    await eventually(
      "up",
      async () => (await request(`http://127.0.0.1:${port}/warm`)).status === 200,
    );
    for (const version of ["--http1.1", "--http2-prior-knowledge"]) {
      for (const framing of [[], ["-H", "transfer-encoding: chunked"]]) {
        if (framing.length && version !== "--http1.1") continue;
        const path = `/up${version}${framing.length ? "-chunked" : ""}`;
        const out = await new Deno.Command("curl", {
          args: ["-s", version, ...framing, "--data-binary", "x".repeat(3000)]
            .concat([`http://127.0.0.1:${port}${path}`]),
          stdout: "piped",
        }).output();
        assert.equal(new TextDecoder().decode(out.stdout), "ok", path);
      }
    }
    const logFile = `${node.homeDir}/log/filter_http_access.log`;
    const sizes = async () =>
      Object.fromEntries(
        [...(await Deno.readTextFile(logFile)).matchAll(
          /POST \/up--(\S+) HTTP\/\S+ 200\] \[\S+ rx:(\d+)B /g,
        )].map(([, path, rx]) => [path, Number(rx)]),
      );
    await eventually("logged", async () => Object.keys(await sizes()).length === 3);
    assert.deepEqual(await sizes(), {
      "http1.1": 3000,
      "http1.1-chunked": 3000,
      "http2-prior-knowledge": 3000,
    });
  } finally {
    await node.stop();
  }
});

Deno.test("serve: a stop signal given twice at once still stops gracefully; a later one at once", async () => {
  const slowServer = (port: number) =>
    `kind: Pipeline\nname: slow\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n      - code: 200\n        body: late\n        delay: 1s\n---\nkind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - backend: slow\n`;
  for (const [gapMs, code] of [[0, 0], [600, 255]]) {
    const node = await startNodeProcess();
    const port = freePort();
    try {
      assert.equal((await node.ctl(["object", "create"], slowServer(port))).code, 0);
      await eventually(
        "served",
        async () => (await request(`http://127.0.0.1:${port}/warm`)).status === 200,
      );
      const inFlight = request(`http://127.0.0.1:${port}/`).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
      // Ctrl-C reaches a launcher (deno task, npx) and the node, and the launcher passes it on.
      node.signal("SIGINT");
      await new Promise((r) => setTimeout(r, gapMs));
      node.signal("SIGINT");
      assert.equal(await node.exited(), code, `second signal ${gapMs} ms after the first`);
      const answer = await inFlight;
      if (code === 0) assert.equal(answer?.body, "late");
    } finally {
      await node.stop();
    }
  }
});

Deno.test("httpserver: a client uploading past the Proxy's early answer still reads it whole", async () => {
  // A backend that reads only the request head, answers 413 at once and
  // closes half a second later, as servers refusing an upload do.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const answered: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      answered.push((async () => {
        const buf = new Uint8Array(64 * 1024);
        let head = "";
        try {
          while (!head.includes("\r\n\r\n")) {
            const n = await conn.read(buf);
            if (n === null) break;
            head += new TextDecoder().decode(buf.subarray(0, n));
          }
          await conn.write(
            new TextEncoder().encode(
              "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 5\r\n\r\nearly",
            ),
          );
          await new Promise((r) => setTimeout(r, 500));
        } catch { /* the proxy went first */ }
        conn.close();
      })());
    }
  })();
  const node = await startNodeProcess();
  const port = freePort();
  try {
    await node.ctl(
      ["object", "create"],
      PIPELINES.replace("BACKEND", String(listener.addr.port)).replace(
        "kind: Proxy\n",
        "kind: Proxy\n    serverMaxBodySize: -1\n",
      ),
    );
    await node.ctl(
      ["object", "create"],
      `kind: HTTPServer\nname: s\nport: ${port}\nclientMaxBodySize: -1\nrules:\n  - paths:\n    - backend: echo\n`,
    );
    await eventually("listening", async () => {
      const status = await node.ctl(["-o", "json", "object", "status", "get", "s"]);
      return JSON.parse(status.stdout)["eg-default-name"]?.state === "running";
    });
    const size = 16 * 1024 * 1024;
    const piece = new Uint8Array(64 * 1024).fill(120);
    // A reset loses the answer only some of the time: several rounds.
    for (let round = 0; round < 5; round++) {
      const client = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await client.write(
          new TextEncoder().encode(
            `POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`,
          ),
        );
        // Sends it all before reading, as a client busy uploading does; a
        // reset fails the upload (curl's exit 55) and drops the unread answer.
        let sent = 0;
        let failure = "";
        try {
          while (sent < size) {
            sent += await client.write(piece.subarray(0, Math.min(piece.length, size - sent)));
          }
        } catch (e) {
          failure = String(e);
        }
        let answer = "";
        const buf = new Uint8Array(64 * 1024);
        const decoder = new TextDecoder();
        try {
          for (let n; (n = await client.read(buf)) !== null;) {
            answer += decoder.decode(buf.subarray(0, n), { stream: true });
          }
        } catch (e) {
          failure ||= String(e);
        }
        assert.match(answer, /^HTTP\/1\.1 413 [^]*\r\n\r\nearly$/, `round ${round}: ${failure}`);
        assert.equal(failure, "", `round ${round}: reset after ${sent} bytes`);
      } finally {
        client.close();
      }
    }
  } finally {
    await node.stop();
    listener.close();
    await accepting.catch(() => {});
    await Promise.allSettled(answered);
  }
});
