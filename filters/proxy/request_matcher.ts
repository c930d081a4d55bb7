/**
 * Which requests a candidate or mirror pool takes: by headers and URLs, or a
 * share (permil) by IP hash, header hash or at random.
 *
 * @module
 */

import type { Context } from "../context.ts";
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
      return (ctx) => fnv1(ctx.request.header(key) ?? "") % 1000 < permil;
    }
  }
  const headers = Object.entries(spec.headers ?? {}).map(([name, m]) =>
    [name, new StringMatcher(m)] as const
  );
  const urls = (spec.urls ?? []).map((u) => ({
    methods: u.methods ? new Set(u.methods) : undefined,
    url: new StringMatcher(u.url),
  }));
  const matchAll = !!spec.matchAllHeaders;
  const headerMatch = (ctx: Context): boolean => {
    if (!headers.length) return true;
    const request = ctx.request;
    const test = ([name, m]: readonly [string, StringMatcher]) =>
      m.match(request.header(name) ?? "");
    return matchAll ? headers.every(test) : headers.some(test);
  };
  const urlMatch = (ctx: Context): boolean => {
    if (!urls.length) return true;
    const { method, path } = ctx.request;
    return urls.some((u) => (!u.methods || u.methods.has(method)) && u.url.match(path));
  };
  return (ctx) => headerMatch(ctx) && urlMatch(ctx);
}
