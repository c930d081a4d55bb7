import assert from "node:assert/strict";
import { SpecError, SpecReader } from "../../../filters/spec.ts";
import { readStringMatcher, StringMatcher } from "../../../filters/string_matcher.ts";

function read(raw: unknown) {
  const r = new SpecReader(raw, "m");
  const spec = readStringMatcher(r);
  r.finish();
  r.throwIfProblems();
  return spec;
}

function problems(raw: unknown): readonly string[] {
  try {
    read(raw);
  } catch (e) {
    if (e instanceof SpecError) return e.problems;
    throw e;
  }
  throw new Error("accepted");
}

Deno.test("StringMatcher matches exact, prefix and regex (any one is enough)", () => {
  const m = new StringMatcher(read({ exact: "/a", prefix: "/api/", regex: "v[0-9]+$" }));
  assert.ok(m.match("/a"));
  assert.ok(m.match("/api/users"));
  assert.ok(m.match("/x/v2"));
  assert.ok(!m.match("/b"));
  assert.ok(!m.match(""));
});

Deno.test("StringMatcher regex matches anywhere unless anchored, like Go MatchString", () => {
  assert.ok(new StringMatcher(read({ regex: "b" })).match("abc"));
  assert.ok(!new StringMatcher(read({ regex: "^b" })).match("abc"));
  assert.ok(new StringMatcher(read({ regex: "(?i)^ABC" })).match("abc"));
});

Deno.test("StringMatcher empty matches only the empty string and absent values", () => {
  const m = new StringMatcher(read({ empty: true }));
  assert.ok(m.match(""));
  assert.ok(!m.match("x"));
  assert.ok(m.matchesAbsent);
  assert.ok(!new StringMatcher(read({ exact: "x" })).matchesAbsent);
});

Deno.test("readStringMatcher drops empty patterns and normalizes", () => {
  assert.deepEqual(read({ exact: "", prefix: "/p", empty: false }), { prefix: "/p" });
});

Deno.test("readStringMatcher rejects no pattern, empty with others, bad regex", () => {
  assert.deepEqual(problems({}), ["m: needs one of exact, prefix, regex or empty"]);
  assert.deepEqual(problems({ empty: true, exact: "a" }), [
    "m.empty: cannot be combined with exact, prefix or regex",
  ]);
  assert.match(problems({ regex: "(" })[0], /^m\.regex: is not a valid regular expression/);
  assert.deepEqual(problems({ exact: "a", exactly: "b" }), ["m.exactly: unknown field"]);
});
