/**
 * Spans of an HTTPServer's requests (`tracing`): a server span per routed
 * request, joining the client's trace when its B3 headers (`X-B3-*` or
 * `b3`) carry one and keeping its sampling decision, and client spans for
 * the upstream calls filters make within it, whose B3 headers go upstream
 * in place of the request's own (as zipkin-go's `Header.Set` puts them).
 *
 * @module
 */

import type { HttpRequest } from "../../filters/context.ts";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Logger } from "../../filters/filter.ts";
import type { ChildSpan, RequestTrace } from "../../filters/trace.ts";
import type { TracingSpec } from "./spec.ts";
import { ZipkinReporter, type ZipkinSpan } from "./zipkin.ts";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const scratch = new Uint8Array(16);

/** A random id of `bytes` bytes, as lower-case hex. */
function randomId(bytes: 8 | 16): string {
  const view = scratch.subarray(0, bytes);
  crypto.getRandomValues(view);
  let id = "";
  for (const byte of view) id += HEX[byte];
  return id;
}

// Ids of zeros only are no ids, as zipkin-go's B3 parser holds: Zipkin refuses a span with one,
// and with it the whole batch it came in.
const ID = /^(?!0+$)(?:[0-9a-f]{16}|[0-9a-f]{32})$/;
const SPAN_ID = /^(?!0+$)[0-9a-f]{16}$/;

/** What a client's B3 headers said: a trace to join, and whether to sample it. */
interface Incoming {
  traceId?: string;
  spanId?: string;
  /** The client span's parent, kept on a span shared with it (`sameSpan`). */
  parentId?: string;
  /** undefined: the client left the decision to us. */
  sampled?: boolean;
  /** The client asked for debug (`X-B3-Flags: 1`, or `d` in `b3`): sampled, and said so. */
  debug?: boolean;
}

/** Reads B3 propagation, multi-header or single `b3`; ids that are not hex are ignored. */
function incomingB3(request: HttpRequest): Incoming {
  const single = request.header("b3");
  if (single !== null) {
    if (single === "0" || single === "1") return { sampled: single === "1" };
    if (single === "d") return { sampled: true, debug: true };
    const [traceId, spanId, sampled, parentId] = single.toLowerCase().split("-");
    if (!ID.test(traceId ?? "") || !SPAN_ID.test(spanId ?? "")) return {};
    const incoming: Incoming = {
      traceId,
      spanId,
      sampled: sampled === undefined ? undefined : sampled !== "0",
    };
    if (sampled === "d") incoming.debug = true;
    if (parentId !== undefined && SPAN_ID.test(parentId)) incoming.parentId = parentId;
    return incoming;
  }
  const flags = request.header("x-b3-flags");
  const sampledText = request.header("x-b3-sampled")?.toLowerCase();
  const sampled = flags === "1"
    ? true
    : sampledText === undefined
    ? undefined
    : sampledText === "1" || sampledText === "true";
  const traceId = request.header("x-b3-traceid")?.toLowerCase();
  const spanId = request.header("x-b3-spanid")?.toLowerCase();
  const debug = flags === "1" ? true : undefined;
  if (traceId && spanId && ID.test(traceId) && SPAN_ID.test(spanId)) {
    const incoming: Incoming = { traceId, spanId, sampled, debug };
    const parentId = request.header("x-b3-parentspanid")?.toLowerCase();
    if (parentId !== undefined && SPAN_ID.test(parentId)) incoming.parentId = parentId;
    return incoming;
  }
  return { sampled, debug };
}

type Endpoint = { ipv4?: string; ipv6?: string; port?: number };

/**
 * An address as a Zipkin endpoint: an IPv4 or IPv6 address (its zone left
 * out) in its field; anything else, a host name or a client's X-Real-IP
 * that is no address ("1.2.3.4:80", "999.1.1.1"), in none.
 */
function ipEndpoint(host: string): Endpoint {
  const zone = host.indexOf("%");
  const address = zone < 0 ? host : host.slice(0, zone);
  switch (isIP(address)) {
    case 4:
      return { ipv4: address };
    case 6:
      return { ipv6: address };
    default:
      return {};
  }
}

