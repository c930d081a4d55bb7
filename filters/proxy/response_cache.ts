/**
 * A server pool's `memoryCache`, as Easegress's: answers to the listed
 * methods with the listed status codes, up to `maxEntryBytes` each, are
 * kept for `expiration` and served again without calling the upstream.
 *
 * Where Easegress's rules would serve one client what belongs to another,
 * this cache follows what a shared HTTP cache must (RFC 9111) instead:
 * the key includes the query (Easegress leaves it out, so `/a?id=1` was
 * served for `/a?id=2`); answers that set cookies, are `private`, or
 * answer a request with Authorization (unless `public` or `s-maxage`) are
 * not kept; `Vary` is honoured (`Vary: *` is never kept); an answer's own
 * `s-maxage` or `max-age`, less the `Age` it came with, ends its stay
 * sooner than `expiration` (one already stale, `max-age=0`, is not kept);
 * a part (206), a 304, 412 or 416 is served only to requests with the
 * Range and conditional fields it answered;
 * a hit carries an `Age`, the upstream's included. Easegress's own rules
 * hold too: a request with `Cache-Control: no-cache` bypasses the cache,
 * one with `no-store` is not kept, nor an answer with `no-store`,
 * `no-cache` or `must-revalidate`. Entries are
 * dropped when they expire or, oldest first, when the pool's cache would
 * pass {@linkcode MAX_CACHE_BYTES}.
 *
 * @module
 */

import { concatBytes } from "../concat_bytes.ts";
import { type HttpRequest, HttpResponse } from "../context.ts";
import { HeaderFields } from "../header_fields.ts";
import { parseDuration } from "../spec.ts";
import { directiveSeconds, hasDirective } from "./cache_control.ts";
import type { MemoryCacheSpec } from "./spec.ts";

/** Most bytes (bodies and headers) one pool's cache holds. */
export const MAX_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * Statuses that answer a request's range or preconditions rather than give
 * the resource (a part, "not modified", a failed condition, a range past the
 * end): kept, they are served only to requests with the same such fields.
 */
const CONDITIONAL_ANSWERS: ReadonlySet<number> = new Set([206, 304, 412, 416]);
/** The request fields a {@linkcode CONDITIONAL_ANSWERS} status answers. */
const CONDITION_FIELDS = [
  "range",
  "if-range",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
] as const;

/** One kept answer. */
interface Entry {
  readonly status: number;
  readonly headers: HeaderFields;
  readonly body: Uint8Array | null;
  /** `performance.now()` when it was kept. */
  readonly storedAt: number;
  /** `performance.now()` from when it is no longer served. */
  readonly expiresAt: number;
  /** The answer's Age when it was kept, in seconds (an upstream cache's time). */
  readonly ageAtStore: number;
  /** Request fields the answer varies on, with the values it was given for. */
  readonly vary: readonly (readonly [name: string, value: string | null])[];
  readonly size: number;
}

/** What the cache has done, for the pool's status. */
export interface CacheCounts {
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

/** A pool's response cache. */
export class ResponseCache {
  readonly #ttlMs: number;
  readonly #maxEntryBytes: number;
  readonly #codes: ReadonlySet<number>;
  readonly #methods: ReadonlySet<string>;
  readonly #maxBytes: number;
  /** Insertion order is age order: the oldest entries come first. */
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  #hits = 0;
  #misses = 0;

  constructor(spec: MemoryCacheSpec, maxBytes = MAX_CACHE_BYTES) {
    this.#ttlMs = parseDuration(spec.expiration) ?? 0;
    this.#maxEntryBytes = spec.maxEntryBytes;
    this.#codes = new Set(spec.codes);
    this.#methods = new Set(spec.methods);
    this.#maxBytes = maxBytes;
  }

