import assert from "node:assert/strict";
import { SpecReader } from "../../../filters/spec.ts";
import { firstFieldValue, HeaderFields } from "../../../filters/header_fields.ts";
import { MethodNotAllowed, Mux, type Route } from "../../../server/httpserver/mux.ts";
import { readHTTPServerSpec } from "../../../server/httpserver/spec.ts";

function mux(rules: unknown[], extra: Record<string, unknown> = {}): Mux {
  const r = SpecReader.root({ port: 80, rules, ...extra });
  const spec = readHTTPServerSpec(r, "s");
  r.finish();
  r.throwIfProblems();
  return new Mux(spec);
}

const noHeaders = () => null;

function backend(result: ReturnType<Mux["route"]>): string | number {
  if (result instanceof MethodNotAllowed) return result.status;
  return typeof result === "number" ? result : (result as Route).backend;
}

Deno.test("mux routes by exact path, then prefix, then regexp, first path wins", () => {
  const m = mux([{
    paths: [
      { path: "/a", backend: "exact" },
      { pathPrefix: "/a", backend: "prefix" },
      { pathRegexp: "^/b/[0-9]+$", backend: "regexp" },
    ],
  }]);
  assert.equal(backend(m.route("h", "GET", "/a", noHeaders, "1.1.1.1")), "exact");
  assert.equal(backend(m.route("h", "GET", "/ab", noHeaders, "1.1.1.1")), "prefix");
  assert.equal(backend(m.route("h", "GET", "/b/12", noHeaders, "1.1.1.1")), "regexp");
  assert.equal(backend(m.route("h", "GET", "/b/x", noHeaders, "1.1.1.1")), 404);
});

Deno.test("HTTPServer spec: a path or pathPrefix given empty is unset, as in Easegress", () => {
  const m = mux([{
    paths: [
      { path: "", pathPrefix: "/a", pathRegexp: "", rewriteTarget: "", backend: "prefix" },
      { path: "", pathPrefix: "", backend: "any" },
    ],
  }]);
  assert.equal(backend(m.route("h", "GET", "/ab", noHeaders, "1.1.1.1")), "prefix");
  assert.equal(backend(m.route("h", "GET", "/b", noHeaders, "1.1.1.1")), "any");
  assert.throws(() => mux([{ paths: [{ path: "a", backend: "x" }] }]), /path: must be a path/);
});

Deno.test("mux answers 405 for a method mismatch and 400 for a header mismatch", () => {
  const m = mux([{
    paths: [
      { path: "/m", methods: ["POST"], backend: "post" },
      { path: "/h", headers: [{ key: "X-Env", values: ["prod"] }], backend: "prod" },
    ],
  }]);
  assert.equal(backend(m.route("h", "GET", "/m", noHeaders, "")), 405);
  assert.equal(backend(m.route("h", "POST", "/m", noHeaders, "")), "post");
  assert.equal(backend(m.route("h", "GET", "/h", noHeaders, "")), 400);
  const prod = (n: string) => n === "X-Env" ? "prod" : null;
  assert.equal(backend(m.route("h", "GET", "/h", prod, "")), "prod");
});

Deno.test("mux names in a 405's allow the methods of every path the request's path matched", () => {
  const m = mux([
    { paths: [{ path: "/m", methods: ["GET", "HEAD"], backend: "get" }] },
    {
      paths: [
        { pathPrefix: "/m", methods: ["PUT", "GET"], backend: "put" },
        { path: "/other", methods: ["DELETE"], backend: "other" },
      ],
    },
  ], { cacheSize: 10 });
  for (let i = 0; i < 2; i++) {
    const result = m.route("h", "POST", "/m", noHeaders, "");
    assert.ok(result instanceof MethodNotAllowed);
    assert.equal(result.allow, "GET, HEAD, PUT");
  }
});

