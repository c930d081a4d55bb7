import assert from "node:assert/strict";
import { Context, HttpRequest } from "../../../filters/context.ts";
import { resultBuilderKind } from "../../../filters/result_builder.ts";
import { roundTrip, specProblems, testEnv } from "./_helpers.ts";

const kind = resultBuilderKind;

function create(spec: Record<string, unknown>) {
  const env = testEnv();
  return { filter: kind.create(kind.validate(spec), env), env };
}

Deno.test("ResultBuilder renders result0..result9 or nothing; other text is unknown", async () => {
  const { filter } = create({
    template:
      `{{if eq (.requests.DEFAULT.Header.Get "X-Tier") "gold"}}result1{{else if eq .requests.DEFAULT.Method "DELETE"}}other{{end}}`,
  });
  const run = async (init: ConstructorParameters<typeof HttpRequest>[0]) =>
    await filter.handle(new Context(new HttpRequest(init)));
  assert.equal(await run({ headers: { "x-tier": "gold" } }), "result1");
  assert.equal(await run({}), "");
  assert.equal(await run({ method: "DELETE" }), "unknown");
});

Deno.test("ResultBuilder gives buildErr when the template fails or renders no single name", async () => {
  for (const template of ["{{divf 1 0}}", "[result1]"]) {
    const { filter, env } = create({ template });
    assert.equal(await filter.handle(new Context(new HttpRequest())), "buildErr", template);
    assert.equal(env.lines.length, 1);
  }
});

Deno.test("ResultBuilder spec: a template is required; its results are Easegress's", () => {
  assert.deepEqual(specProblems(kind, {}), ["template: is required"]);
  assert.deepEqual(specProblems(kind, { template: "{{" }), [
    "template: template: :1: unclosed action",
  ]);
  assert.deepEqual(roundTrip(kind, { template: "result0" }), { template: "result0" });
  assert.deepEqual(kind.results, [
    ...Array.from({ length: 10 }, (_, i) => `result${i}`),
    "buildErr",
    "unknown",
  ]);
});
