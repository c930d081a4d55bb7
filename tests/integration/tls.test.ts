/**
 * HTTPS on an HTTPServer: HTTP/2 by ALPN with one certificate, SNI choosing
 * among several, and a listener change (plain -> TLS) applied in place.
 */

import assert from "node:assert/strict";
import { makeSelfSignedCert } from "../../tools/self_signed_cert.ts";
import { eventually, freePort, startNodeProcess } from "./helpers.ts";

async function run(
  cmd: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function indent(text: string, spaces: number): string {
  return text.trim().split("\n").map((l) => " ".repeat(spaces) + l).join("\n");
}

const PIPELINE =
  "name: p\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n      - code: 200\n        body: secure\n";

Deno.test("tls: HTTP/2 by ALPN with one certificate (base64), HTTP/1.1 still served", async () => {
  const one = await makeSelfSignedCert({ names: ["one.test"] });
  const { cert, key } = one;
  const node = await startNodeProcess();
  const port = freePort();
  try {
    assert.equal((await node.ctl(["object", "create"], PIPELINE)).code, 0);
    const yaml = `kind: HTTPServer\nname: s\nport: ${port}\nhttps: true\ncertBase64: ${
      btoa(cert)
    }\nkeyBase64: ${btoa(key)}\nrules:\n  - paths:\n    - backend: p\n`;
    const created = await node.ctl(["object", "create"], yaml);
    assert.equal(created.code, 0, created.stderr);
    const url = `https://one.test:${port}/x`;
    const resolve = `one.test:${port}:127.0.0.1`;
    await eventually("https up", async () => {
      const r = await run("curl", [
        "-s",
        "--cacert",
        one.certFile,
        "--resolve",
        resolve,
        "--http2",
        "-w",
        " %{http_version}",
        url,
      ]);
      return r.stdout === "secure 2";
    });
    const h1 = await run("curl", [
      "-s",
      "--cacert",
      one.certFile,
      "--resolve",
      resolve,
      "--http1.1",
      "-w",
      " %{http_version}",
      url,
    ]);
    assert.equal(h1.stdout, "secure 1.1");
  } finally {
    await node.stop();
    await Deno.remove(one.dir, { recursive: true });
  }
});

// Our own listener, and node:http2's secure server, which `--http1-server deno` keeps for SNI.
for (const server of ["builtin", "deno"]) {
  Deno.test(`tls: SNI picks the certificate for the name asked (--http1-server ${server}); plain -> TLS switch in place`, async () => {
    const a = await makeSelfSignedCert({ names: ["a.test"] });
    const b = await makeSelfSignedCert({ names: ["b.test"] });
    const node = await startNodeProcess({ args: ["--http1-server", server] });
    const port = freePort();
    try {
      assert.equal((await node.ctl(["object", "create"], PIPELINE)).code, 0);
      const plain =
        `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n  - paths:\n    - backend: p\n`;
      assert.equal((await node.ctl(["object", "create"], plain)).code, 0);
      await eventually("plain up", async () => {
        const r = await run("curl", ["-s", `http://127.0.0.1:${port}/`]);
        return r.stdout === "secure";
      });
      const tls = `kind: HTTPServer\nname: s\nport: ${port}\nhttps: true\ncerts:\n  a: |\n${
        indent(a.cert, 4)
      }\n  b: |\n${indent(b.cert, 4)}\nkeys:\n  a: |\n${indent(a.key, 4)}\n  b: |\n${
        indent(b.key, 4)
      }\nrules:\n  - paths:\n    - backend: p\n`;
      const updated = await node.ctl(["object", "update"], tls);
      assert.equal(updated.code, 0, updated.stderr);
      // Each name is served with its own certificate (curl trusts only that one), over HTTP/2 by
      // ALPN and over HTTP/1.1.
      for (const [name, { certFile }] of [["a.test", a], ["b.test", b]] as const) {
        for (const [flag, version] of [["--http2", "2"], ["--http1.1", "1.1"]]) {
          await eventually(`TLS for ${name} ${flag}`, async () => {
            const r = await run("curl", [
              "-s",
              flag,
              "-w",
              " %{http_version}",
              "--cacert",
              certFile,
              "--resolve",
              `${name}:${port}:127.0.0.1`,
              `https://${name}:${port}/`,
            ]);
            return r.stdout === `secure ${version}`;
          });
        }
      }
      // Back to one certificate: the listener is replaced on the same port.
      const single = `kind: HTTPServer\nname: s\nport: ${port}\nhttps: true\n` +
        `certBase64: ${btoa(a.cert)}\nkeyBase64: ${
          btoa(a.key)
        }\nrules:\n  - paths:\n    - backend: p\n`;
      assert.equal((await node.ctl(["object", "update"], single)).code, 0);
      await eventually("single certificate again", async () => {
        const r = await run("curl", [
          "-s",
          "--cacert",
          a.certFile,
          "--resolve",
          `a.test:${port}:127.0.0.1`,
          `https://a.test:${port}/`,
        ]);
        return r.stdout === "secure";
      }, 10_000);
    } finally {
      await node.stop();
      await Deno.remove(a.dir, { recursive: true });
      await Deno.remove(b.dir, { recursive: true });
    }
  });
}

/** Reads until the server closes the connection; resolves the time that took, in ms. */
async function closedAfter(conn: Deno.Conn, limitMs: number): Promise<number> {
  const started = Date.now();
  const buf = new Uint8Array(16 * 1024);
  const timer = setTimeout(() => conn.close(), limitMs);
  try {
    while ((await conn.read(buf)) !== null);
  } catch {
    // Closed by the timer (or reset by the server).
  } finally {
    clearTimeout(timer);
  }
  return Date.now() - started;
}

Deno.test("tls: HTTP/2 under h2load: many streams, small windows, bodies both ways", async () => {
  const tls = await makeSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
  const node = await startNodeProcess();
  const port = freePort();
  const dir = await Deno.makeTempDir();
  try {
    const body = "b".repeat(40_000);
    const mock = `name: big\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n` +
      `    rules:\n      - code: 200\n        body: ${body}\n`;
    assert.equal((await node.ctl(["object", "create"], mock)).code, 0);
    const yaml = `kind: HTTPServer\nname: s\nport: ${port}\nhttps: true\ncertBase64: ${
      btoa(tls.cert)
    }\nkeyBase64: ${btoa(tls.key)}\nrules:\n  - paths:\n    - backend: big\n`;
    assert.equal((await node.ctl(["object", "create"], yaml)).code, 0);
    await eventually("https up", async () => {
      const r = await run("curl", ["-s", "--cacert", tls.certFile, `https://127.0.0.1:${port}/`]);
      return r.stdout === body;
    });
    await Deno.writeTextFile(`${dir}/upload`, "u".repeat(100_000));
    // nghttp2's client with 16 KB stream and 32 KB connection windows: every
    // 40 KB answer needs WINDOW_UPDATEs; uploads fill the node's windows too.
    const r = await run("h2load", [
      "-n",
      "600",
      "-c",
      "3",
      "-m",
      "20",
      "-w",
      "14",
      "-W",
      "15",
      "-d",
      `${dir}/upload`,
      `https://127.0.0.1:${port}/`,
    ]);
    assert.match(r.stdout, /600 succeeded, 0 failed, 0 errored/, r.stdout + r.stderr);
    assert.match(r.stdout, /status codes: 600 2xx/);
    assert.match(r.stdout, /\(24000000\) data/);
  } finally {
    await node.stop();
    await Deno.remove(tls.dir, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
});

/** The HTTP/2 connection preface and an empty SETTINGS frame. */
const H2_OPENING = new Uint8Array([
  ...new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
  ...[0, 0, 0, 4, 0, 0, 0, 0, 0],
]);

// With several certificates the same listener serves, choosing one by server name.
for (const certificates of [1, 2]) {
  Deno.test(
    `tls: keepAliveTimeout closes idle HTTP/1.1 and HTTP/2 connections; maxConnections makes others wait (${
      certificates === 1 ? "one certificate" : "two certificates"
    })`,
    async () => {
      const tls = await makeSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
      const other = await makeSelfSignedCert({ names: ["other.test"] });
      const more = certificates === 1 ? "" : `certs:\n  other: |\n${indent(other.cert, 4)}\n` +
        `keys:\n  other: |\n${indent(other.key, 4)}\n`;
      const caCerts = [tls.cert];
      // One data plane: with N workers each admits its share of maxConnections.
      const node = await startNodeProcess({ args: ["--workers", "1"] });
      const port = freePort();
      const enc = new TextEncoder();
      const open: Deno.Conn[] = [];
      const connect = async (alpn: string) => {
        const conn = await Deno.connectTls({
          hostname: "127.0.0.1",
          port,
          caCerts,
          alpnProtocols: [alpn],
        });
        open.push(conn);
        return conn;
      };
      try {
        assert.equal((await node.ctl(["object", "create"], PIPELINE)).code, 0);
        const yaml =
          `kind: HTTPServer\nname: s\nport: ${port}\nhttps: true\nkeepAliveTimeout: 2s\n` +
          `maxConnections: 2\ncertBase64: ${btoa(tls.cert)}\nkeyBase64: ${btoa(tls.key)}\n` + more +
          `rules:\n  - paths:\n    - backend: p\n`;
        assert.equal((await node.ctl(["object", "create"], yaml)).code, 0);
        await eventually("https up", async () => {
          const r = await run("curl", [
            "-s",
            "--cacert",
            tls.certFile,
            `https://127.0.0.1:${port}/`,
          ]);
          return r.stdout === "secure";
        });

        // Two connections take both slots: one HTTP/2 session, one HTTP/1.1 connection.
        const h2 = await connect("h2");
        assert.equal((await (h2 as Deno.TlsConn).handshake()).alpnProtocol, "h2");
        await h2.write(H2_OPENING);
        const h1 = await connect("http/1.1");
        await h1.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        const h2Closed = closedAfter(h2, 15_000);
        const h1Closed = closedAfter(h1, 15_000);

        // A third is served only once the idle ones are closed.
        const third = await connect("http/1.1");
        const waited = Date.now();
        await third.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        const answer = new Uint8Array(4096);
        const n = await third.read(answer);
        assert.match(
          new TextDecoder().decode(answer.subarray(0, n ?? 0)),
          /^HTTP\/1\.1 200[\s\S]*secure$/,
        );
        assert.ok(
          Date.now() - waited >= 900,
          "the third connection was served while both slots were taken",
        );

        const [h2Ms, h1Ms] = await Promise.all([h2Closed, h1Closed]);
        assert.ok(h2Ms < 6000, `idle HTTP/2 session closed after ${h2Ms} ms`);
        assert.ok(h1Ms < 6000, `idle HTTP/1.1 connection closed after ${h1Ms} ms`);
      } finally {
        for (const conn of open) {
          try {
            conn.close();
          } catch { /* closed already */ }
        }
        await node.stop();
        await Deno.remove(tls.dir, { recursive: true });
        await Deno.remove(other.dir, { recursive: true });
      }
    },
  );
}