/** "host:port", "[v6]:port" or a host alone as a Zipkin endpoint, and its host. */
function hostPortEndpoint(hostport: string): { endpoint: Endpoint; host: string } {
  const m = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d+))?$/.exec(hostport);
  // No match: a bare IPv6 address.
  if (!m) return { endpoint: ipEndpoint(hostport), host: hostport };
  const host = m[1] ?? m[2];
  const endpoint = ipEndpoint(host);
  if (m[3]) endpoint.port = Number(m[3]);
  return { endpoint, host };
}

/**
 * Puts the first IPv4 and the first IPv6 address `host` names on
 * `endpoint`, as zipkin-go's NewEndpoint looks a `hostport` name up; one
 * that does not resolve is logged and left without.
 */
async function resolveEndpoint(endpoint: Endpoint, host: string, log: Logger): Promise<void> {
  try {
    for (const { address, family } of await lookup(host, { all: true })) {
      if (family === 4) endpoint.ipv4 ??= address;
      else endpoint.ipv6 ??= address;
    }
  } catch (e) {
    log.warn(`tracing: zipkin.hostport: cannot resolve "${host}": ${(e as Error).message}`);
  }
}

/** Makes the spans of one HTTPServer. */
export class Tracer {
  readonly #spec: TracingSpec;
  readonly #reporter: ZipkinReporter;
  readonly #local: ZipkinSpan["localEndpoint"];
  /**
   * Settles once a `hostport` that names a host is looked up and its
   * addresses are on every span's local endpoint (spans are sent later, in
   * batches, so those made meanwhile have them too).
   */
  readonly resolved: Promise<void>;

  constructor(spec: TracingSpec, log: Logger) {
    this.#spec = spec;
    this.#reporter = new ZipkinReporter(spec.zipkin.serverURL, log);
    const hostport = spec.zipkin.hostport;
    const local: ZipkinSpan["localEndpoint"] = this.#local = { serviceName: spec.serviceName };
    this.resolved = Promise.resolve();
    if (hostport) {
      const { endpoint, host } = hostPortEndpoint(hostport);
      Object.assign(local, endpoint);
      if (host && !endpoint.ipv4 && !endpoint.ipv6) {
        this.resolved = resolveEndpoint(local, host, log);
      }
    }
  }

  /**
   * The server span of a request named `name`, which came in at `arrived`
   * (`performance.now()`); when the sampler passes over it, the trace its
   * upstream calls carry that decision in; undefined when the client said
   * not to sample (its own headers say so upstream).
   */
  start(
    request: HttpRequest,
    name: string,
    realIP: string,
    arrived: number = performance.now(),
  ): ServerSpan | UnsampledTrace | undefined {
    const incoming = incomingB3(request);
    if (incoming.sampled === false) return undefined;
    const sampled = incoming.sampled ?? Math.random() < this.#spec.zipkin.sampleRate;
    const zipkin = this.#spec.zipkin;
    const joined = incoming.traceId !== undefined;
    const shared = joined && zipkin.sameSpan;
    if (!sampled) {
      return new UnsampledTrace(
        incoming.traceId ?? randomId(zipkin.id128Bit ? 16 : 8),
        shared ? incoming.spanId! : randomId(8),
      );
    }
    const span: ZipkinSpan = {
      traceId: incoming.traceId ?? randomId(zipkin.id128Bit ? 16 : 8),
      id: shared ? incoming.spanId! : randomId(8),
      name,
      kind: "SERVER",
      // From the request's arrival, as Easegress starts it: reading a body
      // before the pipeline runs is part of the request's time.
      timestamp: Math.round((Date.now() - (performance.now() - arrived)) * 1000),
      duration: 0,
      localEndpoint: this.#local,
      tags: {
        ...this.#spec.tags,
        "http.method": request.method,
        "http.path": request.path,
      },
    };
    // A debug trace is kept by every Zipkin whatever its own sampling, as zipkin-go marks it.
    if (incoming.debug) span.debug = true;
    if (shared) {
      // zipkin-go keeps the client span's own parent on the span it shares.
      span.shared = true;
      if (incoming.parentId !== undefined) span.parentId = incoming.parentId;
    } else if (joined) {
      span.parentId = incoming.spanId;
    }
    // The real IP may be a client's X-Real-IP: only an address goes to Zipkin.
    const remote = realIP ? ipEndpoint(realIP) : undefined;
    if (remote?.ipv4 !== undefined || remote?.ipv6 !== undefined) span.remoteEndpoint = remote;
    return new ServerSpan(span, this.#reporter, arrived, this.#spec.tags);
  }

  /** Sends the spans still queued. */
  close(): Promise<void> {
    return this.#reporter.close();
  }
}

/**
 * A request the sampler passed over. Its upstream calls still carry B3
 * headers, with `X-B3-Sampled: 0`, as zipkin-go's unsampled spans do: the
 * services behind the gateway keep its decision instead of sampling on
 * their own traces that have no start here.
 */
export class UnsampledTrace implements RequestTrace {
  readonly #traceId: string;
  readonly #spanId: string;

