/**
 * One request/response exchange on a bidirectional QUIC stream (RFC 9114
 * §4.1): HEADERS, then DATA, then optional trailers from the client; the
 * handler's `Response` goes back as HEADERS and DATA frames, streamed with
 * backpressure in both directions.
 *
 * Deno's QUIC streams cannot send RESET_STREAM or STOP_SENDING with a chosen
 * error code: aborting a send stream finishes it cleanly, and cancelling a
 * receive stream sends STOP_SENDING with code 0. So stream errors are
 * reported the way RFC 9114 §4.1.2 also allows: an HTTP error response
 * (400 for H3_MESSAGE_ERROR, 431 for an oversized header section) naming the
 * RFC error, followed by closing the stream.
 *
 * @module
 */

import {
  FieldSectionTooLargeError,
  H3_ERROR,
  H3ConnectionError,
  h3ErrorName,
  H3StreamError,
} from "./errors.ts";
import {
  FRAME,
  frameHeaderLength,
  frameName,
  isReservedHttp2FrameType,
  writeFrameHeader,
} from "./frames.ts";
import { isBodilessStatus } from "../../filters/status_text.ts";
import { checkTrailers, fieldSectionSize, parseRequestHead, responseFields } from "./message.ts";
import type { QpackDecoder } from "./qpack_decoder.ts";
import type { QpackEncoder } from "./qpack_encoder.ts";
import { StreamCancelledError, StreamReader } from "./stream_reader.ts";

/** Connection info passed to the handler with each request. */
export interface Http3RequestInfo {
  /** The client's UDP address. */
  remoteAddr: Deno.NetAddr;
}

/**
 * Turns a request into a response, like a `Deno.serve` handler. `target` is
 * the request's :path as sent, which its URL may spell otherwise (see
 * RequestHead.target).
 */
export type Http3Handler = (
  request: Request,
  info: Http3RequestInfo,
  target: string,
) => Response | Promise<Response>;

/** What an exchange needs from its connection. */
export interface RequestStreamContext {
  /** The application's handler. */
  readonly handler: Http3Handler;
  /** Passed to the handler as its second argument. */
  readonly info: Http3RequestInfo;
  /** Largest header section we accept (what we advertised). */
  readonly maxHeaderBytes: number;
  /** The connection's QPACK decoder. */
  readonly decoder: QpackDecoder;
  /** The connection's QPACK encoder. */
  readonly encoder: QpackEncoder;
  /** The peer's SETTINGS_MAX_FIELD_SECTION_SIZE (Infinity until it says). */
  readonly peerMaxFieldSectionSize: number;
  /** Ends the whole connection with a connection error. */
  fail(error: H3ConnectionError): void;
  /** Reports a failure the client cannot be told about (one log line). */
  onError(message: string): void;
  /** Sends queued QPACK decoder-stream instructions. */
  flushDecoderStream(): void;
}

/** Frames bigger than this are written as header + payload instead of one copied buffer. */
const COALESCE_LIMIT = 16 * 1024;

/**
 * Trailers with a pseudo-header make a response malformed (RFC 9114 §4.1.2),
 * which the client must treat as a stream error. Sent when a response body
 * fails midway and no content-length lets the client notice the truncation:
 * it is the only stream-scoped failure signal left without RESET_STREAM.
 */
const BROKEN_RESPONSE_TRAILERS = [":status", "500"];

/** The interim response a client that sent `expect: 100-continue` waits for. */
const CONTINUE_FIELDS = [":status", "100"];

/** One request stream, from HEADERS in to the last DATA frame out. */
export class RequestExchange {
  readonly #ctx: RequestStreamContext;
  readonly #streamId: number;
  readonly #reader: StreamReader;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #abort = new AbortController();
  /** Set when the request turned out malformed after the handler started. */
  #requestError: H3StreamError | FieldSectionTooLargeError | null = null;
  #requestDone = false;
  #trailersSeen = false;
  #contentLength = -1;
  #received = 0;
  #dataLeft = 0;
  #headersSent = false;
  /** Whether the client waits for a 100: sent at the first body read, if no answer went first. */
  #expectContinue = false;

  constructor(ctx: RequestStreamContext, stream: Deno.QuicBidirectionalStream, streamId: number) {
    this.#ctx = ctx;
    this.#streamId = streamId;
    this.#reader = new StreamReader(stream.readable);
    this.#writer = stream.writable.getWriter();
  }

