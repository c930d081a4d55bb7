import assert from "node:assert/strict";
import { HeaderFields } from "../../../filters/header_fields.ts";
import { mockKind } from "../../../filters/mock.ts";
import { build, contextFor, roundTrip, specProblems } from "./_helpers.ts";

const kind = mockKind;

Deno.test("Mock answers the first matching rule with code, headers and body", async () => {
  const mock = build(kind, {
    rules: [
      { match: { path: "/exact" }, code: 201, body: "exact" },
      { match: { pathPrefix: "/pre" }, code: 202, headers: { "X-Mock": "yes" }, body: "prefix" },
      { code: 203, body: "any" },
    ],
  });
  const cases: [string, number, string][] = [
    ["/exact", 201, "exact"],
    ["/prefix/a", 202, "prefix"],
    ["/other", 203, "any"],
  ];
  for (const [path, status, body] of cases) {
    const ctx = contextFor({ path });
    assert.equal(await mock.handle(ctx), "mocked");
    assert.equal(ctx.response!.status, status);
    assert.equal(await ctx.response!.text(), body);
    assert.equal(ctx.response!.header("content-length"), String(body.length));
  }
  const prefixed = contextFor({ path: "/pre" });
  await mock.handle(prefixed);
  assert.equal(prefixed.response!.header("x-mock"), "yes");
});

Deno.test("Mock leaves unmatched requests alone", async () => {
  const mock = build(kind, { rules: [{ match: { path: "/only" }, code: 200 }] });
  const ctx = contextFor({ path: "/else" });
  assert.equal(await mock.handle(ctx), "");
  assert.equal(ctx.response, undefined);
});

Deno.test("Mock header matchers: any by default, all with matchAllHeaders", async () => {
  const headers = {
    "X-Env": { exact: "test" },
    "X-Version": { regex: "^v[0-9]+$" },
  };
  const any = build(kind, { rules: [{ match: { headers }, code: 200 }] });
  const all = build(kind, { rules: [{ match: { headers, matchAllHeaders: true }, code: 200 }] });
  const oneMatches = { "x-env": "test", "x-version": "beta" };
  const bothMatch = { "x-env": "test", "x-version": "v2" };
  assert.equal(await any.handle(contextFor({ headers: oneMatches })), "mocked");
  assert.equal(await any.handle(contextFor({ headers: {} })), "");
  assert.equal(await all.handle(contextFor({ headers: oneMatches })), "");
  assert.equal(await all.handle(contextFor({ headers: bothMatch })), "mocked");
});

Deno.test("Mock: an absent header matches only empty: true", async () => {
  const empty = build(kind, {
    rules: [{ match: { headers: { "X-Debug": { empty: true } } }, code: 200 }],
  });
  const anything = build(kind, {
    rules: [{ match: { headers: { "X-Debug": { regex: ".*" } } }, code: 200 }],
  });
  assert.equal(await empty.handle(contextFor()), "mocked");
  assert.equal(await empty.handle(contextFor({ headers: { "x-debug": "1" } })), "");
  assert.equal(await anything.handle(contextFor()), "");
  assert.equal(await anything.handle(contextFor({ headers: { "x-debug": "" } })), "mocked");
});

Deno.test("Mock matches each of several joined header values", async () => {
  const mock = build(kind, {
    rules: [{ match: { headers: { "X-Tag": { exact: "b" } } }, code: 200 }],
  });
  const headers = new Headers();
  headers.append("x-tag", "a");
  headers.append("x-tag", "b");
  assert.equal(await mock.handle(contextFor({ headers })), "mocked");
});

Deno.test("Mock matches header fields one by one; empty: true means the header is absent", async () => {
  const exact = build(kind, {
    rules: [{ match: { headers: { Accept: { exact: "text/html" } } }, code: 200 }],
  });
  const fields = (...values: string[]) => {
    const h = new HeaderFields();
    for (const value of values) h.append("accept", value);
    return h;
  };
  assert.equal(await exact.handle(contextFor({ headers: fields("x/y", "text/html") })), "mocked");
  // One field "text/html, x/y" is not the value "text/html".
  assert.equal(await exact.handle(contextFor({ headers: fields("text/html, x/y") })), "");
  const empty = build(kind, {
    rules: [{ match: { headers: { "X-Debug": { empty: true } } }, code: 200 }],
  });
  const present = new HeaderFields();
  present.append("x-debug", "");
  assert.equal(await empty.handle(contextFor({ headers: present })), "");
});

Deno.test("Mock responses do not share header changes between requests", async () => {
  const mock = build(kind, { rules: [{ code: 200, headers: { "X-A": "1" } }] });
  const first = contextFor();
  await mock.handle(first);
  first.response!.headers.set("x-a", "changed");
  const second = contextFor();
  await mock.handle(second);
  assert.equal(second.response!.header("x-a"), "1");
});

