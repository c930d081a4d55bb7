import assert from "node:assert/strict";
import { Context, copyHeaders, HttpRequest, HttpResponse } from "../../../filters/context.ts";

Deno.test("a request's borrowed headers are copied on first change, never modified in place", () => {
  const web = new Request("http://gw.test/a/b?x=1", { headers: { "x-one": "1" } });
  const req = HttpRequest.fromWeb(web);
  assert.deepEqual([req.path, req.query, req.host], ["/a/b", "x=1", "gw.test"]);
  assert.equal(req.rawHeaders, web.headers);
  req.headers.set("x-two", "2");
  assert.equal(req.header("x-two"), "2");
  assert.equal(req.header("x-one"), "1");
  assert.equal(web.headers.get("x-two"), null);
});

Deno.test("copyHeaders keeps every value, and each Set-Cookie line on its own", () => {
  const src = new Headers([["a", "1"], ["a", "2"], ["set-cookie", "x=1"], ["set-cookie", "y=2"]]);
  const copy = copyHeaders(src);
  assert.equal(copy.get("a"), "1, 2");
  assert.deepEqual(copy.getSetCookie(), ["x=1", "y=2"]);
  copy.set("b", "3");
  assert.equal(src.get("b"), null);
  const response = new HttpResponse(200, src);
  response.headers.delete("a");
  assert.equal(src.get("a"), "1, 2");
});

Deno.test("toWeb carries status, body and every field, repeated ones included", async () => {
  const response = new HttpResponse(201, [
    ["x-first", "1"],
    ["set-cookie", "a=1"],
    ["set-cookie", "b=2"],
    ["content-type", "text/plain"],
  ], "made");
  const web = response.toWeb();
  assert.equal(web.status, 201);
  assert.deepEqual(web.headers.getSetCookie(), ["a=1", "b=2"]);
  assert.equal(web.headers.get("x-first"), "1");
  assert.equal(web.headers.get("content-type"), "text/plain");
  assert.equal(await web.text(), "made");
});

Deno.test("toWeb copies a runtime Headers and drops the body of a bodiless status", () => {
  const headers = new Headers([["etag", '"v1"'], ["set-cookie", "a=1"], ["set-cookie", "b=2"]]);
  const web = new HttpResponse(304, headers, "ignored").toWeb();
  assert.equal(web.status, 304);
  assert.equal(web.body, null);
  assert.equal(web.headers.get("etag"), '"v1"');
  assert.deepEqual(web.headers.getSetCookie(), ["a=1", "b=2"]);
});

Deno.test("toWeb answers a 205 without content, framed as empty, its stream cancelled", () => {
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    cancel() {
      cancelled = true;
    },
  });
  const web = new HttpResponse(205, [["content-length", "5"], ["x-a", "1"]], stream).toWeb();
  assert.equal(web.status, 205);
  assert.equal(web.body, null);
  assert.equal(web.headers.get("content-length"), "0");
  assert.equal(web.headers.get("x-a"), "1");
  assert.ok(cancelled, "the stream is let go");
  const bytes = new HttpResponse(205, { "content-length": "4" }, "text").toWeb();
  assert.equal(bytes.body, null);
  assert.equal(bytes.headers.get("content-length"), "0");
});

Deno.test("toWeb drops the framing fields a 204 or 304 came with", () => {
  for (const status of [204, 304]) {
    const fields = [["content-length", "5"], ["transfer-encoding", "chunked"], ["etag", '"v"']];
    const web = new HttpResponse(status, fields as [string, string][], "hello").toWeb();
    assert.equal(web.body, null);
    assert.equal(web.headers.get("content-length"), null, `${status}`);
    assert.equal(web.headers.get("transfer-encoding"), null, `${status}`);
    assert.equal(web.headers.get("etag"), '"v"');
  }
});

/** A stream that notes when it is cancelled. */
function watched(): { stream: ReadableStream<Uint8Array>; cancelled: () => boolean } {
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(new Uint8Array(1024));
    },
    cancel() {
      cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, cancelled: () => cancelled };
}

Deno.test("a body stream replaced before anything read it is cancelled; one being read is not", async () => {
  const unread = watched();
  const response = new HttpResponse(200, {}, unread.stream);
  response.body = "replaced";
  await Promise.resolve();
  assert.ok(unread.cancelled(), "the replaced stream (an upstream's connection) is left open");

  const read = watched();
  const wrapped = new HttpResponse(200, {}, read.stream);
  wrapped.body = read.stream.pipeThrough(new TransformStream());
  await Promise.resolve();
  assert.equal(read.cancelled(), false);

  const kept = watched();
  const same = new HttpRequest({ method: "POST", body: kept.stream });
  same.body = kept.stream;
  await Promise.resolve();
  assert.equal(kept.cancelled(), false);
});

Deno.test("a response replaced in the context has its unread stream cancelled, unless the new one carries it", async () => {
  const ctx = new Context(new HttpRequest());
  const first = watched();
  ctx.response = new HttpResponse(503, {}, first.stream);
  ctx.response = new HttpResponse(200, {}, "from a Mock");
  await Promise.resolve();
  assert.ok(first.cancelled(), "the replaced answer's stream is left open");

  const carried = watched();
  const upstream = new HttpResponse(200, {}, carried.stream);
  ctx.response = upstream;
  ctx.response = new HttpResponse(200, {}, upstream.body);
  await Promise.resolve();
  assert.equal(carried.cancelled(), false);
});