  /** The request's cache key, or undefined when the cache is not for it. */
  keyOf(request: HttpRequest): string | undefined {
    if (!this.#methods.has(request.method)) return undefined;
    const control = request.header("cache-control");
    if (control !== null && hasDirective(control, "no-cache")) return undefined;
    const target = request.query ? `${request.path}?${request.query}` : request.path;
    return `${request.method} ${request.scheme}://${request.host}${target}`;
  }

  /** A fresh answer kept under `key` for this request, or undefined. */
  lookup(key: string, request: HttpRequest, now = performance.now()): HttpResponse | undefined {
    let entry = this.#entries.get(key);
    if (entry !== undefined && !this.#fresh(entry, now)) {
      this.#drop(key, entry);
      entry = undefined;
    }
    if (entry === undefined || !variesAlike(entry, request)) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    const headers = entry.headers.clone();
    headers.set("age", String(entry.ageAtStore + Math.floor((now - entry.storedAt) / 1000)));
    return new HttpResponse(entry.status, headers, entry.body);
  }

  /**
   * Keeps `response` under `key` when the rules allow: at once when its
   * body is in memory, else as the body streams to the client (the client
   * gets the same stream; it is kept if it ends within `maxEntryBytes`).
   */
  offer(key: string, request: HttpRequest, response: HttpResponse): void {
    if (!this.#storable(request, response)) return;
    const body = response.body;
    if (body === null || body instanceof Uint8Array) {
      if (body === null || body.length <= this.#maxEntryBytes) {
        this.#store(key, request, response, body);
      }
      return;
    }
    const declared = response.header("content-length");
    if (declared !== null && Number(declared) > this.#maxEntryBytes) return;
    // The fields are kept as they are now, with the bytes recorded: later filters (the Proxy's
    // compression) change the client's answer while it streams (gzip fields, plain bytes kept).
    const fields = new HttpResponse(response.status, new HeaderFields(response.rawHeaders));
    response.body = this.#recording(body, (bytes) => this.#store(key, request, fields, bytes));
  }

  /** Counts for the pool's status. */
  counts(): CacheCounts {
    return {
      hits: this.#hits,
      misses: this.#misses,
      entries: this.#entries.size,
      bytes: this.#bytes,
    };
  }

  #fresh(entry: Entry, now: number): boolean {
    return now < entry.expiresAt;
  }

  /**
   * How long an answer may be kept, in milliseconds: `expiration`, or less
   * when its own `s-maxage` (else `max-age`), less the Age it came with,
   * ends sooner, so an upstream's freshness is not outlived.
   */
  #lifetimeMs(headers: HeaderFields, age: number): number {
    const control = headers.get("cache-control");
    if (control === null) return this.#ttlMs;
    const maxAge = directiveSeconds(control, "s-maxage") ?? directiveSeconds(control, "max-age");
    return maxAge === undefined ? this.#ttlMs : Math.min(this.#ttlMs, (maxAge - age) * 1000);
  }

  #storable(request: HttpRequest, response: HttpResponse): boolean {
    if (!this.#codes.has(response.status)) return false;
    const asked = request.header("cache-control");
    if (asked !== null && hasDirective(asked, "no-store")) return false;
    if (response.header("set-cookie") !== null) return false;
    const vary = response.header("vary");
    if (vary !== null && vary.split(",").some((name) => name.trim() === "*")) return false;
    const control = response.header("cache-control") ?? "";
    for (const directive of ["no-store", "no-cache", "must-revalidate", "private"]) {
      if (hasDirective(control, directive)) return false;
    }
    if (request.header("authorization") !== null) {
      return hasDirective(control, "public") || hasDirective(control, "s-maxage");
    }
    return true;
  }

  #store(key: string, request: HttpRequest, response: HttpResponse, body: Uint8Array | null) {
    const headers = new HeaderFields(response.rawHeaders);
    const sentAge = Number(headers.get("age") ?? 0);
    const age = Number.isSafeInteger(sentAge) && sentAge > 0 ? sentAge : 0;
    const lifetime = this.#lifetimeMs(headers, age);
    // Already stale (max-age=0, or an Age past it): an answer to be checked each time is not kept.
    if (lifetime <= 0) return;
    headers.delete("transfer-encoding");
    if (body !== null) headers.set("content-length", String(body.length));
    const vary = (response.header("vary") ?? "").split(",").map((name) => name.trim())
      .filter((name) => name !== "")
      .map((name) => [name, request.header(name)] as const);
    // A part or a 304 is no answer to a request without that Range or validator: a full GET
    // was served the 10 bytes a Range asked for, or an empty 304 it had nothing to match.
    if (CONDITIONAL_ANSWERS.has(response.status)) {
      for (const name of CONDITION_FIELDS) vary.push([name, request.header(name)]);
    }
    let size = key.length + (body?.length ?? 0);
    headers.forEach((value, name) => size += name.length + value.length);
    if (size > this.#maxBytes) return;
    const old = this.#entries.get(key);
    if (old !== undefined) this.#drop(key, old);
    const now = performance.now();
    this.#entries.set(key, {
      status: response.status,
      headers,
      body,
      storedAt: now,
      expiresAt: now + lifetime,
      ageAtStore: age,
      vary,
      size,
    });
    this.#bytes += size;
    // The oldest go first: expired ones, then as many as the bound needs.
    for (const [oldKey, entry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes && this.#fresh(entry, now)) break;
      this.#drop(oldKey, entry);
    }
  }

  #drop(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= entry.size;
  }

  /** `source` passed through unchanged, its bytes handed to `done` if it ends within the limit. */
  #recording(
    source: ReadableStream<Uint8Array>,
    done: (bytes: Uint8Array) => void,
  ): ReadableStream<Uint8Array> {
    const reader = source.getReader();
    const limit = this.#maxEntryBytes;
    let chunks: Uint8Array[] | null = [];
    let size = 0;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done: ended, value } = await reader.read();
        if (ended) {
          controller.close();
          if (chunks !== null) done(concatBytes(chunks, size));
          return;
        }
        if (chunks !== null) {
          size += value.length;
          if (size > limit) chunks = null;
          else chunks.push(value);
        }
        controller.enqueue(value);
      },
      cancel(reason) {
        chunks = null;
        return reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
  }
}

/** Whether `request` sends what the kept answer was given for the fields it varies on. */
function variesAlike(entry: Entry, request: HttpRequest): boolean {
  for (const [name, value] of entry.vary) if (request.header(name) !== value) return false;
  return true;
}
