/**
 * One request/response exchange on one pooled connection.
 *
 * The head (and a small body) goes out in one write; a larger or streamed
 * body is pumped concurrently while the response is read, so a server that
 * answers early is seen. The response body is a pull-based stream whose
 * source is the exchange itself; when the body has already arrived with the
 * head, the connection goes back to the pool before the caller even sees the
 * response.
 *
 * @module
 */

import { concatBytes } from "../concat_bytes.ts";
import type { AbortWatch } from "../abort_watch.ts";
import {
  type BodyReader,
  bodyTruncated,
  ChunkedReader,
  ContentLengthReader,
  UntilCloseReader,
} from "./http1_body.ts";
import type { Bytes, Http1Connection } from "./http1_connection.ts";
import { findHeadEnd, parseResponseHead, type ResponseHead } from "./http1_parser.ts";
import {
  declaredContentLength,
  encodeHeadInto,
  serializeRequestHead,
} from "./http1_request_head.ts";
import type { UpstreamRequest, UpstreamResponse } from "./http1_client.ts";
import { UpstreamError } from "./upstream_error.ts";
import { isBodilessStatus } from "../status_text.ts";
import { shapeAnchor } from "../shape_anchor.ts";

// The newest of each, kept through an idle heap trim (see shape_anchor.ts).
const BUFFERED_RESPONSE_SHAPE = shapeAnchor();
const EXCHANGE_SHAPE = shapeAnchor();

/** Bodies up to this size are written in the same write as the head. */
const INLINE_BODY_MAX = 16 * 1024;
const IDEMPOTENT: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "OPTIONS",
  "PUT",
  "DELETE",
  "TRACE",
]);
/**
 * Bodies of a declared length up to this size are read whole before the
 * response is handed over (nginx buffers responses the same way).
 */
const BUFFERED_BODY_MAX = 64 * 1024;
/** Methods whose empty body is still announced with `Content-Length: 0`, as Go does. */
const EMPTY_BODY_LENGTH: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH"]);
const LAST_CHUNK = new TextEncoder().encode("0\r\n\r\n");

/** A request turned into wire form once, before a connection is chosen, and reused on retry. */
export interface PreparedRequest {
  /** The caller's request. */
  readonly req: UpstreamRequest;
  /** The serialized head, ending with the blank line. */
  readonly head: string;
  /** A small body written together with the head, or null. */
  readonly inline: Uint8Array | null;
  /** A body written after the head while the response is read, or null. */
  readonly deferred: Uint8Array | ReadableStream<Uint8Array> | null;
  /** The declared length of a stream body, or -1 when it is sent chunked. */
  readonly streamLength: number;
  /**
   * Whether the request may be resent after body bytes went out by its
   * method (idempotent) and body (bytes, not a stream).
   */
  readonly replayable: boolean;
}

/**
 * Validates and serializes a request. Throws a `TypeError` naming the bad
 * part (method, target, host, extra header, Content-Length).
 */
export function prepareRequest(req: UpstreamRequest): PreparedRequest {
  const body = req.body;
  let framing: string;
  let inline: Uint8Array | null = null;
  let deferred: Uint8Array | ReadableStream<Uint8Array> | null = null;
  let streamLength = -1;
  if (body === null || body === undefined) {
    framing = EMPTY_BODY_LENGTH.has(req.method) ? "content-length: 0\r\n" : "";
  } else if (body instanceof Uint8Array) {
    framing = "content-length: " + body.length + "\r\n";
    if (body.length <= INLINE_BODY_MAX) inline = body;
    else deferred = body;
  } else if (body instanceof ReadableStream) {
    streamLength = declaredContentLength(req.headers);
    framing = streamLength >= 0
      ? "content-length: " + streamLength + "\r\n"
      : "transfer-encoding: chunked\r\n";
    deferred = body;
  } else {
    throw new TypeError(
      "Cannot send upstream request: body must be a Uint8Array, a ReadableStream or null",
    );
  }
  return {
    req,
    head: serializeRequestHead(req, framing),
    inline,
    deferred,
    streamLength,
    replayable: IDEMPOTENT.has(req.method) && !(body instanceof ReadableStream),
  };
}

/**
 * Whether `prepared` may be resent after body bytes went out: idempotent and
 * its body bytes. A client marks a POST idempotent with an `Idempotency-Key`
 * (or `X-Idempotency-Key`), as Go's client takes it; looked up only when a
 * connection turned out stale, not on every request.
 */
