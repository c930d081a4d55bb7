/**
 * The sending side of an HTTP/2 connection's streams: a response's header
 * block (HEADERS, and CONTINUATION past the client's frame size), its body
 * in DATA frames as the client's connection and stream windows allow,
 * streamed bodies pumped chunk by chunk, and streams waiting for window
 * resumed in the order they blocked.
 *
 * @module
 */

import type { HttpResponse } from "../../filters/context.ts";
import { HeaderFields } from "../../filters/header_fields.ts";
import { isBodilessStatus } from "../../filters/status_text.ts";
import { parseContentLength } from "../../filters/proxy/http1_parser.ts";
import { httpDate } from "../httpserver/http1/response_head.ts";
import { CONNECTION_SPECIFIC_FIELDS } from "../httpserver/field_rules.ts";
import { DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, FLAG, FRAME, H2_ERROR } from "./frames.ts";
import type { FrameWriter } from "./frame_writer.ts";
import { HpackEncoder } from "./hpack.ts";
import type { Http2Stream } from "./stream.ts";

/** What the sender needs from its session. */
export interface SenderHost {
  /** Whether the connection has ended. */
  isClosed(): boolean;
  onError(message: string): void;
  /** `stream`'s response has ended. */
  ended(stream: Http2Stream): void;
  /** Ends a stream with RST_STREAM and `code`. */
  reset(streamId: number, code: number): void;
  /**
   * A response said `Connection: close`: the connection takes no more
   * streams (GOAWAY) and ends once those open are served.
   */
  closeWhenDone(): void;
}

/**
 * Past this much unsent output, streamed bodies wait, and the session stops
 * reading, until the client takes some.
 */
export const OUTPUT_HIGH_WATER = 256 * 1024;
/** Response body chunks are sent in DATA frames of at most this much, window permitting. */
const DATA_CHUNK = 16 * 1024;
const EMPTY = new Uint8Array(0);

/** A dynamic table size update to 0 (RFC 7541 section 6.3: 001, then the size in 5 bits). */
const TABLE_SIZE_UPDATE_ZERO = 0x20;

/** Response fields the session writes itself or that have no meaning in HTTP/2. */
const NOT_FORWARDED: ReadonlySet<string> = new Set([
  ...CONNECTION_SPECIFIC_FIELDS,
  "content-length",
]);

/** The response header block in the making: one encoder serves every response. */
const encoder = new HpackEncoder();
let encoderHasDate = false;
/** Whether the response being encoded has `Connection: close`. */
let encoderSawClose = false;
const CLOSE_OPTION = /(?:^|,)[ \t]*close[ \t]*(?:,|$)/i;

function encodeField(value: string, name: string): void {
  if (NOT_FORWARDED.has(name)) {
    if (name === "connection" && CLOSE_OPTION.test(value)) encoderSawClose = true;
    return;
  }
  if (name === "date") encoderHasDate = true;
  encoder.field(name, value);
}

function encodeJoinedField(value: string, name: string): void {
  // Set-Cookie lines are written one by one from getSetCookie().
  if (name !== "set-cookie") encodeField(value, name);
}

/** Sends the responses of one connection. */
export class ResponseSender {
  /** What may be sent on the connection before the client's WINDOW_UPDATE. */
  connWindow = DEFAULT_WINDOW;
  /** The client's SETTINGS_MAX_FRAME_SIZE. */
  maxFrame = DEFAULT_MAX_FRAME_SIZE;
  /** The client's SETTINGS_MAX_HEADER_LIST_SIZE. */
  maxHeaderList = Infinity;
  /**
   * Whether the next header block opens with a dynamic table size update:
   * the client announced a SETTINGS_HEADER_TABLE_SIZE (see #headersFrames).
   */
  tableSizeUpdate = false;
  readonly #out: FrameWriter;
  readonly #host: SenderHost;
  /** Streams with response data waiting for window, in the order they blocked. */
  #blocked: Http2Stream[] = [];

  constructor(out: FrameWriter, host: SenderHost) {
    this.#out = out;
    this.#host = host;
  }

  /** Forgets the streams waiting for window (the connection has ended). */
  clear(): void {
    this.#blocked = [];
  }

