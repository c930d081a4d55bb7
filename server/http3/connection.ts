/**
 * One HTTP/3 connection (RFC 9114 §6): our control and QPACK streams, the
 * peer's unidirectional streams, and a {@linkcode RequestExchange} per
 * request stream. Connection errors close the QUIC connection with the RFC
 * error code; everything else stays inside its stream.
 *
 * @module
 */

import { H3_ERROR, H3ConnectionError, h3ErrorName } from "./errors.ts";
import {
  EMPTY_RESERVED_FRAME,
  encodeGoawayFrame,
  encodeSettingsFrame,
  FRAME,
  frameName,
  isReservedHttp2FrameType,
  parseSettings,
  parseSingleVarintPayload,
  SETTING,
  STREAM_TYPE,
} from "./frames.ts";
import { QpackDecoder } from "./qpack_decoder.ts";
import { QpackEncoder } from "./qpack_encoder.ts";
import { type Http3Handler, RequestExchange, type RequestStreamContext } from "./request_stream.ts";
import { StreamReader } from "./stream_reader.ts";
import { waitUntil } from "../../filters/sleep.ts";

/** Largest control-stream frame we buffer; real SETTINGS are a few dozen bytes. */
const MAX_CONTROL_FRAME = 16 * 1024;

/** Options for {@linkcode Http3Connection}. */
export interface Http3ConnectionOptions {
  /** The application's handler. */
  handler: Http3Handler;
  /** SETTINGS_MAX_FIELD_SECTION_SIZE we advertise and enforce. */
  maxHeaderBytes: number;
  /** Takes one line about a failure no client is told of (a response body that broke). */
  onError: (message: string) => void;
}

/** Serves HTTP/3 on one accepted QUIC connection. */
export class Http3Connection implements RequestStreamContext {
  readonly handler: Http3Handler;
  readonly info: { remoteAddr: Deno.NetAddr };
  readonly maxHeaderBytes: number;
  readonly onError: (message: string) => void;
  readonly decoder: QpackDecoder;
  readonly encoder = new QpackEncoder();
  peerMaxFieldSectionSize = Infinity;

  readonly #conn: Deno.QuicConn;
  readonly #exchanges = new Set<RequestExchange>();
  readonly #idleWaiters: Array<() => void> = [];
  // Our unidirectional streams. They must stay referenced for the life of
  // the connection: Deno finishes a QUIC send stream whose WritableStream is
  // garbage-collected, and a finished critical stream is a connection error
  // for the peer (H3_CLOSED_CRITICAL_STREAM).
  #control: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #encoderStream: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #decoderStream: WritableStreamDefaultWriter<Uint8Array> | null = null;
  readonly #refused: Deno.QuicBidirectionalStream[] = [];
  #peerControl = false;
  #peerEncoder = false;
  #peerDecoder = false;
  #peerMaxPushId = -1;
  #peerGoawayId = -1;
  #closed = false;
  /** First request stream ID we will not serve, once GOAWAY is sent. */
  #goawayId = -1;
  /** Lowest client-initiated bidirectional stream ID not yet seen. */
  #nextStreamId = 0;
  #finished: Promise<void> | null = null;

  constructor(conn: Deno.QuicConn, options: Http3ConnectionOptions) {
    this.#conn = conn;
    this.handler = options.handler;
    this.maxHeaderBytes = options.maxHeaderBytes;
    this.onError = options.onError;
    this.decoder = new QpackDecoder({ maxFieldSectionSize: options.maxHeaderBytes });
    const { hostname, port } = conn.remoteAddr;
    this.info = { remoteAddr: { transport: "udp", hostname, port } };
  }

  /** Number of requests being served. */
  get activeRequests(): number {
    return this.#exchanges.size;
  }

  /** Whether the connection has been closed (by either side). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Serves the connection until it closes; resolves once every request task has ended. */
  run(): Promise<void> {
    this.#finished ??= this.#run();
    return this.#finished;
  }

