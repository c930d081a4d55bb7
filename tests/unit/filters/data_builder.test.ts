import assert from "node:assert/strict";
import { Context, HttpRequest } from "../../../filters/context.ts";
import { dataBuilderKind } from "../../../filters/data_builder.ts";
import { responseBuilderKind } from "../../../filters/response_builder.ts";
import { build, roundTrip, specProblems } from "./_helpers.ts";

const kind = dataBuilderKind;

Deno.test("DataBuilder keeps what its template renders under dataKey, for later templates", async () => {
  const data = build(kind, {
    dataKey: "order",
    template: `
id: {{.requests.DEFAULT.JSONBody.id}}
paid: true
items: [a, b]
`,
  });
  const ctx = new Context(new HttpRequest({ method: "POST", body: '{"id": 42}' }));
  assert.equal(await data.handle(ctx), "");
  assert.deepEqual(ctx.data.order, { id: 42, paid: true, items: ["a", "b"] });
  const respond = build(responseBuilderKind, {
    template: "body: '{{.data.order.id}} {{.data.order.paid}} {{index .data.order.items 1}}'",
  });
  assert.equal(await respond.handle(ctx), "");
  assert.equal(await ctx.response!.text(), "42 true b");
});

Deno.test("DataBuilder gives buildErr when its template fails", async () => {
  const data = build(kind, { dataKey: "x", template: "{{.requests.DEFAULT.JSONBody.id}}" });
  const ctx = new Context(new HttpRequest({ body: "not json" }));
  assert.equal(await data.handle(ctx), "buildErr");
  assert.equal(ctx.data.x, undefined);
});

Deno.test("DataBuilder spec needs dataKey and template", () => {
  assert.deepEqual(specProblems(kind, {}), [
    "dataKey: is required",
    "template: is required",
  ]);
  assert.deepEqual(specProblems(kind, { dataKey: "", template: "a: 1" }), [
    "dataKey: must not be empty",
  ]);
  assert.deepEqual(roundTrip(kind, { dataKey: "k", template: "a: 1", leftDelim: "[[" }), {
    dataKey: "k",
    leftDelim: "[[",
    template: "a: 1",
  });
});
