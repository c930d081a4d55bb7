/**
 * A server pool at run time: its servers with their connection pools, the
 * load balancer, the request matcher, and the send path that maps upstream
 * outcomes to statuses and results.
 *
 * @module
 */

import type { AbortWatch } from "../abort_watch.ts";
import {
  BodyTooLargeError,
  type Context,
  HttpResponse,
  MalformedBodyError,
  readAll,
} from "../context.ts";
import type { Logger } from "../filter.ts";
import { HttpStats } from "../http_stats.ts";
import { requestSize, responseSize } from "../message_size.ts";
import { parseDuration } from "../spec.ts";
import { millisecondsString } from "../template/goduration.ts";
import { AttemptDeadlines, type AttemptWatch } from "./attempt_deadlines.ts";
import { createPicker, localTurns, type Picker, type TurnCounter } from "./load_balancer.ts";
import { createRequestMatcher, type RequestMatcher } from "./request_matcher.ts";
import { ResponseCache } from "./response_cache.ts";
import { limitBodyStream } from "./response_body_limit.ts";
import { sendableTarget } from "./http1_request_head.ts";
import { type CircuitBreaker, REJECTED, type Retry } from "./resilience.ts";
import { type PoolSpec, sendsClientHost, type ServerSpec } from "./spec.ts";
import type { Transport, UpstreamRequest, UpstreamResponse } from "./transport.ts";
import { instanceURL, type ServiceDirectory, type ServiceInstance } from "../service_directory.ts";
import { UpstreamError } from "./upstream_error.ts";
import { HealthChecker, httpProbe } from "./health_check.ts";
import type { HealthBoard } from "./health_board.ts";
import { SessionSticker } from "./sticky_session.ts";
import { normalizeRulePath } from "../percent_encoding.ts";

/** Makes (or reuses) the transport of one origin such as "http://127.0.0.1:9095". */
export type TransportFactory = (origin: string) => Transport;

/** One server of a pool, parsed once. */
interface Server {
  /** The URL as the spec or registry gives it: the server's name for health and sessions. */
  readonly url: string;
  readonly weight: number;
  readonly origin: string;
  /** The Host header to send when the client's is not kept. */
  readonly host: string;
  /** Send the client's Host (url host is an IP address, or keepHost). */
  readonly keepClientHost: boolean;
  /** The url's path without its trailing "/", put before each request's ("" for none). */
  readonly pathPrefix: string;
  readonly transport: Transport;
}

/** Upstream errors are logged as warnings at most this often per pool (the rest at debug). */
const UNREACHABLE_LOG_INTERVAL_MS = 10_000;

/** Pool outcomes, as Proxy results. */
export type PoolResult =
  | ""
  | "internalError"
  | "serverError"
  | "timeout"
  | "clientError"
  | "failureCode"
  | "shortCircuited";

/** The resilience policies wrapped around a pool's sends. */
export interface PoolPolicies {
  /** Retries failed attempts (not for streamed request bodies). */
  retry?: Retry;
  /** Rejects sends while the pool's failure rate is too high. */
  circuitBreaker?: CircuitBreaker;
  /** Where roundRobin takes its turns (this pool's own counter when absent). */
  turns?: TurnCounter;
  /** Where the node's copies of the pool share one health checker's verdicts (see health_board.ts). */
  healthBoard?: HealthBoard;
}

const NONE: ReadonlySet<string> = new Set();
const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;

/** A pool of upstream servers. */
export class ServerPool {
  readonly spec: PoolSpec;
  readonly stats = new HttpStats();
  readonly matches: RequestMatcher | undefined;
  /** Every server of the pool. */
  #all: Server[] = [];
  /** The servers requests go to: the healthy ones. */
  #servers: Server[];
  #pick: Picker;
  /** Sends a session's requests to one server, when the pool has stickySession. */
  readonly #sticky: SessionSticker | undefined;
  /** Takes failing servers out, when the pool has healthCheck. */
  readonly #health: HealthChecker | undefined;
  /** The servers' URLs. */
  #serverURLs: string[] = [];
  /** The servers' URLs and weights: an unchanged registry listing costs nothing. */
  #serverListKey: string | undefined;
  /** Stops following the service registry, for a pool with `serviceName`. */
  readonly #unwatch: (() => void) | undefined;
  /** The running attempts' deadlines when the pool has a timeout. */
  readonly #deadlines: AttemptDeadlines | undefined;
  readonly #failureCodes: ReadonlySet<number> | undefined;
  readonly #bodyLimit: number;

