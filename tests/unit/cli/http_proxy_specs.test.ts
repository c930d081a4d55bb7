import assert from "node:assert/strict";
import { httpProxySpecs, parseProxyRule } from "../../../cli/http_proxy_specs.ts";
import type { OwnFlags } from "../../../cli/commands.ts";

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
    await Deno.writeTextFile(`${dir}/c.pem`, "CERT");
    await Deno.writeTextFile(`${dir}/k.pem`, "KEY");
    const { server } = await httpProxySpecs("x", {
      ...NO_FLAGS,
      rule: ["/a=http://h"],
      port: "443",
      tls: true,
      certFile: [`${dir}/c.pem`],
      keyFile: [`${dir}/k.pem`],
    });
    assert.equal(server.https, true);
    assert.deepEqual(server.certs, { [`${dir}/c.pem`]: btoa("CERT") });
    assert.deepEqual(server.keys, { [`${dir}/c.pem`]: btoa("KEY") });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