Deno.test("mux matches hosts exactly (port stripped) or by regexp", () => {
  const m = mux([
    { host: "api.example.com", paths: [{ backend: "api" }] },
    { hostRegexp: "^.*\\.internal$", paths: [{ backend: "internal" }] },
  ]);
  assert.equal(backend(m.route("api.example.com:8080", "GET", "/", noHeaders, "")), "api");
  assert.equal(backend(m.route("x.internal", "GET", "/", noHeaders, "")), "internal");
  assert.equal(backend(m.route("other", "GET", "/", noHeaders, "")), 404);
});

Deno.test("mux matches an IPv6 host with or without brackets and port, in rules too", () => {
  const m = mux([
    { host: "::1", paths: [{ backend: "host" }] },
    { host: "[2001:db8::1]", paths: [{ backend: "bracketed" }] },
    { hosts: [{ value: "fe80::1" }], paths: [{ backend: "hosts" }] },
    { hostRegexp: "^2001:db8::2$", paths: [{ backend: "regexp" }] },
  ]);
  const cases: [string, string | number][] = [
    ["::1", "host"],
    ["[::1]", "host"],
    ["[::1]:8080", "host"],
    ["2001:db8::1", "bracketed"],
    ["[2001:DB8::1]:80", "bracketed"],
    ["fe80::1", "hosts"],
    ["[fe80::1]:1", "hosts"],
    ["2001:db8::2", "regexp"],
    ["[2001:db8::2]:443", "regexp"],
    ["::2", 404],
  ];
  for (const [host, want] of cases) {
    assert.equal(backend(m.route(host, "GET", "/", noHeaders, "")), want, host);
  }
});

Deno.test("mux applies ip filters at server, rule and path level with 403", () => {
  const m = mux([{
    ipFilter: { blockIPs: ["10.0.0.0/8"] },
    paths: [{
      path: "/admin",
      ipFilter: { allowIPs: ["192.168.1.1"], blockByDefault: true },
      backend: "admin",
    }, {
      backend: "any",
    }],
  }], { ipFilter: { blockIPs: ["203.0.113.9"] } });
  assert.equal(backend(m.route("h", "GET", "/", noHeaders, "203.0.113.9")), 403);
  assert.equal(backend(m.route("h", "GET", "/", noHeaders, "10.1.2.3")), 403);
  assert.equal(backend(m.route("h", "GET", "/admin", noHeaders, "8.8.8.8")), 403);
  assert.equal(backend(m.route("h", "GET", "/admin", noHeaders, "192.168.1.1")), "admin");
  assert.equal(backend(m.route("h", "GET", "/x", noHeaders, "8.8.8.8")), "any");
});

Deno.test("mux rewrites exact, prefix and regexp paths", () => {
  const m = mux([{
    paths: [
      { path: "/old", rewriteTarget: "/new", backend: "e" },
      { pathPrefix: "/api/", rewriteTarget: "/v2/", backend: "p" },
      { pathRegexp: "^/users/([0-9]+)$", rewriteTarget: "/u/$1", backend: "r" },
    ],
  }]);
  const rewrite = (path: string) =>
    (m.route("h", "GET", path, noHeaders, "") as Route).rewrite(path);
  assert.equal(rewrite("/old"), "/new");
  assert.equal(rewrite("/api/x/y"), "/v2/x/y");
  assert.equal(rewrite("/users/42"), "/u/42");
});

Deno.test("mux writes a rewriteTarget as a path: its ? and # escaped, spelled as requests are", () => {
  const m = mux([{
    paths: [
      { path: "/q", rewriteTarget: "/new?x=1#f", backend: "e" },
      { pathPrefix: "/sp/", rewriteTarget: "/new path/\u00e9/{x}/%7e/", backend: "p" },
      { pathRegexp: "^/rx/(.*)$", rewriteTarget: "/r \u00e9/${1}?z", backend: "r" },
    ],
  }]);
  const rewrite = (path: string) =>
    (m.route("h", "GET", path, noHeaders, "") as Route).rewrite(path);
  // Sent on as they were, "?x=1#f" made a query and a fragment of the request line.
  assert.equal(rewrite("/q"), "/new%3Fx=1%23f");
  assert.equal(rewrite("/sp/a"), "/new%20path/%C3%A9/%7Bx%7D/~/a");
  assert.equal(rewrite("/rx/a%20b"), "/r%20%C3%A9/a%20b%3Fz");
});

