/**
 * HTTPS on an HTTPServer: HTTP/2 by ALPN with one certificate, SNI choosing
 * among several, and a listener change (plain -> TLS) applied in place.
 */

import assert from "node:assert/strict";
import { eventually, freePort, startNodeProcess } from "./helpers.ts";

async function run(
  cmd: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A self-signed certificate for `name`, as PEM text. */
async function makeCert(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const r = await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${dir}/${name}.key`,
    "-out",
    `${dir}/${name}.crt`,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-addext",
    `subjectAltName=DNS:${name}`,
  ]);
  assert.equal(r.code, 0, `openssl (Debian package openssl) failed: ${r.stderr}`);
  return {
    cert: await Deno.readTextFile(`${dir}/${name}.crt`),
    key: await Deno.readTextFile(`${dir}/${name}.key`),
  };
}

function indent(text: string, spaces: number): string {
  return text.trim().split("\n").map((l) => " ".repeat(spaces) + l).join("\n");
}

const PIPELINE =
  "name: p\nkind: Pipeline\nfilters:\n  - name: m\n    kind: Mock\n    rules:\n      - code: 200\n        body: secure\n";

Deno.test("tls: HTTP/2 by ALPN with one certificate (base64), HTTP/1.1 still served", async () => {
  const dir = await Deno.makeTempDir();
  const { cert, key } = await makeCert(dir, "one.test");
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
        `${dir}/one.test.crt`,
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
      `${dir}/one.test.crt`,
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
  }
});

Deno.test("tls: SNI picks the certificate for the name asked; plain -> TLS switch in place", async () => {
  const dir = await Deno.makeTempDir();
  const a = await makeCert(dir, "a.test");
  const b = await makeCert(dir, "b.test");
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
    for (const name of ["a.test", "b.test"]) {
      await eventually(`TLS for ${name}`, async () => {
        const r = await run("curl", [
          "-s",
          "--cacert",
          `${dir}/${name}.crt`,
          "--resolve",
          `${name}:${port}:127.0.0.1`,
          `https://${name}:${port}/`,
        ]);
        return r.stdout === "secure";
      });
    }
  } finally {
    await node.stop();
  }
});
