import assert from "node:assert/strict";
import { HttpResponse } from "../../../filters/context.ts";
import { fallbackKind } from "../../../filters/fallback.ts";
import { build, contextFor, roundTrip, specProblems } from "./_helpers.ts";

const kind = fallbackKind;

Deno.test("Fallback replaces the response's status and body, sets its headers over the old ones", async () => {
  const fallback = build(kind, {
    mockCode: 200,
    mockHeaders: { "X-Fallback": "yes" },
    mockBody: "cached answer",
  });
  const ctx = contextFor({ path: "/" });
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    cancel() {
      cancelled = true;
    },
  });
  ctx.response = new HttpResponse(
    503,
    { "content-encoding": "gzip", "transfer-encoding": "chunked", "x-upstream": "kept" },
    stream,
  );
  assert.equal(fallback.handle(ctx), "fallback");
  const response = ctx.response!;
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "cached answer");
  assert.equal(response.header("x-fallback"), "yes");
  assert.equal(response.header("x-upstream"), "kept");
  assert.equal(response.header("content-length"), "13");
  assert.equal(response.header("content-encoding"), null);
  assert.equal(response.header("transfer-encoding"), null);
  assert.ok(cancelled, "the old streamed body is cancelled");
});

Deno.test("Fallback makes the response when there is none; bodiless codes carry no length", () => {
  const ctx = contextFor({ path: "/" });
  assert.equal(build(kind, { mockCode: 204, mockBody: "ignored" }).handle(ctx), "fallback");
  assert.equal(ctx.response!.status, 204);
  assert.equal(ctx.response!.body, null);
  assert.equal(ctx.response!.header("content-length"), null);
});

Deno.test("Fallback spec: mockCode is required and a status; normalized specs round-trip", () => {
  assert.deepEqual(specProblems(kind, {}), ["mockCode: is required"]);
  assert.deepEqual(specProblems(kind, { mockCode: 99, mockHeaders: { "Bad Name": "x" } }), [
    "mockCode: must be at least 100, got 99",
    'mockHeaders.Bad Name: "Bad Name" is not a valid header name',
  ]);
  roundTrip(kind, { mockCode: 503, mockHeaders: { "Retry-After": "5" }, mockBody: "later" });
});