Deno.test("mux roots a rewritten path that lost its leading slash, as RequestAdaptor does", () => {
  const m = mux([{
    paths: [
      { pathRegexp: "^/api/(.*)$", rewriteTarget: "$1", backend: "r" },
      { pathPrefix: "/v1/", rewriteTarget: "v2/", backend: "p" },
      { path: "/old", rewriteTarget: "new", backend: "e" },
    ],
  }]);
  const rewrite = (path: string) =>
    (m.route("h", "GET", path, noHeaders, "") as Route).rewrite(path);
  assert.equal(rewrite("/api/x/y"), "/x/y");
  assert.equal(rewrite("/api/"), "/");
  assert.equal(rewrite("/v1/z"), "/v2/z");
  assert.equal(rewrite("/old"), "/new");
});

Deno.test("mux route cache gives the same answers", () => {
  const m = mux([{ paths: [{ path: "/a", methods: ["GET"], backend: "a" }] }], { cacheSize: 2 });
  for (let i = 0; i < 3; i++) {
    assert.equal(backend(m.route("h", "GET", "/a", noHeaders, "")), "a");
    assert.equal(backend(m.route("h", "POST", "/a", noHeaders, "")), 405);
    assert.equal(backend(m.route("h", "GET", "/b", noHeaders, "")), 404);
  }
});

Deno.test("mux route cache answers a client an earlier rule's ipFilter refuses with 403", () => {
  const m = mux([
    { ipFilter: { blockIPs: ["203.0.113.9"] }, paths: [{ path: "/a", backend: "a" }] },
    { paths: [{ path: "/b", backend: "b" }] },
  ], { cacheSize: 10 });
  for (let i = 0; i < 2; i++) {
    // Cached from an allowed client first: the refused one still meets the first rule.
    assert.equal(backend(m.route("h", "GET", "/b", noHeaders, "8.8.8.8")), "b");
    assert.equal(backend(m.route("h", "GET", "/b", noHeaders, "203.0.113.9")), 403);
    assert.equal(backend(m.route("h", "GET", "/c", noHeaders, "8.8.8.8")), 404);
    assert.equal(backend(m.route("h", "GET", "/c", noHeaders, "203.0.113.9")), 403);
  }
});

Deno.test("mux route cache keeps no path chosen after a header-conditional one was passed over", () => {
  const m = mux([{
    paths: [
      { pathPrefix: "/api", headers: [{ key: "X-Canary", values: ["v2"] }], backend: "canary" },
      { pathPrefix: "/api", backend: "main" },
    ],
  }], { cacheSize: 10 });
  const canary = (n: string) => n === "X-Canary" ? "v2" : null;
  for (let i = 0; i < 2; i++) {
    assert.equal(backend(m.route("h", "GET", "/api/x", noHeaders, "")), "main");
    assert.equal(backend(m.route("h", "GET", "/api/x", canary, "")), "canary");
  }
});

Deno.test("mux matches a header value that contains commas whole", () => {
  const m = mux([{
    paths: [
      { headers: [{ key: "User-Agent", regexp: "Mobile" }], backend: "mobile" },
      { headers: [{ key: "Accept", values: ["text/html, application/json"] }], backend: "html" },
      { backend: "desktop" },
    ],
  }]);
  const fields = (pairs: [string, string][]) => {
    const h = new HeaderFields();
    for (const [name, value] of pairs) h.appendChecked(name, value);
    return (name: string) => firstFieldValue(h, name);
  };
  const chrome = "Mozilla/5.0 (Linux; Android 10) AppleWebKit/537.36 (KHTML, like Gecko) " +
    "Chrome/120.0.0.0 Mobile Safari/537.36";
  assert.equal(backend(m.route("h", "GET", "/", fields([["user-agent", chrome]]), "")), "mobile");
  assert.equal(
    backend(m.route("h", "GET", "/", fields([["accept", "text/html, application/json"]]), "")),
    "html",
  );
  // Only the first field counts, as in Easegress.
  const twice = fields([["user-agent", "curl/8"], ["user-agent", "Mobile"]]);
  assert.equal(backend(m.route("h", "GET", "/", twice, "")), "desktop");
});

