import assert from "node:assert/strict";
import { Context, HttpRequest, HttpResponse } from "../../../filters/context.ts";
import { mockKind } from "../../../filters/mock.ts";
import { requestBuilderKind } from "../../../filters/request_builder.ts";
import { roundTrip, specProblems, testEnv } from "./_helpers.ts";

const kind = requestBuilderKind;

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

// The seed's RSS -> Slack pipeline (README "Add Another Pipeline").
const BUILD_RSS_REQUEST =
  `url: /developers/feed2json/convert?url={{index (index .requests.DEFAULT.Header "X-Rss-Url") 0 | urlquery}}
`;
const BUILD_SLACK_REQUEST = `method: POST
url: /services/T0XXXXXXXXX/B0YYYYYYY/ZZZZZZZZZZZZZZZZZZZZ   # This the Slack webhook address, please change it to your own.
body: |
  {
     "text": "Recent posts - {{.responses.rss.JSONBody.title}}",
     "blocks": [{
        "type": "section",
        "text": {
          "type": "plain_text",
          "text": "Recent posts - {{.responses.rss.JSONBody.title}}"
        }
     }, {
        "type": "section",
        "text": {
          "type": "mrkdwn",
          "text": "{{range $index, $item := .responses.rss.JSONBody.items}}• <{{$item.url}}|{{$item.title}}>\\n{{end}}"
        }
     }]
  }
`;

Deno.test("RequestBuilder spec needs exactly one of template and sourceNamespace", () => {
  assert.deepEqual(specProblems(kind, {}), ["template: is required (or set sourceNamespace)"]);
  assert.deepEqual(specProblems(kind, { template: "url: /", sourceNamespace: "DEFAULT" }), [
    "sourceNamespace: cannot be used together with template (set exactly one)",
  ]);
  assert.deepEqual(specProblems(kind, { template: "x", protocol: "mqtt" }), [
    'protocol: must be one of http, got "mqtt"',
  ]);
  assert.deepEqual(specProblems(kind, { template: "x", extra: 1 }), ["extra: unknown field"]);
});

Deno.test("RequestBuilder spec reports template syntax errors with Go's position", () => {
  assert.deepEqual(specProblems(kind, { template: "url: /\nbody: {{.a | nope}}" }), [
    'template: template: :2: function "nope" not defined',
  ]);
  assert.deepEqual(specProblems(kind, { template: "url: {{if .x}}" }), [
    "template: template: :1: unexpected EOF",
  ]);
  assert.deepEqual(
    specProblems(kind, { template: "url: <<.x", leftDelim: "<<", rightDelim: ">>" }),
    [
      "template: template: :1: unclosed action",
    ],
  );
});

Deno.test("RequestBuilder spec normalizes and round-trips", () => {
  const spec = roundTrip(kind, { template: "url: /", leftDelim: "[[", rightDelim: "]]" });
  assert.deepEqual(spec, {
    protocol: "http",
    template: "url: /",
    leftDelim: "[[",
    rightDelim: "]]",
  });
  assert.deepEqual(roundTrip(kind, { sourceNamespace: "DEFAULT" }), {
    protocol: "http",
    sourceNamespace: "DEFAULT",
  });
});

Deno.test("RequestBuilder builds the seed's RSS request from the X-Rss-Url header", async () => {
  const { filter } = create({ template: BUILD_RSS_REQUEST });
  const ctx = new Context(
    new HttpRequest({
      path: "/rss",
      host: "gateway:10080",
      headers: { "X-Rss-Url": "https://hnrss.org/newest?count=5" },
    }),
  );
  ctx.useNamespace("rss");
  assert.equal(await filter.handle(ctx), "");
  const req = ctx.request;
  assert.equal(req.method, "GET");
  assert.equal(req.path, "/developers/feed2json/convert");
  assert.equal(req.query, "url=https%3A%2F%2Fhnrss.org%2Fnewest%3Fcount%3D5");
  // A relative url makes a request without a host, as Go's http.NewRequest does.
  assert.equal(req.host, "");
  assert.equal(ctx.getNamespace("DEFAULT").request!.path, "/rss");
});

