import assert from "node:assert/strict";
import { SpecError, SpecReader, yamlBoolean } from "../../../filters/spec.ts";

Deno.test("a bool field takes YAML 1.1's yes/no/on/off as Easegress's Go YAML does", () => {
  const r = SpecReader.root({ a: "yes", b: "Off", c: true, d: "N", e: "ON" });
  assert.deepEqual(
    [
      r.bool("a", false),
      r.bool("b", true),
      r.bool("c", false),
      r.bool("d", true),
      r.bool("e", false),
    ],
    [true, false, true, false, true],
  );
  r.finish();
  r.throwIfProblems();
});

Deno.test("a bool field refuses other text, naming it; a string field keeps 'yes' as text", () => {
  const r = SpecReader.root({ a: "maybe", s: "on" });
  assert.equal(r.string("s"), "on");
  r.bool("a", false);
  assert.throws(() => r.throwIfProblems(), (e: Error) => {
    assert.ok(e instanceof SpecError);
    assert.match(e.message, /a: must be true or false, got "maybe"/);
    return true;
  });
  assert.equal(yamlBoolean("yES"), undefined);
  assert.equal(yamlBoolean(1), undefined);
});

Deno.test("an unknown field names the known one it resembles (Easegress's cookbook maxConnection)", () => {
  const r = SpecReader.root({
    maxConnection: 10240,
    KeepAlive: true,
    https: false,
    bogus: 1,
    pathh: "/a",
    path: "/b",
    ur: "x",
  });
  for (const field of ["maxConnections", "keepAlive", "https", "url"]) r.any(field);
  r.string("path");
  r.finish();
  assert.deepEqual(r.problems, [
    "maxConnection: unknown field (did you mean maxConnections?)",
    "KeepAlive: unknown field (did you mean keepAlive?)",
    "bogus: unknown field",
    // Not the field that is there already, nor a short name's two edits away.
    "pathh: unknown field",
    "ur: unknown field",
  ]);
});

Deno.test("an optional duration given empty is left out, as Easegress takes it; a required one is refused", () => {
  const r = SpecReader.root({ timeout: "", keepAliveTimeout: "", expiration: "" });
  assert.equal(r.duration("timeout"), undefined);
  assert.equal(r.duration("keepAliveTimeout", { default: "60s" }), "60s");
  r.duration("expiration", { required: true });
  r.finish();
  assert.throws(
    () => r.throwIfProblems(),
    /^(?![\s\S]*timeout)[\s\S]*expiration: must be a duration/,
  );
});

Deno.test('a key left empty is told as an unknown field named "" at its level', () => {
  const r = SpecReader.root({ "": 1, a: { "": 2 } });
  r.object("a", (child) => child);
  r.finish();
  assert.deepEqual(r.problems, ['a: unknown field ""', 'spec: unknown field ""']);
});
