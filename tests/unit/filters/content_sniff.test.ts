import assert from "node:assert/strict";
import { HttpResponse } from "../../../filters/context.ts";
import { detectContentType, setSniffedContentType } from "../../../filters/content_sniff.ts";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

Deno.test("detectContentType gives what Go's http.DetectContentType gives", () => {
  const cases: [string, string][] = [
    ["", "text/plain; charset=utf-8"],
    ["<HtMl><bOdY>blah blah blah</body></html>", "text/html; charset=utf-8"],
    ["   <!DOCTYPE HTML>...", "text/html; charset=utf-8"],
    ["\n<p>hi</p>", "text/html; charset=utf-8"],
    ["<HTML", "text/plain; charset=utf-8"], // no tag-terminating byte after it
    ["<pre>x", "text/plain; charset=utf-8"], // "<P" must be followed by " " or ">"
    ['\n<?xml version="1.0"?><a/>', "text/xml; charset=utf-8"],
    ["%PDF-1.4", "application/pdf"],
    ["\x89PNG\x0D\x0A\x1A\x0A", "image/png"],
    ["GIF89a...", "image/gif"],
    ["\xFF\xD8\xFF\xE0", "image/jpeg"],
    ["\x1F\x8B\x08\x00", "application/x-gzip"],
    ["\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom<\x06t\xbfmdat", "video/mp4"],
    ["\x1A\x45\xDF\xA3", "video/webm"],
    ["\x00\x61\x73\x6D\x01", "application/wasm"],
    ["\xEF\xBB\xBFhello", "text/plain; charset=utf-8"],
    ['{"a": 1}', "text/plain; charset=utf-8"],
    ["\x01\x02\x03", "application/octet-stream"],
  ];
  for (const [data, want] of cases) {
    assert.equal(detectContentType(bytes(data)), want, JSON.stringify(data));
  }
  // Only the first 512 bytes count.
  assert.equal(detectContentType(bytes("a".repeat(512) + "\x01")), "text/plain; charset=utf-8");
});

Deno.test("setSniffedContentType types a body only where Go's server would", () => {
  const typed = (r: HttpResponse) => (setSniffedContentType(r), r.header("content-type"));
  assert.equal(
    typed(new HttpResponse(200, {}, "<html><body>hi</body></html>")),
    "text/html; charset=utf-8",
  );
  assert.equal(typed(new HttpResponse(503, undefined, "all failed")), "text/plain; charset=utf-8");
  assert.equal(
    typed(new HttpResponse(200, { "content-type": "application/json" }, "{}")),
    "application/json",
  );
  assert.equal(typed(new HttpResponse(200, {}, "")), null);
  assert.equal(typed(new HttpResponse(204, {}, "x")), null);
  assert.equal(typed(new HttpResponse(200, { "content-encoding": "gzip" }, "\x1F\x8B\x08")), null);
  const stream = new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  assert.equal(typed(new HttpResponse(200, {}, stream)), null);
});
