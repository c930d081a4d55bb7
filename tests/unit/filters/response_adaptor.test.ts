import assert from "node:assert/strict";
import { HttpResponse } from "../../../filters/context.ts";
import { gunzip, gzip } from "../../../filters/gzip.ts";
import { responseAdaptorKind } from "../../../filters/response_adaptor.ts";
import { build, contextFor, roundTrip, specProblems } from "./_helpers.ts";

const kind = responseAdaptorKind;

function withResponse(response: HttpResponse) {
  const ctx = contextFor();
  ctx.response = response;
  return ctx;
}

Deno.test("ResponseAdaptor returns responseNotFound without a response", async () => {
  const adaptor = build(kind, { header: { set: { "X-A": "1" } } });
  assert.equal(await adaptor.handle(contextFor()), "responseNotFound");
});

Deno.test("ResponseAdaptor changes headers and replaces the body with a correct Content-Length", async () => {
  const adaptor = build(kind, {
    header: { del: ["Server"], set: { "X-Set": "1" }, add: { "Vary": "Origin" } },
    body: '{"ok":true}',
  });
  const ctx = withResponse(
    new HttpResponse(
      502,
      new Headers({
        server: "x",
        vary: "Accept",
        "content-length": "3",
        "content-encoding": "gzip",
      }),
      "old",
    ),
  );
  assert.equal(await adaptor.handle(ctx), "");
  const resp = ctx.response!;
  assert.equal(resp.status, 502);
  assert.equal(resp.header("server"), null);
  assert.equal(resp.header("x-set"), "1");
  assert.equal(resp.header("vary"), "Accept, Origin");
  assert.equal(resp.header("content-encoding"), null);
  assert.equal(resp.header("content-length"), "11");
  assert.equal(await resp.text(), '{"ok":true}');
});

Deno.test("ResponseAdaptor compress gzips the body; an encoded body is left alone", async () => {
  const adaptor = build(kind, { compress: "gzip" });
  const ctx = withResponse(new HttpResponse(200, { "content-length": "5" }, "hello"));
  assert.equal(await adaptor.handle(ctx), "");
  const resp = ctx.response!;
  assert.equal(resp.header("content-encoding"), "gzip");
  const packed = await resp.bytes();
  assert.equal(resp.header("content-length"), String(packed.byteLength));
  assert.equal(new TextDecoder().decode(await gunzip(packed)), "hello");

  const already = withResponse(new HttpResponse(200, { "content-encoding": "gzip" }, "zz"));
  assert.equal(await adaptor.handle(already), "");
  assert.equal(await already.response!.text(), "zz");
});

Deno.test("ResponseAdaptor decompress gunzips gzip bodies, decompressFailed on bad ones", async () => {
  const adaptor = build(kind, { decompress: "gzip" });
  const packed = await gzip(new TextEncoder().encode("unzipped"));
  const ctx = withResponse(new HttpResponse(200, { "content-encoding": "gzip" }, packed));
  assert.equal(await adaptor.handle(ctx), "");
  assert.equal(await ctx.response!.text(), "unzipped");
  assert.equal(ctx.response!.header("content-encoding"), null);
  assert.equal(ctx.response!.header("content-length"), "8");

  const stream = new Response(packed as Uint8Array<ArrayBuffer>).body!;
  const streamed = withResponse(new HttpResponse(200, { "content-encoding": "gzip" }, stream));
  assert.equal(await adaptor.handle(streamed), "");
  assert.ok(streamed.response!.isStream);
  assert.equal(await streamed.response!.text(), "unzipped");

  const bad = withResponse(new HttpResponse(200, { "content-encoding": "gzip" }, "plain"));
  assert.equal(await adaptor.handle(bad), "decompressFailed");
});

Deno.test("ResponseAdaptor normalizes its spec and round-trips through YAML", () => {
  assert.deepEqual(roundTrip(kind, { header: { set: { "X-A": "1" } }, body: "", compress: "" }), {
    header: { set: { "X-A": "1" } },
  });
});

Deno.test("ResponseAdaptor rejects bad specs with field paths", () => {
  assert.deepEqual(
    specProblems(kind, {
      header: { del: "X-A" },
      compress: "gzip",
      decompress: "deflate",
      bodies: "",
    }),
    [
      'header.del: must be a list of strings, got "X-A"',
      'decompress: must be "gzip" (the only supported coding), got "deflate"',
      "decompress: cannot be set together with compress",
      "bodies: unknown field",
    ],
  );
});

Deno.test("ResponseAdaptor template renders header and body edits from the response", async () => {
  const adaptor = build(kind, {
    header: { set: { "X-Static": "s" } },
    compress: "gzip",
    template: `
header:
  set:
    X-Upstream-Status: {{.responses.DEFAULT.StatusCode}}
body: 'wrapped: {{.responses.DEFAULT.Body}}'
`,
  });
  const ctx = withResponse(new HttpResponse(201, { "content-length": "2" }, "hi"));
  assert.equal(await adaptor.handle(ctx), "");
  const resp = ctx.response!;
  assert.equal(resp.header("x-upstream-status"), "201");
  assert.equal(resp.header("x-static"), null);
  // The spec's compress still applies to the rendered body.
  assert.equal(resp.header("content-encoding"), "gzip");
  assert.equal(new TextDecoder().decode(await gunzip(await resp.bytes())), "wrapped: hi");
});

Deno.test("ResponseAdaptor template that renders no YAML mapping gives buildErr", async () => {
  const adaptor = build(kind, { template: "just text" });
  const ctx = withResponse(new HttpResponse(200, {}, "ok"));
  assert.equal(await adaptor.handle(ctx), "buildErr");
  assert.equal(ctx.response!.status, 200);
});
