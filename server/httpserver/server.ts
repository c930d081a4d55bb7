/**
 * The HTTPServer object: a listener (HTTP/1.1, HTTP/2 by ALPN or h2c) whose
 * requests are routed by the compiled mux to pipelines. Rule changes swap the
 * mux in place; listener changes start a new listener, then drain the old one.
 *
 * @module
 */

import {
  BodyTooLargeError,
  Context,
  type HttpRequest,
  HttpResponse,
} from "../../filters/context.ts";
import type { Logger } from "../../filters/filter.ts";
import type { BufferedLineWriter } from "../buffered_line_writer.ts";
import { firstFieldValue } from "../../filters/header_fields.ts";
import { HttpStats, mergedElsewhere } from "../../filters/http_stats.ts";
import { setSniffedContentType } from "../../filters/content_sniff.ts";
import { isBodilessStatus, isFinalStatus } from "../../filters/status_text.ts";
import { ConnectionUpgrade } from "../../filters/connection_upgrade.ts";
import { parseContentLength } from "../../filters/proxy/http1_parser.ts";
import {
  goProto,
  requestBodySize,
  requestSize,
  responseBodySize,
  responseHeadSize,
} from "../../filters/message_size.ts";
import type { PeerClient } from "./client.ts";
import { MethodNotAllowed, Mux, type Route } from "./mux.ts";
import { normalizeEscapes } from "../../filters/percent_encoding.ts";
import { type HTTPServerSpec, limitsChanged, listenerChanged } from "./spec.ts";
import { certPairs, type Http1ServerKind, type Listener, startListener } from "./listener.ts";
import { ListenRetry } from "../listen_retry.ts";
import { certificateValidity, type Validity, validityProblem } from "./cert_validity.ts";
import { ServerSpan, Tracer } from "../tracing/tracer.ts";
import { UrlClusterAnalyzer } from "./url_cluster.ts";
import { CHALLENGE_PATH } from "../autocert/state.ts";
import { type ConnectionQuota, connectionQuota } from "./connection_quota.ts";
import { type Http3Presence, http3Presence } from "./http3_presence.ts";
import type { SharedRegions } from "../../filters/shared_regions.ts";

/** What routes a request to a pipeline. */
export interface PipelineHandler {
  handle(ctx: Context): string | Promise<string>;
  /** The pipeline's `data`, which its GlobalFilter's stages see too. */
  readonly data?: Record<string, unknown>;
}

/** What runs around a request's pipeline: a GlobalFilter. */
export interface GlobalFilterHandler {
  handle(ctx: Context, pipeline: PipelineHandler): string | Promise<string>;
}

/** What an HTTPServer needs from the node. */
export interface HTTPServerEnv {
  /** The running pipeline called `name`, or undefined. */
  pipeline(name: string): PipelineHandler | undefined;
  /** The running GlobalFilter called `name`, or undefined. */
  globalFilter?(name: string): GlobalFilterHandler | undefined;
  log: Logger;
  /** Access log lines go here, when enabled. */
  accessLog?: BufferedLineWriter;
  /** Share ports with other processes (several nodes or workers on one host). */
  reusePort?: boolean;
  /** Serve HTTP/3 for specs that ask for it (one isolate per port can). @default {true} */
  quic?: boolean;
  /** Data planes sharing the port. @default {1} */
  planes?: number;
  /** Memory the node's data planes share: `maxConnections` is counted there, node-wide. */
  sharedRegions?: SharedRegions;
  /** What serves plain HTTP/1.1. @default {"builtin"} */
  http1Server?: Http1ServerKind;
  /** ACME HTTP-01 answers by token (the AutoCertManager's), answered before routing. */
  acmeChallenges?: ReadonlyMap<string, string>;
}

const DRAIN_MS = 30_000;
/** How often a route whose pipeline does not run is logged again. */
const MISSING_LOG_MS = 60_000;
/** Paths in a status's `topN`. */
const TOP_N = 10;

