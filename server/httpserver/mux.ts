/**
 * Request routing of an HTTPServer, compiled once per spec: hosts, paths,
 * methods, headers and IP filters, with the statuses of Easegress's routing
 * algorithm (403, 404, 405, 400).
 *
 * @module
 */

import { GoRegexpReplacer } from "../../filters/go_regexp_replace.ts";
import { compileGoRegexp } from "../../filters/go_regexp.ts";
import { hostWithoutPort } from "./host_name.ts";
import { IPFilter } from "./ipfilter.ts";
import { normalizeRulePath } from "../../filters/percent_encoding.ts";
import { parseGoQuery } from "../../filters/go_query.ts";
import type { HeaderSpec, HTTPServerSpec, PathSpec, RuleSpec } from "./spec.ts";

/** A compiled path: where matching requests go. */
export interface Route {
  /** The pipeline name. */
  readonly backend: string;
  /** A readable pattern, for statistics. */
  readonly pattern: string;
  /** Request body limit in bytes; -1 means no limit. */
  readonly maxBodySize: number;
  /** The path to send on, after rewriteTarget. */
  rewrite(path: string): string;
}

/**
 * A 405 from routing: the request's path is served, not for its method.
 * `allow` lists the methods the matching paths take, for the Allow header
 * RFC 9110 section 15.5.6 requires (Easegress sends none).
 */
export class MethodNotAllowed {
  readonly status = 405;
  constructor(readonly allow: string) {}
}

/** What routing decided: a route or an error status. */
export type RouteResult = Route | 400 | 403 | 404 | MethodNotAllowed;

interface CompiledPath extends Route {
  readonly ipFilter: IPFilter | undefined;
  readonly exact: string | undefined;
  readonly prefix: string | undefined;
  readonly regexp: RegExp | undefined;
  readonly matchesAll: boolean;
  readonly methods: ReadonlySet<string> | undefined;
  readonly headers: CompiledHeader[] | undefined;
  readonly matchAllHeader: boolean;
  /** Query parameter conditions (Easegress v2.x `queries`), checked like headers. */
  readonly queries: CompiledHeader[] | undefined;
  readonly matchAllQuery: boolean;
}

interface CompiledHeader {
  readonly key: string;
  readonly values: ReadonlySet<string> | undefined;
  readonly regexp: RegExp | undefined;
}

/** One host a rule answers: exact, by prefix or suffix (lower-case), or by regexp. */
interface CompiledHost {
  readonly exact?: string;
  readonly prefix?: string;
  readonly suffix?: string;
  readonly regexp?: RegExp;
}

interface CompiledRule {
  readonly ipFilter: IPFilter | undefined;
  /** Undefined when the rule takes every host. */
  readonly hosts: CompiledHost[] | undefined;
  readonly paths: CompiledPath[];
}

/** What the route cache keeps: a path, or the status no path gave. */
type CachedRoute = CompiledPath | 404 | MethodNotAllowed;

const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;

/** The routing table of one HTTPServer spec. */
export class Mux {
  readonly #ipFilter: IPFilter | undefined;
  readonly #rules: CompiledRule[];
  readonly #cache: Map<string, CachedRoute> | undefined;
  readonly #cacheSize: number;
  // Read on every request: computed once per routing table.
  readonly #usesIP: boolean;

  constructor(spec: HTTPServerSpec) {
    this.#ipFilter = spec.ipFilter ? new IPFilter(spec.ipFilter) : undefined;
    const serverLimit = spec.clientMaxBodySize === 0 ? DEFAULT_BODY_LIMIT : spec.clientMaxBodySize;
    this.#rules = spec.rules.map((r) => compileRule(r, serverLimit));
    this.#cacheSize = spec.cacheSize;
    this.#cache = spec.cacheSize > 0 ? new Map() : undefined;
    this.#usesIP = !!this.#ipFilter ||
      this.#rules.some((r) => r.ipFilter || r.paths.some((p) => p.ipFilter));
  }

  /** Whether any IP filter exists, so callers know if they need the real IP. */
  get usesIP(): boolean {
    return this.#usesIP;
  }

