/**
 * One client connection of the HTTP/1.1 server: reads request heads and
 * bodies from a buffer it owns, hands each request to the handler as an
 * `HttpRequest`, and writes the `HttpResponse` back, head and small body in
 * one write. Requests on a connection are served one after another, so
 * pipelined requests are answered in order.
 *
 * @module
 */

import { AbortNotice, type AbortWatch } from "../../../filters/abort_watch.ts";
import { HttpRequest, type HttpResponse, MalformedBodyError } from "../../../filters/context.ts";
import { ConnectionUpgrade } from "../../../filters/connection_upgrade.ts";
import { isBodilessStatus } from "../../../filters/status_text.ts";
import {
  type BodyReader,
  ChunkedReader,
  ContentLengthReader,
} from "../../../filters/proxy/http1_body.ts";
import { CLOSED, Http1Connection } from "../../../filters/proxy/http1_connection.ts";
import { LeanSocket, type ReadCount } from "../../../filters/proxy/socket_read.ts";
import { UpstreamError } from "../../../filters/proxy/upstream_error.ts";
import { findHeadEnd, parseContentLength } from "../../../filters/proxy/http1_parser.ts";
import { encodeHeadInto } from "../../../filters/proxy/http1_request_head.ts";
import { formatAddr, PeerClient, type PeerSource } from "../client.ts";
import { isDisconnect, type ServedConnection, type SessionHost } from "../served_connection.ts";
import type { RequestHandler } from "../web_handler.ts";
import { WriteBufferPool } from "./write_buffer_pool.ts";
import {
  badMethodStart,
  parseRequestHead,
  type RequestHead,
  RequestHeadError,
  skipEmptyLines,
} from "./request_head.ts";
import { type ResponseFraming, serializeResponseHead } from "./response_head.ts";

/** What a connection needs from its server. */
export interface ConnectionHost extends SessionHost {
  readonly handler: RequestHandler;
  /** "http", or "https" for connections that came through TLS. */
  readonly scheme: string;
  /** Largest request head accepted, in bytes. */
  readonly maxHeadBytes: number;
  /** Whether the server is shutting down: finish the current request, then close. */
  readonly draining: boolean;
  /**
   * Takes over a connection that opened with the HTTP/2 preface (its
   * slot passes from `from`, the connection that read it), or undefined.
   */
  readonly h2c?: (socket: Deno.Conn, received: Uint8Array, from: ServedConnection) => void;
}

/**
 * Initial read buffer per connection: idle connections must stay small, and
 * most request heads fit; the buffer grows for larger ones.
 */
const READ_BUFFER_SIZE = 1024;
/** Size of the pooled buffers most heads and small bodies are written through. */
const POOLED_WRITE_SIZE = 16 * 1024;
/**
 * Up to this size a head and body are copied into one (pooled, larger)
 * buffer and written at once: copying 64 KiB costs less than a second write.
 */
const COALESCE_MAX = 64 * 1024;
/**
 * Write buffers kept for reuse, small and large: only connections in the
 * middle of a write hold one, and a fresh array costs more than the copy.
 */
const spareWriteBuffers = new WriteBufferPool(POOLED_WRITE_SIZE, 256);
const spareLargeWriteBuffers = new WriteBufferPool(COALESCE_MAX, 64);
/** Trailer bytes accepted after a chunked request body. */
const MAX_TRAILER_BYTES = 16 * 1024;
const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");
const LAST_CHUNK = new TextEncoder().encode("0\r\n\r\n");
const H2_PREFACE = "PRI * HTTP/2.0\r\n";

