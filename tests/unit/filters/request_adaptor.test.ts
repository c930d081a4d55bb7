import assert from "node:assert/strict";
import { gunzip, gzip } from "../../../filters/gzip.ts";
import { requestAdaptorKind } from "../../../filters/request_adaptor.ts";
import { build, contextFor, roundTrip, specProblems } from "./_helpers.ts";

const kind = requestAdaptorKind;

Deno.test("RequestAdaptor changes method, path, headers and host", async () => {
  const adaptor = build(kind, {
    method: "POST",
    path: { addPrefix: "/v2" },
    header: { del: ["X-Drop"], set: { "X-Set": "s" }, add: { "X-Add": "a" } },
    host: "backend.local:8080",
  });
  const ctx = contextFor({
    method: "GET",
    path: "/users",
    headers: { "x-drop": "1", "x-set": "old", "x-add": "first" },
  });
  assert.equal(await adaptor.handle(ctx), "");
  const req = ctx.request;
  assert.equal(req.method, "POST");
  assert.equal(req.path, "/v2/users");
  assert.equal(req.host, "backend.local:8080");
  assert.equal(req.header("x-drop"), null);
  assert.equal(req.header("x-set"), "s");
  assert.equal(req.header("x-add"), "first, a");
});

Deno.test("RequestAdaptor regexpReplace uses Go's $1 / ${1} template syntax", async () => {
  const adaptor = build(kind, {
    path: { regexpReplace: { regexp: "^/api/(\\w+)/(\\d+)$", replace: "/${1}s/$2" } },
  });
  const ctx = contextFor({ path: "/api/user/42" });
  await adaptor.handle(ctx);
  assert.equal(ctx.request.path, "/users/42");
});

Deno.test("RequestAdaptor body replaces the payload, drops Content-Encoding, fixes Content-Length", async () => {
  const adaptor = build(kind, { body: "héllo" });
  const ctx = contextFor({
    method: "POST",
    headers: { "content-encoding": "gzip", "content-length": "999" },
    body: "old",
  });
  await adaptor.handle(ctx);
  assert.equal(await ctx.request.text(), "héllo");
  assert.equal(ctx.request.header("content-encoding"), null);
  assert.equal(ctx.request.header("content-length"), "6");
});

Deno.test("RequestAdaptor compress gzips the body unless it is already encoded", async () => {
  const adaptor = build(kind, { compress: "gzip" });
  const ctx = contextFor({ method: "POST", body: "plain body" });
  assert.equal(await adaptor.handle(ctx), "");
  assert.equal(ctx.request.header("content-encoding"), "gzip");
  const packed = await ctx.request.bytes();
  assert.equal(ctx.request.header("content-length"), String(packed.byteLength));
  assert.equal(new TextDecoder().decode(await gunzip(packed)), "plain body");

  const encoded = contextFor({ method: "POST", headers: { "content-encoding": "br" }, body: "xx" });
  assert.equal(await adaptor.handle(encoded), "");
  assert.equal(await encoded.request.text(), "xx");
});

Deno.test("RequestAdaptor compress keeps a streamed body streaming", async () => {
  const adaptor = build(kind, { compress: "gzip" });
  const stream = new Response("streamed body").body!;
  const ctx = contextFor({ method: "POST", headers: { "content-length": "13" }, body: stream });
  assert.equal(await adaptor.handle(ctx), "");
  assert.ok(ctx.request.isStream);
  assert.equal(ctx.request.header("content-length"), null);
  assert.equal(new TextDecoder().decode(await gunzip(await ctx.request.bytes())), "streamed body");
});

Deno.test("RequestAdaptor decompress gunzips gzip bodies and returns decompressFailed on bad ones", async () => {
  const adaptor = build(kind, { decompress: "gzip" });
  const packed = await gzip(new TextEncoder().encode("zipped"));
  const ctx = contextFor({ method: "POST", headers: { "content-encoding": "gzip" }, body: packed });
  assert.equal(await adaptor.handle(ctx), "");
  assert.equal(await ctx.request.text(), "zipped");
  assert.equal(ctx.request.header("content-encoding"), null);
  assert.equal(ctx.request.header("content-length"), "6");

  const plain = contextFor({ method: "POST", body: "not zipped" });
  assert.equal(await adaptor.handle(plain), "");
  assert.equal(await plain.request.text(), "not zipped");

  const bad = contextFor({ method: "POST", headers: { "content-encoding": "gzip" }, body: "nope" });
  assert.equal(await adaptor.handle(bad), "decompressFailed");
});