/** A running HTTPServer object. */
export class HTTPServer {
  #spec: HTTPServerSpec;
  #mux: Mux;
  #env: HTTPServerEnv;
  #listener: Listener | undefined;
  readonly #listening: ListenRetry<Listener>;
  #stats = new HttpStats();
  /** Statistics by clustered request path, for `topN`. */
  #pathStats = new Map<string, HttpStats>();
  readonly #paths = new UrlClusterAnalyzer();
  #connectionClose: boolean;
  /** `Alt-Svc` value advertising HTTP/3 on TCP responses, when enabled. */
  #altSvc: string | undefined;
  /**
   * The hosts HTTP/3 serves, when it is not all of them: QUIC here takes one
   * certificate (the first), so hosts the others are for are not sent there.
   */
  #quicCovers: ((host: string) => boolean) | undefined;
  /** Spans of routed requests, when the spec has `tracing`. */
  #tracer: Tracer | undefined;
  /** Connections held against `maxConnections`, by every listener of this server in the node. */
  readonly #quota: ConnectionQuota;
  /**
   * Whether the node serves this server's HTTP/3, which `Alt-Svc` advertises
   * only then; made once a spec asks for HTTP/3, so other servers hold no
   * shared memory for it.
   */
  #http3: Http3Presence | undefined;
  /** Each certificate served, named by its spec field, with when it is valid. */
  #certificates: { field: string; validity: Validity | undefined }[] = [];
  /** When a route's missing pipeline was last logged, by name (see #noPipeline). */
  readonly #missingLogged = new Map<string, number>();

