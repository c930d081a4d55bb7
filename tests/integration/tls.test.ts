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

Deno.test("tls: SNI picks the certificate for the name asked; plain -> TLS switch in place", async () => {
  const a = await makeSelfSignedCert({ names: ["a.test"] });
  const b = await makeSelfSignedCert({ names: ["b.test"] });
  const node = await startNodeProcess();
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
    // Back to one certificate: the SNI listener drains and Deno.serve takes the port.
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