  async #run(): Promise<void> {
    try {
      await this.#openLocalStreams();
    } catch (error) {
      this.#closeQuietly(error);
    }
    await Promise.all([this.#acceptUniStreams(), this.#acceptRequestStreams()]);
    this.#closed = true;
    for (const exchange of this.#exchanges) exchange.abort();
    while (this.#exchanges.size > 0) await this.#whenIdle();
  }

  /** Opens our control stream (with SETTINGS) and QPACK encoder/decoder streams. */
  async #openLocalStreams(): Promise<void> {
    const control = (await this.#conn.createUnidirectionalStream()).getWriter();
    this.#control = control;
    const settings = encodeSettingsFrame([
      [SETTING.MAX_FIELD_SECTION_SIZE, this.maxHeaderBytes],
      [SETTING.QPACK_MAX_TABLE_CAPACITY, 0],
      [SETTING.QPACK_BLOCKED_STREAMS, 0],
    ]);
    const first = new Uint8Array(1 + settings.length);
    first[0] = STREAM_TYPE.CONTROL;
    first.set(settings, 1);
    await control.write(first);
    // The QPACK streams are optional with a zero-capacity table (RFC 9204
    // §4.2) but cheap, and some peers expect them.
    const encoderStream = (await this.#conn.createUnidirectionalStream()).getWriter();
    this.#encoderStream = encoderStream;
    await encoderStream.write(Uint8Array.of(STREAM_TYPE.QPACK_ENCODER));
    const decoderStream = (await this.#conn.createUnidirectionalStream()).getWriter();
    await decoderStream.write(Uint8Array.of(STREAM_TYPE.QPACK_DECODER));
    this.#decoderStream = decoderStream;
  }

  async #acceptRequestStreams(): Promise<void> {
    try {
      for await (const stream of this.#conn.incomingBidirectionalStreams) {
        const streamId = Number(stream.readable.id);
        if (this.#goawayId >= 0 && streamId >= this.#goawayId) {
          // After GOAWAY: not processed, and the client may retry it
          // elsewhere. Held (unanswered) until the connection closes, which
          // ends it (RFC 9114 §5.2); dropping it would finish it instead.
          this.#refused.push(stream);
          continue;
        }
        if (streamId >= this.#nextStreamId) this.#nextStreamId = streamId + 4;
        const exchange = new RequestExchange(this, stream, streamId);
        this.#exchanges.add(exchange);
        exchange.run().finally(() => this.#exchangeDone(exchange));
      }
    } catch {
      // Connection lost (idle timeout, peer vanished): nothing more to accept.
    }
    this.#closed = true;
  }

  #exchangeDone(exchange: RequestExchange): void {
    this.#exchanges.delete(exchange);
    if (this.#exchanges.size === 0) {
      for (const wake of this.#idleWaiters.splice(0)) wake();
    }
  }

  /** Resolves the next time no request is in flight. */
  #whenIdle(): Promise<void> {
    if (this.#exchanges.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #acceptUniStreams(): Promise<void> {
    try {
      for await (const stream of this.#conn.incomingUnidirectionalStreams) {
        this.#serveUniStream(stream).catch((error) => this.#closeQuietly(error));
      }
    } catch {
      // Connection lost.
    }
    this.#closed = true;
  }

  async #serveUniStream(stream: Deno.QuicReceiveStream): Promise<void> {
    const reader = new StreamReader(stream);
    const type = await reader.readVarint();
    if (type < 0) return;
    let critical = "";
    try {
      switch (type) {
        case STREAM_TYPE.CONTROL:
          if (this.#peerControl) throw creationError("second control stream");
          this.#peerControl = true;
          critical = "control";
          return await this.#readPeerControl(reader);
        case STREAM_TYPE.QPACK_ENCODER:
          if (this.#peerEncoder) throw creationError("second QPACK encoder stream");
          this.#peerEncoder = true;
          critical = "QPACK encoder";
          for (let chunk; (chunk = await reader.readChunk()) !== null;) {
            this.decoder.feedEncoderStream(chunk);
            this.flushDecoderStream();
          }
          throw criticalStreamClosed(critical);
        case STREAM_TYPE.QPACK_DECODER:
          if (this.#peerDecoder) throw creationError("second QPACK decoder stream");
          this.#peerDecoder = true;
          critical = "QPACK decoder";
          for (let chunk; (chunk = await reader.readChunk()) !== null;) {
            this.encoder.feedDecoderStream(chunk);
          }
          throw criticalStreamClosed(critical);
        case STREAM_TYPE.PUSH:
          throw creationError("a client opened a push stream");
        default:
          // Unknown or reserved stream type: ignore it (RFC 9114 §6.2).
          await reader.cancel();
      }
    } catch (error) {
      // A critical stream that fails to read was reset or lost with the connection.
      if (error instanceof H3ConnectionError || !critical) throw error;
      throw criticalStreamClosed(critical);
    }
  }

  async #readPeerControl(reader: StreamReader): Promise<void> {
    let first = true;
    while (await reader.readFrameHeader()) {
      const { frameType: type, frameLength: length } = reader;
      if (first && type !== FRAME.SETTINGS) {
        throw new H3ConnectionError(
          H3_ERROR.MISSING_SETTINGS,
          `control stream starts with ${frameName(type)}, not SETTINGS`,
        );
      }
      if (
        type === FRAME.DATA || type === FRAME.HEADERS || type === FRAME.PUSH_PROMISE ||
        (type === FRAME.SETTINGS && !first) || isReservedHttp2FrameType(type)
      ) {
        throw new H3ConnectionError(
          H3_ERROR.FRAME_UNEXPECTED,
          `${frameName(type)} frame on the control stream${first ? "" : " after SETTINGS"}`,
        );
      }
      first = false;
      const known = type === FRAME.SETTINGS || type === FRAME.GOAWAY ||
        type === FRAME.MAX_PUSH_ID || type === FRAME.CANCEL_PUSH;
      if (!known) {
        await reader.skip(length);
        continue;
      }
      if (length > MAX_CONTROL_FRAME) {
        throw new H3ConnectionError(
          H3_ERROR.EXCESSIVE_LOAD,
          `${frameName(type)} frame of ${length} bytes`,
        );
      }
      this.#applyControlFrame(type, await reader.readExact(length));
    }
    throw criticalStreamClosed("control");
  }

  #applyControlFrame(type: number, payload: Uint8Array): void {
    switch (type) {
      case FRAME.SETTINGS: {
        const settings = parseSettings(payload);
        const max = settings.get(SETTING.MAX_FIELD_SECTION_SIZE);
        if (max !== undefined) this.peerMaxFieldSectionSize = max;
        return;
      }
      case FRAME.GOAWAY: {
        // From a client, GOAWAY carries a push ID; it may only shrink.
        const id = parseSingleVarintPayload(payload, "GOAWAY");
        if (this.#peerGoawayId >= 0 && id > this.#peerGoawayId) {
          throw new H3ConnectionError(H3_ERROR.ID_ERROR, "GOAWAY ID increased");
        }
        this.#peerGoawayId = id;
        return;
      }
      case FRAME.MAX_PUSH_ID: {
        const id = parseSingleVarintPayload(payload, "MAX_PUSH_ID");
        if (id < this.#peerMaxPushId) {
          throw new H3ConnectionError(H3_ERROR.ID_ERROR, "MAX_PUSH_ID decreased");
        }
        this.#peerMaxPushId = id;
        return;
      }
      case FRAME.CANCEL_PUSH: {
        // We never push, so only IDs the client allowed are acceptable.
        const id = parseSingleVarintPayload(payload, "CANCEL_PUSH");
        if (id > this.#peerMaxPushId) {
          throw new H3ConnectionError(
            H3_ERROR.ID_ERROR,
            `CANCEL_PUSH for push ID ${id} never allowed`,
          );
        }
        return;
      }
    }
  }

  /** Ends the connection with a connection error (RFC 9114 §8). */
  fail(error: H3ConnectionError): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close({ closeCode: error.code, reason: error.message.slice(0, 200) });
    } catch {
      // Already closed.
    }
  }

  /** Closes with `error`'s code when it is a protocol error; other errors mean the connection is gone. */
  #closeQuietly(error: unknown): void {
    if (error instanceof H3ConnectionError) {
      this.fail(error);
    } else if (!this.#closed) {
      this.fail(new H3ConnectionError(H3_ERROR.INTERNAL_ERROR, String(error)));
    }
  }

  /** Sends queued QPACK decoder-stream instructions, if any. */
  flushDecoderStream(): void {
    const bytes = this.decoder.takeDecoderStreamBytes();
    if (bytes && this.#decoderStream) this.#decoderStream.write(bytes).catch(() => {});
  }

  /**
   * Sends the client something while requests are in flight, so that the
   * connection does not reach QUIC's idle timeout waiting on a slow
   * handler: with neither side sending (a client that sends no PINGs of its
   * own), both let it time out and the request was lost. An idle
   * connection is left to time out.
   */
  keepAlive(): void {
    if (this.#closed || this.#exchanges.size === 0 || !this.#control) return;
    this.#control.write(EMPTY_RESERVED_FRAME).catch(() => {});
  }

  /**
   * Sends GOAWAY so the client opens no new requests here; requests already
   * received still complete. Safe to call more than once.
   */
  async goaway(): Promise<void> {
    if (this.#goawayId >= 0 || this.#closed || !this.#control) return;
    this.#goawayId = this.#nextStreamId;
    try {
      await this.#control.write(encodeGoawayFrame(this.#goawayId));
    } catch {
      // Connection already gone.
    }
  }

  /**
   * Graceful close: GOAWAY, wait for in-flight requests (at most until
   * `deadline`, a `Date.now()` value), give the client a moment to close
   * first so the last response bytes are not cut off, then close with
   * H3_NO_ERROR.
   */
  async drain(deadline: number, lingerMs: number): Promise<void> {
    await this.goaway();
    const finished = this.run();
    await waitUntil(this.#whenIdle(), deadline);
    await waitUntil(finished, Math.min(deadline, Date.now() + lingerMs));
    this.close(H3_ERROR.NO_ERROR, "server shutting down");
    // Requests are aborted by now; a handler that ignores its signal is not waited for.
    await waitUntil(finished, deadline);
  }

  /** Closes the connection now with `code`. */
  close(code: number = H3_ERROR.NO_ERROR, reason = ""): void {
    this.#closed = true;
    try {
      this.#conn.close({ closeCode: code, reason: reason || h3ErrorName(code) });
    } catch {
      // Already closed.
    }
  }
}

function creationError(message: string): H3ConnectionError {
  return new H3ConnectionError(H3_ERROR.STREAM_CREATION_ERROR, message);
}

function criticalStreamClosed(name: string): H3ConnectionError {
  return new H3ConnectionError(H3_ERROR.CLOSED_CRITICAL_STREAM, `peer closed its ${name} stream`);
}
