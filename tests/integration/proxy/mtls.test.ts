/**
 * Proxy `mtls` through the real binary: an upstream that requires a client
 * certificate (`openssl s_server -Verify`) gets the one in the spec and
 * answers; without it the Proxy fails to connect (503); a server whose
 * certificate does not chain to `rootCertBase64` (or the system's roots)
 * is refused; a bad pair is refused when the object is written.
 */

import assert from "node:assert/strict";
import { eventually, freePort, request, startNodeProcess } from "../helpers.ts";
import { makeCertificates } from "../tls_certificates.ts";

const b64 = async (path: string) => (await Deno.readFile(path)).toBase64();

Deno.test("Proxy mtls: the upstream gets the client certificate; without it, or with a foreign root, no connection", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eg-mtls-" });
  await makeCertificates(dir, "ca");
  await makeCertificates(dir, "other");
  const upstreamPort = freePort();
  // Requires a client certificate signed by "ca"; answers with what it saw.
  const upstream = new Deno.Command("openssl", {
    args: [
      "s_server",
      "-accept",
      `127.0.0.1:${upstreamPort}`,
      "-cert",
      `${dir}/ca-server.pem`,
      "-key",
      `${dir}/ca-server.key`,
      "-CAfile",
      `${dir}/ca.pem`,
      "-Verify",
      "1",
      "-verify_return_error",
      "-www",
      "-quiet",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  try {
    for (let i = 0; i < 50; i++) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: upstreamPort })).close();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const pipeline = (name: string, mtls: string) =>
      `kind: Pipeline\nname: ${name}\nfilters:\n- name: proxy\n  kind: Proxy\n` +
      `  pools:\n  - servers:\n    - url: https://127.0.0.1:${upstreamPort}\n${mtls}`;
    const mtls = async (client: string, root: string) =>
      `  mtls:\n    certBase64: ${await b64(`${dir}/${client}.pem`)}\n` +
      `    keyBase64: ${await b64(`${dir}/${client}.key`)}\n` +
      `    rootCertBase64: ${await b64(`${dir}/${root}.pem`)}\n`;
    const objects = [
      pipeline("with-cert", await mtls("ca-client", "ca")),
      pipeline("foreign-cert", await mtls("other-client", "ca")),
      pipeline("foreign-root", await mtls("ca-client", "other")),
      `kind: HTTPServer\nname: s\nport: ${port}\nrules:\n- paths:\n` +
      ["with-cert", "foreign-cert", "foreign-root"]
        .map((p) => `  - path: /${p}\n    backend: ${p}\n`).join(""),
    ];
    for (const object of objects) {
      const created = await node.ctl(["object", "create"], object);
      assert.equal(created.code, 0, created.stderr);
    }

    let ok = { status: 0, body: "" };
    await eventually("the server answering", async () => {
      ok = await request(`http://127.0.0.1:${port}/with-cert`);
      return ok.status === 200;
    });
    assert.match(ok.body, /Client certificate[\s\S]*Subject: CN ?= ?ca-client/);
    // The same pooled connection serves the next request.
    assert.equal((await request(`http://127.0.0.1:${port}/with-cert`)).status, 200);

    // The upstream refuses a client certificate its CA did not sign.
    assert.equal((await request(`http://127.0.0.1:${port}/foreign-cert`)).status, 503);
    // The upstream's own certificate does not chain to the given root.
    assert.equal((await request(`http://127.0.0.1:${port}/foreign-root`)).status, 503);

    const mismatched = await node.ctl(
      ["object", "update"],
      pipeline(
        "with-cert",
        `  mtls:\n    certBase64: ${await b64(`${dir}/ca-client.pem`)}\n` +
          `    keyBase64: ${await b64(`${dir}/other-client.key`)}\n` +
          `    rootCertBase64: ${await b64(`${dir}/ca.pem`)}\n`,
      ),
    );
    assert.equal(mismatched.code, 1);
    assert.match(
      mismatched.stderr,
      /mtls\.keyBase64: is not the key of the certificate in certBase64/,
    );
    const missing = await node.ctl(
      ["object", "update"],
      pipeline("with-cert", `  mtls:\n    certBase64: ${await b64(`${dir}/ca-client.pem`)}\n`),
    );
    assert.match(missing.stderr, /mtls\.keyBase64: is required/);
    assert.match(missing.stderr, /mtls\.rootCertBase64: is required/);
    // What runs is untouched.
    assert.equal((await request(`http://127.0.0.1:${port}/with-cert`)).status, 200);
  } finally {
    await node.stop();
    upstream.kill("SIGKILL");
    await upstream.status;
    await Deno.remove(dir, { recursive: true });
  }
});
