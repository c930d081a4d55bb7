/**
 * HTTPServer `caCertBase64` (mutual TLS) and CertExtractor through the real
 * binary: a client with a certificate the CA signed is served over HTTP/1.1
 * and HTTP/2, and CertExtractor puts its subject and its issuer's names into
 * request headers the backend sees; a client without a certificate, or
 * with one another CA signed, does not get past the handshake.
 */

import assert from "node:assert/strict";
import { assertRefused, eventually, freePort, startNodeProcess } from "./helpers.ts";
import { makeCertificates } from "./tls_certificates.ts";

async function curl(args: string[]) {
  const out = await new Deno.Command("curl", { args: ["-s", "--max-time", "10", ...args] })
    .output();
  return { code: out.code, body: new TextDecoder().decode(out.stdout) };
}

/** Pipeline `p` of `filters` behind HTTPServer `s` on `port`, asking for certificates of the test CA. */
async function mtlsObjects(dir: string, port: number, filters: string, serverFields = "") {
  const b64 = async (file: string) => (await Deno.readFile(`${dir}/${file}`)).toBase64();
  return `kind: Pipeline
name: p
filters:
${filters}
---
kind: HTTPServer
name: s
port: ${port}
https: true
${serverFields}certBase64: ${await b64("ca-server.pem")}
keyBase64: ${await b64("ca-server.key")}
caCertBase64: ${await b64("ca.pem")}
rules:
- paths:
  - {pathPrefix: /, backend: p}
`;
}

/** A Proxy filter to `backendPort`, as `mtlsObjects` takes it. */
function proxyTo(backendPort: number): string {
  return `- name: proxy
  kind: Proxy
  pools:
  - servers:
    - url: http://127.0.0.1:${backendPort}`;
}

/** curl's arguments for a request to `port` with a client certificate the test CA signed. */
function withClientCert(dir: string, port: number): string[] {
  return [
    "--cacert",
    `${dir}/ca.pem`,
    "--cert",
    `${dir}/ca-client.pem`,
    "--key",
    `${dir}/ca-client.key`,
    `https://127.0.0.1:${port}/`,
  ];
}

/** Waits until the server takes TLS connections (curl: 7 refused, 35 handshake failed). */
async function untilServed(args: string[]): Promise<void> {
  await eventually("served", async () => {
    const r = await curl(["--max-time", "2", ...args]);
    return r.code !== 7 && r.code !== 35;
  });
}

