import assert from "node:assert/strict";
import {
  backendNginxConf,
  haproxyConf,
  nodeObjects,
  proxyNginxConf,
  SMALL_BODY,
  VALIDATED_PATH,
} from "../../../bench/lib/configs.ts";

const tls = { certFile: "/t/cert.pem", keyFile: "/t/key.pem", combinedFile: "/t/both.pem" };

Deno.test("the backend nginx runs one worker in the foreground on 127.0.0.1 only", () => {
  const conf = backendNginxConf({ dir: "/t", port: 9000, userRoot: false });
  for (
    const line of [
      "daemon off;",
      "worker_processes 1;",
      "pid /t/backend.pid;",
      "listen 127.0.0.1:9000",
      "location = /16k { alias /t/16k.txt; }",
      'return 200 "hello world\\n";',
    ]
  ) assert.ok(conf.includes(line), line);
  assert.ok(!conf.includes("user root"));
});

Deno.test("nginx proxies with upstream keep-alive, HTTP/1.1 and no Connection header", () => {
  const conf = proxyNginxConf({
    dir: "/t",
    port: 9001,
    backendPort: 9000,
    mode: { answer: "proxy" },
    workerConnections: 2048,
    userRoot: true,
  });
  for (
    const line of [
      "user root root;",
      "worker_processes 1;",
      "worker_connections 2048;",
      "server 127.0.0.1:9000;",
      "keepalive 64;",
      "proxy_http_version 1.1;",
      'proxy_set_header Connection "";',
      "listen 127.0.0.1:9001 backlog=4096;",
    ]
  ) assert.ok(conf.includes(line), line);
});

Deno.test("nginx serves HTTP/2 over TLS, or answers by itself", () => {
  const common = { dir: "/t", port: 9001, backendPort: 9000, workerConnections: 64 };
  const h2 = proxyNginxConf({ ...common, mode: { answer: "proxy", tls }, userRoot: false });
  assert.ok(h2.includes("listen 127.0.0.1:9001 ssl http2"));
  assert.ok(h2.includes("ssl_certificate_key /t/key.pem;"));
  const answer = proxyNginxConf({ ...common, mode: { answer: "static" }, userRoot: false });
  assert.ok(answer.includes('return 200 "hello world\\n";'));
  assert.ok(!answer.includes("proxy_pass"));
});

Deno.test("HAProxy runs one thread and reuses upstream connections", () => {
  const conf = haproxyConf({
    port: 9002,
    backendPort: 9000,
    mode: { answer: "proxy" },
    maxConnections: 4096,
  });
  for (
    const line of [
      "nbthread 1",
      "maxconn 4096",
      "http-reuse always",
      "bind 127.0.0.1:9002\n",
      "server s1 127.0.0.1:9000",
    ]
  ) assert.ok(conf.includes(line), line);
  const h2 = haproxyConf({
    port: 9002,
    backendPort: 9000,
    mode: { answer: "proxy", tls },
    maxConnections: 4096,
  });
  assert.ok(h2.includes("bind 127.0.0.1:9002 ssl crt /t/both.pem alpn h2,http/1.1"));
});

Deno.test("nodeObjects builds the pipeline first, then a server bound to 127.0.0.1", () => {
  const [pipeline, server] = nodeObjects({ port: 9003, backendPort: 9000, pipeline: "proxy" });
  assert.deepEqual(pipeline, {
    kind: "Pipeline",
    name: "pipeline",
    filters: [{
      name: "proxy",
      kind: "Proxy",
      pools: [{ servers: [{ url: "http://127.0.0.1:9000" }] }],
    }],
  });
  assert.equal(server.kind, "HTTPServer");
  assert.equal(server.address, "127.0.0.1");
  assert.equal(server.port, 9003);
});

Deno.test("nodeObjects serves Proxy alone and Validator + RequestAdaptor + Proxy on one node", () => {
  const [plain, validated, server] = nodeObjects({ port: 1, backendPort: 2, pipeline: "both" });
  assert.deepEqual((plain.filters as { kind: string }[]).map((f) => f.kind), ["Proxy"]);
  assert.deepEqual(
    (validated.filters as { kind: string }[]).map((f) => f.kind),
    ["Validator", "RequestAdaptor", "Proxy"],
  );
  assert.deepEqual(server.rules, [{
    paths: [
      { pathPrefix: VALIDATED_PATH, backend: "validated" },
      { pathPrefix: "/", backend: "pipeline" },
    ],
  }]);
});

Deno.test("nodeObjects answers with a Mock, or serves HTTPS with the given certificate", () => {
  const [mock] = nodeObjects({ port: 1, backendPort: 2, pipeline: "static" });
  assert.deepEqual(mock.filters, [{
    name: "mock",
    kind: "Mock",
    rules: [{ code: 200, body: SMALL_BODY }],
  }]);
  const [, https] = nodeObjects({
    port: 1,
    backendPort: 2,
    pipeline: "proxy",
    tls: { certBase64: "Yw==", keyBase64: "aw==" },
    maxConnections: 20000,
  });
  assert.equal(https.https, true);
  assert.equal(https.certBase64, "Yw==");
  assert.equal(https.maxConnections, 20000);
});