/** One accepted client connection. */
export class ServerConnection implements PeerSource, ServedConnection {
  /**
   * The accepted `Deno.Conn`, until the first request shows the client
   * speaks HTTP/1.1 and not h2c (which takes the `Deno.Conn`); after that
   * only `#conn`'s lean socket is kept (see LeanSocket).
   */
  #accepted: Deno.Conn | null;
  readonly #peer: Deno.NetAddr;
  readonly #conn: Http1Connection;
  readonly #host: ConnectionHost;
  /**
   * Coarse time this connection started waiting on its client: for a
   * request head, for more of a request body, or for room to write the
   * response. 0 while the gateway itself is busy. The server closes a
   * connection whose wait lasts keepAliveTimeout.
   */
  waitingSince = 0;
  /** Whether the wait is in the middle of an exchange (a body read, a response write). */
  #midExchange = false;
  #abort: AbortController | undefined;
  /** The light stand-in for `#abort`, made on first use and kept: it costs one small object. */
  #abortNotice: AbortNotice | undefined;
  /** Whether serving waits, with no frame, for the pending read (see #park). */
  #parked = false;
  /** Whether the pending read has #onRead's handlers (see #hear). */
  #heard = false;
  /** The handlers of reads started ahead, made once per connection (see #hear). */
  #onRead: ((n: ReadCount) => void) | undefined;
  #onReadFailed: ((e: unknown) => void) | undefined;
  #remoteAddr: string | undefined;
  /** Whether a read has seen the client close its side. */
  #clientGone = false;
  /** Whether the current request's body has been read to its end. */
  #bodyDone = true;
  /** The current request's body reader while bytes of it are still to come, else null. */
  #bodyReader: BodyReader | null = null;
  /** Whether a read of the request body is under way. */
  #bodyReading = false;
  /** Whether the handler has asked for any of the current request's body. */
  #bodyPulled = false;
  #continuePending = false;
  /** The client may still be sending what was never read (a refused head or body). */
  #unreadInput = false;
  /**
   * Why the client's body framing was refused (a bad chunk line, say), or
   * null. Such a body is never read again, so the connection closes after
   * its answer and nothing resets this.
   */
  #badBody: string | null = null;
  readonly #framing: ResponseFraming = { close: false, http10: false };

  constructor(socket: Deno.Conn, host: ConnectionHost) {
    this.#accepted = socket;
    const { hostname, port } = socket.remoteAddr as Deno.NetAddr;
    // A plain object of three fields, where the runtime's is a dictionary of its own.
    this.#peer = { transport: "tcp", hostname, port };
    this.#host = host;
    this.#conn = new Http1Connection(LeanSocket.of(socket), undefined, READ_BUFFER_SIZE);
  }

  /** The client's address. */
  peer(): Deno.NetAddr {
    return this.#peer;
  }

  /** The client's address as "ip:port", formatted once per connection (the access log asks per request). */
  remoteAddr(): string {
    return this.#remoteAddr ??= formatAddr(this.peer());
  }

