import assert from "node:assert/strict";
import { Context, HttpRequest, HttpResponse } from "../../../filters/context.ts";
import { responseBuilderKind } from "../../../filters/response_builder.ts";
import { roundTrip, specProblems, testEnv } from "./_helpers.ts";

const kind = responseBuilderKind;

function create(spec: Record<string, unknown>) {
  const env = testEnv();
  return { filter: kind.create(kind.validate(spec), env), env };
}

function streamOf(text: string): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode(text));
      c.close();
    },
  });
}

/** A context whose namespaces demo1..demoN hold responses (status, JSON body). */
function aggregationContext(responses: [number, unknown][]): Context {
  const ctx = new Context(new HttpRequest({ path: "/api" }));
  responses.forEach(([status, body], i) => {
    ctx.useNamespace(`demo${i + 1}`);
    ctx.response = new HttpResponse(
      status,
      { "content-type": "application/json" },
      streamOf(JSON.stringify(body)),
    );
  });
  ctx.useNamespace("DEFAULT");
  return ctx;
}

Deno.test("ResponseBuilder spec shares RequestBuilder's rules", () => {
  assert.deepEqual(specProblems(kind, {}), ["template: is required (or set sourceNamespace)"]);
  assert.deepEqual(specProblems(kind, { template: "body: {{end}}" }), [
    "template: template: :1: unexpected {{end}}",
  ]);
  assert.deepEqual(roundTrip(kind, { template: "statusCode: 200" }), {
    protocol: "http",
    template: "statusCode: 200",
  });
});

Deno.test("ResponseBuilder builds status, headers and body", async () => {
  const { filter } = create({
    template: `statusCode: 201
headers:
  Content-Type: [text/plain]
  X-Multi: [a, b]
body: made for {{.requests.DEFAULT.URL.Path}}
`,
  });
  const ctx = new Context(new HttpRequest({ path: "/x" }));
  assert.equal(await filter.handle(ctx), "");
  const resp = ctx.response!;
  assert.equal(resp.status, 201);
  assert.equal(resp.header("content-type"), "text/plain");
  assert.equal(resp.header("x-multi"), "a, b");
  assert.equal(await resp.text(), "made for /x");
  assert.equal(resp.header("content-length"), "11");
});

Deno.test("ResponseBuilder keeps plain numbers and booleans of the YAML as written, as Go's decoder does", async () => {
  const { filter } = create({
    template: `statusCode: 202
headers:
  X-Price: [{{.requests.DEFAULT.JSONBody.price}}, 0x10, True, ~]
  200: [keys stay text]
body: {{.requests.DEFAULT.JSONBody.id}}
`,
  });
  const ctx = new Context(
    new HttpRequest({ method: "POST", body: '{"price": 9.90, "id": 12345678901234567890}' }),
  );
  assert.equal(await filter.handle(ctx), "");
  const resp = ctx.response!;
  assert.equal(resp.status, 202);
  assert.equal(resp.header("x-price"), "9.90, 0x10, True, ");
  assert.equal(resp.header("200"), "keys stay text");
  assert.equal(await resp.text(), "12345678901234567890");
});

Deno.test("ResponseBuilder defaults to 200 with an empty body", async () => {
  const { filter } = create({ template: "{{/* empty */}}" });
  const ctx = new Context(new HttpRequest());
  assert.equal(await filter.handle(ctx), "");
  assert.equal(ctx.response!.status, 200);
  assert.equal(await ctx.response!.text(), "");
});

Deno.test("ResponseBuilder rejects status codes outside 200..599", async () => {
  for (const code of ["199", "600", '"200"', "2.5"]) {
    const { filter, env } = create({ template: `statusCode: ${code}` });
    const ctx = new Context(new HttpRequest());
    assert.equal(await filter.handle(ctx), "buildErr", code);
    assert.equal(ctx.response!.status, 500);
    assert.equal(env.lines.length, 1);
  }
});

Deno.test("ResponseBuilder ends the seed's RSS pipeline with the Slack status", async () => {
  const { filter } = create({
    template: `statusCode: {{.responses.slack.StatusCode}}
body: RSS feed has been sent to Slack successfully.`,
  });
  const ctx = new Context(new HttpRequest({ path: "/rss" }));
  ctx.useNamespace("slack");
  ctx.response = new HttpResponse(202, {}, "ok");
  ctx.useNamespace("DEFAULT");
  assert.equal(await filter.handle(ctx), "");
  assert.equal(ctx.response!.status, 202);
  assert.equal(await ctx.response!.text(), "RSS feed has been sent to Slack successfully.");
});

Deno.test("ResponseBuilder aggregates by concatenating the namespaces' bodies", async () => {
  const { filter } = create({
    template: `statusCode: 200
body: |
  [{{.responses.demo1.Body}},{{.responses.demo2.Body}},{{.responses.demo3.Body}}]`,
  });
  const ctx = aggregationContext([[200, { a: 1 }], [200, { b: 2 }], [200, { c: 3 }]]);
  assert.equal(await filter.handle(ctx), "");
  // A YAML block scalar keeps its final newline, as in Go.
  assert.equal(await ctx.response!.text(), '[{"a":1},{"b":2},{"c":3}]\n');
});

