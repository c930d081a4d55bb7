/**
 * Proxy filter spec: pools of servers, load balancing, candidate-pool
 * filters, mirror pool, compression and limits. Accepts the v1 spellings
 * (`mainPool`, `candidatePools`) and stores the v2 shape.
 *
 * @module
 */

import { headerNameProblem } from "../header_adapt.ts";
import { parseDuration, type SpecReader } from "../spec.ts";
import { readStringMatcher, type StringMatcherSpec } from "../string_matcher.ts";
import { keyPairProblems, pemProblem } from "../pem.ts";
import { type HealthCheckSpec, readHealthCheck } from "./health_check.ts";
import { readStickySession, type StickySessionSpec } from "./sticky_session.ts";

/** One upstream server. */
export interface ServerSpec {
  url: string;
  tags?: string[];
  weight?: number;
  keepHost?: boolean;
}

/** Load balancing of a pool. */
export interface LoadBalanceSpec {
  policy: "roundRobin" | "random" | "weightedRandom" | "ipHash" | "headerHash";
  headerHashKey?: string;
  /** Requests of a session go to the server of its earlier ones (see sticky_session.ts). */
  stickySession?: StickySessionSpec;
  /** Servers failing active checks leave the pool until they pass (see health_check.ts). */
  healthCheck?: HealthCheckSpec;
}

/** Which requests a candidate or mirror pool takes. */
export interface RequestMatcherSpec {
  policy: "general" | "ipHash" | "headerHash" | "random";
  headers?: Record<string, StringMatcherSpec>;
  matchAllHeaders?: boolean;
  urls?: { methods?: string[]; url: StringMatcherSpec }[];
  permil?: number;
  headerHashKey?: string;
}

/** A pool's response cache (see response_cache.ts). */
export interface MemoryCacheSpec {
  /** How long an answer is kept, a duration such as "10s". */
  expiration: string;
  /** Largest body kept, in bytes. */
  maxEntryBytes: number;
  /** Status codes of the answers kept. */
  codes: number[];
  /** Methods of the requests answered from the cache. */
  methods: string[];
}

/** A pool of servers. */
export interface PoolSpec {
  servers: ServerSpec[];
  /** A service registry object whose instances of `serviceName` are the servers when it has any. */
  serviceRegistry?: string;
  serviceName?: string;
  serverTags?: string[];
  loadBalance: LoadBalanceSpec;
  filter?: RequestMatcherSpec;
  timeout?: string;
  retryPolicy?: string;
  circuitBreakerPolicy?: string;
  failureCodes?: number[];
  serverMaxBodySize?: number;
  spanName?: string;
  memoryCache?: MemoryCacheSpec;
}

/** A normalized Proxy spec. */
export interface ProxySpec {
  pools: PoolSpec[];
  mirrorPool?: PoolSpec;
  compression?: { minLength: number };
  maxIdleConns: number;
  maxIdleConnsPerHost: number;
  serverMaxBodySize: number;
  /** A client certificate for TLS servers, and the only roots their certificates may chain to. */
  mtls?: MTLSSpec;
}

/** Proxy `mtls`: base64 PEM (raw PEM taken too). */
export interface MTLSSpec {
  certBase64: string;
  keyBase64: string;
  rootCertBase64: string;
}