Deno.test("RequestBuilder builds the seed's Slack request from the RSS JSON body", async () => {
  const { filter } = create({ template: BUILD_SLACK_REQUEST });
  const ctx = new Context(new HttpRequest({ path: "/rss" }));
  ctx.useNamespace("rss");
  ctx.response = new HttpResponse(
    200,
    { "content-type": "application/json" },
    streamOf(JSON.stringify({
      title: "Hacker News: Newest",
      items: [
        { url: "https://a.example/1", title: "First" },
        { url: "https://b.example/2", title: "Second" },
      ],
    })),
  );
  ctx.useNamespace("slack");
  assert.equal(await filter.handle(ctx), "");
  const req = ctx.request;
  assert.equal(req.method, "POST");
  assert.equal(req.path, "/services/T0XXXXXXXXX/B0YYYYYYY/ZZZZZZZZZZZZZZZZZZZZ");
  const body = JSON.parse(await req.text());
  assert.equal(body.text, "Recent posts - Hacker News: Newest");
  assert.equal(body.blocks[0].text.text, "Recent posts - Hacker News: Newest");
  assert.equal(
    body.blocks[1].text.text,
    "• <https://a.example/1|First>\n• <https://b.example/2|Second>\n",
  );
  assert.equal(
    req.header("content-length"),
    String(new TextEncoder().encode(await req.text()).length),
  );
  // The RSS response body was buffered, not consumed: it can still be read.
  assert.match(await ctx.getNamespace("rss").response!.text(), /Hacker News/);
});

Deno.test("RequestBuilder sets method, url, headers and body from the YAML", async () => {
  const { filter } = create({
    template: `method: {{.requests.DEFAULT.Method | lower}}
url: http://backend.local:8080/api?x={{.requests.DEFAULT.URL.Query.Get "id"}}#frag
headers:
  X-Trace: ["{{.requests.DEFAULT.Header.Get "x-trace"}}", second]
  Accept: application/json
body: hello {{.data.user}}
`,
  });
  const ctx = new Context(
    new HttpRequest({ method: "PUT", path: "/in", query: "id=42", headers: { "X-Trace": "t1" } }),
  );
  ctx.data.user = "ann";
  assert.equal(await filter.handle(ctx), "");
  const req = ctx.request;
  assert.equal(req.method, "PUT");
  assert.equal(req.scheme, "http");
  assert.equal(req.host, "backend.local:8080");
  assert.equal(req.url, "/api?x=42");
  assert.equal(req.header("x-trace"), "t1, second");
  assert.equal(req.header("accept"), "application/json");
  assert.equal(await req.text(), "hello ann");
});

Deno.test("RequestBuilder defaults to GET / and keeps the original scheme, not its host", async () => {
  const { filter } = create({ template: "{{/* nothing */}}" });
  const ctx = new Context(
    new HttpRequest({ method: "POST", path: "/x", scheme: "https", host: "h" }),
  );
  assert.equal(await filter.handle(ctx), "");
  assert.equal(ctx.request.method, "GET");
  assert.equal(ctx.request.url, "/");
  assert.equal(ctx.request.scheme, "https");
  assert.equal(ctx.request.host, "");
  assert.equal(ctx.request.body, null);
});

Deno.test("RequestBuilder fails with buildErr and a 500 on a bad method", async () => {
  const { filter, env } = create({ template: "method: FETCH" });
  const ctx = new Context(new HttpRequest());
  assert.equal(await filter.handle(ctx), "buildErr");
  assert.equal(ctx.response!.status, 500);
  assert.deepEqual(env.lines, ["error: build request: invalid method: FETCH"]);
});

Deno.test("RequestBuilder fails with buildErr on a template execution error", async () => {
  const { filter, env } = create({ template: "url: /{{.requests.DEFAULT.Nope}}" });
  const ctx = new Context(new HttpRequest());
  assert.equal(await filter.handle(ctx), "buildErr");
  assert.equal(ctx.response!.status, 500);
  assert.deepEqual(env.lines, [
    'error: build request: template: :1:17: executing "" at <.requests.DEFAULT.Nope>: can\'t evaluate field Nope in type interface {}',
  ]);
});

Deno.test("RequestBuilder fails with buildErr on output that is not a YAML mapping", async () => {
  for (const template of ["- a\n- b", "url: [unclosed", "headers: 5"]) {
    const { filter } = create({ template });
    const ctx = new Context(new HttpRequest());
    ctx.response = new HttpResponse(418);
    assert.equal(await filter.handle(ctx), "buildErr", template);
    assert.equal(ctx.response!.status, 418, "an existing response is kept");
  }
});

Deno.test("RequestBuilder fails with buildErr when the JSON body is not JSON", async () => {
  const { filter, env } = create({ template: "body: {{.requests.DEFAULT.JSONBody.x}}" });
  const ctx = new Context(new HttpRequest({ method: "POST", body: "not json" }));
  assert.equal(await filter.handle(ctx), "buildErr");
  assert.match(env.lines[0], /error calling JSONBody: /);
});

