import assert from "node:assert/strict";
import { prepareBuilderData } from "../../../filters/builder_data.ts";
import { Context, HttpRequest, HttpResponse } from "../../../filters/context.ts";
import { HeaderFields } from "../../../filters/header_fields.ts";
import { compileTemplate } from "../../../filters/template/mod.ts";
import { sprigFunctions } from "../../../filters/template/sprig.ts";
import { requestAdaptorKind } from "../../../filters/request_adaptor.ts";
import { build, contextFor } from "./_helpers.ts";

const funcs = sprigFunctions();

/** Renders `source` against the builder data of `ctx` (bodies read). */
async function render(ctx: Context, source: string): Promise<string> {
  const data = await prepareBuilderData(ctx, { readBodies: true });
  return compileTemplate(source, { funcs }).execute(data);
}

function sampleContext(): Context {
  const ctx = new Context(
    new HttpRequest({
      method: "POST",
      path: "/a%20b/c",
      query: "x=1&x=2&y=%C3%A9",
      host: "gw.example:10080",
      proto: "HTTP/2",
      headers: {
        "x-rss-url": "https://hnrss.org/newest",
        "content-type": "application/json",
        "content-length": "44",
        host: "gw.example:10080",
      },
      body: '{"n": 12345678901234567890, "f": 1.0, "s": "x"}',
    }),
    { remoteAddr: "10.0.0.7:5555" },
  );
  ctx.useNamespace("backend");
  ctx.response = new HttpResponse(
    404,
    { "x-up": "yes", "set-cookie": "a=1" },
    "a: [1, 2.5]\nb: text\n",
  );
  ctx.response.headers.append("set-cookie", "b=2");
  ctx.useNamespace("DEFAULT");
  ctx.data.user = { name: "ann" };
  return ctx;
}

Deno.test("builder data shows a request like Go's *http.Request", async () => {
  const ctx = sampleContext();
  const out = await render(
    ctx,
    "{{with .requests.DEFAULT}}{{.Method}}|{{.URL}}|{{.URL.Path}}|{{.URL.RawPath}}|{{.URL.RawQuery}}|" +
      '{{.URL.Query.Get "y"}}|{{index .URL.Query "x"}}|{{.Host}}|{{.Proto}} {{.ProtoMajor}}.{{.ProtoMinor}}|' +
      "{{.RemoteAddr}}|{{.RequestURI}}|{{.ContentLength}}{{end}}",
  );
  assert.equal(
    out,
    "POST|/a%20b/c?x=1&x=2&y=%C3%A9|/a b/c|/a%20b/c|x=1&x=2&y=%C3%A9|é|[1 2]|gw.example:10080|HTTP/2.0 2.0|" +
      "10.0.0.7:5555|/a%20b/c?x=1&x=2&y=%C3%A9|44",
  );
});

Deno.test("builder data headers are Go http.Header maps with canonical names", async () => {
  const ctx = sampleContext();
  assert.equal(
    await render(ctx, "{{.requests.DEFAULT.Header}}"),
    "map[Content-Length:[44] Content-Type:[application/json] X-Rss-Url:[https://hnrss.org/newest]]",
  );
  assert.equal(
    await render(
      ctx,
      '{{index (index .requests.DEFAULT.Header "X-Rss-Url") 0}}|{{.requests.DEFAULT.Header.Get "x-rss-url"}}|' +
        '{{index .requests.DEFAULT.Header "Missing"}}|{{.responses.backend.Header}}',
    ),
    "https://hnrss.org/newest|https://hnrss.org/newest|[]|map[Set-Cookie:[a=1 b=2] X-Up:[yes]]",
  );
});

Deno.test("builder data headers keep repeated fields as separate values, as Go does", async () => {
  const headers = new HeaderFields();
  headers.append("x-m", "1");
  headers.append("host", "gw");
  headers.append("x-m", "2, 3");
  const ctx = new Context(new HttpRequest({ path: "/", host: "gw", headers }));
  assert.equal(
    await render(
      ctx,
      '{{.requests.DEFAULT.Header}}|{{index .requests.DEFAULT.Header "X-M" 0}}|' +
        '{{.requests.DEFAULT.Header.Values "x-m"}}|{{.requests.DEFAULT.Header.Get "X-M"}}',
    ),
    "map[X-M:[1 2, 3]]|1|[1 2, 3]|1",
  );
});

