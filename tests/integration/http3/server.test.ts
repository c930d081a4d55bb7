import assert from "node:assert/strict";
import { serveHttp3 } from "../../../server/http3/mod.ts";
import { gtlsclient, run, testCert } from "./_helpers.ts";

/** The test handler: echo for POST, a large body for /big, a barrier for /together/*. */
function testHandler(barrier: { waiting: Array<() => void>; size: number }) {
  const big = new Uint8Array(4 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  return async (request: Request, info: { remoteAddr: Deno.NetAddr }): Promise<Response> => {
    const url = new URL(request.url);
    if (request.method === "POST") return new Response(request.body); // streamed echo
    if (url.pathname === "/big") return new Response(big);
    if (url.pathname.startsWith("/together/")) {
      // Answers only once `size` requests are in flight at the same time.
      await new Promise<void>((resolve) => {
        barrier.waiting.push(resolve);
        if (barrier.waiting.length === barrier.size) barrier.waiting.splice(0).forEach((r) => r());
      });
      return new Response(url.pathname);
    }
    return new Response(
      `${request.method} ${request.url} from ${info.remoteAddr.transport}:${info.remoteAddr.hostname}\n`,
      { headers: { "x-served-by": "h3-test" } },
    );
  };
}

async function withServer(fn: (port: number, dir: string) => Promise<void>): Promise<void> {
  const { cert, key } = await testCert();
  const barrier = { waiting: [] as Array<() => void>, size: 20 };
  let listened: Deno.NetAddr | undefined;
  const server = serveHttp3({
    hostname: "127.0.0.1",
    port: 0,
    cert,
    key,
    handler: testHandler(barrier),
    onListen: (addr) => listened = addr,
  });
  const dir = await Deno.makeTempDir({ prefix: "h3-dl-" });
  try {
    assert.equal(listened?.port, server.addr.port);
    assert.equal(server.addr.transport, "udp");
    await fn(server.addr.port, dir);
  } finally {
    barrier.waiting.splice(0).forEach((r) => r());
    await server.shutdown(2000);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("serveHttp3 answers a GET from gtlsclient", async () => {
  await withServer(async (port, dir) => {
    const result = await gtlsclient(port, ["/hello?x=1"], [`--download=${dir}`]);
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.equal(result.statuses.get(0), "200");
    assert.match(result.stderr, /\[x-served-by: h3-test\]/);
    const body = await Deno.readTextFile(`${dir}/hello?x=1`);
    assert.equal(body, `GET https://127.0.0.1:${port}/hello?x=1 from udp:127.0.0.1\n`);
  });
});

Deno.test("serveHttp3 streams a 300 KB POST body back as the response", async () => {
  await withServer(async (port, dir) => {
    const upload = new Uint8Array(300 * 1024);
    crypto.getRandomValues(upload.subarray(0, 65536));
    for (let i = 65536; i < upload.length; i++) upload[i] = upload[i - 65536] ^ (i & 0xff);
    await Deno.writeFile(`${dir}/upload.bin`, upload);
    const result = await gtlsclient(port, ["/echo"], [
      "-m",
      "POST",
      "-d",
      `${dir}/upload.bin`,
      `--download=${dir}`,
    ]);
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.equal(result.statuses.get(0), "200");
    const echoed = await Deno.readFile(`${dir}/echo`);
    assert.equal(echoed.length, upload.length);
    assert.deepEqual(echoed, upload);
  });
});

Deno.test("serveHttp3 serves 20 concurrent streams on one connection", async () => {
  await withServer(async (port, dir) => {
    const paths = Array.from({ length: 20 }, (_, i) => `/together/r${i}`);
    const result = await gtlsclient(port, paths, [`--download=${dir}`]);
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.equal(result.statuses.size, 20);
    for (const status of result.statuses.values()) assert.equal(status, "200");
    for (let i = 0; i < 20; i++) {
      assert.equal(await Deno.readTextFile(`${dir}/r${i}`), `/together/r${i}`);
    }
  });
});

Deno.test("serveHttp3 sends a 4 MB body through a 256 KB flow-control window", async () => {
  await withServer(async (port, dir) => {
    const result = await gtlsclient(port, ["/big"], [
      "-q",
      `--download=${dir}`,
      "--max-stream-data-bidi-local=256K",
      "--max-data=512K",
    ]);
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    const body = await Deno.readFile(`${dir}/big`);
    assert.equal(body.length, 4 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4099) assert.equal(body[i], i % 251, `byte ${i}`);
  });
});

Deno.test("serveHttp3 rejects bad options with a clear TypeError", async () => {
  const { cert, key } = await testCert();
  const handler = () => new Response("x");
  assert.throws(() => serveHttp3({ port: 70000, cert, key, handler }), /port 70000/);
  assert.throws(() => serveHttp3({ port: 0, cert: "nope", key, handler }), /cert is not a PEM/);
  assert.throws(
    () => serveHttp3({ port: 0, cert, key, handler, maxHeaderBytes: 10 }),
    /maxHeaderBytes 10/,
  );
});

Deno.test("gtlsclient is installed (package ngtcp2-client)", async () => {
  const result = await run("gtlsclient", ["--help"], "ngtcp2-client");
  assert.match(result.stdout + result.stderr, /Usage/);
});

Deno.test("a second serveHttp3 on a serving port takes its new connections; the first drains", async () => {
  const { cert, key } = await testCert();
  const answer = (name: string) => () => new Response(name, { headers: { "x-served-by": name } });
  const first = serveHttp3({ hostname: "127.0.0.1", port: 0, cert, key, handler: answer("first") });
  const port = first.addr.port;
  let second: ReturnType<typeof serveHttp3> | undefined;
  try {
    // A restarted HTTPServer (a new certificate, say) binds its port while the old one drains.
    second = serveHttp3({ hostname: "127.0.0.1", port, cert, key, handler: answer("second") });
    assert.equal(second.addr.port, port);
    const served = async () => (await gtlsclient(port, ["/"])).stderr;
    assert.match(await served(), /\[x-served-by: second\]/);
    await first.shutdown(1000);
    assert.match(await served(), /\[x-served-by: second\]/);
    await second.shutdown(1000);
    // Restarted again at once: the port is taken over, not bound anew.
    second = serveHttp3({ hostname: "127.0.0.1", port, cert, key, handler: answer("third") });
    assert.match(await served(), /\[x-served-by: third\]/);
  } finally {
    await first.shutdown(1000);
    await second?.shutdown(1000);
  }
});

Deno.test("a port restarted twice still takes connections after garbage collection", async () => {
  const fixture = new URL("../../fixtures/http3_restart_gc.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-net", "--v8-flags=--expose-gc", fixture],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const printed = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.deepEqual(JSON.parse(printed), ["connected", "connected"]);
});

Deno.test("a listener shut down after serving HTTP/3 lets its UDP port go", async () => {
  // The newest request's objects, kept for the isolate's next idle trim, lead
  // to the listener: its socket stayed bound and HTTP/3 could not come back.
  const fixture = new URL("../../fixtures/http3_released_after_request.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--unstable-net",
      "--v8-flags=--expose-gc",
      fixture.pathname,
      "25501",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "released");
});

Deno.test("shutdown lets a request slower than the socket's linger finish", async () => {
  const { cert, key } = await testCert();
  const handler = async () => {
    await new Promise((r) => setTimeout(r, 3000));
    return new Response("late");
  };
  const server = serveHttp3({ hostname: "127.0.0.1", port: 0, cert, key, handler });
  const answered = gtlsclient(server.addr.port, ["/slow"]);
  await new Promise((r) => setTimeout(r, 300));
  await server.shutdown(10_000);
  const result = await answered;
  assert.equal(result.statuses.get(0), "200", result.stderr.slice(-1500));
});

Deno.test("a request slower than idleTimeoutMs is answered: the connection is kept alive while it is in flight", async () => {
  const { cert, key } = await testCert();
  // A backend slower than keepAliveTimeout: the client (gtlsclient sends no PINGs)
  // and the server heard nothing from each other and let the connection time out.
  const handler = async () => {
    await new Promise((r) => setTimeout(r, 2500));
    return new Response("late");
  };
  const server = serveHttp3({
    hostname: "127.0.0.1",
    port: 26501,
    cert,
    key,
    handler,
    idleTimeoutMs: 800,
  });
  try {
    const result = await gtlsclient(server.addr.port, ["/slow"]);
    assert.equal(result.statuses.get(0), "200", result.stderr.slice(-1500));
    // An idle connection still times out.
    const conn = await Deno.connectQuic({
      hostname: "127.0.0.1",
      port: server.addr.port,
      alpnProtocols: ["h3"],
      caCerts: [cert],
      maxIdleTimeout: 60_000,
    });
    const start = Date.now();
    await conn.closed.catch(() => {});
    assert.ok(Date.now() - start < 5000, `closed after ${Date.now() - start} ms`);
  } finally {
    await server.shutdown(1000);
  }
});
