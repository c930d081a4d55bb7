import assert from "node:assert/strict";
import { PathAdaptor, readPathAdaptSpec } from "../../../filters/path_adapt.ts";
import { SpecError, SpecReader } from "../../../filters/spec.ts";

function adaptor(raw: unknown): PathAdaptor {
  const r = new SpecReader(raw, "path");
  const spec = readPathAdaptSpec(r);
  r.finish();
  r.throwIfProblems();
  return new PathAdaptor(spec);
}

Deno.test("PathAdaptor: the first of replace, addPrefix, trimPrefix, regexpReplace wins", () => {
  const all = {
    replace: "/r",
    addPrefix: "/p",
    trimPrefix: "/t",
    regexpReplace: { regexp: ".*", replace: "/x" },
  };
  assert.equal(adaptor(all).adapt("/t/a"), "/r");
  assert.equal(adaptor({ ...all, replace: "" }).adapt("/t/a"), "/p/t/a");
  assert.equal(adaptor({ ...all, replace: "", addPrefix: "" }).adapt("/t/a"), "/a");
  assert.equal(
    adaptor({ regexpReplace: { regexp: "^/v(\\d)/", replace: "/api/${1}/" } }).adapt("/v2/x"),
    "/api/2/x",
  );
});

Deno.test("PathAdaptor trimPrefix leaves other paths alone and keeps a leading slash", () => {
  const trim = adaptor({ trimPrefix: "/api" });
  assert.equal(trim.adapt("/other"), "/other");
  assert.equal(trim.adapt("/api"), "/");
  assert.equal(trim.adapt("/apix"), "/x");
});

Deno.test("readPathAdaptSpec requires paths starting with / and a regexp", () => {
  try {
    adaptor({ addPrefix: "api", regexpReplace: { replace: "x" } });
    assert.fail("accepted");
  } catch (e) {
    assert.ok(e instanceof SpecError);
    assert.deepEqual(e.problems, [
      'path.addPrefix: must be a path starting with "/", got "api"',
      "path.regexpReplace.regexp: is required",
    ]);
  }
});

Deno.test("PathAdaptor: a spec's ? and # stay in the path, escaped as Go sends them", () => {
  // Unescaped, they started a second query or put a fragment on the request line.
  assert.equal(adaptor({ replace: "/a?b#c" }).adapt("/x"), "/a%3Fb%23c");
  assert.equal(adaptor({ addPrefix: "/v?1" }).adapt("/x"), "/v%3F1/x");
  const regexp = adaptor({ regexpReplace: { regexp: "^/(\\w+)$", replace: "/q?id=$1#f" } });
  assert.equal(regexp.adapt("/abc"), "/q%3Fid=abc%23f");
});

Deno.test("PathAdaptor: trimPrefix meets the escaped path a request comes with, as Go trims the decoded one", () => {
  // The server hands paths over with spaces and non-ASCII escaped (see percent_encoding.ts).
  assert.equal(adaptor({ trimPrefix: "/café b" }).adapt("/caf%C3%A9%20b/menu"), "/menu");
  // replace and addPrefix are written the same way, so a path keeps one spelling.
  assert.equal(adaptor({ addPrefix: "/ä b" }).adapt("/x%2Fy"), "/%C3%A4%20b/x%2Fy");
  assert.equal(adaptor({ replace: "/ä b" }).adapt("/x"), "/%C3%A4%20b");
});

Deno.test("PathAdaptor: regexpReplace's text is spelled as request paths are, its groups as they came", () => {
  // Raw, "{z}" reached the backend and later filters as sent, where addPrefix's went as %7Bz%7D.
  const regexp = adaptor({
    regexpReplace: { regexp: "^/rx/([^/]*)/(.*)$", replace: "/R é/${2}/$1 {z}|%7e" },
  });
  assert.equal(regexp.adapt("/rx/a%7Cb/c"), "/R%20%C3%A9/c/a%7Cb%20%7Bz%7D%7C~");
});