  readonly #log: Logger;
  #unreachableLoggedAt = -Infinity;
  #unreachableUnlogged = 0;
  readonly #retry: Retry | undefined;
  readonly #breaker: CircuitBreaker | undefined;
  readonly #turns: TurnCounter;
  /** Whether any policy is set: the plain path checks only this. */
  readonly #guarded: boolean;
  /**
   * Whether each attempt is counted in the stats. A pool counts one entry
   * per request, as Easegress does: without policies an attempt is the
   * whole send; with them the send is counted once, by #sendGuarded.
   */
  readonly #statAttempts: boolean;
  /** The pool's memoryCache, when it has one. */
  readonly cache: ResponseCache | undefined;
  /** Easegress's name for the pool (`proxy#FILTER#main`), in the access log's tags. */
  readonly name: string;
  /** The name of this pool's spans when the request is traced: `spanName`, else the pool's. */
  readonly spanName: string;

  constructor(
    spec: PoolSpec,
    transports: TransportFactory,
    proxyBodyLimit: number,
    log: Logger,
    policies: PoolPolicies = {},
    name = "proxy",
    services?: ServiceDirectory,
  ) {
    this.spec = spec;
    this.name = name;
    this.spanName = spec.spanName ?? name;
    this.#log = log;
    this.#retry = policies.retry;
    this.#breaker = policies.circuitBreaker;
    this.#turns = policies.turns ?? localTurns();
    this.#guarded = !!(this.#retry || this.#breaker);
    this.#statAttempts = !this.#guarded;
    this.#servers = [];
    this.#pick = createPicker(spec.loadBalance, [], this.#turns);
    const lb = spec.loadBalance;
    this.#sticky = lb.stickySession ? new SessionSticker(lb.stickySession) : undefined;
    this.#health = lb.healthCheck
      ? new HealthChecker(
        lb.healthCheck,
        (unhealthy) => this.#useHealthy(unhealthy),
        httpProbe(lb.healthCheck, transports),
        policies.healthBoard,
        log,
      )
      : undefined;
    this.#useServers(spec.servers, transports);
    const registry = spec.serviceRegistry;
    const service = spec.serviceName;
    if (registry !== undefined && service !== undefined && services !== undefined) {
      const follow = () =>
        this.#useServers(
          registeredServers(services.instances(registry, service), spec.serverTags) ??
            spec.servers,
          transports,
        );
      follow();
      this.#unwatch = services.watch(follow);
    }
    this.matches = spec.filter ? createRequestMatcher(spec.filter) : undefined;
    const timeoutMs = spec.timeout ? parseDuration(spec.timeout) ?? 0 : 0;
    this.#deadlines = timeoutMs > 0 ? new AttemptDeadlines(timeoutMs) : undefined;
    this.#failureCodes = spec.failureCodes ? new Set(spec.failureCodes) : undefined;
    const limit = spec.serverMaxBodySize || proxyBodyLimit;
    this.#bodyLimit = limit === 0 ? DEFAULT_BODY_LIMIT : limit;
    this.cache = spec.memoryCache ? new ResponseCache(spec.memoryCache) : undefined;
  }

  /** Sends to `servers` from now on (requests in flight finish where they went). */
  #useServers(servers: readonly ServerSpec[], transports: TransportFactory): void {
    // A weight-only change (a registry instance reweighted) rebuilds the picker too.
    const key = servers.map((s) => `${s.url} ${s.weight ?? 0}`).join("\n");
    if (key === this.#serverListKey) return;
    this.#serverListKey = key;
    this.#serverURLs = servers.map((s) => s.url);
    this.#all = servers.map((s) => parseServer(s, transports));
    const health = this.#health;
    health?.setServers(this.#serverURLs);
    this.#useHealthy(health ? health.unhealthy() : NONE);
  }

  /** Sends to the servers not in `unhealthy` from now on. */
  #useHealthy(unhealthy: ReadonlySet<string>): void {
    const servers = unhealthy.size ? this.#all.filter((s) => !unhealthy.has(s.url)) : this.#all;
    this.#servers = servers;
    this.#pick = createPicker(this.spec.loadBalance, servers.map((s) => s.weight), this.#turns);
    this.#sticky?.update(servers);
  }

  /** The URLs of the servers failing their health checks now. */
  get unhealthyServers(): string[] {
    return this.#health ? [...this.#health.unhealthy()] : [];
  }

  /** The URLs of the servers requests go to now. */
  get serverURLs(): string[] {
    return this.#serverURLs;
  }

  /** The origins (`http://host:port`) of the servers requests go to now, healthy or not. */
  get origins(): string[] {
    return this.#all.map((s) => s.origin);
  }

  /** Stops following the service registry and checking health; gives up the breaker's state. */
  close(): void {
    this.#unwatch?.();
    this.#health?.close();
    this.#breaker?.close();
    this.#turns.close();
  }

  /**
   * Sends the active namespace's request to one server and stores the
   * response there. Returns "" or a failure result (a response is then set
   * too). With policies: CircuitBreaker(Retry(attempt)).
   */
  send(ctx: Context, extraHeaders?: [string, string][]): PoolResult | Promise<PoolResult> {
    if (this.cache !== undefined) return this.#sendCached(ctx, this.cache, extraHeaders);
    return this.#sendUpstream(ctx, extraHeaders);
  }

  /** Sends to a server, through the policies when there are any. */
  #sendUpstream(ctx: Context, extraHeaders?: [string, string][]): PoolResult | Promise<PoolResult> {
    if (this.#guarded) return this.#sendGuarded(ctx, extraHeaders);
    if (this.#deadlines !== undefined && this.#mustBuffer(ctx)) {
      return this.#bufferedAttempt(ctx, extraHeaders);
    }
    return this.#attempt(ctx, extraHeaders);
  }

  /**
   * Whether the request's body is still on its way from the client and must
   * be read whole before an attempt: to be sent again by a retry, or to keep
   * the client's upload out of the pool's `timeout`, which Easegress starts
   * once the server has read the body (a slow client's upload got 408, and
   * counted as the server's failure). A body that must stream
   * (`clientMaxBodySize: -1`) goes as it comes.
   */
  #mustBuffer(ctx: Context): boolean {
    const request = ctx.request;
    return request.replayLimit >= 0 && request.isStream;
  }

  /** One attempt once the client's body is read (see {@linkcode #mustBuffer}). */
  async #bufferedAttempt(ctx: Context, extraHeaders?: [string, string][]): Promise<PoolResult> {
    const failed = await bufferBody(ctx);
    if (failed !== undefined) return this.#fail(ctx, failed, "clientError", performance.now());
    return this.#attempt(ctx, extraHeaders);
  }

  /** A send through the pool's cache: a kept answer, or the upstream's, offered for keeping. */
  #sendCached(
    ctx: Context,
    cache: ResponseCache,
    extraHeaders?: [string, string][],
  ): PoolResult | Promise<PoolResult> {
    const key = cache.keyOf(ctx.request);
    if (key === undefined) return this.#sendUpstream(ctx, extraHeaders);
    const kept = cache.lookup(key, ctx.request);
    if (kept !== undefined) {
      ctx.response = kept;
      // A kept answer is counted too, as Easegress does (its lookup takes no time worth a clock read).
      const request = ctx.request;
      this.stats.record(
        kept.status,
        0,
        performance.now(),
        requestSize(request),
        responseSize(request, kept),
      );
      return "";
    }
    const offer = (result: PoolResult): PoolResult => {
      if (result === "" && ctx.response !== undefined) cache.offer(key, ctx.request, ctx.response);
      return result;
    };
    const result = this.#sendUpstream(ctx, extraHeaders);
    return typeof result === "string" ? offer(result) : result.then(offer);
  }

  /** A send through the policies, counted once in the stats however many attempts it made. */
  async #sendGuarded(ctx: Context, extraHeaders?: [string, string][]): Promise<PoolResult> {
    const start = performance.now();
    const result = await this.#runGuarded(ctx, extraHeaders);
    this.#count(ctx, ctx.response?.status ?? 503, start);
    return result;
  }

  async #runGuarded(ctx: Context, extraHeaders?: [string, string][]): Promise<PoolResult> {
    const request = ctx.request;
    if ((this.#retry !== undefined || this.#deadlines !== undefined) && this.#mustBuffer(ctx)) {
      // Easegress has read such a body whole before the pipeline, so its
      // retries send it again; only one that must stream goes once.
      const failed = await bufferBody(ctx);
      if (failed !== undefined) return this.#fail(ctx, failed, "clientError", performance.now());
    }
    const breaker = this.#breaker;
    let permit = 0;
    if (breaker) {
      permit = breaker.acquire();
      if (permit === REJECTED) {
        ctx.addTag("short circuited");
        return this.#fail(ctx, 503, "shortCircuited", performance.now());
      }
    }
    const start = performance.now();
    const retry = this.#retry;
    // A response an earlier filter made stays for the next attempt.
    const earlier = ctx.response;
    // A streamed body can be sent only once: no retry for it.
    const result = retry && !request.isStream
      ? await retry.run(
        () => this.#attempt(ctx, extraHeaders),
        () => discardResponse(ctx, earlier),
        // The client's watch, not ctx.signal, which makes an AbortController per request.
        ctx.abortWatch,
      ) as PoolResult
      : await this.#attempt(ctx, extraHeaders);
    if (breaker !== undefined) {
      const duration = performance.now() - start;
      // A client that left says nothing about the server.
      if (result === "clientError") breaker.abandon(permit, duration);
      else breaker.record(permit, result !== "", duration);
    }
    return result;
  }

  /**
   * One attempt, in a client span of its own when the request is traced: as
   * in Easegress, each retry shows in the trace and carries its own span id
   * upstream, and a cache hit or a short-circuited send, which reach no
   * server, make none.
   */
  #attempt(ctx: Context, extraHeaders?: [string, string][]): PoolResult | Promise<PoolResult> {
    const trace = ctx.trace;
    if (trace === undefined) return this.#try(ctx, extraHeaders);
    const span = trace.child(this.spanName, ctx.request.rawHeaders);
    // Extra headers replace the request's fields of their names (its own B3 ones).
    const extra = extraHeaders === undefined
      ? [...span.headers]
      : [...extraHeaders, ...span.headers];
    const done = (result: PoolResult): PoolResult => {
      span.finish(ctx.response?.status ?? 0, result || undefined);
      return result;
    };
    const failed = (e: unknown): never => {
      span.finish(0, String(e));
      throw e;
    };
    let result: PoolResult | Promise<PoolResult>;
    try {
      result = this.#try(ctx, extra);
    } catch (e) {
      return failed(e);
    }
    return typeof result === "string" ? done(result) : result.then(done, failed);
  }

  /** One try at a server: pick one, send, map the outcome. */
  #try(ctx: Context, extraHeaders?: [string, string][]): PoolResult | Promise<PoolResult> {
    const start = performance.now();
    const servers = this.#servers;
    if (!servers.length) return this.#fail(ctx, 503, "internalError", start);
    const request = ctx.request;
    const sticky = this.#sticky;
    const stuck = sticky === undefined ? -1 : sticky.pick(request, servers);
    const server = stuck >= 0
      ? servers[stuck]
      : servers.length === 1
      ? servers[0]
      : servers[this.#pick(ctx, servers.length)];
    let signal: AbortWatch = ctx.abortWatch;
    let timed: AttemptWatch | undefined;
    if (this.#deadlines !== undefined) signal = timed = this.#deadlines.start(signal, start);
    const upstream: UpstreamRequest = {
      method: request.method,
      // A filter may have put a space or non-ASCII into the path.
      target: sendableTarget(
        server.pathPrefix === "" ? request.url : server.pathPrefix + request.url,
      ),
      // A request without Host (HTTP/1.0) gets the server's.
      host: server.keepClientHost && request.host ? request.host : server.host,
      headers: request.rawHeaders,
      extraHeaders,
      body: request.body,
      signal,
    };
    let sent: Promise<UpstreamResponse>;
    try {
      sent = server.transport.request(upstream);
    } catch (e) {
      return this.#failed(ctx, e, start, timed);
    }
    return sent.then(
      (response) => this.#received(ctx, server, response, start, timed),
      (e) => this.#failed(ctx, e, start, timed),
    );
  }

  #received(
    ctx: Context,
    server: Server,
    upstream: UpstreamResponse,
    start: number,
    timed: AttemptWatch | undefined,
  ): PoolResult | Promise<PoolResult> {
    timed?.settle();
    // A small body that came with the head is handed over as bytes: cheaper
    // for the server to send than a stream.
    let body = upstream.bodyBytes ?? upstream.body;
    const limit = this.#bodyLimit;
    // An answer without a body (HEAD, 204, 304) has nothing to limit: a
    // HEAD's Content-Length goes on as it came.
    if (limit >= 0 && body !== null) {
      const length = upstream.headers.get("content-length");
      // Judged before answering: on the Content-Length, else on the bytes
      // that came with the head; a stream of unknown length is cut later.
      const known = length !== null
        ? Number(length)
        : body instanceof Uint8Array
        ? body.length
        : upstream.received ?? 0;
      if (known > limit) {
        if (body instanceof ReadableStream) body.cancel().catch(() => {});
        this.#log.warn(`${server.url} answered with a body over serverMaxBodySize ${limit} bytes`);
        return this.#fail(ctx, 500, "internalError", start);
      }
      if (length === null && body instanceof ReadableStream) {
        body = limitBodyStream(body, limit, server.url, () => {
          ctx.addTag(`response body over ${limit} bytes`);
        });
      } else if ((timed !== undefined || this.#guarded) && body instanceof ReadableStream) {
        return this.#receivedWhole(ctx, server, upstream, body, start, timed);
      }
    }
    return this.#answer(ctx, server, upstream, body, start);
  }

  /**
   * An answer of known length read whole, as Easegress reads it, before the
   * client gets it, when the pool has a timeout or policies. Within the
   * timeout: streamed, the time a slow client took to read it counted
   * against the timeout, which cut it short. As part of the attempt the
   * policies judge: streamed, a body that broke off reached the client cut
   * short, neither retried nor counted as a failure by the breaker.
   */
  async #receivedWhole(
    ctx: Context,
    server: Server,
    upstream: UpstreamResponse,
    body: ReadableStream<Uint8Array>,
    start: number,
    timed: AttemptWatch | undefined,
  ): Promise<PoolResult> {
    let bytes: Uint8Array;
    try {
      bytes = await readAll(body);
    } catch (e) {
      // The head came: a body that broke off is a read error (500, as
      // Easegress's FetchPayload gives), not a server out of reach (503).
      const readError = e instanceof UpstreamError && e.kind !== "aborted"
        ? new UpstreamError("body", e.message, { cause: e })
        : e;
      return this.#failed(ctx, readError, start, timed);
    }
    return this.#answer(ctx, server, upstream, bytes, start);
  }

  /** Makes the upstream's answer the response, and maps its status to the pool's result. */
  #answer(
    ctx: Context,
    server: Server,
    upstream: UpstreamResponse,
    body: Uint8Array | ReadableStream<Uint8Array> | null,
    start: number,
  ): PoolResult {
    const response = ctx.response = new HttpResponse(upstream.status, upstream.headers, body);
    if (this.#bodyLimit < 0 && body instanceof ReadableStream) response.unlimitedStream = true;
    this.#sticky?.stamp(server, response);
    if (this.#statAttempts) this.#count(ctx, upstream.status, start);
    if (this.#failureCodes?.has(upstream.status)) return "failureCode";
    return "";
  }

  #failed(ctx: Context, error: unknown, start: number, timed?: AttemptWatch): PoolResult {
    timed?.settle();
    if (timed?.timedOut) return this.#fail(ctx, 408, "timeout", start);
    if (ctx.abortWatch.aborted) return this.#fail(ctx, 499, "clientError", start);
    // The client's body broke its framing mid-upload: its fault, as bufferBody answers it.
    if (error instanceof UpstreamError && error.cause instanceof MalformedBodyError) {
      return this.#fail(ctx, 400, "clientError", start);
    }
    // A body that failed after its head is a read error: 500, as Easegress's FetchPayload gives.
    if (error instanceof UpstreamError && error.kind !== "aborted" && error.kind !== "body") {
      this.#reportUnreachable(error);
      return this.#fail(ctx, 503, "serverError", start);
    }
    this.#log.warn(
      `cannot proxy ${ctx.request.method} ${ctx.request.path}: ${
        (error as Error)?.message ?? error
      }`,
    );
    return this.#fail(ctx, 500, "internalError", start);
  }

  /**
   * Logs a server that cannot be reached or answered badly: a warning at most
   * once per {@linkcode UNREACHABLE_LOG_INTERVAL_MS} with how many more came
   * since, so an operator learns why requests get 503 (a refused connection,
   * a certificate the runtime does not trust) without a line per request.
   */
  #reportUnreachable(error: UpstreamError): void {
    const now = performance.now();
    if (now - this.#unreachableLoggedAt < UNREACHABLE_LOG_INTERVAL_MS) {
      this.#unreachableUnlogged++;
      this.#log.debug(`upstream ${error.kind} error: ${error.message}`);
      return;
    }
    const more = this.#unreachableUnlogged;
    this.#unreachableLoggedAt = now;
    this.#unreachableUnlogged = 0;
    this.#log.warn(
      `upstream ${error.kind} error: ${error.message}${
        more ? ` (${more} more upstream errors since the last report)` : ""
      }`,
    );
  }

  #fail(ctx: Context, status: number, result: PoolResult, start: number): PoolResult {
    // A response an earlier filter made takes the failure status, as in Easegress.
    const response = ctx.response;
    if (response === undefined) ctx.response = new HttpResponse(status);
    else response.status = status;
    if (this.#statAttempts) this.#count(ctx, status, start);
    return result;
  }

  /**
   * Counts a request sent at `start` in the stats (with the answer in
   * `ctx.response`, if any), and its time in the tags when they are kept.
   */
  #count(ctx: Context, status: number, start: number): void {
    const now = performance.now();
    const request = ctx.request;
    const response = ctx.response;
    this.stats.record(
      status,
      now - start,
      now,
      requestSize(request),
      response === undefined ? 0 : responseSize(request, response),
    );
    if (ctx.timed) ctx.addTag(`${this.name}#duration: ${millisecondsString(now - start)}`);
  }
}