  /** Aborts the request's signal, for example because the connection closed. */
  abort(): void {
    if (!this.#abort.signal.aborted) this.#abort.abort(new Error("HTTP/3 request aborted"));
  }

  /** Serves the exchange to the end. Never throws. */
  async run(): Promise<void> {
    try {
      await this.#serve();
    } catch (error) {
      // Anything still waiting on the request (the handler, an upstream fetch) stops.
      this.abort();
      await this.#handleFailure(error);
    } finally {
      if (!this.#requestDone) await this.#reader.cancel();
    }
  }

  async #serve(): Promise<void> {
    const fields = await this.#readHeaderSection();
    if (fields === null) {
      // Stream ended before a header section: H3_REQUEST_INCOMPLETE, nothing to answer.
      this.#requestDone = true;
      await this.#writer.close();
      return;
    }
    const head = parseRequestHead(fields);
    this.#contentLength = head.contentLength;
    this.#expectContinue = head.expectContinue;
    if (head.method === "CONNECT") {
      await this.#sendText(501, "CONNECT is not supported over this HTTP/3 server\n");
      return;
    }
    const bodiless = head.method === "GET" || head.method === "HEAD";
    let request: Request;
    try {
      request = new Request(head.url, {
        method: head.method,
        headers: head.headers,
        body: bodiless ? null : this.#bodyStream(),
        signal: this.#abort.signal,
      });
    } catch (error) {
      // The fetch Request class refuses some valid HTTP requests (TRACE, odd URLs).
      await this.#sendText(
        head.method === "TRACE" || head.method === "TRACK" ? 501 : 400,
        `Cannot serve this request: ${(error as Error).message}\n`,
      );
      return;
    }
    if (bodiless) this.#drainRequest();
    const response = await this.#callHandler(request, head.target);
    await this.#sendResponse(response, head.method === "HEAD");
  }

