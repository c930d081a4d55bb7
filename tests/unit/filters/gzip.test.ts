import assert from "node:assert/strict";
import { HttpRequest, HttpResponse, readAll } from "../../../filters/context.ts";
import {
  gunzip,
  GUNZIP_BUFFER_MAX,
  gunzipMessage,
  gunzipStream,
  gzip,
  GzipFormatError,
  gzipMessage,
  gzipStream,
} from "../../../filters/gzip.ts";

const text = new TextEncoder().encode("hello gzip ".repeat(100));

function chunked(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const chunk of chunks) c.enqueue(chunk);
      c.close();
    },
  });
}

Deno.test("gzip and gunzip round-trip bytes", async () => {
  const packed = await gzip(text);
  assert.equal(packed[0], 0x1f);
  assert.ok(packed.byteLength < text.byteLength);
  assert.deepEqual(await gunzip(packed), text);
});

Deno.test("gunzip rejects bytes that are not gzip", async () => {
  await assert.rejects(gunzip(text), GzipFormatError);
  await assert.rejects(gunzip(new Uint8Array()), GzipFormatError);
});

Deno.test("gzipStream and gunzipStream round-trip a stream split anywhere", async () => {
  const packed = await readAll(gzipStream(chunked(text.subarray(0, 7), text.subarray(7))));
  const split = chunked(packed.subarray(0, 1), packed.subarray(1, 5), packed.subarray(5));
  assert.deepEqual(await readAll(await gunzipStream(split)), text);
});

Deno.test("gunzipStream fails at once on a stream that does not start like gzip", async () => {
  await assert.rejects(gunzipStream(chunked(text)), GzipFormatError);
  await assert.rejects(gunzipStream(chunked()), GzipFormatError);
});

Deno.test("gzipMessage compresses bytes, sets Content-Encoding and Content-Length", async () => {
  const resp = new HttpResponse(200, { "content-length": String(text.byteLength) }, text);
  assert.ok(await gzipMessage(resp));
  assert.equal(resp.header("content-encoding"), "gzip");
  const body = resp.body as Uint8Array;
  assert.equal(resp.header("content-length"), String(body.byteLength));
  assert.deepEqual(await gunzip(body), text);
});

Deno.test("gzipMessage keeps a stream a stream and drops Content-Length", async () => {
  const req = new HttpRequest({ headers: { "content-length": "1100" }, body: chunked(text) });
  assert.ok(await gzipMessage(req));
  assert.ok(req.isStream);
  assert.equal(req.header("content-length"), null);
  assert.deepEqual(await gunzip(await req.bytes()), text);
});

Deno.test("gzipMessage skips encoded or empty bodies", async () => {
  const encoded = new HttpResponse(200, { "content-encoding": "br" }, text);
  assert.ok(await gzipMessage(encoded));
  assert.equal(encoded.body, text);
  const empty = new HttpResponse(204);
  assert.ok(await gzipMessage(empty));
  assert.equal(empty.header("content-encoding"), null);
});

Deno.test("gunzipMessage decompresses only gzip bodies and removes the header", async () => {
  const packed = await gzip(text);
  const resp = new HttpResponse(200, { "content-encoding": "gzip" }, packed);
  assert.ok(await gunzipMessage(resp));
  assert.deepEqual(resp.body, text);
  assert.equal(resp.header("content-encoding"), null);
  assert.equal(resp.header("content-length"), String(text.byteLength));

  const br = new HttpResponse(200, { "content-encoding": "br" }, packed);
  assert.ok(await gunzipMessage(br));
  assert.equal(br.body, packed);

  const bad = new HttpResponse(200, { "content-encoding": "gzip" }, text);
  assert.equal(await gunzipMessage(bad), false);
  assert.equal(bad.header("content-encoding"), "gzip");
});

/** 32 MiB of zeros, gzipped to about 32 KB (deflate's ratio is about 1 000). */
const zeros = 32 * 1024 * 1024;
const packedZeros = await gzip(new Uint8Array(zeros));

Deno.test("gunzipStream unpacks a chunk of packed bytes a few MiB at a time, as it is read", async () => {
  const reader = (await gunzipStream(chunked(packedZeros))).getReader();
  let total = 0;
  let largest = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    largest = Math.max(largest, value.byteLength);
  }
  assert.equal(total, zeros);
  assert.ok(largest <= 8 * 1024 * 1024, `a chunk of ${largest} bytes was unpacked at once`);
});

Deno.test("gunzipMessage turns bytes that unpack past GUNZIP_BUFFER_MAX into a stream", async () => {
  const req = new HttpRequest({
    headers: { "content-encoding": "gzip", "content-length": String(packedZeros.byteLength) },
    body: packedZeros,
  });
  req.replayLimit = 4 * 1024 * 1024;
  assert.ok(await gunzipMessage(req));
  assert.ok(req.isStream, "the unpacked body is held whole");
  // Like a body the route streams: a Proxy with a retry or a timeout sends it as it comes.
  assert.equal(req.replayLimit, -1);
  assert.equal(req.header("content-length"), null);
  assert.equal(req.header("content-encoding"), null);
  assert.equal((await req.bytes()).byteLength, zeros);

  const fits = await gzip(new Uint8Array(GUNZIP_BUFFER_MAX));
  const resp = new HttpResponse(200, { "content-encoding": "gzip" }, fits);
  assert.ok(await gunzipMessage(resp));
  assert.ok(resp.body instanceof Uint8Array);
  assert.equal(resp.header("content-length"), String(GUNZIP_BUFFER_MAX));
  const small = new HttpRequest({ headers: { "content-encoding": "gzip" }, body: fits });
  small.replayLimit = 4 * 1024 * 1024;
  assert.ok(await gunzipMessage(small));
  assert.equal(small.replayLimit, 4 * 1024 * 1024);
});
