import assert from "node:assert/strict";
import { Context, HttpRequest, HttpResponse } from "../../../filters/context.ts";
import { applyOutcome, contextOf, exchangeOf, outcomeOf } from "../../../filters/wasm_exchange.ts";

function original(): Context {
  const ctx = new Context(
    new HttpRequest({
      method: "POST",
      path: "/a",
      query: "x=1",
      headers: { "x-in": "1" },
      body: "data",
    }),
    { realIP: "10.0.0.1" },
  );
  return ctx;
}

Deno.test("exchange: what a module changed on the snapshot comes back and is applied, nothing else", async () => {
  const ctx = original();
  await ctx.request.bytes();
  const exchange = exchangeOf(ctx, { request: true, response: false });
  assert.equal(exchange.realIP, "10.0.0.1");
  assert.deepEqual(new TextDecoder().decode(exchange.request.body), "data");

  // Nothing changed: no headers, body or response travel back.
  const untouched = contextOf(exchange);
  const none = outcomeOf(untouched, exchange, 0, []);
  assert.equal(none.requestHeaders, undefined);
  assert.equal(none.requestBody, undefined);
  assert.equal(none.response, undefined);

  // The module sets a header, the path and a response.
  const worked = contextOf(exchange);
  worked.request.headers.set("x-out", "2");
  worked.request.path = "/b";
  worked.response = new HttpResponse(418, { "x-teapot": "yes" }, new TextEncoder().encode("short"));
  worked.addTag("tagged");
  const outcome = outcomeOf(worked, exchange, 3, [[1, "hello"]]);
  applyOutcome(ctx, outcome);
  assert.equal(ctx.request.path, "/b");
  assert.equal(ctx.request.header("x-in"), "1");
  assert.equal(ctx.request.header("x-out"), "2");
  assert.equal(ctx.response?.status, 418);
  assert.equal(ctx.response?.header("x-teapot"), "yes");
  assert.equal(await ctx.response?.text(), "short");
  assert.deepEqual(ctx.tags, ["tagged"]);
  assert.equal(outcome.result, 3);
  assert.deepEqual(outcome.logs, [[1, "hello"]]);
});

Deno.test("exchange: a header sent twice crosses as two fields, both ways", () => {
  const ctx = new Context(
    new HttpRequest({ headers: [["x-a", "first"], ["x-a", "second"], ["cookie", "a=1"]] }),
  );
  ctx.response = new HttpResponse(200, [["x-b", "1"], ["x-b", "2"]]);
  const exchange = exchangeOf(ctx, { request: false, response: false });
  const snapshot = contextOf(exchange);
  assert.equal(snapshot.request.firstHeader("x-a"), "first");
  assert.equal(snapshot.response?.firstHeader("x-b"), "1");

  // A module that adds a Cookie field: every field comes back apart.
  snapshot.request.headers.append("cookie", "b=2");
  applyOutcome(ctx, outcomeOf(snapshot, exchange, 0, []));
  assert.equal(ctx.request.firstHeader("x-a"), "first");
  assert.equal(ctx.request.cookieHeader(), "a=1; b=2");
});

Deno.test("exchange: a body the module empties comes back empty, a request's and a response's", async () => {
  for (const reads of [true, false]) {
    const ctx = original();
    await ctx.request.bytes();
    ctx.response = new HttpResponse(200, {}, new TextEncoder().encode("mocked"));
    const exchange = exchangeOf(ctx, { request: reads, response: reads });

    // Untouched, a body that crossed or not stays where it is.
    const untouched = outcomeOf(contextOf(exchange), exchange, 0, []);
    assert.equal(untouched.requestBody, undefined, `reads ${reads}`);
    assert.equal(untouched.response?.body, undefined, `reads ${reads}`);

    // host_req_set_body and host_resp_set_body with no bytes.
    const emptied = contextOf(exchange);
    emptied.request.body = new Uint8Array(0);
    emptied.response!.body = new Uint8Array(0);
    applyOutcome(ctx, outcomeOf(emptied, exchange, 0, []));
    assert.equal(await ctx.request.text(), "", `reads ${reads}`);
    assert.equal(await ctx.response.text(), "", `reads ${reads}`);
  }
});
