/**
 * HTTP/3 through the real node: an HTTPServer with `https: true, http3: true`
 * serves QUIC on the TCP port's number, routes to a Pipeline whose Proxy
 * reaches a local backend, and TCP responses advertise `Alt-Svc`.
 */

import assert from "node:assert/strict";
import { eventually, freePort, startNodeProcess } from "../helpers.ts";
import { gtlsclient, testCert } from "./_helpers.ts";
import { makeSelfSignedCert } from "../../../tools/self_signed_cert.ts";

Deno.test("http3: GET, 300 KB POST, 20 streams and a large body through a node's pipeline", async () => {
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/big") {
      const big = new Uint8Array(3 * 1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = i % 251;
      return new Response(big);
    }
    const body = new Uint8Array(await req.arrayBuffer());
    let sum = 0;
    for (const b of body) sum = (sum + b) % 65521;
    return new Response(`${req.method} ${path} ${body.length} ${sum}`);
  });
  const { cert, key } = await testCert();
  const node = await startNodeProcess();
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "h3-node-" });
  try {
    const pipeline =
      `name: p\nkind: Pipeline\nfilters:\n  - name: proxy\n    kind: Proxy\n    pools:\n      - servers:\n          - url: http://127.0.0.1:${backend.addr.port}\n`;
    assert.equal((await node.ctl(["object", "create"], pipeline)).code, 0);
    const bad = `kind: HTTPServer\nname: s\nport: ${port}\nhttp3: true\nrules: []\n`;
    assert.match((await node.ctl(["object", "create"], bad)).stderr, /http3: needs https: true/);
    const server = `kind: HTTPServer\nname: s\nport: ${port}\nhttps: true\nhttp3: true\n` +
      `certBase64: ${btoa(cert)}\nkeyBase64: ${btoa(key)}\nrules:\n  - paths:\n    - backend: p\n`;
    const created = await node.ctl(["object", "create"], server);
    assert.equal(created.code, 0, created.stderr);

    await eventually("h3 GET", async () => {
      const r = await gtlsclient(port, ["/hello"], [`--download=${dir}`]);
      return r.statuses.get(0) === "200";
    }, 10_000);
    assert.equal(await Deno.readTextFile(`${dir}/hello`), "GET /hello 0 0");

    const upload = new Uint8Array(300 * 1024).map((_, i) => (i * 7) % 256);
    let sum = 0;
    for (const b of upload) sum = (sum + b) % 65521;
    await Deno.writeFile(`${dir}/up.bin`, upload);
    const post = await gtlsclient(port, ["/upload"], [
      "-m",
      "POST",
      "-d",
      `${dir}/up.bin`,
      `--download=${dir}`,
    ]);
    assert.equal(post.statuses.get(0), "200", post.stderr.slice(-1500));
    assert.equal(await Deno.readTextFile(`${dir}/upload`), `POST /upload ${upload.length} ${sum}`);

    // GETs with a body (gtlsclient sends GET by default) are served on one
    // connection; the body once cut off the connection with H3_FRAME_ERROR.
    const gets = await gtlsclient(port, ["/get-a", "/get-b"], [
      "-d",
      `${dir}/up.bin`,
      `--download=${dir}`,
    ]);
    assert.equal(gets.statuses.get(0), "200", gets.stderr.slice(-1500));
    assert.equal(gets.statuses.get(4), "200", gets.stderr.slice(-1500));
    assert.match(await Deno.readTextFile(`${dir}/get-a`), /^GET \/get-a /);
    assert.match(await Deno.readTextFile(`${dir}/get-b`), /^GET \/get-b /);

    const paths = Array.from({ length: 20 }, (_, i) => `/many/r${i}`);
    const many = await gtlsclient(port, paths, [`--download=${dir}`]);
    assert.equal(many.statuses.size, 20, many.stderr.slice(-1500));
    for (let i = 0; i < 20; i++) {
      assert.equal(await Deno.readTextFile(`${dir}/r${i}`), `GET /many/r${i} 0 0`);
    }

    const big = await gtlsclient(port, ["/big"], [
      "-q",
      `--download=${dir}`,
      "--max-stream-data-bidi-local=256K",
      "--max-data=512K",
    ]);
    assert.equal(big.code, 0, big.stderr.slice(-1500));
    const body = await Deno.readFile(`${dir}/big`);
    assert.equal(body.length, 3 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4099) assert.equal(body[i], i % 251);

    const client = Deno.createHttpClient({ caCerts: [cert] });
    const tcp = await fetch(`https://localhost:${port}/tcp`, { client });
    assert.equal(await tcp.text(), "GET /tcp 0 0");
    assert.equal(tcp.headers.get("alt-svc"), `h3=":${port}"; ma=86400`);

    // A listener change restarts the listener on its port: HTTP/3 goes on with the new one.
    const updated = await node.ctl(
      ["object", "update"],
      server.replace("http3: true\n", "http3: true\nkeepAliveTimeout: 30s\n"),
    );
    assert.equal(updated.code, 0, updated.stderr);
    await eventually("TCP restarted", async () => {
      const r = await fetch(`https://localhost:${port}/tcp`, { client });
      await r.body?.cancel();
      return r.ok;
    });
    const again = await gtlsclient(port, ["/again"], [`--download=${dir}`]);
    assert.equal(again.statuses.get(0), "200", again.stderr.slice(-1500));
    assert.doesNotMatch(node.output(), /cannot serve HTTP\/3/);
    client.close();
  } finally {
    await node.stop();
    await backend.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("http3: with several certificates, Alt-Svc goes only with hosts the QUIC one (the first) is for", async () => {
  const first = await makeSelfSignedCert({ names: ["a.example"] });
  const second = await makeSelfSignedCert({ names: ["b.example"] });
  const node = await startNodeProcess();
  const port = freePort();
  try {
    const mock =
      "name: p\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n      - code: 200\n        body: up\n";
    assert.equal((await node.ctl(["object", "create"], mock)).code, 0);
    const server = `kind: HTTPServer\nname: s\nport: ${port}\nhttps: true\nhttp3: true\n` +
      `certs:\n  a: ${btoa(first.cert)}\n  b: ${btoa(second.cert)}\n` +
      `keys:\n  a: ${btoa(first.key)}\n  b: ${btoa(second.key)}\n` +
      "rules:\n  - paths:\n    - backend: p\n";
    const created = await node.ctl(["object", "create"], server);
    assert.equal(created.code, 0, created.stderr);
    const altSvc = async (host: string) => {
      const out = await new Deno.Command("curl", {
        args: [
          "-sk",
          "-D",
          "-",
          "-o",
          "/dev/null",
          "--resolve",
          `${host}:${port}:127.0.0.1`,
          `https://${host}:${port}/`,
        ],
      }).output();
      const head = new TextDecoder().decode(out.stdout);
      return head.startsWith("HTTP") ? /^alt-svc: (.*)\r$/im.exec(head)?.[1] ?? "none" : undefined;
    };
    await eventually("served", async () => (await altSvc("a.example")) !== undefined);
    assert.equal(await altSvc("a.example"), `h3=":${port}"; ma=86400`);
    assert.equal(await altSvc("b.example"), "none");
  } finally {
    await node.stop();
    for (const dir of [first.dir, second.dir]) await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("http3: keepAliveTimeout closes idle QUIC connections", async () => {
  const { cert, key } = await testCert();
  const node = await startNodeProcess();
  const port = freePort();
  try {
    const server = `kind: HTTPServer\nname: s\nport: ${port}\nhttps: true\nhttp3: true\n` +
      `keepAliveTimeout: 1s\ncertBase64: ${btoa(cert)}\nkeyBase64: ${btoa(key)}\nrules: []\n`;
    const created = await node.ctl(["object", "create"], server);
    assert.equal(created.code, 0, created.stderr);
    await eventually(
      "h3 up",
      async () => (await gtlsclient(port, ["/"])).statuses.get(0) === "404",
    );
    const conn = await Deno.connectQuic({
      hostname: "127.0.0.1",
      port,
      alpnProtocols: ["h3"],
      caCerts: [cert],
      maxIdleTimeout: 120_000,
    });
    const start = Date.now();
    const closed = await Promise.race([
      conn.closed.then(() => true, () => true),
      new Promise<false>((r) => setTimeout(() => r(false), 10_000)),
    ]);
    assert.ok(
      closed && Date.now() - start < 5000,
      `closed: ${closed} after ${Date.now() - start} ms`,
    );
  } finally {
    await node.stop();
  }
});

Deno.test("http3: a UDP port held by another process leaves TCP serving, says so in health and advertises no HTTP/3 until it is served", async () => {
  const { cert, key } = await testCert();
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const port = freePort();
  // Both families: the server listens on `::` or 0.0.0.0, whichever this host gives.
  const holders = [
    Deno.listenDatagram({ hostname: "0.0.0.0", port, transport: "udp" }),
  ];
  try {
    holders.push(Deno.listenDatagram({ hostname: "::", port, transport: "udp" }));
  } catch { /* no IPv6, or the IPv4 socket covers it */ }
  try {
    const mock = `kind: Pipeline\nname: ok\nfilters:\n  - name: m\n    kind: Mock\n` +
      `    rules:\n      - code: 200\n`;
    assert.equal((await node.ctl(["object", "create"], mock)).code, 0);
    const server = `kind: HTTPServer\nname: s\nport: ${port}\nhttps: true\nhttp3: true\n` +
      `certBase64: ${btoa(cert)}\nkeyBase64: ${btoa(key)}\n` +
      `rules:\n  - paths:\n    - path: /ok\n      backend: ok\n`;
    assert.equal((await node.ctl(["object", "create"], server)).code, 0);
    await eventually("the status names the HTTP/3 problem", async () => {
      const status = await node.ctl(["-o", "json", "object", "status", "get", "s"]);
      const doc = JSON.parse(status.stdout)["eg-default-name"];
      return doc?.state === "running" &&
        /cannot serve HTTP\/3 on UDP port \d+: /.test(doc.health);
    });
    const tcp = await fetch(`https://127.0.0.1:${port}/`, {
      client: Deno.createHttpClient({ caCerts: [cert] }),
    });
    await tcp.body?.cancel();
    assert.equal(tcp.status, 404);
    // New connections reach either worker: neither sends clients to the UDP port.
    const altSvcs = async () => {
      const seen = new Set<string | null>();
      for (let i = 0; i < 8; i++) {
        const client = Deno.createHttpClient({ caCerts: [cert] });
        const r = await fetch(`https://127.0.0.1:${port}/ok`, { client });
        await r.body?.cancel();
        client.close();
        assert.equal(r.status, 200);
        seen.add(r.headers.get("alt-svc"));
      }
      return [...seen];
    };
    assert.deepEqual(await altSvcs(), [null]);
    // Once the port is free, HTTP/3 binds on its next try, and is advertised.
    holders.forEach((h) => h.close());
    holders.length = 0;
    await eventually(
      "HTTP/3 advertised",
      async () => JSON.stringify(await altSvcs()) === JSON.stringify([`h3=":${port}"; ma=86400`]),
      10_000,
    );
  } finally {
    holders.forEach((h) => h.close());
    await node.stop();
  }
});