Deno.test("mux matches rule paths written with characters requests send percent-encoded", () => {
  const m = mux([{
    paths: [
      { path: "/café", backend: "cafe" },
      { pathPrefix: "/a b/", rewriteTarget: "/ab/", backend: "space" },
    ],
  }]);
  assert.equal(backend(m.route("h", "GET", "/caf%C3%A9", noHeaders, "")), "cafe");
  const route = m.route("h", "GET", "/a%20b/x", noHeaders, "") as Route;
  assert.equal(route.backend, "space");
  assert.equal(route.rewrite("/a%20b/x"), "/ab/x");
});

Deno.test("mux reads a missing header as empty in either header mode", () => {
  const m = mux([{
    paths: [
      { path: "/any", headers: [{ key: "X-Version", regexp: "^(v1)?$" }], backend: "v1" },
      {
        path: "/all",
        matchAllHeader: true,
        headers: [{ key: "X-Version", values: ["", "v1"] }],
        backend: "v1",
      },
    ],
  }]);
  const v2 = (n: string) => n === "X-Version" ? "v2" : null;
  for (const path of ["/any", "/all"]) {
    assert.equal(backend(m.route("h", "GET", path, noHeaders, "")), "v1", path);
    assert.equal(backend(m.route("h", "GET", path, v2, "")), 400, path);
  }
});

Deno.test("mux matches a rule's hosts: exact, wildcard prefix or suffix, regexp, with host and hostRegexp", () => {
  const m = mux([
    {
      host: "a.example.com",
      hosts: [
        { value: "*.example.org" },
        { value: "api.*" },
        { value: "^b[0-9]+\\.example\\.net$", isRegexp: true },
      ],
      paths: [{ backend: "hosts" }],
    },
    { paths: [{ backend: "other" }] },
  ]);
  const at = (host: string) => backend(m.route(host, "GET", "/", noHeaders, ""));
  for (const host of ["a.example.com", "x.EXAMPLE.org:8080", "api.internal", "b12.example.net"]) {
    assert.equal(at(host), "hosts", host);
  }
  for (const host of ["example.org", "b.example.net", "myapi.internal", "a.example.com.evil"]) {
    assert.equal(at(host), "other", host);
  }
});

Deno.test("mux takes a rule's host with a wildcard as hosts takes it", () => {
  // As `create httpproxy --rule '*.example.com/x=...'` writes it.
  const m = mux([
    { host: "*.example.com", paths: [{ backend: "suffix" }] },
    { host: "api.*", paths: [{ backend: "prefix" }] },
    { paths: [{ backend: "other" }] },
  ]);
  const at = (host: string) => backend(m.route(host, "GET", "/", noHeaders, ""));
  assert.equal(at("a.example.com:8080"), "suffix");
  assert.equal(at("API.internal"), "prefix");
  assert.equal(at("example.com"), "other");
  // Other stars are no wildcards: compared whole, as Easegress does (it logs them).
  const odd = mux([
    { host: "a.*.com", paths: [{ backend: "middle" }] },
    { host: "*.b.*", paths: [{ backend: "two" }] },
    { paths: [{ backend: "other" }] },
  ]);
  const oddAt = (host: string) => backend(odd.route(host, "GET", "/", noHeaders, ""));
  assert.equal(oddAt("a.x.com"), "other");
  assert.equal(oddAt("x.b.y"), "other");
  assert.equal(oddAt("a.*.com"), "middle");
});

