import assert from "node:assert/strict";
import { CustomDataView } from "../../../filters/custom_data_view.ts";
import { HeaderFields } from "../../../filters/header_fields.ts";
import { headerLookupKind } from "../../../filters/header_lookup.ts";
import { contextFor, specProblems, testEnv } from "./_helpers.ts";

Deno.test("HeaderLookup looks up the first of repeated header fields, as Go's Header.Get", () => {
  const customData = new CustomDataView();
  customData.replace({ "client-info/abc": { tier: "gold" }, "client-info/xyz": { tier: "tin" } });
  const spec = headerLookupKind.validate({
    headerKey: "X-Client",
    etcdPrefix: "client-info",
    headerSetters: [{ etcdKey: "tier", headerKey: "X-Tier" }],
  });
  const filter = headerLookupKind.create(spec, { ...testEnv(), customData });
  const headers = new HeaderFields();
  headers.append("x-client", "abc");
  headers.append("x-client", "xyz");
  const ctx = contextFor({ headers });
  assert.equal(filter.handle(ctx), "");
  assert.equal(ctx.request.header("x-tier"), "gold");
});

Deno.test("HeaderLookup looks up a non-ASCII id as its UTF-8 text", () => {
  const customData = new CustomDataView();
  customData.replace({ "client-info/zoë": { tier: "gold" } });
  const spec = headerLookupKind.validate({
    headerKey: "X-Client",
    etcdPrefix: "client-info",
    headerSetters: [{ etcdKey: "tier", headerKey: "X-Tier" }],
  });
  const filter = headerLookupKind.create(spec, { ...testEnv(), customData });
  // As the server holds the field: each UTF-8 byte one character.
  const wire = String.fromCharCode(...new TextEncoder().encode("zoë"));
  const ctx = contextFor({ headers: { "X-Client": wire } });
  assert.equal(filter.handle(ctx), "");
  assert.equal(ctx.request.header("x-tier"), "gold");
});

Deno.test("HeaderLookup adds the path's first group to the id as Go does, an empty one too", () => {
  const customData = new CustomDataView();
  customData.replace({
    "client-info/abc-1": { tier: "one" },
    "client-info/abc-": { tier: "empty" },
    "client-info/abc": { tier: "none" },
  });
  const spec = headerLookupKind.validate({
    headerKey: "X-Client",
    etcdPrefix: "client-info",
    pathRegExp: "^/api/v([0-9]*)",
    headerSetters: [{ etcdKey: "tier", headerKey: "X-Tier" }],
  });
  const filter = headerLookupKind.create(spec, { ...testEnv(), customData });
  const tier = (path: string) => {
    const ctx = contextFor({ path, headers: { "X-Client": "abc" } });
    filter.handle(ctx);
    return ctx.request.header("x-tier");
  };
  assert.equal(tier("/api/v1/users"), "one");
  assert.equal(tier("/api/v/users"), "empty");
  assert.equal(tier("/other"), "none");
});

Deno.test("HeaderLookup sets scalar fields only: a list or map is no header value", () => {
  const customData = new CustomDataView();
  customData.replace({
    "client-info/abc": { tier: 2, vip: true, tags: ["a", "b"], geo: { c: "eu" } },
  });
  const spec = headerLookupKind.validate({
    headerKey: "X-Client",
    etcdPrefix: "client-info",
    headerSetters: ["tier", "vip", "tags", "geo"].map((k) => ({ etcdKey: k, headerKey: `X-${k}` })),
  });
  const filter = headerLookupKind.create(spec, { ...testEnv(), customData });
  const ctx = contextFor({ headers: { "X-Client": "abc" } });
  assert.equal(filter.handle(ctx), "");
  const h = ctx.request;
  assert.deepEqual([h.header("x-tier"), h.header("x-vip"), h.header("x-tags"), h.header("x-geo")], [
    "2",
    "true",
    null,
    null,
  ]);
});

Deno.test("HeaderLookup spec: empty header names and a prefix naming no kind are refused", () => {
  // Accepted, they failed every request (Headers throw on an empty name) or found nothing.
  const setters = [{ etcdKey: "tier", headerKey: "" }];
  assert.deepEqual(
    specProblems(headerLookupKind, { headerKey: "", etcdPrefix: "/", headerSetters: setters }),
    [
      'headerKey: "" is not a valid header name',
      'etcdPrefix: must name the custom data kind, such as "client-info/", got "/"',
      'headerSetters[0].headerKey: "" is not a valid header name',
    ],
  );
});