function mayResend(prepared: PreparedRequest): boolean {
  if (prepared.replayable) return true;
  const { req } = prepared;
  if (req.body instanceof ReadableStream) return false;
  return req.headers.has("idempotency-key") || req.headers.has("x-idempotency-key");
}

/** A reused connection failed before any response byte: the server had closed it. */
export class StaleConnectionError extends Error {
  /** Whether the request may be sent again on a fresh connection. */
  readonly retryable: boolean;

  constructor(retryable: boolean, options?: ErrorOptions) {
    super("Upstream closed an idle keep-alive connection", options);
    this.name = "StaleConnectionError";
    this.retryable = retryable;
  }
}

/** What an exchange needs from its pool. */
export interface ExchangeHost {
  /** Largest response head (and trailer block) accepted, in bytes. */
  readonly maxHeaderBytes: number;
  /** Returns a connection after a complete exchange; `reusable` false closes it. */
  release(conn: Http1Connection, reusable: boolean): void;
  /**
   * Answers for an exchange whose reused connection the server had already
   * closed: the request again on a fresh connection, or a rejection.
   */
  retryStale(error: StaleConnectionError, prepared: PreparedRequest): Promise<UpstreamResponse>;
}

/** Underlying source of a response body that arrived whole. */
class CompleteBody implements UnderlyingDefaultSource<Uint8Array> {
  readonly #chunk: Uint8Array;
  constructor(chunk: Uint8Array) {
    this.#chunk = chunk;
  }
  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    controller.enqueue(this.#chunk);
    controller.close();
  }
}

/**
 * A response whose body arrived whole with its head. The stream is only made
 * if someone asks for `body`: a caller that takes `bodyBytes` saves both the
 * stream and, in `Deno.serve`, the stream-to-resource pump (measured at
 * roughly a fifth of a minimal proxy's CPU per request).
 */
class BufferedResponse implements UpstreamResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly bodyBytes: Bytes;
  #body: ReadableStream<Uint8Array> | null = null;

  constructor(status: number, headers: Headers, bodyBytes: Bytes) {
    this.status = status;
    this.headers = headers;
    this.bodyBytes = bodyBytes;
    BUFFERED_RESPONSE_SHAPE.latest = this;
  }

  get body(): ReadableStream<Uint8Array> {
    return this.#body ??= new ReadableStream(new CompleteBody(this.bodyBytes));
  }
}

function abortError(signal: AbortWatch): UpstreamError {
  return new UpstreamError("aborted", "Upstream request aborted", { cause: signal.reason });
}

/**
 * Runs one exchange. Also the underlying source of the response body stream
 * (`start`, `pull`, `cancel`), so a streamed body costs no extra objects.
 */
export class Http1Exchange implements UnderlyingDefaultSource<Uint8Array> {
  readonly #host: ExchangeHost;
  readonly #conn: Http1Connection;
  readonly #prepared: PreparedRequest;
  readonly #reused: boolean;
  #reader: BodyReader | null = null;
  #early: Uint8Array | null = null;
  #earlyMore: Uint8Array[] | null = null;
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  #source: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #onAbort: (() => void) | null = null;
  #error: Error | null = null;
  #reusable = true;
  #requestDone = false;
  #responseDone = false;
  #finished = false;
  #gotBytes = false;
  #bodySent = false;
  #awaitingSource = false;
  /** Response bytes already searched for the head's end, counted from `conn.start` (a read may move them). */
  #scanned = 0;
  /**
   * Bytes of the interim (1xx) heads skipped so far: they count toward
   * `maxHeaderBytes` with the final head's, as in Go's client, so a server
   * that answers 102 Processing forever cannot hold the request forever.
   */
  #interimBytes = 0;

  /** An exchange of `prepared` on `conn`; `reused` tells whether `conn` served earlier requests. */
  constructor(
    host: ExchangeHost,
    conn: Http1Connection,
    prepared: PreparedRequest,
    reused: boolean,
  ) {
    this.#host = host;
    this.#conn = conn;
    this.#prepared = prepared;
    this.#reused = reused;
    EXCHANGE_SHAPE.latest = this;
  }

