import assert from "node:assert/strict";
import { httpProxySpecs, parseProxyRule } from "../../../cli/http_proxy_specs.ts";
import type { OwnFlags } from "../../../cli/commands.ts";
import { makeCertificates } from "../../integration/tls_certificates.ts";

const NO_FLAGS: OwnFlags = {
  all: false,
  rule: [],
  tls: false,
  autoCert: false,
  certFile: [],
  keyFile: [],
  follow: false,
};

Deno.test("parseProxyRule() reads HOST/PATH=URLS, a trailing * making a prefix", () => {
  assert.deepEqual(parseProxyRule("/bar=http://a:1,http://b:2"), {
    host: "",
    match: { path: "/bar" },
    urls: ["http://a:1", "http://b:2"],
  });
  assert.deepEqual(parseProxyRule("example.com/api/*=https://c"), {
    host: "example.com",
    match: { pathPrefix: "/api/" },
    urls: ["https://c"],
  });
  assert.throws(() => parseProxyRule("/bar"), /--rule "\/bar" has no "="/);
  assert.throws(() => parseProxyRule("host=http://a"), /has no path/);
  assert.throws(() => parseProxyRule("/bar=,"), /has no URL/);
  assert.throws(() => parseProxyRule("/bar=a:80"), /"a:80" is not an http:\/\/ or https:\/\/ URL/);
});

Deno.test("httpProxySpecs() makes one Pipeline per rule and groups paths by host", async () => {
  const { server, pipelines } = await httpProxySpecs("demo", {
    ...NO_FLAGS,
    port: "10080",
    rule: ["/bar=http://a:1,http://b:2", "/foo*=http://c:3", "x.com/=http://d:4"],
  });
  assert.deepEqual(pipelines.map((p) => p.name), [
    "demo-pipeline-0",
    "demo-pipeline-1",
    "demo-pipeline-2",
  ]);
  assert.deepEqual(pipelines[0].filters, [{
    name: "proxy",
    kind: "Proxy",
    pools: [{
      servers: [{ url: "http://a:1" }, { url: "http://b:2" }],
      loadBalance: { policy: "roundRobin" },
    }],
  }]);
  assert.deepEqual(server, {
    name: "demo-server",
    kind: "HTTPServer",
    port: 10080,
    rules: [
      {
        paths: [
          { path: "/bar", backend: "demo-pipeline-0" },
          { pathPrefix: "/foo", backend: "demo-pipeline-1" },
        ],
      },
      { host: "x.com", paths: [{ path: "/", backend: "demo-pipeline-2" }] },
    ],
  });
});

Deno.test("httpProxySpecs() refuses missing or bad flags by name", async () => {
  const rule = ["/a=http://h"];
  await assert.rejects(httpProxySpecs("x", { ...NO_FLAGS, rule }), /--port is required/);
  await assert.rejects(
    httpProxySpecs("x", { ...NO_FLAGS, rule, port: "0" }),
    /--port "0" is not a port/,
  );
  await assert.rejects(httpProxySpecs("x", { ...NO_FLAGS, port: "80" }), /at least one --rule/);
  await assert.rejects(
    httpProxySpecs("x", { ...NO_FLAGS, rule, port: "80", certFile: ["c"] }),
    /need --tls/,
  );
  await assert.rejects(
    httpProxySpecs("x", { ...NO_FLAGS, rule, port: "80", tls: true }),
    /--tls needs a certificate: --cert-file with --key-file, or --auto-cert/,
  );
  const autoCert = await httpProxySpecs("x", {
    ...NO_FLAGS,
    rule,
    port: "443",
    tls: true,
    autoCert: true,
  });
  assert.equal(autoCert.server.autoCert, true);
  await assert.rejects(
    httpProxySpecs("x", { ...NO_FLAGS, rule, port: "80", tls: true, certFile: ["c"] }),
    /--cert-file and --key-file go in pairs: 1 against 0/,
  );
  await assert.rejects(
    httpProxySpecs("x", {
      ...NO_FLAGS,
      rule,
      port: "80",
      tls: true,
      certFile: ["/nonexistent.crt"],
      keyFile: ["/nonexistent.key"],
    }),
    /cannot read \/nonexistent\.crt/,
  );
});

Deno.test("httpProxySpecs() puts TLS files in base64 under the cert file's name", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeCertificates(dir, "ca");
    const { server } = await httpProxySpecs("x", {
      ...NO_FLAGS,
      rule: ["/a=http://h"],
      port: "443",
      tls: true,
      certFile: [`${dir}/ca-server.pem`],
      keyFile: [`${dir}/ca-server.key`],
    });
    const base64 = async (file: string) => (await Deno.readFile(`${dir}/${file}`)).toBase64();
    assert.equal(server.https, true);
    assert.deepEqual(server.certs, { [`${dir}/ca-server.pem`]: await base64("ca-server.pem") });
    assert.deepEqual(server.keys, { [`${dir}/ca-server.pem`]: await base64("ca-server.key") });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("httpProxySpecs() refuses TLS files the node would refuse, before anything is sent", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeCertificates(dir, "ca");
    await Deno.writeTextFile(`${dir}/junk.pem`, "CERT");
    const tls = (cert: string, key: string, ca?: string) => ({
      ...NO_FLAGS,
      rule: ["/a=http://h"],
      port: "443",
      tls: true,
      certFile: [`${dir}/${cert}`],
      keyFile: [`${dir}/${key}`],
      ...(ca ? { caCertFile: `${dir}/${ca}` } : {}),
    });
    await assert.rejects(
      httpProxySpecs("x", tls("junk.pem", "ca-server.key")),
      /--cert-file \S+\/junk\.pem is neither PEM nor base64-encoded PEM; nothing was sent$/,
    );
    await assert.rejects(
      httpProxySpecs("x", tls("ca-server.pem", "ca-client.key")),
      /--key-file \S+\/ca-client\.key is not the key of the certificate in --cert-file/,
    );
    await assert.rejects(
      httpProxySpecs("x", tls("ca-server.pem", "ca-server.key", "ca-server.key")),
      /--ca-cert-file \S+\/ca-server\.key has no PEM CERTIFICATE block/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