Deno.test("builder data JSONBody keeps numbers exactly as written", async () => {
  const ctx = sampleContext();
  assert.equal(
    await render(
      ctx,
      "{{.requests.DEFAULT.JSONBody.n}} {{.requests.DEFAULT.JSONBody.f}} {{toJson .requests.DEFAULT.JSONBody}}",
    ),
    '12345678901234567890 1.0 {"f":1.0,"n":12345678901234567890,"s":"x"}',
  );
});

Deno.test("builder data gives Body, RawBody and YAMLBody of responses", async () => {
  const ctx = sampleContext();
  assert.equal(
    await render(
      ctx,
      "{{.responses.backend.StatusCode}} {{.responses.backend.Status}}|{{.responses.backend.YAMLBody.a}}|" +
        "{{.responses.backend.YAMLBody.b}}|{{len .responses.backend.RawBody}}|{{.responses.backend.Body | trim}}",
    ),
    "404 404 Not Found|[1 2.5]|text|20|a: [1, 2.5]\nb: text",
  );
  assert.equal(await render(ctx, "{{slice .requests.DEFAULT.RawBody 0 3}}"), "[123 34 110]");
});

Deno.test("builder data exposes .data, .namespace and only namespaces that hold messages", async () => {
  const ctx = sampleContext();
  ctx.getNamespace("empty");
  ctx.useNamespace("backend");
  assert.equal(
    await render(
      ctx,
      "{{.data.user.name}}|{{.namespace}}|{{range $k, $v := .requests}}{{$k}} {{end}}|{{range $k, $v := .responses}}{{$k}} {{end}}",
    ),
    "ann|backend|DEFAULT |backend ",
  );
});

Deno.test("builder data requests offer Go's Cookie, UserAgent and Referer methods", async () => {
  const ctx = new Context(
    new HttpRequest({
      headers: { cookie: 'a=1; sid="xyz"', "user-agent": "curl/8", referer: "https://r" },
    }),
  );
  assert.equal(
    await render(
      ctx,
      '{{with .requests.DEFAULT}}{{.Cookie "sid"}}|{{(.Cookie "a").Value}}|{{.UserAgent}}|{{.Referer}}{{end}}',
    ),
    "sid=xyz|1|curl/8|https://r",
  );
  await assert.rejects(
    () => render(ctx, '{{.requests.DEFAULT.Cookie "none"}}'),
    /error calling Cookie: http: named cookie not present/,
  );
});

Deno.test("builder data requests' UserAgent and Referer give a repeated header's first field", async () => {
  const ctx = new Context(
    new HttpRequest({
      headers: [["user-agent", "a/1"], ["user-agent", "b/2"], ["referer", "r1"], ["referer", "r2"]],
    }),
  );
  assert.equal(
    await render(ctx, "{{.requests.DEFAULT.UserAgent}}|{{.requests.DEFAULT.Referer}}"),
    "a/1|r1",
  );
});

Deno.test("builder data requests read cookies from every Cookie field, as Go", async () => {
  const ctx = new Context(
    new HttpRequest({ headers: [["cookie", "a=1"], ["cookie", "sid=xyz; b=2"]] }),
  );
  assert.equal(
    await render(
      ctx,
      '{{(.requests.DEFAULT.Cookie "sid").Value}}|{{len .requests.DEFAULT.Cookies}}',
    ),
    "xyz|3",
  );
});

Deno.test("builder data requests have Go's Cookies, TLS, Close, TransferEncoding and Form", async () => {
  const plain = new Context(
    new HttpRequest({
      headers: { cookie: 'a=1; sid="xyz"; b\\ad=2; c=bad"q', connection: "close" },
    }),
  );
  assert.equal(
    await render(
      plain,
      "{{with .requests.DEFAULT}}{{range .Cookies}}{{.Name}}={{.Value}};{{end}}|" +
        "{{if .TLS}}tls{{else}}plain{{end}}|{{.Close}}|{{.TransferEncoding}}|" +
        '{{.Form}}{{.Form.Get "a"}}|{{.PostForm}}|{{.Trailer}}|{{if .MultipartForm}}x{{end}}{{end}}',
    ),
    "a=1;sid=xyz;|plain|true|[]|map[]|map[]|map[]|",
  );
  const secure = new Context(
    new HttpRequest({
      scheme: "https",
      proto: "HTTP/2",
      headers: { "transfer-encoding": "chunked" },
    }),
  );
  assert.equal(
    await render(
      secure,
      "{{with .requests.DEFAULT}}{{if .TLS}}{{.TLS.HandshakeComplete}} {{.TLS.NegotiatedProtocol}}{{end}}|" +
        "{{len .Cookies}}|{{.Close}}|{{.TransferEncoding}}{{end}}",
    ),
    "true h2|0|false|[chunked]",
  );
});

