/**
 * One HTTP/2 stream on the server side: its state, its two flow-control
 * windows, the request body as it arrives, and what filters may ask of the
 * client (address, abort signal).
 *
 * @module
 */

import { AbortNotice, type AbortWatch } from "../../filters/abort_watch.ts";
import { concatBytes } from "../../filters/concat_bytes.ts";
import type { HttpRequest } from "../../filters/context.ts";
import type { PeerSource } from "../httpserver/client.ts";

/** What a stream needs from its session. */
export interface StreamHost {
  /** The client's address. */
  peer(): Deno.NetAddr;
  /** The client's address as "ip:port". */
  remoteAddr(): string;
  /** `size` request body bytes were taken by the application: the windows may reopen. */
  consumed(stream: Http2Stream, size: number): void;
  /** Sends the interim 100 (Continue) response on `stream`. */
  sendContinue(stream: Http2Stream): void;
}

/** A stream from its HEADERS to its end. */
export class Http2Stream implements PeerSource {
  readonly id: number;
  readonly #host: StreamHost;
  /** Whether the client has sent END_STREAM (or the stream was reset). */
  remoteClosed = false;
  /** Whether the response has ended (or the stream was reset). */
  localClosed = false;
  /** Whether the stream ended with RST_STREAM, from either side. */
  reset = false;
  /** Whether the request is HEAD (its response carries no body). */
  head = false;
  /** What the client may still send before a WINDOW_UPDATE. */
  recvWindow: number;
  /** What may be sent before the client's WINDOW_UPDATE. */
  sendWindow: number;
  /** Declared request content-length, or -1. */
  contentLength = -1;
  /** Request body bytes received so far. */
  received = 0;
  /** Request body bytes taken by the application since the last WINDOW_UPDATE. */
  unacknowledged = 0;
  /**
   * Whether the client waits for a 100 before sending the body: sent when a
   * filter first reads the body, never once the response's own HEADERS went.
   */
  expectContinue = false;

  /** Response DATA waiting for window: bytes from `pendingAt` on. */
  pending: Uint8Array | null = null;
  pendingAt = 0;
  /** Whether END_STREAM goes with the last of `pending`. */
  pendingEnd = false;
  /** Resolves a pump waiting for `pending` to be sent. */
  onSent: (() => void) | null = null;
  /** The request, from its HEADERS until it is dispatched. */
  request: HttpRequest | null = null;
  /** The response body stream being sent, cancelled on reset. */
  responseBody: ReadableStreamDefaultReader<Uint8Array> | null = null;

  /** Request body chunks not yet taken. */
  #chunks: Uint8Array[] = [];
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  #bodyError: Error | null = null;
  #abort: AbortController | undefined;
  #notice: AbortNotice | undefined;

  constructor(id: number, host: StreamHost, recvWindow: number, sendWindow: number) {
    this.id = id;
    this.#host = host;
    this.recvWindow = recvWindow;
    this.sendWindow = sendWindow;
  }

  peer(): Deno.NetAddr {
    return this.#host.peer();
  }

  remoteAddr(): string {
    return this.#host.remoteAddr();
  }

  signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.reset) this.#abort.abort();
    }
    return this.#abort.signal;
  }

  abortWatch(): AbortWatch {
    if (this.#notice === undefined) {
      this.#notice = new AbortNotice();
      if (this.reset) this.#notice.abort();
    }
    return this.#notice;
  }

  /** Keeps a DATA payload (a copy the stream owns) for the body. */
  push(chunk: Uint8Array): void {
    const controller = this.#controller;
    if (controller !== null && controller.desiredSize! > 0 && this.#chunks.length === 0) {
      controller.enqueue(chunk);
      this.#host.consumed(this, chunk.length);
      return;
    }
    this.#chunks.push(chunk);
  }

  /** The client has sent all of the body. */
  endBody(): void {
    this.remoteClosed = true;
    if (this.#controller !== null && this.#chunks.length === 0) this.#controller.close();
  }

  /** The body arrived whole before the request was dispatched: its bytes, or null. */
  takeWholeBody(): Uint8Array | null {
    const chunks = this.#chunks;
    const size = this.#giveBack();
    if (chunks.length === 0) return null;
    return chunks.length === 1 ? chunks[0] : concatBytes(chunks, size);
  }

  /** The body as a stream, for a request dispatched before all of it arrived. */
  bodyStream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: (controller) => {
        if (this.#bodyError !== null) return controller.error(this.#bodyError);
        if (this.expectContinue) {
          this.expectContinue = false;
          if (!this.remoteClosed) this.#host.sendContinue(this);
        }
        const chunk = this.#chunks.shift();
        if (chunk !== undefined) {
          controller.enqueue(chunk);
          this.#host.consumed(this, chunk.length);
        }
        if (this.remoteClosed && this.#chunks.length === 0) controller.close();
      },
      cancel: () => {
        this.#controller = null;
        this.#giveBack();
      },
    }, { highWaterMark: 1 });
  }

  /** Takes every chunk held, reopening the windows for them; returns their size. */
  #giveBack(): number {
    const size = this.unread;
    this.#chunks = [];
    if (size > 0) this.#host.consumed(this, size);
    return size;
  }

  /** Body bytes received and not yet taken (they hold connection window). */
  get unread(): number {
    let size = 0;
    for (const chunk of this.#chunks) size += chunk.length;
    return size;
  }

  /** Ends the stream abnormally: the body errors, the abort signal fires, a pump stops. */
  abort(reason: Error): void {
    this.reset = true;
    this.remoteClosed = true;
    this.localClosed = true;
    this.#bodyError = reason;
    this.#chunks = [];
    try {
      this.#controller?.error(reason);
    } catch { /* closed already */ }
    this.#controller = null;
    this.#abort?.abort(reason);
    this.#notice?.abort(reason);
    this.pending = null;
    const sent = this.onSent;
    this.onSent = null;
    sent?.();
    this.responseBody?.cancel(reason).catch(() => {});
    this.responseBody = null;
  }
}