  /**
   * Sends the request and resolves with the response head and body stream
   * (the host's retry's, when a reused connection turns out stale). Rejects
   * with `UpstreamError`. The caller checked that the signal has not fired yet.
   */
  async run(): Promise<UpstreamResponse> {
    const signal = this.#prepared.req.signal;
    if (signal !== undefined) {
      this.#onAbort = () => this.#fail(abortError(signal));
      signal.addEventListener("abort", this.#onAbort);
    }
    // The write and the reads are awaited here rather than in helpers of
    // their own: each async frame costs allocations on every request.
    const conn = this.#conn;
    try {
      const view = this.#encodeHead();
      try {
        const written = await conn.socket.write(view);
        if (written < view.length) await conn.writeRest(view, written);
      } catch (error) {
        throw this.#connectionLost(error);
      }
      this.#headWritten();
      for (;;) {
        const head = this.#bufferedHead();
        if (head !== null) {
          const response = this.#respond(head);
          return response instanceof Promise ? await response : response;
        }
        let more: boolean;
        try {
          more = conn.received(await conn.readAhead());
        } catch (error) {
          throw this.#connectionLost(error);
        }
        if (!more) throw this.#connectionLost(undefined);
        this.#gotBytes = true;
      }
    } catch (error) {
      const failure = this.#fail(error);
      // Awaited here rather than by a handler the pool adds to every request.
      if (failure instanceof StaleConnectionError) {
        return await this.#host.retryStale(failure, this.#prepared);
      }
      throw failure;
    }
  }

  /** Puts the request head (and a small body) in the connection's write buffer. */
  #encodeHead(): Uint8Array {
    const { head, inline } = this.#prepared;
    const buf = this.#conn.writeBuffer(head.length + (inline === null ? 0 : inline.length));
    let n = encodeHeadInto(head, buf);
    if (inline !== null && inline.length > 0) {
      buf.set(inline, n);
      n += inline.length;
      this.#bodySent = true;
    }
    return buf.subarray(0, n);
  }