  /**
   * Routes a request. `host` is the Host header (port stripped here);
   * `header` reads one request header: the first field's value only, as
   * Easegress inspects (see firstFieldValue).
   */
  route(
    host: string,
    method: string,
    path: string,
    header: (name: string) => string | null,
    realIP: string,
    query = "",
  ): RouteResult {
    if (this.#ipFilter && !this.#ipFilter.allow(realIP)) return 403;
    const hostname = hostWithoutPort(host);
    let cacheKey: string | undefined;
    if (this.#cache) {
      cacheKey = `${hostname}\n${method}\n${path}`;
      const hit = this.#cache.get(cacheKey);
      if (hit !== undefined) {
        if (this.#usesIP && !this.#ipAllowedOnHit(hit, hostname, realIP)) return 403;
        return hit;
      }
    }
    // The methods of the paths passed over for theirs, gathered only when one is.
    let allowed: Set<string> | undefined;
    let headerMismatch = false;
    // Parsed only for a path with query conditions, as Go's URL.Query() parses it.
    let params: Map<string, string[]> | undefined;
    for (const rule of this.#rules) {
      if (!hostMatches(rule, hostname)) continue;
      if (rule.ipFilter && !rule.ipFilter.allow(realIP)) return 403;
      for (const p of rule.paths) {
        if (!pathMatches(p, path)) continue;
        if (p.methods && !p.methods.has(method)) {
          allowed ??= new Set();
          for (const m of p.methods) allowed.add(m);
          continue;
        }
        if (p.headers && !conditionsMatch(p.headers, p.matchAllHeader, header)) {
          headerMismatch = true;
          continue;
        }
        if (p.queries) {
          params ??= parseGoQuery(query);
          if (
            !conditionsMatch(p.queries, p.matchAllQuery, (key) => params!.get(key)?.[0] ?? null)
          ) {
            headerMismatch = true;
            continue;
          }
        }
        if (p.ipFilter && !p.ipFilter.allow(realIP)) return 403;
        // A path passed over for its headers or query may take the next request
        // with the same host, method and path: only a choice none made is kept.
        if (cacheKey && !p.headers && !p.queries && !headerMismatch) this.#remember(cacheKey, p);
        return p;
      }
    }
    if (headerMismatch) return 400;
    const status = allowed ? new MethodNotAllowed([...allowed].join(", ")) : 404;
    if (cacheKey) this.#remember(cacheKey, status);
    return status;
  }

  #remember(key: string, value: CachedRoute): void {
    const cache = this.#cache!;
    if (cache.size >= this.#cacheSize) cache.delete(cache.keys().next().value!);
    cache.set(key, value);
  }

  /**
   * Whether routing `realIP` afresh would pass the IP filters it met on the
   * way to the cached `hit`: those of every rule for the host up to the
   * path's own (all of them for a status), then the path's. Easegress checks
   * the path's own rule only, so a client an earlier rule refuses got the
   * path once another client had put it in the cache.
   */
  #ipAllowedOnHit(hit: CachedRoute, hostname: string, realIP: string): boolean {
    const path = typeof hit === "number" || hit instanceof MethodNotAllowed ? undefined : hit;
    for (const rule of this.#rules) {
      if (!hostMatches(rule, hostname)) continue;
      if (rule.ipFilter && !rule.ipFilter.allow(realIP)) return false;
      if (path !== undefined && rule.paths.includes(path)) break;
    }
    return path === undefined || !path.ipFilter || path.ipFilter.allow(realIP);
  }
}

function hostMatches(rule: CompiledRule, hostname: string): boolean {
  const hosts = rule.hosts;
  if (hosts === undefined) return true;
  const lower = hostname.toLowerCase();
  for (const h of hosts) {
    if (h.regexp !== undefined) {
      if (h.regexp.test(hostname)) return true;
    } else if (
      lower === h.exact || (h.prefix !== undefined && lower.startsWith(h.prefix)) ||
      (h.suffix !== undefined && lower.endsWith(h.suffix))
    ) return true;
  }
  return false;
}

/** A rule's `host`, `hostRegexp` and `hosts`, as Easegress v2.x gathers them. */
function compileHosts(rule: RuleSpec): CompiledHost[] | undefined {
  const hosts: CompiledHost[] = [];
  // `host` is one more name, wildcards included (`*.example.com`), as
  // Easegress v2.x adds it to `hosts`: taken exactly, it matched no request.
  if (rule.host) hosts.push(compileName(rule.host));
  if (rule.hostRegexp) hosts.push({ regexp: compileGoRegexp(rule.hostRegexp) });
  for (const h of rule.hosts ?? []) {
    hosts.push(h.isRegexp ? { regexp: compileGoRegexp(h.value) } : compileName(h.value));
  }
  return hosts.length ? hosts : undefined;
}

/**
 * A host name: one `*` at its start or end matches by suffix or prefix.
 * Any other name is compared whole, as Easegress compares a `host` it finds
 * no wildcard to take in (`hosts` refuses such names, see readHost).
 */
function compileName(name: string): CompiledHost {
  const value = name.toLowerCase();
  const star = value.indexOf("*");
  if (star >= 0 && star === value.lastIndexOf("*")) {
    if (star === 0) return { suffix: value.slice(1) };
    if (star === value.length - 1) return { prefix: value.slice(0, -1) };
  }
  return { exact: unbracketed(value) };
}

/**
 * A rule's IPv6 host without its brackets ("[::1]" is "::1"), as requests'
 * hosts are compared: written either way, it matches both spellings.
 */
function unbracketed(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

function pathMatches(p: CompiledPath, path: string): boolean {
  if (p.matchesAll) return true;
  if (p.exact !== undefined && p.exact === path) return true;
  if (p.prefix !== undefined && path.startsWith(p.prefix)) return true;
  return p.regexp !== undefined && p.regexp.test(path);
}

/** Whether header (or query) `conditions` hold: all of them with `matchAll`, else any. */
function conditionsMatch(
  conditions: readonly CompiledHeader[],
  matchAll: boolean,
  get: (key: string) => string | null,
): boolean {
  if (matchAll) {
    for (const h of conditions) {
      const v = get(h.key) ?? "";
      if (h.values && !h.values.has(v)) return false;
      if (h.regexp && !h.regexp.test(v)) return false;
    }
    return true;
  }
  // A missing header is "" here too, as Easegress reads it: `values: [""]` or
  // `regexp: ^$` select requests without it.
  for (const h of conditions) {
    const v = get(h.key) ?? "";
    if (h.values?.has(v) || h.regexp?.test(v)) return true;
  }
  return false;
}

function compileRule(rule: RuleSpec, serverLimit: number): CompiledRule {
  return {
    ipFilter: rule.ipFilter ? new IPFilter(rule.ipFilter) : undefined,
    hosts: compileHosts(rule),
    paths: rule.paths.map((p) => compilePath(p, serverLimit)),
  };
}

function compileHeader(h: HeaderSpec): CompiledHeader {
  return {
    key: h.key,
    values: h.values ? new Set(h.values) : undefined,
    regexp: h.regexp ? compileGoRegexp(h.regexp) : undefined,
  };
}

function compilePath(p: PathSpec, serverLimit: number): CompiledPath {
  const regexp = p.pathRegexp ? compileGoRegexp(p.pathRegexp) : undefined;
  // A target is a path, written as requests are (see normalizeRulePath): its
  // "?" and "#" are characters of it, escaped as Go's URL.Path sends them,
  // not a query or fragment put on the upstream request line, and its
  // spaces, non-ASCII or %7e in the one spelling later filters match.
  const replacer = p.pathRegexp && p.rewriteTarget
    ? new GoRegexpReplacer(p.pathRegexp, p.rewriteTarget, normalizeRulePath)
    : undefined;
  const target = p.rewriteTarget === undefined ? undefined : normalizeRulePath(p.rewriteTarget);
  // Requests arrive with their escapes normalized; so are these.
  const exact = p.path === undefined ? undefined : normalizeRulePath(p.path);
  const prefix = p.pathPrefix === undefined ? undefined : normalizeRulePath(p.pathPrefix);
  const limit = p.clientMaxBodySize ? p.clientMaxBodySize : serverLimit;
  const headers = p.headers?.map(compileHeader);
  return {
    backend: p.backend,
    pattern: p.path ?? p.pathPrefix ?? p.pathRegexp ?? "/*",
    maxBodySize: limit,
    ipFilter: p.ipFilter ? new IPFilter(p.ipFilter) : undefined,
    exact,
    prefix,
    regexp,
    matchesAll: !p.path && !p.pathPrefix && !p.pathRegexp,
    methods: p.methods ? new Set(p.methods) : undefined,
    headers,
    matchAllHeader: !!p.matchAllHeader,
    queries: p.queries?.map(compileHeader),
    matchAllQuery: !!p.matchAllQuery,
    rewrite(path: string): string {
      if (target === undefined) return path;
      let rewritten: string;
      if (exact !== undefined && path === exact) rewritten = target;
      else if (prefix !== undefined && path.startsWith(prefix)) {
        rewritten = target + path.slice(prefix.length);
      } else if (replacer) rewritten = replacer.replaceAll(path);
      else return path;
      // A target without its leading "/" (`$1` for `^/api/(.*)$`) made no
      // request target ("GET x/y"); rooted, as RequestAdaptor's paths are.
      return rewritten.charCodeAt(0) === 0x2f ? rewritten : `/${rewritten}`;
    },
  };
}