Deno.test("RequestBuilder reads bodies only when the template uses them", async () => {
  const { filter } = create({ template: "url: /copy{{.requests.DEFAULT.URL.Path}}" });
  const ctx = new Context(
    new HttpRequest({ method: "POST", path: "/p", body: () => streamOf("big") }),
  );
  ctx.useNamespace("copy");
  assert.equal(await filter.handle(ctx), "");
  assert.equal(ctx.request.url, "/copy/p");
  assert.equal(ctx.getNamespace("DEFAULT").request!.isStream, true);
});

Deno.test("RequestBuilder with sourceNamespace copies that namespace's request", async () => {
  const { filter } = create({ sourceNamespace: "DEFAULT" });
  const ctx = new Context(
    new HttpRequest({
      method: "POST",
      path: "/api",
      query: "a=1",
      headers: { "X-A": "1" },
      body: () => streamOf("payload"),
    }),
  );
  for (const ns of ["demo1", "demo2"]) {
    ctx.useNamespace(ns);
    assert.equal(await filter.handle(ctx), "");
    const copy = ctx.request;
    assert.equal(copy.method, "POST");
    assert.equal(copy.url, "/api?a=1");
    assert.equal(copy.header("x-a"), "1");
    assert.equal(await copy.text(), "payload");
    copy.headers.set("x-a", "changed");
  }
  assert.equal(ctx.getNamespace("DEFAULT").request!.header("x-a"), "1");
  assert.equal(await ctx.getNamespace("DEFAULT").request!.text(), "payload");
});

Deno.test("RequestBuilder with an empty sourceNamespace fails with buildErr", async () => {
  const { filter, env } = create({ sourceNamespace: "nowhere" });
  const ctx = new Context(new HttpRequest());
  ctx.useNamespace("x");
  assert.equal(await filter.handle(ctx), "buildErr");
  assert.equal(ctx.response!.status, 500);
  assert.deepEqual(env.lines, ["error: build request: namespace nowhere has no request"]);
});

Deno.test("RequestBuilder honours custom delimiters", async () => {
  const { filter } = create({
    template: "url: /[[.requests.DEFAULT.Host]]/{{x}}",
    leftDelim: "[[",
    rightDelim: "]]",
  });
  const ctx = new Context(new HttpRequest({ host: "example" }));
  assert.equal(await filter.handle(ctx), "");
  // The braces are text of the path, escaped as Go sends them.
  assert.equal(ctx.request.path, "/example/%7B%7Bx%7D%7D");
});

Deno.test("RequestBuilder's log function writes to the filter log", async () => {
  const { filter, env } = create({ template: `{{log "warn" "hello"}}url: /` });
  const ctx = new Context(new HttpRequest());
  assert.equal(await filter.handle(ctx), "");
  assert.deepEqual(env.lines, ["warn: hello"]);
});

Deno.test("RequestBuilder spells a url's path as the server spells request paths, so later filters match it", async () => {
  // Go's url.Parse takes "/a b/café"; the server hands such paths over escaped, and
  // filters (a Mock, a RequestAdaptor's trimPrefix) match rules written that way.
  const { filter } = create({
    template: 'url: /search/{{.requests.DEFAULT.Header.Get "X-Q"}}/café?q=1',
  });
  const ctx = new Context(new HttpRequest({ headers: { "x-q": "red shoes" } }));
  assert.equal(await filter.handle(ctx), "");
  assert.equal(ctx.request.path, "/search/red%20shoes/caf%C3%A9");
  assert.equal(ctx.request.query, "q=1");
  const mock = mockKind.create(
    mockKind.validate({ rules: [{ match: { path: "/search/red shoes/café" }, code: 200 }] }),
    testEnv(),
  );
  assert.equal(await mock.handle(ctx), "mocked");
});

Deno.test("RequestBuilder: a body the route streams (clientMaxBodySize -1) is not read whole for a template", async () => {
  // Easegress's templates see a note in place of a streamed body, which stays a stream.
  const { filter } = create({ template: "body: '{{.requests.DEFAULT.Body}}'" });
  const streamed = new HttpRequest({ method: "POST", body: () => streamOf("huge upload") });
  streamed.replayLimit = -1;
  const ctx = new Context(streamed);
  ctx.useNamespace("note");
  assert.equal(await filter.handle(ctx), "");
  assert.equal(await ctx.request.text(), 'the body of request "DEFAULT" is a stream');
  assert.equal(ctx.getNamespace("DEFAULT").request!.isStream, true);
  // A body within the route's limit is read for the template as before.
  const held = new HttpRequest({ method: "POST", body: () => streamOf("small") });
  held.replayLimit = 1024;
  const read = new Context(held);
  read.useNamespace("note");
  assert.equal(await filter.handle(read), "");
  assert.equal(await read.request.text(), "small");
});