  constructor(spec: HTTPServerSpec, env: HTTPServerEnv) {
    this.#spec = spec;
    this.#env = env;
    this.#readCertificates(spec);
    this.#quota = connectionQuota(spec.name, env.sharedRegions, (m) => env.log.warn(m));
    this.#mux = new Mux(spec);
    this.#connectionClose = !spec.keepAlive;
    this.#setAltSvc(spec);
    this.#tracer = spec.tracing ? new Tracer(spec.tracing, env.log) : undefined;
    this.#listening = new ListenRetry(
      () =>
        startListener(this.#spec, this.#handle, {
          reusePort: env.reusePort,
          quic: env.quic,
          planes: env.planes,
          quota: this.#quota,
          http1Server: env.http1Server,
          onError: (e) => env.log.error(`server ${this.#spec.name}: ${e}`),
          onHttp3: (serving) => this.#http3?.set(serving),
        }),
      (listener) => this.#listener = listener,
      (listener) => listener.shutdown(0),
      (message) => env.log.error(`server ${this.#spec.name}: ${message}`),
      () => this.#spec.port,
    );
    this.#listening.start();
  }

  /** The spec now serving. */
  get spec(): HTTPServerSpec {
    return this.#spec;
  }

  /**
   * Applies a new spec. Routing and limits change in place, without touching
   * connections; a port or TLS change (and limits the listener cannot
   * change) starts a new listener and drains the old.
   */
  update(spec: HTTPServerSpec): void {
    const old = this.#spec;
    this.#spec = spec;
    if (listenerChanged(old, spec)) this.#readCertificates(spec);
    this.#mux = new Mux(spec);
    this.#connectionClose = !spec.keepAlive;
    this.#setAltSvc(spec);
    if (JSON.stringify(old.tracing) !== JSON.stringify(spec.tracing)) {
      // Requests in flight finish their spans on the old tracer, which sends what it has.
      this.#tracer?.close();
      this.#tracer = spec.tracing ? new Tracer(spec.tracing, this.#env.log) : undefined;
    }
    const limits = limitsChanged(old, spec);
    // In place where the listener can (Easegress changes maxConnections so):
    // a restart would drop requests of busy connections.
    const inPlace = limits && !listenerChanged(old, spec) && this.#listener?.setLimits?.(spec);
    if (!inPlace && (limits || listenerChanged(old, spec))) {
      const previous = this.#listener;
      this.#listener = undefined;
      // Release the old port first when it is the same one and not shared.
      if (previous && spec.port === old.port && !this.#env.reusePort) {
        // The old connections drain while the new listener takes new ones.
        previous.releasePort(DRAIN_MS).finally(() => this.#listening.start());
        previous.shutdown(DRAIN_MS);
      } else {
        this.#listening.start();
        previous?.shutdown(DRAIN_MS);
      }
    }
  }

  /**
   * Notes when each certificate of `spec` is valid, and warns of one that is
   * not: it is served all the same, as Easegress serves it, but clients
   * refuse it, so the status's health says so as long as it lasts.
   */
  #readCertificates(spec: HTTPServerSpec): void {
    let certificates: { field: string; validity: Validity | undefined }[] = [];
    try {
      if (spec.https) {
        certificates = certPairs(spec).map(({ name, cert }) => ({
          field: name === "certBase64"
            ? name
            : name.startsWith("autocert:")
            ? `the AutoCertManager's certificate for ${name.slice("autocert:".length)}`
            : `certs.${name}`,
          validity: certificateValidity(cert),
        }));
      }
    } catch { /* unreadable: the listener says why */ }
    this.#certificates = certificates;
    const problem = validityProblem(certificates, Date.now());
    if (problem) this.#env.log.warn(`server ${spec.name}: ${problem}`);
  }

  #setAltSvc(spec: HTTPServerSpec): void {
    this.#altSvc = altSvcOf(spec);
    if (this.#altSvc !== undefined && this.#http3 === undefined) {
      const env = this.#env;
      this.#http3 = http3Presence(spec.name, env.sharedRegions, (m) => env.log.warn(m));
    }
    this.#quicCovers = undefined;
    const pairs = this.#altSvc ? certPairs(spec) : [];
    if (pairs.length < 2) return;
    // Advertised once the names are read (node:crypto is loaded on demand, see the listener).
    const altSvc = this.#altSvc;
    this.#altSvc = undefined;
    import("./cert_picker.ts").then(({ certificateCovers }) => {
      if (this.#spec !== spec) return;
      this.#quicCovers = certificateCovers(pairs[0].cert);
      this.#altSvc = altSvc;
    });
  }

  /**
   * Stops accepting and lets the port go; requests in flight are served on
   * until {@linkcode close} has drained them.
   */
  async releasePort(): Promise<void> {
    this.#listening.close();
    await this.#listener?.releasePort(DRAIN_MS);
  }

  /** Stops accepting, lets in-flight requests finish (bounded), then closes. */
  async close(): Promise<void> {
    this.#listening.close();
    await this.#listener?.shutdown(DRAIN_MS);
    this.#listener = undefined;
    this.#quota.close();
    this.#http3?.close();
    await this.#tracer?.close();
  }

  /** Requests answered so far. */
  get requestCount(): number {
    return this.#stats.count;
  }

  /** The status document of `object status get`. */
  status(): Record<string, unknown> {
    // Every path's window restarts, as Easegress reads them all. A worker
    // reports every path: ten of each would lose the counts of a path that
    // is busy over the workers together but not among one worker's ten.
    const all = [...this.#pathStats].map(([path, s]) => ({ path, ...s.snapshot(true) }))
      .sort((a, b) => b.count - a.count);
    const topN = mergedElsewhere() ? all : all.slice(0, TOP_N);
    return {
      name: this.#spec.name,
      // A listener that serves without HTTP/3 is up, and unwell.
      health: this.#listening.error || (this.#listener?.degraded ?? "") ||
        validityProblem(this.#certificates, Date.now()),
      state: this.#listening.state,
      error: this.#listening.error,
      ...this.#stats.snapshot(true),
      topN,
    };
  }

  #handle = (request: HttpRequest, client: PeerClient): Promise<HttpResponse> | HttpResponse => {
    const start = performance.now();
    const mux = this.#mux;
    const headers = request.rawHeaders;
    // The access log shows the request line as received, before the server or filters change it.
    const requestLine = this.#env.accessLog
      ? `${request.method} ${request.requestURI ?? request.url} ${goProto(request.proto)}`
      : "";
    let path = request.path;
    // Routed and forwarded in one spelling of its escapes (see filters/percent_encoding.ts).
    let badEscape = false;
    const normalized = normalizeEscapes(path);
    if (normalized === null) badEscape = true;
    else if (normalized !== path) {
      request.keepRequestURI();
      request.path = path = normalized;
    }
    // Sized as received, before filters change it (Easegress's reqSize).
    const received = requestSize(request);
    if (badEscape) return this.#finish(request, requestLine, received, 400, start, client);
    // "OPTIONS *" asks about the server, not a resource: Go's server answers it
    // (200, empty) before the handler, so Easegress's rules never see it.
    if (path === "*") return this.#finish(request, requestLine, received, 200, start, client);
    const challenges = this.#env.acmeChallenges;
    if (challenges !== undefined && challenges.size > 0 && path.startsWith(CHALLENGE_PATH)) {
      const answer = challenges.get(path.slice(CHALLENGE_PATH.length));
      if (answer !== undefined) {
        const response = new HttpResponse(200, { "content-type": "text/plain" }, answer);
        this.#record(received, response, responseBodySize(request, response), start, undefined);
        return response;
      }
    }
    // Counted under the path as it came, before a rewrite or filter changes it.
    const top = this.#pathStatsOf(path);
    const ip = mux.usesIP ? client.realIP : "";
    const route = mux.route(
      request.host,
      request.method,
      path,
      (n) => firstFieldValue(headers, n),
      ip,
      request.query,
    );
    if (typeof route === "number") {
      return this.#finish(request, requestLine, received, route, start, client, top);
    }
    if (route instanceof MethodNotAllowed) {
      return this.#finish(request, requestLine, received, 405, start, client, top, route.allow);
    }
    const pipeline = this.#env.pipeline(route.backend);
    if (!pipeline) {
      this.#noPipeline(route.backend, request, start);
      return this.#finish(request, requestLine, received, 503, start, client, top);
    }

    // Started before the rewrite: the span tells the path the client asked for.
    const trace = this.#tracer?.start(
      request,
      `${request.method} ${route.pattern}`,
      client.realIP,
      start,
    );
    const rewritten = route.rewrite(path);
    if (rewritten !== path) {
      request.keepRequestURI();
      request.path = rewritten;
    }
    if (this.#spec.xForwardedFor) addForwardedFor(request, client.realIP);
    const ctx = new Context(request, client);
    if (trace !== undefined) ctx.trace = trace;
    // Filters time themselves for the access log only (a clock read per filter).
    if (this.#env.accessLog) ctx.timed = true;
    const limit = route.maxBodySize;
    request.replayLimit = limit;
    // Whatever the method: a GET or HEAD body is forwarded too, so it is held
    // to the limit as Easegress holds every body.
    if (limit >= 0) {
      const length = headers.get("content-length");
      if (length !== null) {
        // A list of equal values ("20, 20": the field sent twice) is one length.
        if (parseContentLength(length) > limit) {
          return this.#finish(request, requestLine, received, 413, start, client, top);
        }
      } else if (headers.has("transfer-encoding") || !isHttp1(request.proto)) {
        // A body of unknown length: chunked, or HTTP/2 and HTTP/3 data without a
        // Content-Length, which these versions need not send. One that came
        // whole with its head (or none) is judged at once.
        const held = request.bufferedBody;
        if (held !== undefined) {
          if (held.byteLength > limit) {
            return this.#finish(request, requestLine, received, 413, start, client, top);
          }
          return this.#run(pipeline, ctx, requestLine, received, start, route, top);
        }
        return request.bytes(limit).then(
          () => this.#run(pipeline, ctx, requestLine, received, start, route, top),
          (e) =>
            this.#finish(
              request,
              requestLine,
              received,
              e instanceof BodyTooLargeError ? 413 : 400,
              start,
              client,
              top,
            ),
        );
      }
    }
    return this.#run(pipeline, ctx, requestLine, received, start, route, top);
  };

  #run(
    pipeline: PipelineHandler,
    ctx: Context,
    requestLine: string,
    received: number,
    start: number,
    route: Route,
    top: HttpStats | undefined,
  ): Promise<HttpResponse> | HttpResponse {
    const request = ctx.request;
    // Any body read before the pipeline (chunked, under a limit) is in by now; one
    // still to stream in has no size yet, and is logged as the pipeline left it.
    const rx = requestBodySize(request);
    ctx.receivedBody = rx > 0 || request.heldBodyLength >= 0 || !mayStreamIn(request) ? rx : -1;
    let result: string | Promise<string>;
    try {
      const name = this.#spec.globalFilter;
      // A GlobalFilter named but not (yet) running leaves the pipeline to run alone, as in Easegress.
      const around = name === undefined ? undefined : this.#env.globalFilter?.(name);
      result = around === undefined ? pipeline.handle(ctx) : around.handle(ctx, pipeline);
    } catch (e) {
      this.#env.log.error(`pipeline ${route.backend}: ${(e as Error).stack ?? e}`);
      return this.#respond(ctx, request, requestLine, received, start, top);
    }
    if (typeof result === "string") {
      return this.#respond(ctx, request, requestLine, received, start, top);
    }
    return result.then(
      () => this.#respond(ctx, request, requestLine, received, start, top),
      (e) => {
        this.#env.log.error(`pipeline ${route.backend}: ${(e as Error).stack ?? e}`);
        return this.#respond(ctx, request, requestLine, received, start, top);
      },
    );
  }

  #respond(
    ctx: Context,
    request: HttpRequest,
    requestLine: string,
    received: number,
    start: number,
    top: HttpStats | undefined,
  ): HttpResponse {
    ctx.useNamespace("DEFAULT");
    const response = ctx.response;
    if (!response) {
      if (ctx.trace instanceof ServerSpan) ctx.trace.finish(503);
      return this.#finish(request, requestLine, received, 503, start, ctx, top);
    }
    // An upgrade's 101 is the HTTP/1.1 connection's to act on (see ConnectionUpgrade).
    if (!isFinalStatus(response.status) && !(response instanceof ConnectionUpgrade)) {
      const status = response.status;
      if (Number.isInteger(status) && status >= 100 && status < 200 && status !== 101) {
        // A 1xx is interim, never an answer: sent as the final one, it left the
        // client taking the next request's answer for this one's. Go's server
        // follows a 1xx a handler sets with a 200; so does this one. (A 101
        // without the upgrade it announces is no answer either: the 500 below.)
        response.status = 200;
      } else {
        // A plugin or WebAssembly module set it: written as is, no client could read the answer.
        this.#env.log.error(
          `${request.method} ${request.path}: the pipeline answered status ${status}, not a final HTTP status (200-999): answering 500`,
        );
        if (ctx.trace instanceof ServerSpan) ctx.trace.finish(500);
        return this.#finish(request, requestLine, received, 500, start, ctx, top);
      }
    }
    setSniffedContentType(response);
    if (this.#connectionClose) response.headers.set("connection", "close");
    if (
      this.#altSvc && request.proto !== "HTTP/3" && this.#http3!.serving &&
      (this.#quicCovers === undefined || this.#quicCovers(request.host))
    ) {
      response.headers.set("alt-svc", this.#altSvc);
    }
    const sentBody = responseBodySize(request, response);
    if (
      response.heldBodyLength < 0 && request.method !== "HEAD" && response.body !== null &&
      !isBodilessStatus(response.status)
    ) {
      // A streamed body is timed to its end, as Easegress records an answer once it is sent,
      // and logged with the bytes that went, as Easegress counts what it copied: a stream of
      // unknown length, or one cut short, has no length that tells.
      response.onSent = (written) =>
        this.#answered(
          ctx,
          request,
          requestLine,
          received,
          start,
          top,
          response,
          sentBody,
          written,
        );
    } else {
      this.#answered(ctx, request, requestLine, received, start, top, response, sentBody);
    }
    return response;
  }

  /**
   * Counts `response` in the statistics, logs it (see #record and #log) and
   * ends the request's span, once it has gone: a streamed answer's span
   * lasts to its last byte, as Easegress ends it after sending. The log's tx
   * is `written`, the body bytes a writer counted, when known.
   */
  #answered(
    ctx: Context,
    request: HttpRequest,
    requestLine: string,
    received: number,
    start: number,
    top: HttpStats | undefined,
    response: HttpResponse,
    sentBody: number,
    written = -1,
  ): void {
    const now = this.#record(received, response, sentBody, start, top);
    if (ctx.trace instanceof ServerSpan) ctx.trace.finish(response.status);
    if (this.#env.accessLog) {
      const tx = written >= 0 ? written : sentBody;
      this.#log(request, requestLine, now - start, ctx, ctx.tags, response.status, tx);
    }
  }

  #finish(
    request: HttpRequest,
    requestLine: string,
    received: number,
    status: number,
    start: number,
    client: Client,
    top?: HttpStats,
    allow?: string,
  ): HttpResponse {
    const response = new HttpResponse(
      status,
      this.#connectionClose ? CONNECTION_CLOSE : undefined,
    );
    if (allow !== undefined) response.headers.set("allow", allow);
    // An answer without a body.
    const now = this.#record(received, response, 0, start, top);
    if (this.#env.accessLog) {
      this.#log(request, requestLine, now - start, client, [], status, 0);
    }
    return response;
  }

  /**
   * Logs that a route's pipeline does not run, as Easegress logs each such
   * 503: neither the answer (empty) nor the access log says why. Once a
   * minute per pipeline, so a busy route cannot flood the log.
   */
  #noPipeline(backend: string, request: HttpRequest, now: number): void {
    const last = this.#missingLogged.get(backend);
    if (last !== undefined && now - last < MISSING_LOG_MS) return;
    this.#missingLogged.set(backend, now);
    this.#env.log.error(
      `server ${this.#spec.name}: backend(Pipeline) "${backend}" for [${request.method} ${
        request.requestURI ?? request.url
      }] not found: answering 503`,
    );
  }

  /**
   * Counts an answer in the statistics: its request was `received` bytes
   * (see requestSize), its body `sentBody` (see responseBodySize), and in
   * `top`, its path's. Returns the time it was answered (`performance.now()`).
   */
  #record(
    received: number,
    response: HttpResponse,
    sentBody: number,
    start: number,
    top: HttpStats | undefined,
  ): number {
    const now = performance.now();
    const ms = now - start;
    const status = response.status;
    const sent = responseHeadSize(response) + sentBody;
    this.#stats.record(status, ms, now, received, sent);
    top?.record(status, ms, now, received, sent);
    return now;
  }

  /**
   * The statistics of `path`'s pattern (see UrlClusterAnalyzer), which
   * Easegress's `topN` keeps for every request, routed or not; undefined
   * once 1000 patterns are counted.
   */
  #pathStatsOf(path: string): HttpStats | undefined {
    const pattern = this.#paths.pattern(path);
    let stats = this.#pathStats.get(pattern);
    if (stats === undefined && this.#pathStats.size < 1000) {
      stats = new HttpStats();
      this.#pathStats.set(pattern, stats);
    }
    return stats;
  }

  /**
   * Writes the access log line, piece by piece (see BufferedLineWriter), in
   * Easegress's format: `[start] [remoteAddr realIP method URI proto status]
   * [duration rx:<request body>B tx:<response body>B] [tags]`.
   */
  #log(
    request: HttpRequest,
    requestLine: string,
    ms: number,
    client: Client,
    tags: readonly string[],
    status: number,
    sentBody: number,
  ): void {
    const line = this.#env.accessLog!;
    // As the client sent it: filters may have replaced the body since.
    const noted = client.receivedBody ?? -1;
    // Stamped with when the request came in, as Easegress's `[start]`.
    line.text("[").text(timestamp(Math.round(Date.now() - ms))).text("] [").text(client.remoteAddr)
      .text(" ")
      .text(client.realIP).text(" ").text(requestLine).text(" ").int(status)
      .text("] [").duration(ms).text(" rx:").int(noted >= 0 ? noted : requestBodySize(request))
      .text("B tx:").int(sentBody).text("B] [");
    for (let i = 0; i < tags.length; i++) {
      if (i > 0) line.text(" | ");
      // Tags may quote what a remote service or client sent: one line per request, whatever it held.
      line.escapedText(tags[i]);
    }
    line.text("]").endLine();
  }
}