Deno.test("caCertBase64: clients need a certificate the CA signed; CertExtractor reads it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eg-client-certs-" });
  await makeCertificates(dir, "ca");
  await makeCertificates(dir, "other");
  const seen: Record<string, string | null>[] = [];
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push({
      cn: req.headers.get("tls-subject-CommonName"),
      org: req.headers.get("x-client-org"),
      issuer: req.headers.get("x-root"),
      last: req.headers.get("x-last"),
    });
    return new Response("ok");
  });
  const node = await startNodeProcess({ args: ["--workers", "2"] });
  const port = freePort();
  const b64 = async (file: string) => (await Deno.readFile(`${dir}/${file}`)).toBase64();
  try {
    const objects = `kind: Pipeline
name: p
filters:
- {name: cn, kind: CertExtractor, target: subject, field: CommonName}
- {name: org, kind: CertExtractor, target: subject, field: Organization, headerKey: X-Client-Org}
- {name: root, kind: CertExtractor, certIndex: -1, target: issuer, field: CommonName, headerKey: X-Root}
- {name: last, kind: CertExtractor, certIndex: -1, target: subject, field: CommonName, headerKey: X-Last}
- name: proxy
  kind: Proxy
  pools:
  - servers:
    - url: http://127.0.0.1:${backend.addr.port}
---
kind: HTTPServer
name: s
port: ${port}
https: true
certBase64: ${await b64("ca-server.pem")}
keyBase64: ${await b64("ca-server.key")}
caCertBase64: ${await b64("ca.pem")}
rules:
- paths:
  - {pathPrefix: /, backend: p}
`;
    const created = await node.ctl(["object", "create"], objects);
    assert.equal(created.code, 0, created.stderr);
    const url = `https://127.0.0.1:${port}/`;
    const trusted = ["--cacert", `${dir}/ca.pem`];
    const withCert = [
      ...trusted,
      "--cert",
      `${dir}/ca-client.pem`,
      "--key",
      `${dir}/ca-client.key`,
    ];
    await eventually("served", async () => (await curl([...withCert, url])).body === "ok");
    for (const version of ["--http1.1", "--http2"]) {
      const r = await curl([version, ...withCert, url]);
      assert.equal(r.body, "ok", version);
      const { last: _, ...names } = seen.at(-1)!;
      assert.deepEqual(names, { cn: "ca-client", org: "ca org", issuer: "ca" });
    }
    // certIndex counts in the certificates the client sent, as Go's PeerCertificates: a
    // client that cannot build its chain sends its leaf alone, and the CA the server
    // trusts is not added.
    for (const version of ["--http1.1", "--http2"]) {
      const leafOnly = ["-k", "--cert", `${dir}/ca-client.pem`, "--key", `${dir}/ca-client.key`];
      assert.equal((await curl([version, ...leafOnly, url])).body, "ok", version);
      assert.equal(seen.at(-1)?.last, "ca-client", version);
    }
    // A request head over the HTTP/1.1 parser's 16 KB gets 431, not a closed connection.
    const big = await curl([
      "--http1.1",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-H",
      `X-Big: ${"a".repeat(20_000)}`,
      ...withCert,
      url,
    ]);
    assert.equal(big.body, "431");
    // No client certificate, or one from another CA: no TLS session, no request.
    const before = seen.length;
    assert.notEqual((await curl([...trusted, url])).code, 0);
    const foreign = [
      ...trusted,
      "--cert",
      `${dir}/other-client.pem`,
      "--key",
      `${dir}/other-client.key`,
    ];
    assert.notEqual((await curl([...foreign, url])).code, 0);
    assert.equal(seen.length, before);

    await assertRefused(node, [
      [
        `kind: HTTPServer\nname: t\nport: ${freePort()}\ncaCertBase64: ${await b64(
          "ca.pem",
        )}\nrules: []\n`,
        /caCertBase64: needs https: true/,
      ],
      [
        `kind: HTTPServer\nname: t\nport: ${freePort()}\nhttps: true\nhttp3: true\ncertBase64: ${await b64(
          "ca-server.pem",
        )}\nkeyBase64: ${await b64("ca-server.key")}\ncaCertBase64: ${await b64(
          "ca.pem",
        )}\nrules: []\n`,
        /http3: cannot be combined with caCertBase64/,
      ],
      [
        `kind: HTTPServer\nname: t\nport: ${freePort()}\nhttps: true\ncertBase64: ${await b64(
          "ca-server.pem",
        )}\nkeyBase64: ${await b64("ca-server.key")}\ncaCertBase64: bm90IGEgY2VydA==\nrules: []\n`,
        /caCertBase64: is neither PEM nor base64-encoded PEM/,
      ],
      [
        "kind: Pipeline\nname: q\nfilters:\n- {name: c, kind: CertExtractor, target: owner, field: Age}\n",
        /target: must be one of subject, issuer[\s\S]*field: must be one of Country/,
      ],
    ]);
  } finally {
    await node.stop();
    await backend.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("caCertBase64: keepAliveTimeout closes idle HTTP/1.1 and HTTP/2 connections; maxConnections caps them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eg-client-certs-" });
  await makeCertificates(dir, "ca");
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  const read = (file: string) => Deno.readTextFile(`${dir}/${file}`);
  const [caCert, cert, key] = [
    await read("ca.pem"),
    await read("ca-client.pem"),
    await read(
      "ca-client.key",
    ),
  ];
  const open = (alpn: string) =>
    Deno.connectTls({
      hostname: "127.0.0.1",
      port,
      caCerts: [caCert],
      cert,
      key,
      alpnProtocols: [alpn],
    });
  /** Milliseconds from `since` until the server ends `conn`, reading and dropping what it sends. */
  const closedAfter = async (conn: Deno.TlsConn, since = Date.now()) => {
    const buf = new Uint8Array(4096);
    try {
      while (await conn.read(buf) !== null) { /* the answer, SETTINGS, GOAWAY */ }
    } catch { /* reset */ }
    conn.close();
    return Date.now() - since;
  };
  /**
   * Opens a connection, sends `hello` and waits for the server's first bytes, so the
   * connection is known to hold a slot; a refused one (a closed probe's slot may be
   * counted for a moment after it closes) is retried.
   */
  const admitted = async (alpn: string, hello: Uint8Array) => {
    let conn: Deno.TlsConn | undefined;
    await eventually(`${alpn} admitted`, async () => {
      conn = await open(alpn);
      try {
        await conn.write(hello);
        if (await conn.read(new Uint8Array(4096)) !== null) return true;
      } catch { /* refused */ }
      conn.close();
      return false;
    });
    return { conn: conn!, at: Date.now() };
  };
  try {
    const objects = await mtlsObjects(
      dir,
      port,
      "- {name: m, kind: Mock, rules: [{code: 200, body: ok}]}",
      "keepAliveTimeout: 1s\nmaxConnections: 2\n",
    );
    const created = await node.ctl(["object", "create"], objects);
    assert.equal(created.code, 0, created.stderr);
    await eventually("served", async () => {
      try {
        const conn = await open("http/1.1");
        conn.close();
        return true;
      } catch {
        return false;
      }
    });

    const h1 = await admitted(
      "http/1.1",
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    );
    const h2 = await admitted(
      "h2",
      new Uint8Array([
        ...new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        ...[0, 0, 0, 4, 0, 0, 0, 0, 0], // an empty SETTINGS frame
      ]),
    );
    // A third connection while two are open is refused.
    const third = await open("http/1.1");
    assert.ok(await closedAfter(third) < 1000);
    // Idle after one second (node's own default would be 5 s for HTTP/1.1, never for HTTP/2).
    const [h1Ms, h2Ms] = await Promise.all([
      closedAfter(h1.conn, h1.at),
      closedAfter(h2.conn, h2.at),
    ]);
    assert.ok(h1Ms >= 500 && h1Ms < 3000, `HTTP/1.1 closed after ${h1Ms} ms`);
    assert.ok(h2Ms >= 500 && h2Ms < 3000, `HTTP/2 closed after ${h2Ms} ms`);
  } finally {
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("caCertBase64: SIGTERM lets in-flight HTTP/1.1 and HTTP/2 requests finish", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eg-client-certs-" });
  await makeCertificates(dir, "ca");
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  let arrived = 0;
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    arrived++;
    await released;
    return new Response("finished");
  });
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  try {
    const objects = await mtlsObjects(dir, port, proxyTo(backend.addr.port));
    assert.equal((await node.ctl(["object", "create"], objects)).code, 0);
    const withCert = withClientCert(dir, port);
    await untilServed(withCert);
    const before = arrived;
    const inFlight = [curl(["--http1.1", ...withCert]), curl(["--http2", ...withCert])];
    await eventually("both arrived", () => Promise.resolve(arrived >= before + 2));
    const stopped = node.stop("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    release();
    for (const r of await Promise.all(inFlight)) assert.equal(r.body, "finished");
    assert.equal(await stopped, 0);
  } finally {
    release();
    await node.stop();
    await backend.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("caCertBase64: a body the upstream cuts midway reaches the client cut, not complete", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eg-client-certs-" });
  await makeCertificates(dir, "ca");
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    let sent = 0;
    return new Response(
      new ReadableStream({
        async pull(c) {
          if (sent++ === 3) return c.error(new Error("upstream gone"));
          c.enqueue(new Uint8Array(50_000));
          await new Promise((r) => setTimeout(r, 50));
        },
      }),
    );
  });
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  try {
    const objects = await mtlsObjects(dir, port, proxyTo(backend.addr.port));
    assert.equal((await node.ctl(["object", "create"], objects)).code, 0);
    const withCert = ["-o", "/dev/null", ...withClientCert(dir, port)];
    await untilServed(withCert);
    // curl: 18 (partial file) over HTTP/1.1, 92 (stream reset) over HTTP/2.
    assert.equal((await curl(["--http1.1", ...withCert])).code, 18);
    assert.equal((await curl(["--http2", ...withCert])).code, 92);
  } finally {
    await node.stop();
    await backend.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