Deno.test("ResponseBuilder aggregates with mergeObject piped to toRawJson (later wins)", async () => {
  const { filter } = create({
    template: `statusCode: 200
body: |
  {{mergeObject .responses.demo1.JSONBody .responses.demo2.JSONBody .responses.demo3.JSONBody | toRawJson}}`,
  });
  const ctx = aggregationContext([
    [200, { name: "one", id: 12345678901234567890, nested: { a: 1, keep: true }, html: "<b>" }],
    [200, { name: "two", nested: { a: 2 }, price: 1.50 }],
    [200, { extra: [1, 2] }],
  ]);
  // JSON.stringify prints 1.50 as 1.5 and the big id rounded, so write those bodies by hand.
  ctx.useNamespace("demo1");
  ctx.response = new HttpResponse(
    200,
    {},
    '{"name":"one","id":12345678901234567890,"nested":{"a":1,"keep":true},"html":"<b>"}',
  );
  ctx.useNamespace("demo2");
  ctx.response = new HttpResponse(200, {}, '{"name":"two","nested":{"a":2},"price":1.50}');
  ctx.useNamespace("DEFAULT");
  assert.equal(await filter.handle(ctx), "");
  assert.equal(
    await ctx.response!.text(),
    '{"extra":[1,2],"html":"<b>","id":12345678901234567890,"name":"two","nested":{"a":2,"keep":true},"price":1.50}\n',
  );
});

Deno.test("ResponseBuilder aggregates with range over .responses, break on the first 200", async () => {
  const template = `{{- $status := 503}}{{$body := "no backend answered"}}
{{- range $name, $resp := .responses}}
  {{- if eq $resp.StatusCode 200}}{{$status = 200}}{{$body = printf "%s: %s" $name $resp.Body}}{{break}}{{end}}
{{- end}}
statusCode: {{$status}}
body: {{$body | quote}}`;
  const { filter } = create({ template });

  const some = aggregationContext([[500, "x"], [200, "second"], [200, "third"]]);
  assert.equal(await filter.handle(some), "");
  assert.equal(some.response!.status, 200);
  assert.equal(await some.response!.text(), 'demo2: "second"');

  const none = aggregationContext([[500, "x"], [404, "y"]]);
  assert.equal(await filter.handle(none), "");
  assert.equal(none.response!.status, 503);
  assert.equal(await none.response!.text(), "no backend answered");
});

Deno.test("ResponseBuilder with sourceNamespace copies that namespace's response", async () => {
  const { filter } = create({ sourceNamespace: "backend" });
  const ctx = new Context(new HttpRequest());
  ctx.useNamespace("backend");
  ctx.response = new HttpResponse(207, { "X-B": "1" }, streamOf("from backend"));
  ctx.useNamespace("DEFAULT");
  assert.equal(await filter.handle(ctx), "");
  assert.equal(ctx.response!.status, 207);
  assert.equal(ctx.response!.header("x-b"), "1");
  assert.equal(await ctx.response!.text(), "from backend");
  assert.equal(await ctx.getNamespace("backend").response!.text(), "from backend");
});

Deno.test("ResponseBuilder with an empty sourceNamespace fails with buildErr", async () => {
  const { filter, env } = create({ sourceNamespace: "backend" });
  const ctx = new Context(new HttpRequest());
  assert.equal(await filter.handle(ctx), "buildErr");
  assert.equal(ctx.response!.status, 500);
  assert.deepEqual(env.lines, ["error: build response: namespace backend has no response"]);
});

Deno.test("ResponseBuilder reports divf by zero as buildErr", async () => {
  const { filter, env } = create({ template: "body: {{divf 1 0}}" });
  const ctx = new Context(new HttpRequest());
  assert.equal(await filter.handle(ctx), "buildErr");
  assert.deepEqual(env.lines, [
    'error: build response: template: :1:8: executing "" at <divf 1 0>: error calling divf: divisor must not be zero',
  ]);
});

Deno.test("ResponseBuilder templates have Easegress's header, username, urlQueryEscape, urlQueryUnescape and panic", async () => {
  const { filter } = create({
    template: `body: >-
  {{header .requests.DEFAULT.Header "x-tenant"}}|{{header .requests.DEFAULT.Header "X-None"}}|
  {{username .requests.DEFAULT}}|{{urlQueryEscape "a b&c/é"}}|{{urlQueryUnescape "a+b%26c%2F%C3%A9"}}
`,
  });
  const ctx = new Context(
    new HttpRequest({
      headers: { "x-tenant": "acme", authorization: `Basic ${btoa("ann:secret:x")}` },
    }),
  );
  assert.equal(await filter.handle(ctx), "");
  assert.equal(await ctx.response!.text(), "acme|| ann|a+b%26c%2F%C3%A9|a b&c/é");

  const anonymous = new Context(new HttpRequest());
  const { filter: who } = create({ template: "body: '[{{username .requests.DEFAULT}}]'" });
  assert.equal(await who.handle(anonymous), "");
  assert.equal(await anonymous.response!.text(), "[]");

  const failures: [string, RegExp][] = [
    ['{{panic "stop"}}', /stop/],
    ['{{urlQueryUnescape "%zz"}}', /invalid URL escape "%zz"/],
  ];
  for (const [template, why] of failures) {
    const { filter: failing, env } = create({ template });
    const failed = new Context(new HttpRequest());
    assert.equal(await failing.handle(failed), "buildErr", template);
    assert.match(env.lines.join("\n"), why);
  }
});

Deno.test("ResponseBuilder's log takes its level in any case, as Easegress lowers it", async () => {
  const { filter, env } = create({ template: `{{log "WARN" "loud"}}{{log "Info" "mild"}}` });
  assert.equal(await filter.handle(new Context(new HttpRequest())), "");
  assert.deepEqual(env.lines, ["warn: loud", "info: mild"]);
});
