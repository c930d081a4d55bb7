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
      assert.deepEqual(seen.at(-1), { cn: "ca-client", org: "ca org", issuer: "ca" });
    }
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