/**
 * Reads the request's streamed body whole (up to its replay limit), so it
 * can be sent more than once; on failure, the status to answer: 413 past
 * the limit, 499 when the client left, else 400.
 */
export async function bufferBody(ctx: Context): Promise<number | undefined> {
  const request = ctx.request;
  try {
    await request.bytes(request.replayLimit);
    return undefined;
  } catch (e) {
    if (e instanceof BodyTooLargeError) return 413;
    return ctx.abortWatch.aborted ? 499 : 400;
  }
}

/**
 * Drops a failed attempt's response (freeing its connection) before the next
 * attempt, putting back the response an earlier filter made, if any.
 */
function discardResponse(ctx: Context, earlier: HttpResponse | undefined): void {
  const response = ctx.response;
  if (response === earlier) return;
  const body = response?.body;
  if (body instanceof ReadableStream) body.cancel().catch(() => {});
  ctx.response = earlier;
}

/**
 * The pool servers for a registry's `instances`: those with a tag in
 * `serverTags` when it is set, all otherwise (Easegress v2.0 selects none
 * then, so its pools never used their registry without serverTags);
 * undefined when none is left, for the static servers to be used.
 */
export function registeredServers(
  instances: readonly ServiceInstance[],
  serverTags: readonly string[] | undefined,
): ServerSpec[] | undefined {
  const chosen = serverTags?.length
    ? instances.filter((i) => i.tags.some((tag) => serverTags.includes(tag)))
    : instances;
  if (chosen.length === 0) return undefined;
  return chosen.map((i) => ({
    url: instanceURL(i),
    tags: i.tags,
    ...(i.weight > 0 ? { weight: i.weight } : {}),
  }));
}

function parseServer(spec: ServerSpec, transports: TransportFactory): Server {
  const url = new URL(spec.url);
  const origin = `${url.protocol}//${url.host}`;
  return {
    url: spec.url,
    weight: spec.weight ?? 0,
    origin,
    host: url.host,
    keepClientHost: sendsClientHost(spec, url.hostname),
    // Easegress sends `url + path`: a server at http://host/api gets /api/users
    // for /users (without the double slash a trailing "/" would give), the
    // whole escaped as Go's URL writes it (http://host/a|b sends /a%7Cb/users).
    pathPrefix: normalizeRulePath(url.pathname).replace(/\/+$/, ""),
    transport: transports(origin),
  };
}