Deno.test("RequestAdaptor compresses streams lazily: a failing body fails when read", async () => {
  const adaptor = build(kind, { compress: "gzip" });
  const broken = new ReadableStream<Uint8Array>({
    start(c) {
      c.error(new Error("client went away"));
    },
  });
  const ctx = contextFor({ method: "POST", body: broken });
  assert.equal(await adaptor.handle(ctx), "");
  await assert.rejects(ctx.request.bytes(), /client went away/);
});

Deno.test("RequestAdaptor normalizes its spec and round-trips through YAML", () => {
  assert.deepEqual(
    roundTrip(kind, {
      method: "",
      path: { replace: "", trimPrefix: "/api" },
      header: { del: [] },
      body: "",
      compress: "gzip",
    }),
    { path: { trimPrefix: "/api" }, compress: "gzip" },
  );
  assert.deepEqual(roundTrip(kind, {}), {});
});

Deno.test("RequestAdaptor rejects bad specs with field paths", () => {
  assert.deepEqual(
    specProblems(kind, {
      method: "get",
      path: { addPrefix: "v1", regexpReplace: { regexp: "(" } },
      header: { set: { "bad name": "x" } },
      host: "http://x/",
      compress: "br",
      decompress: "gzip",
      body: "b",
      sign: { apiKey: "x" },
      extra: 1,
    }).map((p) => p.replace(/expression: .*/, "expression")),
    [
      'method: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, CONNECT, OPTIONS, TRACE, got "get"',
      'path.addPrefix: must be a path starting with "/", got "v1"',
      "path.regexpReplace.regexp: is not a valid regular expression",
      'header.set.bad name: "bad name" is not a valid header name',
      'host: must be a host such as "example.com:8080", got "http://x/"',
      'compress: must be "gzip" (the only supported coding), got "br"',
      "decompress: cannot be set together with compress",
      "decompress: cannot be set together with body (the new body is not compressed)",
      "sign: request signing is not supported yet",
      "extra: unknown field",
    ],
  );
});

Deno.test("RequestAdaptor template renders edits for each request, in place of the spec's", async () => {
  const adaptor = build(kind, {
    method: "PUT",
    header: { set: { "X-Static": "s" } },
    template: `
method: POST
path:
  addPrefix: /{{.requests.DEFAULT.Header.Get "X-Tenant"}}
header:
  set:
    X-User: {{.requests.DEFAULT.JSONBody.user}}
    X-Count: 0123
body: '{"id": {{.requests.DEFAULT.JSONBody.id}}}'
`,
  });
  const ctx = contextFor({
    method: "GET",
    path: "/orders",
    headers: { "x-tenant": "acme" },
    body: '{"user": "ann", "id": 7}',
  });
  assert.equal(await adaptor.handle(ctx), "");
  const req = ctx.request;
  assert.equal(req.method, "POST");
  assert.equal(req.path, "/acme/orders");
  assert.equal(req.header("x-user"), "ann");
  assert.equal(req.header("x-count"), "0123");
  // The rendered header edits stand in for the spec's.
  assert.equal(req.header("x-static"), null);
  assert.equal(await req.text(), '{"id": 7}');
  assert.equal(req.header("content-length"), "9");
});

Deno.test("RequestAdaptor template: what it leaves out keeps the spec's edits", async () => {
  const adaptor = build(kind, {
    path: { trimPrefix: "/api" },
    host: "static.local",
    template: "host: '{{.requests.DEFAULT.Header.Get \"X-Host\"}}'",
  });
  const ctx = contextFor({ path: "/api/x", headers: { "x-host": "dyn.local" } });
  assert.equal(await adaptor.handle(ctx), "");
  assert.equal(ctx.request.path, "/x");
  assert.equal(ctx.request.host, "dyn.local");
  const plain = contextFor({ path: "/api/y" });
  assert.equal(await adaptor.handle(plain), "");
  assert.equal(plain.request.host, "static.local");
});

Deno.test("RequestAdaptor template failures give buildErr and a 500; bad templates are refused", async () => {
  const adaptor = build(kind, { template: "method: '{{.requests.DEFAULT.Header.Get \"X-M\"}}'" });
  const ctx = contextFor({ headers: { "x-m": "FETCH" } });
  assert.equal(await adaptor.handle(ctx), "buildErr");
  assert.equal(ctx.response!.status, 500);
  assert.ok(kind.results.includes("buildErr"));
  assert.deepEqual(specProblems(kind, { template: "{{.x" }), [
    "template: template: :1: unclosed action",
  ]);
});