  constructor(traceId: string, spanId: string) {
    this.#traceId = traceId;
    this.#spanId = spanId;
  }

  child(_name: string, upstream?: Headers): ChildSpan {
    const traceId = this.#traceId, parentId = this.#spanId, id = randomId(8);
    const headers: [string, string][] = [
      ["x-b3-traceid", traceId],
      ["x-b3-spanid", id],
      ["x-b3-parentspanid", parentId],
      ["x-b3-sampled", "0"],
    ];
    if (upstream?.has("b3")) headers.push(["b3", `${traceId}-${id}-0-${parentId}`]);
    return { headers, finish() {} };
  }

  /** Reports nothing: the request is not sampled. */
  finish(_status: number): void {}
}

/** A request's span; its children are the upstream calls made for it. */
export class ServerSpan implements RequestTrace {
  readonly #span: ZipkinSpan;
  readonly #reporter: ZipkinReporter;
  readonly #start: number;
  readonly #tags: Record<string, string> | undefined;

  /** `tags`: the tracing spec's, put on every child span too (zipkin-go's `WithTags`). */
  constructor(
    span: ZipkinSpan,
    reporter: ZipkinReporter,
    start: number,
    tags?: Record<string, string>,
  ) {
    this.#span = span;
    this.#reporter = reporter;
    this.#start = start;
    this.#tags = tags;
  }

  child(name: string, upstream?: Headers): ChildSpan {
    const parent = this.#span;
    const start = performance.now();
    const span: ZipkinSpan = {
      traceId: parent.traceId,
      id: randomId(8),
      parentId: parent.id,
      name,
      kind: "CLIENT",
      // Placed by the monotonic clock within the parent: the wall clock reads
      // whole milliseconds, which would shift it by up to one against the
      // parent's and its microsecond duration.
      timestamp: parent.timestamp + Math.round((start - this.#start) * 1000),
      duration: 0,
      localEndpoint: parent.localEndpoint,
    };
    const reporter = this.#reporter;
    const tags = this.#tags;
    // Debug goes on as zipkin-go's B3 injection writes it: X-B3-Flags in place of X-B3-Sampled.
    const debug = parent.debug === true;
    if (debug) span.debug = true;
    const headers: [string, string][] = [
      ["x-b3-traceid", span.traceId],
      ["x-b3-spanid", span.id],
      ["x-b3-parentspanid", parent.id],
      debug ? ["x-b3-flags", "1"] : ["x-b3-sampled", "1"],
    ];
    // A `b3` left as the client sent it would still name the client's span (b3
    // readers prefer it to X-B3-*), so it is replaced by this span's too.
    if (upstream?.has("b3")) {
      headers.push(["b3", `${span.traceId}-${span.id}-${debug ? "d" : "1"}-${parent.id}`]);
    }
    return {
      headers,
      finish(status: number, error?: string) {
        span.duration = Math.max(1, Math.round((performance.now() - start) * 1000));
        span.tags = { ...tags };
        if (status) span.tags["http.status_code"] = String(status);
        if (error) span.tags.error = error;
        reporter.report(span);
      },
    };
  }

  /** Ends the request's span with the status it was answered. */
  finish(status: number): void {
    const span = this.#span;
    span.duration = Math.max(1, Math.round((performance.now() - this.#start) * 1000));
    span.tags!["http.status_code"] = String(status);
    if (status >= 500) span.tags!.error = String(status);
    this.#reporter.report(span);
  }
}
