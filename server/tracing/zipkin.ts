/**
 * Sends finished spans to a Zipkin server (its v2 JSON API), in batches:
 * once a second, or sooner when a batch fills. Spans beyond a bounded
 * queue are dropped and counted, so a Zipkin that is down or slow never
 * holds a request nor grows the node's memory.
 *
 * @module
 */

import type { Logger } from "../../filters/filter.ts";

/** A span as Zipkin's v2 API takes it. */
export interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind: "SERVER" | "CLIENT";
  /** Microseconds since the epoch. */
  timestamp: number;
  /** Microseconds. */
  duration: number;
  localEndpoint: { serviceName: string; ipv4?: string; ipv6?: string; port?: number };
  remoteEndpoint?: { ipv4?: string; ipv6?: string; port?: number };
  tags?: Record<string, string>;
  /** Set on a server span that joined its client's span (sameSpan). */
  shared?: boolean;
  /** Set on the spans of a trace the client asked to debug (Zipkin keeps them unsampled). */
  debug?: boolean;
}

const BATCH = 200;
const FLUSH_MS = 1000;
const MAX_QUEUED = 10_000;
/** At most one complaint a minute about a Zipkin that does not take spans. */
const COMPLAINT_MS = 60_000;
/** How long one send may take. */
const SEND_TIMEOUT_MS = 10_000;

/** Options of a {@linkcode ZipkinReporter}. */
export interface ZipkinReporterOptions {
  /**
   * How long {@linkcode ZipkinReporter.close} waits for the spans left to
   * be sent; past it the send under way is given up and the rest dropped.
   * @default {5000}
   */
  closeWaitMs?: number;
}

/** Batches spans to one Zipkin endpoint. */
export class ZipkinReporter {
  readonly #url: string;
  readonly #log: Logger;
  #queue: ZipkinSpan[] = [];
  /** Spans in batches handed to a send that has not ended yet (or waits for one that has not). */
  #inFlight = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sending: Promise<void> = Promise.resolve();
  #dropped = 0;
  #lastComplaint = -Infinity;
  readonly #closeWaitMs: number;
  /** Aborted when a close has waited long enough: sends under way end, later ones are dropped. */
  readonly #givenUp = new AbortController();

  constructor(url: string, log: Logger, options: ZipkinReporterOptions = {}) {
    const { closeWaitMs = 5_000 } = options;
    this.#url = url;
    this.#log = log;
    this.#closeWaitMs = closeWaitMs;
  }

  /** Spans dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Queues a finished span. At most {@linkcode MAX_QUEUED} wait, counting
   * those in batches whose send has not ended: a Zipkin that takes each
   * batch slowly (or never answers, until the timeout) must not make them
   * pile up without end.
   */
  report(span: ZipkinSpan): void {
    if (this.#queue.length + this.#inFlight >= MAX_QUEUED) {
      this.#dropped++;
      return;
    }
    this.#queue.push(span);
    if (this.#queue.length >= BATCH) this.flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), FLUSH_MS);
      Deno.unrefTimer(this.#timer);
    }
  }

  /** Sends what is queued; resolves when it (and any send before it) is done. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queue.length === 0) return this.#sending;
    const batch = this.#queue;
    this.#queue = [];
    this.#inFlight += batch.length;
    // One send at a time, in order: a slow Zipkin gets one batch after another.
    this.#sending = this.#sending.then(() => this.#send(batch)).finally(() => {
      this.#inFlight -= batch.length;
    });
    return this.#sending;
  }

  async #send(batch: ZipkinSpan[]): Promise<void> {
    const givenUp = this.#givenUp.signal;
    if (givenUp.aborted) {
      this.#dropped += batch.length;
      return;
    }
    try {
      const response = await fetch(this.#url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(batch),
        signal: AbortSignal.any([AbortSignal.timeout(SEND_TIMEOUT_MS), givenUp]),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`answered ${response.status}`);
    } catch (e) {
      const now = performance.now();
      if (now - this.#lastComplaint >= COMPLAINT_MS) {
        this.#lastComplaint = now;
        this.#log.warn(
          `tracing: cannot send ${batch.length} spans to ${this.#url}: ${(e as Error).message}`,
        );
      }
    }
  }

  /**
   * Sends what is left, waiting at most `closeWaitMs` for it: a Zipkin that
   * takes connections and does not answer held a node's stop (or an
   * HTTPServer's close) for the timeout of each batch in turn. Spans
   * reported later (by requests still in flight) are sent as before, unless
   * the wait ran out.
   */
  async close(): Promise<void> {
    const sent = this.flush();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.#closeWaitMs);
    });
    const timedOut = await Promise.race([sent.then(() => false), late]);
    clearTimeout(timer);
    if (!timedOut) return;
    this.#givenUp.abort();
    // The send under way ends now, and those queued behind it drop their spans.
    await sent;
  }
}