  /** Aborted when the client goes away during the current request. */
  signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.#clientGone) this.#abort.abort();
      else this.#watchClient();
    }
    return this.#abort.signal;
  }

  /** Aborted when the client goes away during the current request, without an AbortController. */
  abortWatch(): AbortWatch {
    const notice = this.#abortNotice ??= new AbortNotice();
    if (this.#clientGone) notice.abort();
    else this.#watchClient();
    return notice;
  }

  /** Whether the connection is between requests with nothing received. */
  get idle(): boolean {
    return this.waitingSince !== 0 && !this.#midExchange && this.#conn.buffered === 0;
  }

  /** A body read or a response write starts waiting on the client (see `waitingSince`). */
  #waitOnClient(): void {
    this.waitingSince = this.#host.now;
    this.#midExchange = true;
  }

  /** The client sent or took what was waited for. */
  #clientResponded(): void {
    this.waitingSince = 0;
    this.#midExchange = false;
  }

  /** Closes the socket; a pending read or write fails and the loop ends. */
  close(): void {
    this.#conn.close();
  }

  /** Serves requests until the client or the server ends the connection. */
  serve(): void {
    this.#serve(true);
  }

  /**
   * Serves the requests that are in or on their way, and parks the
   * connection once it waits for the next one: this frame ends there and
   * the read's outcome starts the next (see #park). Between requests is
   * where a keep-alive connection spends most of its life, and a suspended
   * async frame (its generator, its registers, the promises and closures of
   * its await) cost each idle connection about 0.5 KB.
   */
  async #serve(first: boolean): Promise<void> {
    try {
      const conn = this.#conn;
      for (;;) {
        conn.start = skipEmptyLines(conn.buf, conn.start, conn.end);
        if (!first && conn.buffered === 0) {
          if (this.#host.draining) return;
          conn.trim();
          this.#park();
          return;
        }
        // A whole head already in: no async frame for #receiveHead. (Not on
        // the first request, which #receiveHead checks for the h2c preface.)
        let headEnd = first ? -1 : findHeadEnd(conn.buf, conn.start, conn.end);
        if (headEnd < 0 || headEnd - conn.start > this.#host.maxHeadBytes) {
          headEnd = await this.#receiveHead(first);
        }
        if (headEnd < 0) return;
        if (first) {
          first = false;
          // Not h2c: from here on the lean socket serves (see #accepted).
          this.#accepted = null;
        }
        let head: RequestHead;
        try {
          head = parseRequestHead(conn.buf, conn.start, headEnd);
        } catch (e) {
          if (!(e instanceof RequestHeadError)) throw e;
          await this.#refuse(e.status, e.message);
          return;
        }
        conn.start = headEnd;
        // Requests are admitted in turns, oldest first, so a few fast
        // clients cannot starve the rest (see ReactorTurn).
        const admitted = this.#host.turn.admit();
        if (admitted !== undefined) await admitted;
        // The exchange is awaited here step by step rather than in a helper
        // of its own: an async frame costs its allocations on every request.
        let response: HttpResponse;
        try {
          const request = this.#newRequest(head);
          const result = this.#host.handler(request, new PeerClient(request, this));
          response = result instanceof Promise ? await result : result;
        } catch (e) {
          this.#host.onError(`HTTP/1.1 handler: ${(e as Error)?.stack ?? e}`);
          await this.#refuse(500, "internal error");
          return;
        }
        // Whatever a filter made of a body the client framed wrongly (the
        // Proxy's 500 for a failed upload), the fault is the client's.
        if (this.#badBody !== null) {
          if (response.body instanceof ReadableStream) response.body.cancel().catch(() => {});
          await this.#refuse(400, this.#badBody);
          return;
        }
        // Only an upgrade answers 101 here: it takes the socket (see #handOver).
        if (response.status === 101 && response instanceof ConnectionUpgrade) {
          await this.#handOver(response);
          return;
        }
        const discard = this.#frameResponse(head);
        let written = -1;
        try {
          written = await this.#writeResponse(response, head.method === "HEAD");
        } finally {
          response.sent(written);
        }
        this.#exchangeDone();
        // The response itself may have asked to close (Connection: close, an HTTP/1.0 stream).
        if (this.#framing.close) {
          // However it comes to close, a client still sending its body must
          // be left to read the answer, not reset (see #end).
          this.#unreadInput = !this.#bodyDone;
          return;
        }
        if (discard && !(await this.#discardBody())) return;
      }
    } catch (e) {
      this.#failed(e);
    } finally {
      // Parked, the connection lives on in the read's handlers.
      if (!this.#parked) await this.#end();
    }
  }

  /**
   * Waits for the next request with no frame suspended: the read's outcome
   * resumes serving or ends the connection (see #hear).
   */
  #park(): void {
    this.waitingSince = this.#host.now;
    this.#parked = true;
    const read = this.#conn.readAhead();
    if (!this.#heard) this.#hear(read);
  }

  /**
   * Gives `read` (the one pending) the connection's handlers, once: they
   * resume a parked connection, and during a request abort it when the
   * client has gone. One pair for both, made once per connection, so a
   * read watched during a request and then waited on between requests
   * costs one reaction, not two, and no closures of its own.
   */
  #hear(read: Promise<ReadCount>): void {
    this.#heard = true;
    read.then(
      this.#onRead ??= (n) => {
        this.#heard = false;
        if (!this.#parked) {
          if (!n) this.#left();
          return;
        }
        this.#parked = false;
        this.waitingSince = 0;
        if (this.#conn.received(n)) this.#serve(false);
        else this.#end();
      },
      this.#onReadFailed ??= (e) => {
        this.#heard = false;
        if (!this.#parked) return this.#left();
        this.#parked = false;
        this.waitingSince = 0;
        this.#failed(e);
        this.#end();
      },
    );
  }

  /** Logs what ended the connection, unless it is the client going away. */
  #failed(e: unknown): void {
    if (!isDisconnect(e)) this.#host.onError(`HTTP/1.1 connection: ${(e as Error)?.stack ?? e}`);
  }

  /** Closes the connection once serving has ended, however it did. */
  async #end(): Promise<void> {
    this.#abort?.abort();
    this.#abortNotice?.abort();
    if (this.#unreadInput && this.#conn.state !== CLOSED) await this.#lingerClose();
    this.#conn.close();
    this.#host.closed(this);
  }

  /**
   * Waits for a whole request head in the buffer; returns its end, or -1
   * when the connection should end (client gone, bad head answered, h2c).
   */
  async #receiveHead(first: boolean): Promise<number> {
    const conn = this.#conn;
    const host = this.#host;
    const max = host.maxHeadBytes;
    let headEnd = findHeadEnd(conn.buf, conn.start, conn.end);
    if (headEnd >= 0) return headEnd - conn.start <= max ? headEnd : await this.#refuseLongHead();
    // Bytes already scanned, counted from `conn.start`: a fill may move them.
    let scanned = 0;
    this.waitingSince = host.now;
    try {
      for (;;) {
        // A connection accepted before the listener closed still gets its
        // first request served (the drain closes it if none comes).
        if (host.draining && conn.buffered === 0 && !first) return -1;
        if (conn.buffered === 0) conn.trim();
        if (!(await conn.fill())) return -1;
        if (first && conn.start === 0 && host.h2c && startsWithPreface(conn.buf, conn.end)) {
          if (conn.end < H2_PREFACE.length) continue;
          host.h2c(this.#accepted!, conn.buf.slice(0, conn.end), this);
          // Handed over: the socket must outlive this loop.
          this.#conn.state = CLOSED;
          return -1;
        }
        const skipped = conn.start;
        conn.start = skipEmptyLines(conn.buf, conn.start, conn.end);
        scanned = Math.max(0, scanned - (conn.start - skipped));
        headEnd = findHeadEnd(conn.buf, conn.start + scanned, conn.end);
        if (headEnd >= 0) {
          return headEnd - conn.start <= max ? headEnd : await this.#refuseLongHead();
        }
        if (conn.buffered > max) return await this.#refuseLongHead();
        // A few bytes scanned: up to the method's end, where the line-end wait starts.
        const notHttp = badMethodStart(conn.buf, conn.start, conn.end);
        if (notHttp !== null) {
          await this.#refuse(notHttp.status, notHttp.message);
          return -1;
        }
        scanned = Math.max(0, conn.buffered - 3);
      }
    } finally {
      this.waitingSince = 0;
    }
  }

  /** Refuses a head longer than the limit (414 or 431, by where it is too long); -1. */
  async #refuseLongHead(): Promise<number> {
    const conn = this.#conn;
    const max = this.#host.maxHeadBytes;
    const lineEnd = conn.buf.subarray(conn.start, conn.start + max).indexOf(10);
    await this.#refuse(
      lineEnd < 0 ? 414 : 431,
      lineEnd < 0
        ? `request line longer than ${max} bytes`
        : `request head larger than ${max} bytes`,
    );
    return -1;
  }

  /** The request a parsed head starts (the previous one's signal went in `#exchangeDone`). */
  #newRequest(head: RequestHead): HttpRequest {
    const request = new HttpRequest({
      method: head.method,
      path: head.path,
      query: head.query,
      requestURI: head.requestURI,
      scheme: this.#host.scheme,
      host: head.host,
      proto: head.http10 ? "HTTP/1.0" : "HTTP/1.1",
      headers: head.headers,
      body: this.#requestBody(head),
    });
    // The parsed headers belong to this request alone: a filter changes
    // them in place instead of copying them first.
    request.headers = head.headers;
    return request;
  }

  /**
   * Sets how the answer to `head` is framed, as far as the request decides
   * it. Returns whether the rest of an unread body is to be read and dropped
   * after the answer to keep the connection (see #discardBody).
   */
  #frameResponse(head: RequestHead): boolean {
    const framing = this.#framing;
    framing.http10 = head.http10;
    const unread = !this.#bodyDone;
    // An unread request body would be taken for the next request: close instead.
    framing.close = head.close || this.#host.draining || (unread && !this.#discardable());
    return unread && !framing.close;
  }

  /**
   * Whether the rest of the request body may be read and dropped rather
   * than the connection closed: as Go's server drops up to 256 KiB of a body
   * the handler left (a Validator's 401, a RateLimiter's 429, a Mock), so
   * such answers do not cost the client a new connection each. A body of a
   * known length larger than that closes at once, so the answer says so; a
   * chunked one the handler never read is dropped until it passes that much
   * (see #discardBody), while one it read part of and gave up (past a body
   * limit: a 413) closes, as Go's server closes past a MaxBytesReader's limit.
   * Not when the client waits for a 100 Continue it was never sent, nor while
   * a read of the body is still under way.
   */
  #discardable(): boolean {
    const reader = this.#bodyReader;
    if (reader === null || this.#bodyReading || this.#continuePending) return false;
    if (reader instanceof ContentLengthReader) return reader.remaining <= DISCARD_MAX;
    return !this.#bodyPulled;
  }

  /**
   * Reads and drops the rest of the request body (see #discardable);
   * whether it all came within DISCARD_MAX bytes, so the connection may
   * serve the next request. A longer chunked body closes the connection
   * after its answer, as the client had better stop such an upload.
   */
  async #discardBody(): Promise<boolean> {
    const reader = this.#bodyReader;
    // A read the handler left under way (a stream it still holds) owns the socket.
    if (reader === null || this.#bodyReading) return this.#keepUnread();
    try {
      let dropped = 0;
      while (!reader.done) {
        // Each read waits keepAliveTimeout, as a body the handler reads does:
        // a body that keeps coming is not a stalled one.
        this.#waitOnClient();
        const chunk = await reader.read();
        if (chunk === null) break;
        dropped += chunk.length;
        if (dropped > DISCARD_MAX) return this.#keepUnread();
      }
    } catch {
      // The client left, or stalled past keepAliveTimeout.
      return this.#keepUnread();
    } finally {
      this.#clientResponded();
    }
    this.#bodyDone = true;
    this.#bodyReader = null;
    return true;
  }

  /** The body stays unread: the connection closes, lingering for the client (see #end). */
  #keepUnread(): boolean {
    this.#unreadInput = true;
    return false;
  }

  /** The answer is out: nothing of the request's is kept while the connection waits. */
  #exchangeDone(): void {
    // A signal with its listener table would cost each waiting connection.
    this.#abort = undefined;
    this.#abortNotice?.clear();
  }

  /** The request body: null, bytes that already arrived, or a stream made on first use. */
  #requestBody(head: RequestHead): Uint8Array | null | (() => ReadableStream<Uint8Array>) {
    const conn = this.#conn;
    const length = head.contentLength;
    this.#continuePending = false;
    this.#bodyReader = null;
    if (length === 0) {
      this.#bodyDone = true;
      return null;
    }
    if (length > 0 && conn.buffered >= length) {
      this.#bodyDone = true;
      return conn.take(length);
    }
    this.#bodyDone = false;
    this.#continuePending = head.expectContinue;
    const reader: BodyReader = head.chunked
      ? new ChunkedReader(conn, MAX_TRAILER_BYTES, "client")
      : new ContentLengthReader(conn, length, "client");
    this.#bodyReader = reader;
    this.#bodyPulled = false;
    return () => this.#bodyStream(reader);
  }

  #bodyStream(reader: BodyReader): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        this.#bodyPulled = true;
        if (this.#continuePending) {
          this.#continuePending = false;
          await this.#conn.write(CONTINUE);
        }
        let chunk;
        this.#waitOnClient();
        this.#bodyReading = true;
        try {
          chunk = await reader.read();
        } catch (e) {
          // A failed body is not read again, not even to drop it.
          this.#bodyReader = null;
          // A client gone mid-body has left its request, as one gone after
          // it has: the abort tells the Proxy so (499, not a 500 of its own).
          if (isClientGone(e)) this.#left();
          const message = `Cannot read request body: ${(e as Error).message}`;
          if (e instanceof UpstreamError && e.kind === "protocol") {
            this.#badBody = e.message;
            controller.error(new MalformedBodyError(message));
          } else controller.error(new Error(message));
          return;
        } finally {
          this.#bodyReading = false;
          this.#clientResponded();
        }
        if (chunk !== null) controller.enqueue(chunk);
        if (chunk === null || reader.done) {
          this.#bodyDone = true;
          this.#bodyReader = null;
          controller.close();
        }
      },
    }, { highWaterMark: 0 });
  }

  /**
   * Starts reading ahead once the request body is in, so a client that
   * leaves mid-request aborts the signal. The bytes read are the next
   * request's, picked up by `#receiveHead`.
   */
  #watchClient(): void {
    if (!this.#bodyDone || this.#conn.reading) return;
    this.#hear(this.#conn.readAhead());
  }

  /** The client closed its side: abort the request in progress. */
  #left(): void {
    this.#clientGone = true;
    this.#abort?.abort();
    this.#abortNotice?.abort();
  }

  /** Writes `response`; the bytes of a streamed body written, else -1. */
  async #writeResponse(response: HttpResponse, head: boolean): Promise<number> {
    const status = response.status;
    const framing = this.#framing;
    const noBody = isBodilessStatus(status);
    const body = response.body;
    const headers = response.rawHeaders;
    let line = "";
    let bytes: Uint8Array | null = null;
    let stream: ReadableStream<Uint8Array> | null = null;
    let declared = -1;
    if (body === null) {
      if (!noBody) line = "content-length: 0\r\n";
    } else if (body instanceof Uint8Array) {
      line = "content-length: " + body.length + "\r\n";
      bytes = body;
    } else {
      stream = body;
      const value = headers.get("content-length");
      if (value !== null) declared = parseContentLength(value);
      if (declared >= 0) line = "content-length: " + declared + "\r\n";
      else if (framing.http10) framing.close = true;
      else line = "transfer-encoding: chunked\r\n";
    }
    if (head || noBody) {
      if (stream !== null) stream.cancel().catch(() => {});
      stream = null;
      bytes = null;
      if (noBody) line = "";
      else if (body === null) {
        // A HEAD answer (from an upstream, say) states the length a GET would have.
        const value = headers.get("content-length");
        line = value === null ? "" : "content-length: " + value + "\r\n";
      }
    }
    const text = serializeResponseHead(status, headers, line, framing);
    const conn = this.#conn;
    const size = text.length + (bytes === null ? 0 : bytes.length);
    if (size <= COALESCE_MAX) {
      const pool = size <= POOLED_WRITE_SIZE ? spareWriteBuffers : spareLargeWriteBuffers;
      const buf = pool.take();
      try {
        let n = encodeHeadInto(text, buf);
        if (bytes !== null) {
          buf.set(bytes, n);
          n += bytes.length;
        }
        const view = buf.subarray(0, n);
        this.#waitOnClient();
        const written = await conn.socket.write(view);
        if (written < n) await conn.writeRest(view, written);
      } finally {
        this.#clientResponded();
        // Reusable once the write has finished: no op holds it any more.
        pool.give(buf);
      }
    } else {
      const buf = new Uint8Array(text.length);
      this.#waitOnClient();
      try {
        await conn.write(buf.subarray(0, encodeHeadInto(text, buf)));
        if (bytes !== null) await conn.write(bytes);
      } finally {
        this.#clientResponded();
      }
    }
    if (stream === null) return -1;
    return await this.#writeStream(stream, declared, line !== "" && declared < 0);
  }

  /** Writes a streamed body; the bytes of it written, however it ended. */
  async #writeStream(
    stream: ReadableStream<Uint8Array>,
    declared: number,
    chunked: boolean,
  ): Promise<number> {
    const conn = this.#conn;
    const reader = stream.getReader();
    let sent = 0;
    let written = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (value.length === 0) continue;
        sent += value.length;
        if (declared >= 0 && sent > declared) {
          throw new Error(`response body is longer than its Content-Length ${declared}`);
        }
        this.#waitOnClient();
        if (chunked) await conn.writeChunk(value);
        else await conn.write(value);
        this.#clientResponded();
        written = sent;
      }
      if (chunked) {
        this.#waitOnClient();
        await conn.write(LAST_CHUNK);
        this.#clientResponded();
      } else if (declared >= 0 && sent !== declared) {
        throw new Error(`response body ended after ${sent} of ${declared} declared bytes`);
      }
    } catch (e) {
      this.#clientResponded();
      reader.cancel().catch(() => {});
      // The client cannot tell a cut body from a whole one but by the connection closing.
      this.#framing.close = true;
      // A client that left aborted the body's source itself: nothing went wrong here.
      if (!isDisconnect(e) && !this.#clientGone) {
        this.#host.onError(`HTTP/1.1 response body: ${(e as Error).message}`);
      }
    }
    return written;
  }

  /**
   * Closes the sending side, then reads and drops what the client still
   * sends until it closes its side too, for at most LINGER_MS and
   * LINGER_BYTES. Closing a socket with unread input resets the connection,
   * and a reset destroys whatever the client has not read yet: the answer
   * just sent, for a client still busy uploading. Go half-closes and waits
   * 500 ms (rstAvoidanceDelay) for the same reason; draining instead also
   * lets a client blocked on a full send window get to reading the answer.
   */
  async #lingerClose(): Promise<void> {
    const conn = this.#conn;
    try {
      await conn.socket.closeWrite();
    } catch {
      return;
    }
    const timer = setTimeout(() => conn.close(), LINGER_MS);
    try {
      let dropped = 0;
      // A read already under way (a read ahead) is the first to drop.
      if (conn.reading && !(dropped = (await conn.readAhead()) ?? 0)) return;
      while (dropped < LINGER_BYTES) {
        const n = await conn.socket.read(drainBuffer);
        if (n === null) break;
        dropped += n;
      }
    } catch {
      // Closed by the timer, or reset by the client: either way, done.
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Lets `upgrade` take the connection: the socket, with the bytes read
   * past the request's head and any read under way, is its own from here
   * on, and serving ends without closing it. A request with a body is
   * refused instead: its bytes would be taken for the new protocol's.
   */
  async #handOver(upgrade: ConnectionUpgrade): Promise<void> {
    try {
      if (!this.#bodyDone) {
        await this.#refuse(400, "a request to upgrade the connection must have no body");
        return;
      }
      // Handed over: #end must leave the socket open.
      this.#conn.state = CLOSED;
      upgrade.takeOver(this.#conn);
    } finally {
      upgrade.sent();
    }
  }

  /** Answers a request that cannot be served, and marks the connection for closing. */
  async #refuse(status: number, message: string): Promise<void> {
    const body = new TextEncoder().encode(`${status} ${message}\n`);
    const framing = this.#framing;
    framing.close = true;
    framing.http10 = false;
    this.#unreadInput = true;
    const headers = new Headers({ "content-type": "text/plain; charset=utf-8" });
    const text = serializeResponseHead(
      status,
      headers,
      `content-length: ${body.length}\r\n`,
      framing,
    );
    const buf = new Uint8Array(text.length + body.length);
    buf.set(body, encodeHeadInto(text, buf));
    try {
      await this.#conn.write(buf);
    } catch {
      // The client is gone; nothing to tell it.
    }
  }
}

/**
 * Most of an unread request body read and dropped to keep its connection, as
 * Go's server drops (its maxPostHandlerReadBytes): more is an upload the
 * client had better stop, and the connection closes instead.
 */
const DISCARD_MAX = 256 * 1024;
/** Longest a refused client is given to read the answer and close before the socket closes. */
const LINGER_MS = 1000;
/**
 * Most bytes read and dropped while lingering. A client that reads the
 * answer stops within what its and this side's socket buffers hold (a few
 * MiB); one that keeps on sending past this is not listening.
 */
const LINGER_BYTES = 64 * 1024 * 1024;
/**
 * Where lingering connections read what they drop: one array for all, as
 * nothing read into it is looked at.
 */
const drainBuffer = new Uint8Array(64 * 1024);

/** Whether a request body read failed because the client closed or reset the connection. */
function isClientGone(e: unknown): boolean {
  return isDisconnect(e) || (e instanceof UpstreamError && e.kind === "closed");
}

function startsWithPreface(buf: Uint8Array, end: number): boolean {
  const n = Math.min(end, H2_PREFACE.length);
  for (let i = 0; i < n; i++) if (buf[i] !== H2_PREFACE.charCodeAt(i)) return false;
  return n > 0;
}