/**
 * The status of an HTTPServer that does not run (its port refused): a running
 * one's fields, nothing counted, as Easegress reports a server that failed
 * to listen, so readers of `name`, `count` or `topN` find them.
 */
export function failedServerStatus(name: string, error: string): Record<string, unknown> {
  return { name, health: error, state: "failed", error, ...new HttpStats().snapshot(), topN: [] };
}

const CONNECTION_CLOSE: [string, string][] = [["connection", "close"]];

let lastStampMs = 0;
let lastStamp = "";

/** `atMs` (epoch milliseconds) as ISO 8601, made once per millisecond. */
function timestamp(atMs: number): string {
  if (atMs !== lastStampMs) {
    lastStampMs = atMs;
    lastStamp = new Date(atMs).toISOString();
  }
  return lastStamp;
}

/** Who sent a request, as the access log needs it. */
interface Client {
  readonly remoteAddr: string;
  readonly realIP: string;
  /** The request body's size as it came, once noted (see Context's receivedBody). */
  readonly receivedBody?: number;
}

/**
 * Whether a request without a Content-Length may still have a body to come:
 * chunked, or HTTP/2 and HTTP/3 data, which need not state a length.
 */
function mayStreamIn(request: HttpRequest): boolean {
  return !isHttp1(request.proto) || request.rawHeaders.has("transfer-encoding");
}

