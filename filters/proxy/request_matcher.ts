/**
 * Which requests a candidate or mirror pool takes: by headers and URLs, or a
 * share (permil) by IP hash, header hash or at random.
 *
 * @module
 */

import type { Context } from "../context.ts";
import { headerValueText } from "../header_adapt.ts";
import { HeaderFields } from "../header_fields.ts";
import { StringMatcher } from "../string_matcher.ts";
import { fnv1 } from "./hash.ts";
import type { RequestMatcherSpec } from "./spec.ts";

/** Whether a request is for this pool. */
export type RequestMatcher = (ctx: Context) => boolean;

/** Compiles a pool's `filter`. */
export function createRequestMatcher(spec: RequestMatcherSpec): RequestMatcher {
  const permil = spec.permil ?? 0;
  switch (spec.policy) {
    case "random":
      return () => Math.floor(Math.random() * 1000) < permil;
    case "ipHash":
      return (ctx) => fnv1(ctx.realIP) % 1000 < permil;
    case "headerHash": {
      const key = spec.headerHashKey ?? "";
      // Go's Header.Get: a header sent twice is hashed by its first field.
      return (ctx) => fnv1(ctx.request.firstHeader(key) ?? "") % 1000 < permil;
    }
  }
  const headers = Object.entries(spec.headers ?? {}).map(([name, m]) => {
    const matcher = new StringMatcher(m);
    // Go matches the UTF-8 bytes; the spec's patterns are text.
    return { name, match: (value: string) => matcher.match(headerValueText(value)) };
  });
  const urls = (spec.urls ?? []).map((u) => ({
    methods: u.methods ? new Set(u.methods) : undefined,
    url: StringMatcher.forPaths(u.url),
  }));
  const matchAll = !!spec.matchAllHeaders;
  const headerMatch = (ctx: Context): boolean => {
    if (!headers.length) return true;
    const fields = ctx.request.rawHeaders;
    const test = (h: (typeof headers)[number]) => anyField(fields, h.name, h.match);
    return matchAll ? headers.every(test) : headers.some(test);
  };
  const urlMatch = (ctx: Context): boolean => {
    if (!urls.length) return true;
    const { method, path } = ctx.request;
    return urls.some((u) => (!u.methods || u.methods.has(method)) && u.url.match(path));
  };
  return (ctx) => headerMatch(ctx) && urlMatch(ctx);
}

/**
 * Whether any field of header `name` passes `match`, as Easegress tries each
 * of the header's values; an absent header is tried as "". A runtime
 * `Headers` joins repeated fields with ", ", so there the joined value or
 * any part of it may pass.
 */
function anyField(headers: Headers, name: string, match: (value: string) => boolean): boolean {
  if (!headers.has(name)) return match("");
  if (headers instanceof HeaderFields) return headers.someField(name, match);
  const value = headers.get(name)!;
  return match(value) || (value.includes(", ") && value.split(", ").some(match));
}