  /** Answers with `status` and no body, whatever the request still sends. */
  answer(stream: Http2Stream, status: number): void {
    stream.expectContinue = false;
    encoder.begin(status);
    encoder.field("content-length", "0");
    encoder.field("date", httpDate());
    this.#headersFrames(stream.id, true);
    this.#host.ended(stream);
  }

  /**
   * Sends `response` on `stream`: its fields (the connection's own left
   * out, Date added when missing), then its body as the windows allow.
   */
  respond(stream: Http2Stream, response: HttpResponse): void {
    // A streamed body tells when it has gone itself (see #pump).
    if (!this.#send(stream, response)) response.sent();
  }

  /** Sends `response`; true when a streamed body goes on after this returns. */
  #send(stream: Http2Stream, response: HttpResponse): boolean {
    if (stream.reset || this.#host.isClosed()) {
      const body = response.body;
      if (body instanceof ReadableStream) body.cancel().catch(() => {});
      return false;
    }
    // A final response makes a 100 pointless, and after its HEADERS one is a protocol error.
    stream.expectContinue = false;
    const status = response.status;
    const headers = response.rawHeaders;
    let body = response.body;
    const bodiless = isBodilessStatus(status);
    const noBody = stream.head || bodiless;
    encoder.begin(status);
    encoderHasDate = false;
    encoderSawClose = false;
    if (headers instanceof HeaderFields) {
      headers.forEachField(encodeField);
    } else {
      headers.forEach(encodeJoinedField);
      for (const cookie of headers.getSetCookie()) encoder.field("set-cookie", cookie);
    }
    if (!encoderHasDate) encoder.field("date", httpDate());
    // Not a field HTTP/2 carries, but a wish it can keep, as Go's server does:
    // an HTTPServer with keepAlive false sends it on every response.
    if (encoderSawClose) this.#host.closeWhenDone();
    let declared = -1;
    if (body instanceof Uint8Array) {
      if (!bodiless) encoder.field("content-length", String(body.length));
    } else {
      // A HEAD answer states the length a GET would have, as a streamed body its own.
      const value = body !== null || stream.head ? headers.get("content-length") : null;
      if (value !== null && !bodiless) {
        declared = parseContentLength(value);
        if (declared >= 0) encoder.field("content-length", value);
      } else if (body === null && !bodiless && !stream.head) {
        encoder.field("content-length", "0");
      }
    }
    if (noBody || body === null || (body instanceof Uint8Array && body.length === 0)) {
      if (body instanceof ReadableStream) body.cancel().catch(() => {});
      body = null;
    }
    if (encoder.length > this.maxHeaderList + 1024) {
      // Headers the client said it would not take: a 500 it will.
      if (body instanceof ReadableStream) body.cancel().catch(() => {});
      this.answer(stream, 500);
      return false;
    }
    this.#headersFrames(stream.id, body === null);
    if (body === null) {
      this.#host.ended(stream);
      return false;
    }
    if (body instanceof Uint8Array) {
      this.#sendData(stream, body, true);
      return false;
    }
    this.#pump(stream, body.getReader(), declared).then(
      (sent) => response.sent(sent),
      (error) => {
        response.sent();
        this.#host.onError(`HTTP/2 response body: ${(error as Error)?.message ?? error}`);
      },
    );
    return true;
  }

  /**
   * Sends a response body stream, chunk by chunk, as the windows allow; the
   * bytes of it handed to the stream, however it ended.
   */
  async #pump(
    stream: Http2Stream,
    reader: ReadableStreamDefaultReader<Uint8Array>,
    declared: number,
  ): Promise<number> {
    stream.responseBody = reader;
    let sent = 0;
    let handed = 0;
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (!stream.reset) {
          this.#host.onError(`HTTP/2 response body: ${(error as Error)?.message ?? error}`);
          this.#host.reset(stream.id, H2_ERROR.INTERNAL_ERROR);
          this.#out.schedule();
        }
        return handed;
      }
      if (stream.reset || this.#host.isClosed()) return handed;
      if (chunk.done) {
        stream.responseBody = null;
        if (declared >= 0 && sent !== declared) {
          this.#bodyMismatch(stream, `ended after ${sent} of ${declared} declared bytes`);
          return handed;
        }
        this.#sendData(stream, EMPTY, true);
        return handed;
      }
      if (chunk.value.length === 0) continue;
      sent += chunk.value.length;
      if (declared >= 0 && sent > declared) {
        this.#bodyMismatch(stream, `longer than its content-length ${declared}`);
        return handed;
      }
      this.#sendData(stream, chunk.value, false);
      handed = sent;
      if (stream.pending !== null) {
        await new Promise<void>((resolve) => stream.onSent = resolve);
        if (stream.reset || this.#host.isClosed()) return handed;
      }
      if (this.#out.pending > OUTPUT_HIGH_WATER) {
        await this.#out.drained();
        if (stream.reset || this.#host.isClosed()) return handed;
      }
    }
  }

  /** A streamed body broke its content-length: the client learns by the stream's reset. */
  #bodyMismatch(stream: Http2Stream, what: string): void {
    this.#host.onError(`HTTP/2 response body ${what}`);
    this.#host.reset(stream.id, H2_ERROR.INTERNAL_ERROR);
    this.#out.schedule();
  }

  /**
   * Frames `data` as DATA on `stream` as far as both windows allow; the rest
   * waits in `stream.pending` for WINDOW_UPDATE. `end` puts END_STREAM on
   * the last frame.
   */
  #sendData(stream: Http2Stream, data: Uint8Array, end: boolean): void {
    stream.pending = data;
    stream.pendingAt = 0;
    stream.pendingEnd = end;
    if (!this.#sendPending(stream)) this.#blocked.push(stream);
    this.#out.schedule();
  }

  /** Sends what the windows allow of `stream.pending`; true once all of it is out. */
  #sendPending(stream: Http2Stream): boolean {
    const data = stream.pending;
    if (data === null) return true;
    let at = stream.pendingAt;
    const maxFrame = Math.min(this.maxFrame, DATA_CHUNK);
    while (at < data.length) {
      const room = Math.min(this.connWindow, stream.sendWindow, maxFrame, data.length - at);
      if (room <= 0) {
        stream.pendingAt = at;
        return false;
      }
      const last = at + room === data.length;
      const flags = last && stream.pendingEnd ? FLAG.END_STREAM : 0;
      this.#out.bytesFrame(FRAME.DATA, flags, stream.id, data.subarray(at, at + room));
      at += room;
      this.connWindow -= room;
      stream.sendWindow -= room;
    }
    if (data.length === 0 && stream.pendingEnd) {
      this.#out.frame(FRAME.DATA, FLAG.END_STREAM, stream.id, 0);
    }
    stream.pending = null;
    if (stream.pendingEnd) this.#host.ended(stream);
    const sent = stream.onSent;
    stream.onSent = null;
    sent?.();
    return true;
  }

  /** Windows have opened: blocked streams go on, in the order they blocked. */
  unblock(): void {
    if (this.#blocked.length === 0) return;
    const blocked = this.#blocked;
    this.#blocked = [];
    for (const stream of blocked) {
      if (stream.reset || stream.pending === null) continue;
      if (!this.#sendPending(stream)) this.#blocked.push(stream);
    }
    this.#out.schedule();
  }

  /** Writes the encoder's block as HEADERS (and CONTINUATION frames past the frame size). */
  #headersFrames(streamId: number, endStream: boolean): void {
    let block = encoder.buffer;
    let size = encoder.length;
    if (this.tableSizeUpdate) {
      // A decoder that announced a new table size takes the next block only
      // if it opens with an update (RFC 7541 section 4.2; nghttp2 ends the
      // connection otherwise). Size 0 is within any limit, and the table is
      // never used. Once per SETTINGS, so the copy costs no request anything.
      this.tableSizeUpdate = false;
      const updated = new Uint8Array(size + 1);
      updated[0] = TABLE_SIZE_UPDATE_ZERO;
      updated.set(block.subarray(0, size), 1);
      block = updated;
      size++;
    }
    const maxFrame = this.maxFrame;
    let at = 0;
    let type: number = FRAME.HEADERS;
    do {
      const part = Math.min(size - at, maxFrame);
      const last = at + part === size;
      let flags = last ? FLAG.END_HEADERS : 0;
      if (type === FRAME.HEADERS && endStream) flags |= FLAG.END_STREAM;
      this.#out.bytesFrame(type, flags, streamId, block.subarray(at, at + part));
      at += part;
      type = FRAME.CONTINUATION;
    } while (at < size);
    this.#out.schedule();
  }
}