  /** The head is out: the request is done, or its deferred body starts flowing. */
  #headWritten(): void {
    const deferred = this.#prepared.deferred;
    if (deferred === null) {
      this.#requestDone = true;
    } else {
      this.#bodySent = true;
      // The pump handles its own failures; this only guards against a bug
      // turning into an unhandled rejection.
      this.#pump(deferred).catch((error) => this.#fail(error));
    }
  }

  /**
   * The final response head if it is all in the buffer, else null (more
   * bytes needed). Skips 1xx interim responses; throws for a head over the
   * limit or a 101.
   */
  #bufferedHead(): ResponseHead | null {
    const conn = this.#conn;
    let max = this.#host.maxHeaderBytes - this.#interimBytes;
    for (;;) {
      const headEnd = findHeadEnd(conn.buf, conn.start + this.#scanned, conn.end);
      if (headEnd === -1) {
        if (conn.end - conn.start > max) throw this.#headTooLarge();
        this.#scanned = Math.max(0, conn.buffered - 3);
        return null;
      }
      if (headEnd - conn.start > max) throw this.#headTooLarge();
      const head = parseResponseHead(conn.buf, conn.start, headEnd);
      if (head.status >= 200) {
        conn.start = headEnd;
        this.#scanned = 0;
        return head;
      }
      this.#interimBytes += headEnd - conn.start;
      max -= headEnd - conn.start;
      conn.start = headEnd;
      this.#scanned = 0;
      if (head.status === 101) {
        throw new UpstreamError(
          "protocol",
          "Invalid upstream response: unexpected 101 Switching Protocols",
        );
      }
      // 1xx interim response (100 Continue, 103 Early Hints): skip it.
    }
  }

  #headTooLarge(): UpstreamError {
    return new UpstreamError(
      "protocol",
      `Invalid upstream response: head larger than ${this.#host.maxHeaderBytes} bytes${
        this.#interimBytes > 0 ? ` with the ${this.#interimBytes} bytes of 1xx heads before it` : ""
      }`,
    );
  }

  #respond(head: ResponseHead): UpstreamResponse | Promise<UpstreamResponse> {
    const { status, headers } = head;
    if (head.close) this.#reusable = false;
    // Interim (1xx) heads were skipped: this is the final one.
    if (isBodilessStatus(status) || this.#prepared.req.method === "HEAD") {
      this.#responseFinished();
      return { status, headers, body: null };
    }
    const conn = this.#conn;
    const length = head.contentLength;
    if (!head.chunked && length >= 0 && length <= BUFFERED_BODY_MAX) {
      if (length === 0) {
        this.#responseFinished();
        return { status, headers, body: null };
      }
      return this.#readWhole(status, headers, length);
    }
    let reader: BodyReader;
    if (head.chunked) {
      reader = new ChunkedReader(conn, this.#host.maxHeaderBytes);
    } else if (length >= 0) {
      reader = new ContentLengthReader(conn, length);
    } else {
      this.#reusable = false;
      reader = new UntilCloseReader(conn);
    }
    // Take whatever body bytes came with the head.
    let first = reader.readBuffered();
    let more: Bytes[] | null = null;
    if (first !== null) {
      for (let next = reader.readBuffered(); next !== null; next = reader.readBuffered()) {
        (more ??= []).push(next);
      }
    }
    if (reader.done) {
      this.#responseFinished();
      if (first === null) return { status, headers, body: null };
      if (more !== null) first = concatBytes([first, ...more]);
      return new BufferedResponse(status, headers, first);
    }
    this.#reader = reader;
    this.#early = first;
    this.#earlyMore = more;
    let received = first === null ? 0 : first.length;
    if (more !== null) {
      for (const chunk of more) received += chunk.length;
    }
    return { status, headers, body: new ReadableStream(this), received };
  }

  /**
   * Reads a small body whole before answering, into one array (no copies
   * but of bytes that came with the head): the caller gets bytes, which a
   * server writes with the head in one write, instead of a stream.
   */
  #readWhole(
    status: number,
    headers: Headers,
    length: number,
  ): UpstreamResponse | Promise<UpstreamResponse> {
    const conn = this.#conn;
    // Usually the whole body came with the head: no async frame for it.
    if (conn.buffered >= length) {
      const body = conn.take(length);
      this.#responseFinished();
      return new BufferedResponse(status, headers, body);
    }
    return this.#receiveWhole(status, headers, length);
  }

  async #receiveWhole(
    status: number,
    headers: Headers,
    length: number,
  ): Promise<UpstreamResponse> {
    const conn = this.#conn;
    const body = new Uint8Array(length);
    let received = 0;
    try {
      while (received < length) {
        const n = await conn.readInto(body.subarray(received));
        if (!n) throw bodyTruncated("upstream", received, length);
        received += n;
      }
    } catch (error) {
      // The head came: a failure now is reading the answer, not reaching the server.
      const message = error instanceof Error ? error.message : String(error);
      throw new UpstreamError("body", message, { cause: error });
    }
    this.#responseFinished();
    return new BufferedResponse(status, headers, body);
  }

  /** Stream source: hands over body bytes that arrived with the head. */
  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
    if (this.#early !== null) controller.enqueue(this.#early);
    if (this.#earlyMore !== null) {
      for (const chunk of this.#earlyMore) {
        controller.enqueue(chunk);
      }
    }
    this.#early = null;
    this.#earlyMore = null;
  }

  /** Stream source: reads the next body bytes when the consumer wants them. */
  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    const reader = this.#reader!;
    if (this.#responseDone) return;
    let chunk: Uint8Array | null;
    try {
      chunk = await reader.read();
      if (chunk !== null) reader.settle();
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (this.#responseDone) return; // failed or cancelled meanwhile
    if (chunk !== null) controller.enqueue(chunk);
    if (chunk === null || reader.done) {
      controller.close();
      this.#responseFinished();
    }
  }

  /** Stream source: the consumer gave up; the connection cannot be reused. */
  cancel(): void {
    this.#responseDone = true;
    this.#fail(new UpstreamError("aborted", "Upstream response body was cancelled"));
  }

  /** Writes a deferred body; never rejects (failures end the exchange). */
  async #pump(body: Uint8Array | ReadableStream<Uint8Array>): Promise<void> {
    const conn = this.#conn;
    if (body instanceof Uint8Array) {
      try {
        await conn.write(body);
      } catch (error) {
        this.#requestFailed(error);
        return;
      }
      this.#requestFinished();
      return;
    }
    const declared = this.#prepared.streamLength;
    const chunked = declared < 0;
    let reader: ReadableStreamDefaultReader<Uint8Array>;
    try {
      reader = body.getReader();
    } catch (error) {
      this.#fail(
        new UpstreamError("aborted", "Request body stream is not readable", { cause: error }),
      );
      return;
    }
    this.#source = reader;
    let sent = 0;
    for (;;) {
      if (this.#finished) return;
      if (this.#responseDone) {
        // The server has answered. A fully sent fixed-length body leaves the
        // connection clean; otherwise stop sending and drop the connection.
        if (!chunked && sent === declared) {
          this.#source = null;
          reader.cancel().catch(() => {});
          this.#requestFinished();
        } else {
          this.#stopBody(reader);
        }
        return;
      }
      let result: ReadableStreamReadResult<Uint8Array>;
      this.#awaitingSource = true;
      try {
        result = await reader.read();
      } catch (error) {
        this.#awaitingSource = false;
        if (this.#responseDone) {
          this.#stopBody(reader);
        } else {
          this.#fail(new UpstreamError("aborted", "Request body stream failed", { cause: error }));
        }
        return;
      }
      this.#awaitingSource = false;
      if (this.#responseDone) continue;
      if (result.done) break;
      const chunk = result.value;
      if (!(chunk instanceof Uint8Array)) {
        this.#fail(
          new UpstreamError("aborted", "Request body stream yielded a non-Uint8Array chunk"),
        );
        return;
      }
      if (chunk.length === 0) continue;
      sent += chunk.length;
      if (!chunked && sent > declared) {
        this.#fail(
          new UpstreamError(
            "protocol",
            `Request body is longer than its Content-Length ${declared}`,
          ),
        );
        return;
      }
      try {
        if (chunked) await conn.writeChunk(chunk);
        else await conn.write(chunk);
      } catch (error) {
        this.#requestFailed(error);
        return;
      }
    }
    this.#source = null;
    if (!chunked && sent !== declared) {
      this.#fail(
        new UpstreamError(
          "protocol",
          `Request body ended after ${sent} of ${declared} declared bytes`,
        ),
      );
      return;
    }
    if (chunked) {
      try {
        await conn.write(LAST_CHUNK);
      } catch (error) {
        this.#requestFailed(error);
        return;
      }
    }
    this.#requestFinished();
  }

  /** The response ended before the request body: drop the rest and the connection. */
  #stopBody(reader: ReadableStreamDefaultReader<Uint8Array>): void {
    this.#source = null;
    this.#reusable = false;
    reader.cancel().catch(() => {});
    this.#release();
  }

  #requestFinished(): void {
    this.#requestDone = true;
    if (this.#responseDone) this.#release();
  }

  /** Writing the body failed: the socket is broken; the response read will see it too. */
  #requestFailed(error: unknown): void {
    this.#reusable = false;
    const source = this.#source;
    this.#source = null;
    source?.cancel(error).catch(() => {});
    if (this.#responseDone) this.#release();
  }

  #responseFinished(): void {
    this.#responseDone = true;
    if (this.#requestDone) {
      this.#release();
    } else if (this.#awaitingSource) {
      // The pump is waiting on the client: end the body now rather than wait.
      this.#source?.cancel().catch(() => {});
    }
  }

  #release(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#detachSignal();
    this.#host.release(this.#conn, this.#reusable);
  }

  #detachSignal(): void {
    if (this.#onAbort !== null) {
      this.#prepared.req.signal!.removeEventListener("abort", this.#onAbort);
      this.#onAbort = null;
    }
  }

  /** The socket failed or ended before the response was complete. */
  #connectionLost(cause: unknown): Error {
    if (this.#error !== null) return this.#error;
    if (this.#reused && !this.#gotBytes) {
      return new StaleConnectionError(!this.#bodySent || mayResend(this.#prepared), { cause });
    }
    const detail = cause instanceof Error ? `: ${cause.message}` : "";
    return new UpstreamError(
      "closed",
      (this.#gotBytes
        ? "Upstream closed the connection in the middle of the response head"
        : "Upstream closed the connection before sending a response") + detail,
      { cause },
    );
  }

  /** Ends the exchange with an error: drops the connection, errors the body stream. */
  #fail(error: unknown): Error {
    if (this.#error !== null) return this.#error;
    let err: Error;
    if (error instanceof UpstreamError || error instanceof StaleConnectionError) {
      err = error;
    } else {
      const message = error instanceof Error ? error.message : String(error);
      err = new UpstreamError("closed", `Upstream connection failed: ${message}`, { cause: error });
    }
    this.#error = err;
    this.#reusable = false;
    if (!this.#finished) {
      this.#finished = true;
      this.#detachSignal();
      this.#host.release(this.#conn, false);
    }
    const controller = this.#controller;
    if (controller !== null && !this.#responseDone) {
      this.#responseDone = true;
      controller.error(err);
    }
    const source = this.#source;
    this.#source = null;
    source?.cancel(err).catch(() => {});
    return err;
  }
}
