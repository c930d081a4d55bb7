import assert from "node:assert/strict";
import {
  HeaderAdaptor,
  readHeaderAdaptSpec,
  toHeaderValue,
} from "../../../filters/header_adapt.ts";
import { SpecError, SpecReader } from "../../../filters/spec.ts";

function read(raw: unknown) {
  const r = new SpecReader(raw, "header");
  const spec = readHeaderAdaptSpec(r);
  r.finish();
  r.throwIfProblems();
  return spec;
}

Deno.test("HeaderAdaptor applies del, then set, then add", () => {
  const adaptor = new HeaderAdaptor(read({
    del: ["X-Gone", "X-Set"],
    set: { "X-Set": "one" },
    add: { "X-Set": "two", "X-Added": "a" },
  }));
  const headers = new Headers({ "x-gone": "1", "x-set": "old", "x-kept": "k" });
  adaptor.apply(headers);
  assert.equal(headers.get("x-gone"), null);
  assert.equal(headers.get("x-set"), "one, two");
  assert.equal(headers.get("x-added"), "a");
  assert.equal(headers.get("x-kept"), "k");
});

Deno.test("HeaderAdaptor sends non-ASCII values as UTF-8 bytes, as Go does", () => {
  assert.equal(toHeaderValue("plain"), "plain");
  const headers = new Headers();
  new HeaderAdaptor(read({ set: { "X-Euro": "€" } })).apply(headers);
  assert.equal(headers.get("x-euro"), "\xe2\x82\xac");
});

Deno.test("readHeaderAdaptSpec rejects bad names and values with paths", () => {
  try {
    read({ del: ["ok", "bad name"], set: { "X-A": "a\r\nb" }, add: { "a:b": "v" }, put: {} });
    assert.fail("accepted");
  } catch (e) {
    assert.ok(e instanceof SpecError);
    assert.deepEqual(e.problems, [
      'header.del[1]: "bad name" is not a valid header name',
      "header.set.X-A: must not contain line breaks or NUL",
      'header.add.a:b: "a:b" is not a valid header name',
      "header.put: unknown field",
    ]);
  }
});

Deno.test("readHeaderAdaptSpec leaves empty parts out", () => {
  assert.deepEqual(read({ del: [], set: {}, add: { "X-A": "1" } }), { add: { "X-A": "1" } });
});
