/**
 * The Proxy filter: sends the request of the active namespace to a server
 * of the pool it belongs to, and stores the upstream response there.
 *
 * @module
 */

import { Context, HttpRequest, HttpResponse } from "../context.ts";
import type { FilterEnv, FilterInstance, FilterKind } from "../filter.ts";
import { acceptsGzip, gzip, gzipStream } from "../gzip.ts";
import { SpecReader } from "../spec.ts";
import { bufferBody, type PoolPolicies, type PoolResult, ServerPool } from "./pool.ts";
import { IdleBudget } from "./idle_budget.ts";
import { sharedTurns } from "./load_balancer.ts";
import { createCircuitBreaker, createRetry } from "./resilience.ts";
import { HealthBoard } from "./health_board.ts";
import { type PoolSpec, type ProxySpec, readProxySpec } from "./spec.ts";
import { http1Transport, type Transport } from "./transport.ts";
import { decodePem } from "../pem.ts";
import { RegionsFullError } from "../shared_regions.ts";
import { hostOfAddr } from "../ip_address.ts";
import { hasDirective } from "./cache_control.ts";
import { keepEarlierFields } from "./earlier_fields.ts";

const RESULTS = [
  "clientError",
  "failureCode",
  "internalError",
  "serverError",
  "shortCircuited",
  "timeout",
] as const;

/**
 * Most mirror copies one Proxy (in one worker) has waiting on the mirror
 * pool at once. A copy holds a connection and its request's body until the
 * mirror server answers; past this, requests are not mirrored, so a mirror
 * server that stops answering cannot take the sockets and memory of the real
 * traffic (one connection more per request, for good). Easegress gives a
 * copy up when its request is over. A mirror answering in 50 ms stays under
 * it up to 20 000 requests per second.
 */
export const MIRRORS_IN_FLIGHT_MAX = 1000;
/** Requests left unmirrored are logged at most this often. */
const MIRROR_SKIP_LOG_INTERVAL_MS = 10_000;

/** The Proxy filter kind. */
export const proxyKind: FilterKind<ProxySpec> = {
  kind: "Proxy",
  description: "Proxy sends requests to upstream servers chosen by load balancing.",
  results: RESULTS,
  validate(spec) {
    const r = SpecReader.root(spec);
    const out = readProxySpec(r);
    r.finish();
    r.throwIfProblems();
    return out;
  },
  create(spec, env, previous) {
    return new Proxy(spec, env, previous instanceof Proxy ? previous : undefined);
  },
};

/** A running Proxy filter. */
export class Proxy implements FilterInstance {
  readonly #pools: ServerPool[];
  readonly #candidates: ServerPool[];
  readonly #main: ServerPool;
  readonly #mirror: ServerPool | undefined;
  readonly #transports: Map<string, Transport>;
  /**
   * What the connection pools were built with (mtls, maxIdleConnsPerHost,
   * maxIdleConns), as text: a pipeline update inherits them only when it is
   * the same, so a changed limit takes effect.
   */
  readonly #transportKey: string;
  /** The idle connections of all this Proxy's connection pools: at most `maxIdleConns`. */
  readonly #idleBudget: IdleBudget;
  readonly #compressMin: number | undefined;
  readonly #env: FilterEnv;
  /** Mirror copies waiting on the mirror pool now (see {@linkcode MIRRORS_IN_FLIGHT_MAX}). */
  #mirrorsInFlight = 0;
  /** Requests not mirrored since the last report of them. */
  #mirrorsSkipped = 0;
  #mirrorSkipLoggedAt = -Infinity;
  /** Stops pruning connection pools on service registry changes (set when a pool follows one). */
  readonly #unwatch: (() => void) | undefined;

