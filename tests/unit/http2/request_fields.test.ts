import assert from "node:assert/strict";
import { requestFields } from "../../../server/http2/request_fields.ts";
import { H2StreamError } from "../../../server/http2/frames.ts";

/** A GET's fields with `path` as :path, decoded as HPACK gives them (one char per byte). */
function fields(path: string): [string[], string[]] {
  return [[":method", ":scheme", ":authority", ":path"], ["GET", "http", "a", path]];
}

Deno.test("requestFields: a :path's bytes past ASCII go on escaped, as over HTTP/1.1", () => {
  const sent = String.fromCharCode(...new TextEncoder().encode("/caf\u00e9/x?q=\u00e9"));
  const [names, values] = fields(sent);
  const request = requestFields(names, values, names.length);
  assert.equal(request.path, "/caf%C3%A9/x");
  assert.equal(request.query, "q=%C3%A9");
});

Deno.test("requestFields: a :path with DEL, a space or a fragment is malformed", () => {
  for (const path of ["/a\x7f", "/a b", "/a#b"]) {
    const [names, values] = fields(path);
    assert.throws(() => requestFields(names, values, names.length), H2StreamError, path);
  }
});