Deno.test("builder data responses have Go's Cookies, Location, Close and TransferEncoding", async () => {
  const ctx = new Context(new HttpRequest({}));
  ctx.useNamespace("login");
  ctx.response = new HttpResponse(302, {
    location: "https://sso.example/next?a=1",
    connection: "close",
  });
  const headers = ctx.response.headers;
  headers.append(
    "set-cookie",
    'sid="abc"; Path=/; Domain=.example.com; Max-Age=60; Secure; HttpOnly; SameSite=Lax; Foo=bar',
  );
  headers.append("set-cookie", "old=x; Expires=Thu, 01 Jan 2015 00:00:00 GMT; Max-Age=0");
  headers.append("set-cookie", "bad name=1");
  assert.equal(
    await render(
      ctx,
      "{{with .responses.login}}{{range .Cookies}}{{.Name}}={{.Value}} {{.Path}} {{.MaxAge}} " +
        "{{.Secure}} {{.HttpOnly}} {{.SameSite}} {{.Unparsed}}|{{end}}" +
        "{{(index .Cookies 0).String}}|{{(index .Cookies 1).Expires.Unix}}|{{.Location.Host}}|" +
        '{{.Location.Query.Get "a"}}|{{.Close}}|{{.TransferEncoding}}|{{.Uncompressed}}{{end}}',
    ),
    "sid=abc / 60 true true 2 [Foo=bar]|old=x  -1 false false 0 []|" +
      "sid=abc; Path=/; Domain=example.com; Max-Age=60; HttpOnly; Secure; SameSite=Lax|1420070400|" +
      "sso.example|1|true|[]|false",
  );
  ctx.response = new HttpResponse(200);
  await assert.rejects(
    () => render(ctx, "{{.responses.login.Location}}"),
    /error calling Location: http: no Location header in response/,
  );
});

Deno.test("builder data response Status carries Go's reason phrase", async () => {
  const ctx = new Context(new HttpRequest({}));
  for (
    const [status, text] of [[418, "418 I'm a teapot"], [414, "414 Request URI Too Long"]] as const
  ) {
    ctx.response = new HttpResponse(status);
    assert.equal(await render(ctx, "{{.responses.DEFAULT.Status}}"), text);
  }
});

Deno.test("builder data JSONBody of an empty or broken body is an error", async () => {
  const ctx = new Context(new HttpRequest({ method: "POST", body: "" }));
  await assert.rejects(
    () => render(ctx, "{{.requests.DEFAULT.JSONBody}}"),
    /executing "" at <\.requests\.DEFAULT\.JSONBody>: error calling JSONBody: EOF/,
  );
});

Deno.test("builder data without readBodies leaves stream bodies unread", () => {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode("x"));
      c.close();
    },
  });
  const ctx = new Context(new HttpRequest({ method: "POST", body: () => body }));
  const data = prepareBuilderData(ctx);
  assert.ok(!(data instanceof Promise));
  assert.equal(compileTemplate("[{{.requests.DEFAULT.Body}}]").execute(data), "[]");
  assert.equal(ctx.request.isStream, true);
});

Deno.test("builder data's RequestURI stays the target as sent when a filter changes the path", async () => {
  const adaptor = build(requestAdaptorKind, { path: { addPrefix: "/v2" } });
  const ctx = contextFor({ path: "/users", query: "id=7" });
  assert.equal(await adaptor.handle(ctx), "");
  // Go's RequestURI is the request line's target, whatever SetPath does to the URL.
  assert.equal(
    await render(ctx, "{{.requests.DEFAULT.RequestURI}} {{.requests.DEFAULT.URL}}"),
    "/users?id=7 /v2/users?id=7",
  );
  // A target the server already kept as sent (dot segments resolved) stays so.
  const resolved = contextFor({ path: "/admin", requestURI: "/public/../admin" });
  await adaptor.handle(resolved);
  assert.equal(await render(resolved, "{{.requests.DEFAULT.RequestURI}}"), "/public/../admin");
});