  /** Reads frames up to and including the request's HEADERS; null if the stream ends first. */
  async #readHeaderSection(): Promise<string[] | null> {
    const reader = this.#reader;
    for (;;) {
      if (!(await reader.readFrameHeader())) return null;
      const { frameType: type, frameLength: length } = reader;
      if (type === FRAME.HEADERS) return await this.#readFieldSection(length);
      if (type === FRAME.DATA) {
        throw new H3ConnectionError(
          H3_ERROR.FRAME_UNEXPECTED,
          "DATA before HEADERS on a request stream",
        );
      }
      checkRequestStreamFrame(type);
      await reader.skip(length);
    }
  }

  async #readFieldSection(length: number): Promise<string[]> {
    const ctx = this.#ctx;
    // Refuse to buffer an encoded section above the advertised limit; the
    // decoded size (which the limit is about) is never much smaller.
    if (length > ctx.maxHeaderBytes) throw new FieldSectionTooLargeError(ctx.maxHeaderBytes);
    const block = await this.#reader.readExact(length);
    const fields = ctx.decoder.decodeFieldSection(block, this.#streamId);
    ctx.flushDecoderStream();
    return fields;
  }

  /** Next piece of request content, or null at the end of the request. */
  async #nextBodyChunk(): Promise<Uint8Array | null> {
    const reader = this.#reader;
    for (;;) {
      if (this.#dataLeft > 0) {
        const chunk = await reader.readSome(this.#dataLeft);
        this.#dataLeft -= chunk.length;
        return chunk;
      }
      if (!(await reader.readFrameHeader())) {
        this.#requestDone = true;
        if (this.#contentLength >= 0 && this.#received !== this.#contentLength) {
          throw new H3StreamError(
            H3_ERROR.MESSAGE_ERROR,
            `request body has ${this.#received} bytes, content-length says ${this.#contentLength}`,
          );
        }
        return null;
      }
      const { frameType: type, frameLength: length } = reader;
      if (type === FRAME.DATA) {
        if (this.#trailersSeen) {
          throw new H3ConnectionError(H3_ERROR.FRAME_UNEXPECTED, "DATA after trailers");
        }
        this.#received += length;
        if (this.#contentLength >= 0 && this.#received > this.#contentLength) {
          throw new H3StreamError(
            H3_ERROR.MESSAGE_ERROR,
            `request body exceeds content-length ${this.#contentLength}`,
          );
        }
        this.#dataLeft = length;
      } else if (type === FRAME.HEADERS) {
        if (this.#trailersSeen) {
          throw new H3ConnectionError(H3_ERROR.FRAME_UNEXPECTED, "HEADERS after trailers");
        }
        checkTrailers(await this.#readFieldSection(length));
        this.#trailersSeen = true;
      } else {
        checkRequestStreamFrame(type);
        await reader.skip(length);
      }
    }
  }

  /** The request body as a pull-based stream: nothing is read until the handler asks. */
  #bodyStream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          if (this.#expectContinue) {
            this.#expectContinue = false;
            // Pointless once the final HEADERS went; before them, the writer keeps the order.
            if (!this.#headersSent && !this.#requestDone) {
              await this.#writer.write(this.#ctx.encoder.encodeHeadersFrame(CONTINUE_FIELDS));
            }
          }
          const chunk = await this.#nextBodyChunk();
          if (chunk === null) controller.close();
          else controller.enqueue(chunk);
        } catch (error) {
          this.#onRequestError(error);
          controller.error(error);
        }
      },
      cancel: async () => {
        // The handler does not want the rest: ask the client to stop sending.
        if (!this.#requestDone) {
          this.#requestDone = true;
          await this.#reader.cancel();
        }
      },
    }, { highWaterMark: 0 });
  }

  /**
   * For GET/HEAD: reads (and drops) any content to check the request's
   * framing, while the handler runs. A response that is out first stops it
   * (see `run`): the read it was waiting on then throws
   * StreamCancelledError, which is no fault of the client's.
   */
  async #drainRequest(): Promise<void> {
    try {
      while ((await this.#nextBodyChunk()) !== null) { /* content of a GET is ignored */ }
    } catch (error) {
      this.#onRequestError(error);
    }
  }

  #onRequestError(error: unknown): void {
    // We stopped reading (the exchange is over, or the handler let go of the body).
    if (error instanceof StreamCancelledError) return;
    if (error instanceof H3ConnectionError) this.#ctx.fail(error);
    else if (error instanceof H3StreamError || error instanceof FieldSectionTooLargeError) {
      this.#requestError = error;
    }
    this.abort();
  }

  async #callHandler(request: Request, target: string): Promise<Response> {
    let response: unknown;
    try {
      response = await this.#ctx.handler(request, this.#ctx.info, target);
    } catch (error) {
      // A malformed request body is answered with 400 by #handleFailure; an
      // aborted request (client or connection gone) just releases the stream.
      if (this.#requestError) throw this.#requestError;
      if (this.#abort.signal.aborted) throw this.#abort.signal.reason;
      this.#ctx.onError(`HTTP/3 handler: ${(error as Error)?.stack ?? error}`);
      return textResponse(500, "Internal Server Error\n");
    }
    if (!(response instanceof Response)) {
      this.#ctx.onError(
        `HTTP/3 handler returned ${Object.prototype.toString.call(response)}, not a Response`,
      );
      return textResponse(500, "Internal Server Error\n");
    }
    return response;
  }

  async #sendResponse(response: Response, isHead: boolean): Promise<void> {
    if (this.#requestError) {
      await response.body?.cancel().catch(() => {});
      throw this.#requestError;
    }
    let fields = responseFields(response.status, response.headers);
    if (fieldSectionSize(fields) > this.#ctx.peerMaxFieldSectionSize) {
      await response.body?.cancel().catch(() => {});
      response = textResponse(500, "response header section exceeds the client's limit\n");
      fields = responseFields(500, response.headers);
    }
    // The status that goes out, which is the 500 above when it was swapped in.
    const body = response.body;
    const bodiless = isBodilessStatus(response.status);
    if (body === null || isHead || bodiless) {
      // An answer without a body states it, as over HTTP/1.1 and HTTP/2 (a
      // 503 or 413 of the server's own); a HEAD's keeps what a GET would get.
      if (body === null && !isHead && !bodiless && !response.headers.has("content-length")) {
        fields.push("content-length", "0");
      }
      await body?.cancel().catch(() => {});
      await this.#writeHeaders(fields, null);
      await this.#writer.close();
      return;
    }
    let bodyReader: ReadableStreamDefaultReader<Uint8Array>;
    try {
      bodyReader = body.getReader();
    } catch (error) {
      this.#ctx.onError(`HTTP/3 response body: ${(error as Error)?.message ?? error}`);
      await this.#sendText(500, "Internal Server Error\n");
      return;
    }
    try {
      await this.#streamBody(bodyReader, fields, response.headers.has("content-length"));
    } finally {
      bodyReader.releaseLock();
    }
  }

  async #streamBody(
    bodyReader: ReadableStreamDefaultReader<Uint8Array>,
    fields: string[],
    lengthDeclared: boolean,
  ): Promise<void> {
    // Headers and a small first chunk go out in one write when the chunk is
    // already there (bodies made from strings or bytes); a slow stream does
    // not hold the headers back.
    const firstRead = bodyReader.read();
    if (!(await settlesSoon(firstRead))) await this.#writeHeaders(fields, null);
    for (let read = firstRead;; read = bodyReader.read()) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await read;
      } catch (error) {
        this.#ctx.onError(`HTTP/3 response body: ${(error as Error)?.message ?? error}`);
        if (!this.#headersSent) {
          await this.#sendText(500, "Internal Server Error\n");
          return;
        }
        if (!lengthDeclared) {
          await this.#writer.write(this.#ctx.encoder.encodeHeadersFrame(BROKEN_RESPONSE_TRAILERS));
        }
        break;
      }
      const chunk = result.value;
      if (!this.#headersSent) {
        const small = chunk !== undefined && chunk.length > 0 && chunk.length <= COALESCE_LIMIT;
        await this.#writeHeaders(fields, small ? chunk : null);
        if (small) continue;
      }
      if (result.done) break;
      if (result.value.length === 0) continue;
      try {
        await this.#writeData(result.value);
      } catch (error) {
        await bodyReader.cancel(error).catch(() => {});
        throw error;
      }
    }
    await this.#writer.close();
  }

  /** Writes the HEADERS frame, with `firstChunk` as a DATA frame in the same write. */
  async #writeHeaders(fields: string[], firstChunk: Uint8Array | null): Promise<void> {
    this.#headersSent = true;
    if (firstChunk === null) {
      await this.#writer.write(this.#ctx.encoder.encodeHeadersFrame(fields));
      return;
    }
    const dataHeader = frameHeaderLength(FRAME.DATA, firstChunk.length);
    const frame = this.#ctx.encoder.encodeHeadersFrame(fields, dataHeader + firstChunk.length);
    const at = frame.length - dataHeader - firstChunk.length;
    frame.set(firstChunk, writeFrameHeader(frame, at, FRAME.DATA, firstChunk.length));
    await this.#writer.write(frame);
  }

  async #writeData(chunk: Uint8Array): Promise<void> {
    const headerLength = frameHeaderLength(FRAME.DATA, chunk.length);
    if (chunk.length <= COALESCE_LIMIT) {
      const frame = new Uint8Array(headerLength + chunk.length);
      frame.set(chunk, writeFrameHeader(frame, 0, FRAME.DATA, chunk.length));
      await this.#writer.write(frame);
      return;
    }
    const header = new Uint8Array(headerLength);
    writeFrameHeader(header, 0, FRAME.DATA, chunk.length);
    await this.#writer.write(header);
    await this.#writer.write(chunk);
  }

  /** Answers with a short plain-text response and closes the stream. */
  async #sendText(status: number, text: string): Promise<void> {
    await this.#sendResponse(textResponse(status, text), false);
  }

  async #handleFailure(error: unknown): Promise<void> {
    if (error instanceof H3ConnectionError) {
      this.#ctx.fail(error);
      return;
    }
    const tooLarge = error instanceof FieldSectionTooLargeError;
    if ((tooLarge || error instanceof H3StreamError) && !this.#headersSent) {
      this.#requestError = null;
      const text = tooLarge
        ? `${h3ErrorName(H3_ERROR.EXCESSIVE_LOAD)}: ${error.message}\n`
        : `${error.message}\n`;
      try {
        await this.#sendText(tooLarge ? 431 : 400, text);
      } catch {
        // Client or connection gone.
      }
      return;
    }
    // The stream was reset, the connection closed, or the response was
    // already under way: all that is left is to let go of the stream.
    try {
      await this.#writer.close();
    } catch {
      // Already closed or errored.
    }
  }
}

/**
 * Frame types that must not appear on a request stream (RFC 9114 §7.2):
 * control-stream frames, PUSH_PROMISE from a client, and HTTP/2 types.
 * Unknown types are fine (ignored by the caller).
 */
function checkRequestStreamFrame(type: number): void {
  if (
    type === FRAME.SETTINGS || type === FRAME.GOAWAY || type === FRAME.MAX_PUSH_ID ||
    type === FRAME.CANCEL_PUSH || type === FRAME.PUSH_PROMISE || isReservedHttp2FrameType(type)
  ) {
    throw new H3ConnectionError(
      H3_ERROR.FRAME_UNEXPECTED,
      `${frameName(type)} frame on a request stream`,
    );
  }
}

function textResponse(status: number, text: string): Response {
  return new Response(text, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}

/** Whether `promise` settles within a few microtask turns. */
async function settlesSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  for (let i = 0; i < 4 && !settled; i++) await undefined;
  return settled;
}
