import assert from "node:assert/strict";
import { createRequestMatcher } from "../../../filters/proxy/request_matcher.ts";
import { Context, HttpRequest } from "../../../filters/context.ts";

function ctxWith(headers: [string, string][] | Headers): Context {
  return new Context(new HttpRequest({ headers }));
}

Deno.test("a pool filter matches a header sent twice when any of its fields does, as Easegress", () => {
  const canary = createRequestMatcher({
    policy: "general",
    headers: { "X-Location": { exact: "Beijing" } },
  });
  const twice: [string, string][] = [["X-Location", "Shanghai"], ["X-Location", "Beijing"]];
  assert.equal(canary(ctxWith(twice)), true);
  assert.equal(canary(ctxWith([["X-Location", "Shanghai"]])), false);
  // A runtime Headers joins the fields; each part is still tried.
  assert.equal(canary(ctxWith(new Headers(twice))), true);

  const all = createRequestMatcher({
    policy: "general",
    matchAllHeaders: true,
    headers: { "X-A": { exact: "a" }, "X-B": { prefix: "b" } },
  });
  assert.equal(all(ctxWith([["X-A", "z"], ["X-A", "a"], ["X-B", "bee"]])), true);
  assert.equal(all(ctxWith([["X-A", "z"], ["X-B", "bee"]])), false);
});

Deno.test("a pool filter matches an absent header as the empty string", () => {
  const empty = createRequestMatcher({
    policy: "general",
    headers: { "X-Debug": { empty: true } },
  });
  assert.equal(empty(ctxWith([])), true);
  assert.equal(empty(ctxWith([["X-Debug", "1"]])), false);
  const regex = createRequestMatcher({
    policy: "general",
    headers: { "X-Debug": { regex: "^$" } },
  });
  assert.equal(regex(ctxWith([])), true);
});

Deno.test("a headerHash pool filter hashes the first field of a header sent twice", () => {
  // FNV-1 32 of "u1" is 223 mod 1000 and of "u1, x" above 300: only the first field counts.
  const share = createRequestMatcher({
    policy: "headerHash",
    headerHashKey: "X-User",
    permil: 300,
  });
  assert.equal(share(ctxWith([["X-User", "u1"]])), true);
  assert.equal(share(ctxWith([["X-User", "u1"], ["X-User", "x"]])), true);
});

Deno.test("a pool filter matches non-ASCII header values as the UTF-8 text they carry", () => {
  const canary = createRequestMatcher({
    policy: "general",
    headers: { "X-City": { regex: "^Zür" } },
  });
  const wire = String.fromCharCode(...new TextEncoder().encode("Zürich"));
  assert.equal(canary(ctxWith([["X-City", wire]])), true);
  assert.equal(canary(ctxWith([["X-City", "Zurich"]])), false);
});

Deno.test("a pool filter's urls with spaces or non-ASCII letters match the escaped paths requests come with", () => {
  const canary = createRequestMatcher({
    policy: "general",
    urls: [{ url: { prefix: "/café/" } }, { url: { exact: "/a b" } }, { url: { regex: "^/x%20" } }],
  });
  const at = (path: string) => canary(new Context(new HttpRequest({ path })));
  assert.equal(at("/caf%C3%A9/menu"), true);
  assert.equal(at("/a%20b"), true);
  assert.equal(at("/x%20y"), true);
  assert.equal(at("/cafe/menu"), false);
});