const POLICIES = ["roundRobin", "random", "weightedRandom", "ipHash", "headerHash"] as const;
/** Scheme and host, with a port and a path if any (no query or fragment). */
const URL_PATTERN = /^https?:\/\/(\[[0-9a-fA-F:.]+\]|[^/:?#\s]+)(:\d{1,5})?(\/[^?#\s]*)?$/;
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE"];

/** Reads a Proxy spec (without name and kind). */
export function readProxySpec(r: SpecReader): ProxySpec {
  const pools: PoolSpec[] = [];
  // v1: mainPool + candidatePools; v2: pools.
  if (r.has("pools") && (r.has("mainPool") || r.has("candidatePools"))) {
    r.problem("pools", "cannot be combined with mainPool/candidatePools");
  }
  const main = r.object("mainPool", (pr) => readPool(pr, "main"));
  const candidates = r.array("candidatePools", (pr) => readPool(pr, "candidate")) ?? [];
  if (main) pools.push(...candidates, main);
  else pools.push(...candidates);
  const v2 = r.array("pools", (pr) => readPool(pr, "any"));
  if (v2) pools.push(...v2);
  const mains = pools.filter((p) => !p.filter).length;
  if (!pools.length) r.problem("pools", "is required");
  else if (mains !== 1) {
    r.problem(
      "pools",
      `must have exactly one pool without a filter (the main pool), found ${mains}`,
    );
  }

  const spec: ProxySpec = {
    pools,
    maxIdleConns: r.int("maxIdleConns", { default: 10240, min: 1 }),
    maxIdleConnsPerHost: r.int("maxIdleConnsPerHost", { default: 1024, min: 1 }),
    serverMaxBodySize: r.int("serverMaxBodySize", { default: 0, min: -1 }),
  };
  const mirror = r.object("mirrorPool", (pr) => readPool(pr, "mirror"));
  if (mirror) spec.mirrorPool = mirror;
  const compression = r.object("compression", (cr) => ({
    minLength: cr.int("minLength", { default: 0, min: 0 }),
  }));
  if (compression) spec.compression = compression;
  const mtls = r.object("mtls", readMTLS);
  if (mtls) spec.mtls = mtls;
  return spec;
}

function readMTLS(r: SpecReader): MTLSSpec {
  const spec: MTLSSpec = {
    certBase64: r.string("certBase64", { required: true }) ?? "",
    keyBase64: r.string("keyBase64", { required: true }) ?? "",
    rootCertBase64: r.string("rootCertBase64", { required: true }) ?? "",
  };
  const pair = keyPairProblems("certBase64", spec.certBase64, "keyBase64", spec.keyBase64);
  for (const [field, problem] of pair) r.problem(field, problem);
  if (spec.rootCertBase64) {
    const problem = pemProblem(spec.rootCertBase64, "certificate");
    if (problem) r.problem("rootCertBase64", problem);
  }
  return spec;
}

function readPool(r: SpecReader, role: "main" | "candidate" | "mirror" | "any"): PoolSpec {
  const servers = r.array("servers", readServer) ?? [];
  const serviceRegistry = r.string("serviceRegistry");
  const serviceName = r.string("serviceName");
  if (!!serviceRegistry !== !!serviceName) {
    r.problem(
      serviceRegistry ? "serviceName" : "serviceRegistry",
      "is required with the other one",
    );
  }
  if (!servers.length && !serviceName) {
    r.problem("servers", "needs at least one server, or serviceRegistry and serviceName");
  }
  // A weight out of range is set all the same (and reported on its own): not "missing".
  const weighted = servers.filter((s) => s.weight !== undefined).length;
  if (weighted && weighted !== servers.length) {
    r.problem("servers", "weights must be set on every server or on none");
  }
  const lb = r.object("loadBalance", readLoadBalance) ?? { policy: "roundRobin" };
  const pool: PoolSpec = { servers, loadBalance: lb };
  if (serviceRegistry && serviceName) Object.assign(pool, { serviceRegistry, serviceName });
  const serverTags = r.stringArray("serverTags");
  if (serverTags?.length) pool.serverTags = serverTags;
  const filter = r.object("filter", readRequestMatcher);
  if (filter) pool.filter = filter;
  if (role === "candidate" && !filter) r.problem("filter", "is required for a candidate pool");
  if (role === "main" && filter) r.problem("filter", "is not allowed on the main pool");
  if (role === "mirror" && !filter) r.problem("filter", "is required for the mirror pool");
  const timeout = r.duration("timeout");
  if (timeout) pool.timeout = timeout;
  const retry = r.string("retryPolicy");
  if (retry) pool.retryPolicy = retry;
  const cb = r.string("circuitBreakerPolicy");
  if (cb) pool.circuitBreakerPolicy = cb;
  const codes = r.intArray("failureCodes", { min: 100, max: 599 });
  // Each code once, as Easegress's schema (uniqueItems) has it.
  codes?.forEach((code, i) => {
    if (codes.indexOf(code) < i) r.problem(`failureCodes[${i}]`, `repeats ${code}`);
  });
  if (codes?.length) pool.failureCodes = codes;
  const limit = r.int("serverMaxBodySize", { min: -1 });
  if (limit) pool.serverMaxBodySize = limit;
  const span = r.string("spanName");
  if (span) pool.spanName = span;
  const cache = r.object("memoryCache", readMemoryCache);
  if (cache && role === "mirror") r.problem("memoryCache", "is not allowed on the mirror pool");
  else if (cache) pool.memoryCache = cache;
  return pool;
}

/** Reads a pool's `loadBalance`. */
export function readLoadBalance(lr: SpecReader): LoadBalanceSpec {
  const spec: LoadBalanceSpec = {
    // Easegress's schema takes "" too (what its own `policy` field marshals to when unset).
    policy: (lr.string("policy", { default: "roundRobin", oneOf: ["", ...POLICIES] }) ||
      "roundRobin") as LoadBalanceSpec["policy"],
  };
  const key = lr.string("headerHashKey");
  if (key) spec.headerHashKey = key;
  if (spec.policy === "headerHash") checkHeaderHashKey(lr, key);
  const sticky = lr.object("stickySession", readStickySession);
  if (sticky) spec.stickySession = sticky;
  const health = lr.object("healthCheck", readHealthCheck);
  if (health) spec.healthCheck = health;
  return spec;
}

function readMemoryCache(r: SpecReader): MemoryCacheSpec {
  const spec: MemoryCacheSpec = {
    expiration: r.duration("expiration", { required: true }) ?? "",
    maxEntryBytes: r.int("maxEntryBytes", { required: true, min: 1 }) ?? 0,
    codes: r.intArray("codes", { required: true, min: 100, max: 599 }) ?? [],
    methods: r.stringArray("methods", { required: true }) ?? [],
  };
  if (spec.expiration !== "" && parseDuration(spec.expiration) === 0) {
    r.problem("expiration", "must be longer than 0");
  }
  checkMethods(r, spec.methods);
  return spec;
}

/** Reports each entry of the `methods` list that is not an HTTP method. */
function checkMethods(r: SpecReader, methods: readonly string[]): void {
  methods.forEach((m, i) => {
    if (!METHODS.includes(m)) r.problem(`methods[${i}]`, `"${m}" is not an HTTP method`);
  });
}

function readServer(r: SpecReader): ServerSpec {
  return readServerSpec(
    r,
    URL_PATTERN,
    "an http(s) URL such as http://127.0.0.1:9095 or http://127.0.0.1:9095/api",
  );
}

const IP_HOST = /^(\d+\.\d+\.\d+\.\d+|\[[0-9a-fA-F:.]+\])$/;

/**
 * Whether requests to `server` (its URL's host being `hostname`) carry the
 * client's Host, as Easegress sends it: with `keepHost`, or when the URL
 * names its host by address rather than by name.
 */
export function sendsClientHost(server: ServerSpec, hostname: string): boolean {
  return !!server.keepHost || IP_HOST.test(hostname);
}

/**
 * Reads a pool's server at `r`: its `url` (which must match `urlPattern`,
 * described to users as `patternName`), `tags`, `weight` and `keepHost`.
 */
export function readServerSpec(r: SpecReader, urlPattern: RegExp, patternName: string): ServerSpec {
  const server: ServerSpec = {
    url: r.string("url", { required: true, pattern: urlPattern, patternName }) ?? "",
  };
  // The pattern lets through what URL parsing refuses, and the pipeline would then fail to start.
  if (urlPattern.test(server.url) && !URL.canParse(server.url)) {
    r.problem("url", `must be a valid URL (a port up to 65535), got ${JSON.stringify(server.url)}`);
  }
  const tags = r.stringArray("tags");
  if (tags?.length) server.tags = tags;
  const weight = r.int("weight", { min: 0, max: 100 });
  if (weight) server.weight = weight;
  if (r.bool("keepHost", false)) server.keepHost = true;
  return server;
}

/**
 * Notes what is wrong with a headerHash policy's `headerHashKey`: absent,
 * empty, or no header name (Headers throw on such a name, on every request).
 */
function checkHeaderHashKey(r: SpecReader, key: string | undefined): void {
  if (!key) r.problem("headerHashKey", "is required by headerHash");
  else {
    const problem = headerNameProblem(key);
    if (problem) r.problem("headerHashKey", problem);
  }
}

/** Reads a pool's `filter`: which requests the pool takes. */
export function readRequestMatcher(r: SpecReader): RequestMatcherSpec {
  const policy = r.string("policy", {
    default: "general",
    oneOf: ["", "general", "ipHash", "headerHash", "random"],
  }) || "general";
  const spec: RequestMatcherSpec = { policy: policy as RequestMatcherSpec["policy"] };
  if (policy === "general") {
    // A name no request can carry would fail every request: Headers throw on it.
    const headers = r.map("headers", (hr, name) => {
      const problem = headerNameProblem(name);
      if (problem) hr.problem("", problem);
      return readStringMatcher(hr);
    });
    if (headers && Object.keys(headers).length) spec.headers = headers;
    if (r.bool("matchAllHeaders", false)) spec.matchAllHeaders = true;
    const urls = r.array("urls", (ur) => {
      const entry: { methods?: string[]; url: StringMatcherSpec } = {
        url: ur.object("url", readStringMatcher, { required: true }) ?? {},
      };
      const methods = ur.stringArray("methods");
      if (methods?.length) {
        checkMethods(ur, methods);
        entry.methods = methods;
      }
      return entry;
    });
    if (urls?.length) spec.urls = urls;
    if (!spec.headers && !spec.urls) r.problem("headers", "general policy needs headers or urls");
    r.ignore("permil", "headerHashKey");
  } else {
    spec.permil = r.int("permil", { required: true, min: 1, max: 1000 });
    if (policy === "headerHash") {
      spec.headerHashKey = r.string("headerHashKey");
      checkHeaderHashKey(r, spec.headerHashKey);
    } else r.ignore("headerHashKey");
    r.ignore("headers", "matchAllHeaders", "urls");
  }
  return spec;
}