function isHttp1(proto: string): boolean {
  return proto === "HTTP/1.1" || proto === "HTTP/1.0";
}

/** Appends the real IP to X-Forwarded-For unless the header lists it already. */
export function addForwardedFor(request: HttpRequest, realIP: string): void {
  const current = request.header("x-forwarded-for");
  if (current === null) request.headers.set("x-forwarded-for", realIP);
  else if (!listsAddress(current, realIP)) {
    request.headers.set("x-forwarded-for", `${current}, ${realIP}`);
  }
}

/**
 * Whether the comma-separated `list` has `ip` as one of its entries. Easegress
 * looks for it as a substring, so 10.0.0.1 was taken as listed in
 * "10.0.0.12" and the proxy's own hop went unrecorded.
 */
function listsAddress(list: string, ip: string): boolean {
  for (let at = list.indexOf(ip); at >= 0; at = list.indexOf(ip, at + 1)) {
    const before = list.slice(0, at).trimEnd();
    const after = list.slice(at + ip.length).trimStart();
    if ((before === "" || before.endsWith(",")) && (after === "" || after.startsWith(","))) {
      return true;
    }
  }
  return false;
}

function altSvcOf(spec: HTTPServerSpec): string | undefined {
  return spec.https && spec.http3 ? `h3=":${spec.port}"; ma=86400` : undefined;
}
