import assert from "node:assert/strict";
import { HttpResponse } from "../../../filters/context.ts";
import { corsAdaptorKind, parseHeaderList } from "../../../filters/cors_adaptor.ts";
import { build, contextFor, roundTrip, specProblems } from "./_helpers.ts";

const kind = corsAdaptorKind;

function preflight(headers: Record<string, string>) {
  return contextFor({ method: "OPTIONS", path: "/api", headers });
}

Deno.test("CORSAdaptor answers an allowed preflight with the Allow fields", () => {
  const cors = build(kind, {
    allowedOrigins: ["https://app.example.com", "https://*.example.org"],
    allowedMethods: ["GET", "PUT"],
    allowedHeaders: ["Authorization", "content-type"],
    allowCredentials: true,
    maxAge: 600,
  });
  const ctx = preflight({
    Origin: "https://a.example.org",
    "Access-Control-Request-Method": "put",
    "Access-Control-Request-Headers": "authorization, Content-Type",
  });
  assert.equal(cors.handle(ctx), "preflighted");
  const response = ctx.response!;
  assert.equal(response.status, 200);
  assert.equal(response.header("access-control-allow-origin"), "https://a.example.org");
  assert.equal(response.header("access-control-allow-methods"), "PUT");
  assert.equal(response.header("access-control-allow-headers"), "Authorization, Content-Type");
  assert.equal(response.header("access-control-allow-credentials"), "true");
  assert.equal(response.header("access-control-max-age"), "600");
  assert.equal(
    response.header("vary"),
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
  );
});

Deno.test("CORSAdaptor answers a refused preflight without Allow fields", () => {
  const cors = build(kind, { allowedOrigins: ["https://app.example.com"] });
  const cases: Record<string, string>[] = [
    { Origin: "https://evil.example", "Access-Control-Request-Method": "GET" },
    { Origin: "https://app.example.com", "Access-Control-Request-Method": "DELETE" },
    {
      Origin: "https://app.example.com",
      "Access-Control-Request-Method": "GET",
      "Access-Control-Request-Headers": "X-Secret",
    },
    { "Access-Control-Request-Method": "GET" },
  ];
  for (const headers of cases) {
    const ctx = preflight(headers);
    assert.equal(cors.handle(ctx), "preflighted");
    assert.equal(
      ctx.response!.header("access-control-allow-origin"),
      null,
      JSON.stringify(headers),
    );
  }
});

Deno.test("CORSAdaptor takes an OPTIONS with an empty Access-Control-Request-Method for no preflight", () => {
  const cors = build(kind, {});
  const ctx = preflight({ Origin: "https://a.example.org", "Access-Control-Request-Method": "" });
  assert.equal(cors.handle(ctx), "");
  assert.equal(ctx.response, undefined);
});

Deno.test("CORSAdaptor reads requested headers as rs/cors: split at commas and spaces", () => {
  assert.deepEqual(parseHeaderList("content-type accept,X-FOO_bar.1, ,x+y;z"), [
    "Content-Type",
    "Accept",
    "X-Foo_bar.1",
    "Xyz",
  ]);
  const cors = build(kind, {});
  const ctx = preflight({
    Origin: "https://a.example.org",
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "content-type accept",
  });
  assert.equal(cors.handle(ctx), "preflighted");
  assert.equal(ctx.response!.header("access-control-allow-headers"), "Content-Type, Accept");
});

Deno.test("CORSAdaptor defaults: any origin (as *), GET/POST/HEAD, the four default headers", () => {
  const cors = build(kind, {});
  const ok = preflight({
    Origin: "https://x.test",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "x-requested-with",
  });
  cors.handle(ok);
  assert.equal(ok.response!.header("access-control-allow-origin"), "*");
  assert.equal(ok.response!.header("access-control-allow-headers"), "X-Requested-With");
  const put = preflight({ Origin: "https://x.test", "Access-Control-Request-Method": "PUT" });
  cors.handle(put);
  assert.equal(put.response!.header("access-control-allow-origin"), null);
});

Deno.test("CORSAdaptor stamps an existing response of an actual request; leaves others alone", () => {
  const cors = build(kind, {
    allowedOrigins: ["https://app.example.com"],
    exposedHeaders: ["x-total-count"],
  });
  const after = contextFor({ path: "/api", headers: { Origin: "https://app.example.com" } });
  after.response = new HttpResponse(200, {}, "data");
  assert.equal(cors.handle(after), "");
  assert.equal(after.response.status, 200);
  assert.equal(after.response.header("access-control-allow-origin"), "https://app.example.com");
  assert.equal(after.response.header("access-control-expose-headers"), "X-Total-Count");
  assert.equal(after.response.header("vary"), "Origin");

  const before = contextFor({ path: "/api", headers: { Origin: "https://app.example.com" } });
  assert.equal(cors.handle(before), "");
  assert.equal(before.response, undefined);

  const support = build(kind, { supportCORSRequest: true });
  const made = contextFor({ path: "/api", headers: { Origin: "https://x.test" } });
  assert.equal(support.handle(made), "");
  assert.equal(made.response!.status, 200);
  assert.equal(made.response!.header("access-control-allow-origin"), "*");
});

Deno.test("CORSAdaptor spec: bad origins and header names are named; specs round-trip", () => {
  assert.deepEqual(
    specProblems(kind, { allowedOrigins: ["https://*.*.x"], exposedHeaders: ["a b"], maxAge: -1 }),
    [
      "maxAge: must be at least 0, got -1",
      'allowedOrigins[0]: may hold one "*" at most, got "https://*.*.x"',
      'exposedHeaders[0]: "a b" is not a valid header name',
    ],
  );
  roundTrip(kind, { allowedOrigins: ["*"], allowedHeaders: ["*"], supportCORSRequest: true });
});
