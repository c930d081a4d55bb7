import assert from "node:assert/strict";
import { HeaderFields } from "../../../filters/header_fields.ts";
import { headerToJSONKind } from "../../../filters/header_to_json.ts";
import { build, contextFor, roundTrip, specProblems } from "./_helpers.ts";

const kind = headerToJSONKind;
const spec = {
  headerMap: [{ header: "X-User", json: "user" }, { header: "X-Tenant", json: "tenant" }],
};

async function run(body: string, headers: Record<string, string>) {
  const ctx = contextFor({ method: "POST", headers, body: new TextEncoder().encode(body) });
  const result = await build(kind, spec).handle(ctx);
  return { result, body: await ctx.request.text(), length: ctx.request.header("content-length") };
}

Deno.test("HeaderToJSON merges the mapped headers into an object, an array's objects, or an empty body", async () => {
  const headers = { "X-User": "ann", "X-Tenant": "acme" };
  const object = await run('{"id":1,"user":"old"}', headers);
  assert.deepEqual(JSON.parse(object.body), { id: 1, user: "ann", tenant: "acme" });
  assert.equal(object.length, String(new TextEncoder().encode(object.body).length));
  assert.deepEqual(JSON.parse((await run('[{"a":1},{"b":2}]', headers)).body), [
    { a: 1, user: "ann", tenant: "acme" },
    { b: 2, user: "ann", tenant: "acme" },
  ]);
  assert.deepEqual(JSON.parse((await run("", { "X-User": "ann" })).body), { user: "ann" });
});

Deno.test("HeaderToJSON takes the first of repeated header fields, as Go's Header.Get", async () => {
  const headers = new HeaderFields();
  headers.append("x-user", "ann");
  headers.append("x-user", "bob");
  const ctx = contextFor({ method: "POST", headers, body: new TextEncoder().encode("{}") });
  assert.equal(await build(kind, spec).handle(ctx), "");
  assert.deepEqual(JSON.parse(await ctx.request.text()), { user: "ann" });
});

Deno.test("HeaderToJSON puts a non-ASCII header's UTF-8 text into the JSON", async () => {
  // As the server holds the field: each UTF-8 byte one character.
  const wire = String.fromCharCode(...new TextEncoder().encode("Zoë"));
  const out = await run("", { "X-User": wire });
  assert.deepEqual(JSON.parse(out.body), { user: "Zoë" });
  assert.equal(out.length, String(new TextEncoder().encode('{"user":"Zoë"}').length));
});

Deno.test("HeaderToJSON writes the body as Go's json.Marshal: keys sorted, HTML escaped", async () => {
  const out = await run('{"z":1,"list":[{"y":1,"x":2.50}],"n":1e300}', { "X-User": "<ann & co>" });
  assert.equal(
    out.body,
    '{"list":[{"x":2.5,"y":1}],"n":1e+300,"user":"\\u003cann \\u0026 co\\u003e","z":1}',
  );
});

Deno.test("HeaderToJSON leaves the body alone without mapped headers, and on JSON it cannot extend", async () => {
  assert.deepEqual(await run("not json", {}), { result: "", body: "not json", length: null });
  for (const body of ["not json", "42", "[1,2]"]) {
    const out = await run(body, { "X-User": "ann" });
    assert.equal(out.result, "jsonEncodeDecodeErr", body);
    assert.equal(out.body, body);
  }
});

Deno.test("HeaderToJSON spec: headerMap entries need a header and a field", () => {
  assert.deepEqual(specProblems(kind, {}), ["headerMap: is required"]);
  assert.deepEqual(specProblems(kind, { headerMap: [{ header: "Bad Name" }] }), [
    'headerMap[0].header: "Bad Name" is not a valid header name',
    "headerMap[0].json: is required",
  ]);
  assert.deepEqual(specProblems(kind, { headerMap: [{ header: "", json: "user" }] }), [
    'headerMap[0].header: "" is not a valid header name',
  ]);
  roundTrip(kind, spec);
});