Deno.test("Mock types a body that has no Content-Type as Go's server sniffs it", async () => {
  const mock = build(kind, {
    rules: [
      { match: { path: "/html" }, code: 200, body: "<html><body>hi</body></html>" },
      {
        match: { path: "/json" },
        code: 200,
        headers: { "Content-Type": "application/json" },
        body: "{}",
      },
      { match: { path: "/empty" }, code: 200 },
      { code: 200, body: "hello" },
    ],
  });
  const typeOf = async (path: string) => {
    const ctx = contextFor({ path });
    await mock.handle(ctx);
    return ctx.response!.header("content-type");
  };
  assert.equal(await typeOf("/html"), "text/html; charset=utf-8");
  assert.equal(await typeOf("/json"), "application/json");
  assert.equal(await typeOf("/empty"), null);
  assert.equal(await typeOf("/other"), "text/plain; charset=utf-8");
});

Deno.test("Mock sends no body and no Content-Length for 204", async () => {
  const mock = build(kind, { rules: [{ code: 204, body: "ignored" }] });
  const ctx = contextFor();
  await mock.handle(ctx);
  assert.equal(ctx.response!.body, null);
  assert.equal(ctx.response!.header("content-length"), null);
});

Deno.test("Mock waits for delay, and stops waiting when the client goes away", async () => {
  const short = build(kind, { rules: [{ code: 200, delay: "1ms" }] });
  assert.equal(await short.handle(contextFor()), "mocked");

  const long = build(kind, { rules: [{ code: 200, delay: "1h" }] });
  const client = new AbortController();
  const pending = long.handle(contextFor({}, client.signal));
  client.abort();
  assert.equal(await pending, "mocked");

  const gone = new AbortController();
  gone.abort();
  assert.equal(await long.handle(contextFor({}, gone.signal)), "mocked");
});

Deno.test("Mock normalizes its spec and round-trips through YAML", () => {
  assert.deepEqual(
    roundTrip(kind, {
      rules: [
        {
          match: { path: "/a", headers: { "X-A": { prefix: "p", exact: "" } } },
          code: 200,
          delay: "",
        },
        { code: 404, headers: {}, body: "nf", delay: "1.5s" },
      ],
    }),
    {
      rules: [
        {
          match: { matchAllHeaders: false, path: "/a", headers: { "X-A": { prefix: "p" } } },
          code: 200,
        },
        { match: { matchAllHeaders: false }, code: 404, body: "nf", delay: "1.5s" },
      ],
    },
  );
});

Deno.test("Mock rejects bad specs with field paths", () => {
  assert.deepEqual(specProblems(kind, {}), ["rules: is required"]);
  assert.deepEqual(specProblems(kind, { rules: [] }), ["rules: must have at least 1 item(s)"]);
  assert.deepEqual(
    specProblems(kind, {
      rules: [
        {
          match: { path: "a", headers: { "X A": { exact: "x" }, "X-B": {} }, any: 1 },
          code: 600,
          headers: { "X-C": "a\nb" },
          delay: "soon",
        },
        { code: "200", delay: "-1s" },
        { body: "no code" },
      ],
    }),
    [
      'rules[0].match.path: must be a path starting with "/", got "a"',
      'rules[0].match.headers.X A: "X A" is not a valid header name',
      "rules[0].match.headers.X-B: needs one of exact, prefix, regex or empty",
      "rules[0].match.any: unknown field",
      "rules[0].code: must be at most 599, got 600",
      "rules[0].headers.X-C: must not contain line breaks or NUL",
      'rules[0].delay: must be a duration such as "500ms" or "1m30s", got "soon"',
      'rules[1].code: must be a number, got "200"',
      'rules[1].delay: must not be negative, got "-1s"',
      "rules[2].code: is required",
    ],
  );
});

Deno.test("Mock matches non-ASCII header values as the UTF-8 text they carry", async () => {
  const mock = build(kind, {
    rules: [{ match: { headers: { "X-City": { exact: "Zürich" } } }, code: 200 }],
  });
  const wire = String.fromCharCode(...new TextEncoder().encode("Zürich"));
  assert.equal(await mock.handle(contextFor({ headers: { "x-city": wire } })), "mocked");
  const fields = new HeaderFields([["x-city", "Bern"], ["x-city", wire]]);
  assert.equal(await mock.handle(contextFor({ headers: fields })), "mocked");
});

Deno.test("Mock paths match requests as the server spells them: spaces and non-ASCII escaped", async () => {
  const mock = build(kind, {
    rules: [
      { match: { path: "/a b" }, code: 201 },
      { match: { pathPrefix: "/café/" }, code: 202 },
    ],
  });
  // The server hands the pipeline paths with unreserved escapes decoded and the rest upper-case.
  const cases: [string, number][] = [["/a%20b", 201], ["/caf%C3%A9/menu", 202]];
  for (const [path, status] of cases) {
    const ctx = contextFor({ path });
    assert.equal(await mock.handle(ctx), "mocked", path);
    assert.equal(ctx.response!.status, status);
  }
});