Deno.test("HTTPServer spec: a host of hosts has one wildcard, at its start or end", () => {
  const problems = (hosts: unknown[]) => {
    const r = SpecReader.root({ port: 80, rules: [{ hosts, paths: [] }] });
    readHTTPServerSpec(r, "s");
    r.finish();
    return r.problems;
  };
  assert.deepEqual(problems([{ value: "*.a.com" }, { value: "(", isRegexp: true }]), [
    "rules[0].hosts[1].value: is not a valid regular expression: Invalid regular expression: /(/: Unterminated group",
  ]);
  assert.deepEqual(problems([{ value: "a.*.com" }, { value: "*.a.*" }, {}]), [
    'rules[0].hosts[0].value: may have a wildcard (*) only at its start or end: "a.*.com"',
    'rules[0].hosts[1].value: has more than one wildcard (*): "*.a.*"',
    "rules[0].hosts[2].value: is required",
  ]);
});

Deno.test("HTTPServer spec: routerKind Ordered (or empty) is this router; RadixTree is refused by name", () => {
  const read = (routerKind: unknown) => {
    const r = SpecReader.root({ port: 80, routerKind, rules: [] });
    const spec = readHTTPServerSpec(r, "s");
    r.finish();
    return { spec, problems: r.problems };
  };
  assert.equal(read("Ordered").spec.routerKind, "Ordered");
  assert.deepEqual(read("Ordered").problems, []);
  assert.deepEqual(read("").problems, []);
  assert.deepEqual(read("RadixTree").problems, [
    "routerKind: RadixTree is not supported yet; Ordered (the default) is",
  ]);
  assert.deepEqual(read("Radix").problems, [
    'routerKind: must be Ordered or RadixTree, got "Radix"',
  ]);
});

Deno.test("mux matches query conditions like headers (400 when none fits), and does not cache them", () => {
  const m = mux([{
    paths: [
      { path: "/q", queries: [{ key: "v", values: ["2"] }], backend: "v2" },
      {
        path: "/q",
        matchAllQuery: true,
        queries: [{ key: "v", values: ["1"] }, { key: "name", regexp: "^a" }],
        backend: "v1",
      },
      { path: "/open", queries: [{ key: "beta", regexp: "^(on)?$" }], backend: "open" },
      { path: "/open", backend: "fallback" },
    ],
  }], { cacheSize: 10 });
  const at = (path: string, query: string) =>
    backend(m.route("h", "GET", path, noHeaders, "", query));
  for (let i = 0; i < 2; i++) {
    assert.equal(at("/q", "v=2"), "v2");
    assert.equal(at("/q", "v=1&name=alice"), "v1");
    assert.equal(at("/q", "v=1&name=bob"), 400);
    assert.equal(at("/q", "name=a+b&v=1&v=2"), "v1"); // the first value counts
    assert.equal(at("/open", ""), "open");
    assert.equal(at("/open", "beta=off"), "fallback");
    assert.equal(at("/open", "beta=on"), "open");
  }
});

Deno.test("mux reads a query as Go's URL.Query() does: pairs with a bad escape or a ; are dropped", () => {
  const m = mux([{
    paths: [{ path: "/q", queries: [{ key: "v", values: ["ok"] }], backend: "ok" }],
  }]);
  const at = (query: string) => backend(m.route("h", "GET", "/q", noHeaders, "", query));
  // Easegress skips the first pair and finds v=ok; URLSearchParams took v=%zz and refused it.
  assert.equal(at("v=%zz&v=ok"), "ok");
  assert.equal(at("v=ok;x=1&v=ok"), "ok");
  assert.equal(at("v=o%6b"), "ok");
  assert.equal(at("v=ok;x=1"), 400);
  assert.equal(at("v=%zz"), 400);
});

Deno.test("HTTPServer spec: a path's backend must name a pipeline", () => {
  const r = SpecReader.root({ port: 80, rules: [{ paths: [{ backend: "" }, {}] }] });
  readHTTPServerSpec(r, "s");
  r.finish();
  assert.deepEqual(r.problems, [
    "rules[0].paths[0].backend: must name a pipeline",
    "rules[0].paths[1].backend: is required",
  ]);
});