  constructor(spec: ProxySpec, env: FilterEnv, previous?: Proxy) {
    this.#env = env;
    // Policies first, so a bad reference throws before any connection pool
    // exists. A breaker whose pool and policy are unchanged keeps its state
    // across updates (its memory is named by them); a changed one starts closed.
    const policies: PoolPolicies[] = [];
    try {
      spec.pools.forEach((p, i) => policies.push(poolPolicies(p, env, i)));
    } catch (e) {
      for (const p of policies) {
        p.circuitBreaker?.close();
        p.turns?.close();
        p.healthBoard?.close();
      }
      throw e;
    }
    // Connection pools outlive a pipeline update: same origin, client certificate and idle limit,
    // same sockets.
    const clientTls = spec.mtls && {
      cert: decodePem(spec.mtls.certBase64),
      key: decodePem(spec.mtls.keyBase64),
      rootCert: decodePem(spec.mtls.rootCertBase64),
    };
    this.#transportKey = JSON.stringify([
      spec.mtls ?? null,
      spec.maxIdleConnsPerHost,
      spec.maxIdleConns,
    ]);
    const inherit = previous !== undefined && previous.#transportKey === this.#transportKey;
    const inherited = inherit ? previous.#transports : new Map<string, Transport>();
    // Inherited pools count their idle connections in the budget they were made with.
    this.#idleBudget = inherit ? previous.#idleBudget : new IdleBudget(spec.maxIdleConns);
    this.#transports = new Map();
    const transportOf = (origin: string): Transport => {
      let t = this.#transports.get(origin) ?? inherited.get(origin);
      if (!t) {
        t = http1Transport(origin, spec.maxIdleConnsPerHost, clientTls, this.#idleBudget);
      }
      this.#transports.set(origin, t);
      return t;
    };
    // Easegress's default span names: proxy#<filter>#main, proxy#<filter>#candidate#<i>.
    let candidate = 0;
    this.#pools = spec.pools.map((p, i) =>
      new ServerPool(
        p,
        transportOf,
        spec.serverMaxBodySize,
        env.log,
        policies[i],
        `proxy#${env.name}#${p.filter ? `candidate#${candidate++}` : "main"}`,
        env.services,
      )
    );
    this.#candidates = this.#pools.filter((p) => p.matches);
    this.#main = this.#pools.find((p) => !p.matches)!;
    this.#mirror = spec.mirrorPool
      ? new ServerPool(
        spec.mirrorPool,
        transportOf,
        spec.serverMaxBodySize,
        env.log,
        {},
        `proxy#${env.name}#mirror`,
        env.services,
      )
      : undefined;
    this.#compressMin = spec.compression?.minLength;
    if (previous) {
      for (const [origin, t] of inherited) if (!this.#transports.has(origin)) t.close();
      // The pools now belong to this instance: closing the previous one must not close them.
      inherited.clear();
    }
    // Registry instances come and go (new addresses on each deploy): the connection pools of
    // those gone are closed, or this Proxy would keep one per address ever listed, and their
    // idle connections until they time out. Watched after the pools, so it sees their new servers.
    const follows = (p: PoolSpec) => p.serviceRegistry !== undefined && p.serviceName !== undefined;
    if (
      env.services && (spec.pools.some(follows) || (spec.mirrorPool && follows(spec.mirrorPool)))
    ) {
      this.#unwatch = env.services.watch(() => this.#pruneTransports());
    }
  }

  /** Closes and forgets the connection pools of origins no pool sends to now. */
  #pruneTransports(): void {
    const inUse = new Set<string>();
    for (const pool of this.#pools) for (const origin of pool.origins) inUse.add(origin);
    if (this.#mirror) { for (const origin of this.#mirror.origins) inUse.add(origin); }
    for (const [origin, t] of this.#transports) {
      // A health check's probe (to another port) makes its pool again when it next runs.
      if (inUse.has(origin)) continue;
      this.#transports.delete(origin);
      t.close();
    }
  }

  handle(ctx: Context): string | Promise<string> {
    let pool = this.#main;
    for (const candidate of this.#candidates) {
      if (candidate.matches!(ctx)) {
        pool = candidate;
        break;
      }
    }
    if (this.#mirror && this.#mirror.matches!(ctx) && this.#mirrorAdmits()) {
      const request = ctx.request;
      // Easegress mirrors such a body whole, having read it before the
      // pipeline; only one that must stream is replaced by a note.
      if (request.isStream && request.replayLimit >= 0) {
        return bufferBody(ctx).then((failed) => {
          if (failed === undefined) {
            this.#sendMirror(ctx);
            return this.#send(ctx, pool);
          }
          ctx.response ??= new HttpResponse(failed);
          return "clientError";
        });
      }
      this.#sendMirror(ctx);
    }
    return this.#send(ctx, pool);
  }

  /**
   * Sends to `pool` (which puts each attempt in a span when the request is
   * traced), keeps the fields of a
   * response an earlier filter made on the answer, then compresses it if
   * asked to.
   */
  #send(ctx: Context, pool: ServerPool): string | Promise<string> {
    const earlier = ctx.response;
    let result = pool.send(ctx, forwardedHeaders(ctx));
    if (earlier !== undefined) {
      result = typeof result === "string"
        ? withEarlierFields(ctx, earlier, result)
        : result.then((r) => withEarlierFields(ctx, earlier, r));
    }
    if (this.#compressMin === undefined) return result;
    if (typeof result === "string") return this.#compress(ctx, result);
    return result.then((r) => this.#compress(ctx, r));
  }

  /** Whether a copy may go to the mirror pool now; counts and reports those that may not. */
  #mirrorAdmits(): boolean {
    if (this.#mirrorsInFlight < MIRRORS_IN_FLIGHT_MAX) return true;
    this.#mirrorsSkipped++;
    const now = performance.now();
    if (now - this.#mirrorSkipLoggedAt >= MIRROR_SKIP_LOG_INTERVAL_MS) {
      this.#mirrorSkipLoggedAt = now;
      this.#env.log.warn(
        `mirror: ${this.#mirrorsSkipped} requests not mirrored: ${MIRRORS_IN_FLIGHT_MAX} copies wait on the mirror pool already (a timeout on it gives them up sooner)`,
      );
      this.#mirrorsSkipped = 0;
    }
    return false;
  }

  #sendMirror(ctx: Context): void {
    const mirrorCtx = mirrorContext(ctx);
    this.#mirrorsInFlight++;
    // The copy carries the X-Forwarded-* the real request gets, so the mirror sees what it sees.
    let sent: PoolResult | Promise<PoolResult>;
    try {
      sent = this.#mirror!.send(mirrorCtx, forwardedHeaders(ctx));
    } catch (e) {
      this.#mirrorsInFlight--;
      this.#env.log.debug(`mirror: ${(e as Error).message}`);
      return;
    }
    Promise.resolve(sent).then(() => {
      this.#mirrorsInFlight--;
      const body = mirrorCtx.response?.body;
      if (body instanceof ReadableStream) body.cancel().catch(() => {});
    }, (e) => {
      this.#mirrorsInFlight--;
      this.#env.log.debug(`mirror: ${(e as Error).message}`);
    });
  }

  /**
   * gzips a response not encoded yet that is at least `minLength` long or of
   * unknown length, neither a part (206) nor marked `no-transform`, when the
   * client takes gzip (see {@linkcode acceptsGzip}; a request without
   * Accept-Encoding takes it), its ETag made weak. A body already in memory is
   * compressed whole and keeps a Content-Length; a streamed one is compressed
   * as it is read. Such a response, compressed or not, says
   * `Vary: Accept-Encoding` (Easegress's `Vary: Content-Encoding` names no
   * request field, so caches could hand gzip to clients that refused it).
   * An answer to HEAD gets the fields the GET's would, without a length.
   */
  #compress(ctx: Context, result: string): string | Promise<string> {
    const response = ctx.response;
    const body = response?.body;
    if (!response || result !== "" || body === undefined) return result;
    // A HEAD answer has no body, but says what a GET would get (RFC 9110 section 9.3.2).
    if (body === null && (ctx.request.method !== "HEAD" || !hasContent(response.status))) {
      return result;
    }
    if (response.header("content-encoding")) return result;
    // A part's Content-Range counts the bytes as they are, and no-transform forbids changing them
    // (RFC 9110 section 14.4, RFC 9111 section 5.2.2.6): neither is compressed, as nginx does.
    if (response.status === 206) return result;
    const control = response.header("cache-control");
    if (control !== null && hasDirective(control, "no-transform")) return result;
    const length = body instanceof Uint8Array
      ? body.length
      : Number(response.header("content-length") ?? Infinity);
    if (length < this.#compressMin!) return result;
    const headers = response.headers;
    const vary = headers.get("vary");
    if (vary === null) headers.set("vary", "Accept-Encoding");
    else if (!varies(vary)) headers.append("vary", "Accept-Encoding");
    const accept = ctx.request.header("accept-encoding");
    if (accept !== null && !acceptsGzip(accept)) return result;
    headers.set("content-encoding", "gzip");
    // The gzip bytes are another representation: a strong ETag becomes weak, as nginx makes it,
    // so an If-Range with it cannot splice the plain bytes of a part onto gzip ones.
    const etag = headers.get("etag");
    if (etag !== null && !etag.startsWith("W/")) headers.set("etag", `W/${etag}`);
    if (body === null) {
      // The gzip length is not known without the body a GET would have.
      headers.delete("content-length");
      return result;
    }
    if (body instanceof ReadableStream) {
      headers.delete("content-length");
      response.body = gzipStream(body);
      return result;
    }
    return gzip(body).then((compressed) => {
      headers.set("content-length", String(compressed.length));
      response.body = compressed;
      return result;
    });
  }

  status(): unknown {
    const out: Record<string, unknown> = {};
    out.mainPool = poolStatus(this.#main);
    const candidates = this.#candidates.map(poolStatus);
    if (candidates.length) out.candidatePools = candidates;
    if (this.#mirror) out.mirrorPool = { stat: this.#mirror.stats.snapshot(true) };
    return out;
  }

  close(): void {
    this.#unwatch?.();
    for (const pool of this.#pools) pool.close();
    this.#mirror?.close();
    for (const t of this.#transports.values()) t.close();
    this.#transports.clear();
  }
}

/** `result`, after the answer that replaced `earlier` (if one did) took its fields. */
function withEarlierFields<R extends string>(ctx: Context, earlier: HttpResponse, result: R): R {
  const response = ctx.response;
  if (response !== undefined && response !== earlier) keepEarlierFields(response, earlier);
  return result;
}

/** A pool's status: its upstream statistics, and what its memoryCache has done. */
function poolStatus(pool: ServerPool): Record<string, unknown> {
  const status: Record<string, unknown> = { stat: pool.stats.snapshot(true) };
  if (pool.cache) status.memoryCache = pool.cache.counts();
  if (pool.spec.serviceName) status.servers = pool.serverURLs;
  if (pool.spec.loadBalance.healthCheck) status.unhealthyServers = pool.unhealthyServers;
  return status;
}

/**
 * The pool's Retry and CircuitBreaker, and its roundRobin turns; throws when
 * a named policy is missing or of another kind.
 */
function poolPolicies(pool: PoolSpec, env: FilterEnv, index: number): PoolPolicies {
  const policies: PoolPolicies = {};
  if (pool.retryPolicy) {
    policies.retry = createRetry(policyOf(env, pool.retryPolicy, "Retry", index));
  }
  if (pool.circuitBreakerPolicy) {
    const policy = policyOf(env, pool.circuitBreakerPolicy, "CircuitBreaker", index);
    // One breaker per pool node-wide: every worker isolate names its memory alike.
    const name = `breaker/${env.pipeline}/${env.name}/${index}/${JSON.stringify([pool, policy])}`;
    try {
      policies.circuitBreaker = createCircuitBreaker(
        policy,
        env.sharedRegions ? { shared: { regions: env.sharedRegions, name } } : {},
      );
    } catch (e) {
      if (!(e instanceof RegionsFullError)) throw e;
      // Named by the field, not by the memory's key for it (the whole pool and policy as JSON).
      throw new RangeError(
        `pools[${index}].circuitBreakerPolicy: no room for breaker "${pool.circuitBreakerPolicy}" in the node's shared memory: ${e.shortage}`,
        { cause: e },
      );
    }
  }
  if (pool.loadBalance.policy === "roundRobin" && env.sharedSlots) {
    // Named like the breaker: an update that keeps the pool keeps its place in the round.
    policies.turns = sharedTurns(
      env.sharedSlots,
      `roundrobin/${env.pipeline}/${env.name}/${index}/${JSON.stringify(pool.servers)}`,
    );
  }
  if (pool.loadBalance.healthCheck && env.sharedRegions) {
    policies.healthBoard = healthBoard(
      env,
      `${env.pipeline}/${env.name}/${index}/${JSON.stringify(pool)}`,
    );
  }
  return policies;
}

/** The board the node's copies of a pool share, or none (each copy checks) when memory is short. */
function healthBoard(env: FilterEnv, name: string): HealthBoard | undefined {
  try {
    return new HealthBoard(env.sharedRegions!, name);
  } catch (e) {
    env.log.warn(`health checks run in each data plane: ${(e as Error).message}`);
    return undefined;
  }
}

function policyOf(env: FilterEnv, name: string, kind: string, index: number): unknown {
  const policy = env.resilience(name);
  if (!policy || policy.kind !== kind) {
    const field = kind === "Retry" ? "retryPolicy" : "circuitBreakerPolicy";
    throw new TypeError(`pools[${index}].${field}: no ${kind} policy named "${name}"`);
  }
  return policy;
}

/**
 * The X-Forwarded-Proto, -Host and -For the request lacks, as the
 * WebSocketServer adds them: the scheme and Host it came with (before any
 * filter rewrote the Host), and the TCP peer's address. Never `realIP`,
 * which the client's own X-Real-IP or X-Forwarded-For can set. Those a
 * request carries (from its client, or from an HTTPServer's
 * `xForwardedFor`) go on unchanged, as in Easegress.
 */
function forwardedHeaders(ctx: Context): [string, string][] | undefined {
  const request = ctx.request;
  const out: [string, string][] = [];
  if (!request.header("x-forwarded-proto")) out.push(["x-forwarded-proto", request.scheme]);
  // The client's Host, not one a filter has rewritten the request to.
  const host = ctx.clientHost;
  if (!request.header("x-forwarded-host") && host) out.push(["x-forwarded-host", host]);
  if (!request.header("x-forwarded-for")) {
    const peer = hostOfAddr(ctx.remoteAddr);
    if (peer !== "") out.push(["x-forwarded-for", peer]);
  }
  return out.length ? out : undefined;
}

/** Whether a GET answered with `status` would carry content (not 1xx, 204 or 304). */
function hasContent(status: number): boolean {
  return status >= 200 && status !== 204 && status !== 304;
}

/** Whether a Vary value already covers Accept-Encoding (or everything, `*`). */
function varies(vary: string): boolean {
  const lower = vary.toLowerCase();
  return lower.includes("accept-encoding") || lower.trim() === "*";
}

// A mirror must not slow the real request down: only a body already in
// memory is copied; a streamed one is replaced by a note, as Easegress does.
const STREAM_NOTE = new TextEncoder().encode("mirror of a streamed body");

function mirrorContext(ctx: Context): Context {
  const request = ctx.request;
  const copy = new HttpRequest({
    method: request.method,
    path: request.path,
    query: request.query,
    scheme: request.scheme,
    host: request.host,
    proto: request.proto,
    headers: request.rawHeaders,
    body: request.bufferedBody ?? STREAM_NOTE,
  });
  return new Context(copy, { realIP: ctx.realIP, remoteAddr: ctx.remoteAddr });
}
