/**
 * The server side of one HTTP/2 connection (RFC 9113), over a TLS socket
 * whose client chose "h2" by ALPN or a plain one that opened with the
 * HTTP/2 preface (h2c). Requests reach the pipeline's handler as
 * `HttpRequest`s and leave as `HttpResponse`s, as on the HTTP/1.1 server:
 * no web `Request` or `Response` is built per stream.
 *
 * Frames are parsed from a buffer the session owns; everything a read
 * brings is handled before any request is dispatched, so a request whose
 * body came along whole gets it as bytes. What the session sends goes into
 * one output buffer and out in one write per turn, whatever the number of
 * streams answering in it. Flow control is kept both ways: a request body
 * the application does not read stops its client, and a response body
 * waits for the client's window.
 *
 * @module
 */

import { HttpRequest, type HttpResponse } from "../../filters/context.ts";
import { concatBytes } from "../../filters/concat_bytes.ts";
import { readSocket } from "../../filters/proxy/socket_read.ts";
import { formatAddr, PeerClient } from "../httpserver/client.ts";
import type { RequestHandler } from "../httpserver/web_handler.ts";
import {
  closeQuietly,
  isDisconnect,
  type ServedConnection,
  type SessionHost,
} from "../httpserver/served_connection.ts";
import {
  CLIENT_PREFACE,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  FLAG,
  FRAME,
  FRAME_HEADER_SIZE,
  H2_ERROR,
  H2ConnectionError,
  H2StreamError,
  MAX_FRAME_SIZE_LIMIT,
  MAX_WINDOW,
  readFrameLength,
  readUint31,
  readUint32,
  SETTING,
} from "./frames.ts";
import { HpackDecoder, HpackError } from "./hpack.ts";
import { checkTrailerFields, requestFields } from "./request_fields.ts";
import { FrameWriter, IDLE_BUFFER_SIZE } from "./frame_writer.ts";
import { OUTPUT_HIGH_WATER, ResponseSender } from "./response_sender.ts";
import { Http2Stream, type StreamHost } from "./stream.ts";

/** What a session needs from the server that accepted its connection. */
export interface Http2Host extends SessionHost {
  readonly handler: RequestHandler;
  /** "https", or "http" for h2c. */
  readonly scheme: string;
  /** Largest request header list (SETTINGS_MAX_HEADER_LIST_SIZE), in bytes. */
  readonly maxHeadBytes: number;
  /** Whether the server is shutting down: finish the streams there are, take no more. */
  readonly draining: boolean;
}

/** Streams a client may have open at once (Go's HTTP/2 server's default). */
export const MAX_CONCURRENT_STREAMS = 250;
/** Request body bytes a stream may have in flight before the application reads them. */
const STREAM_RECV_WINDOW = 256 * 1024;
/** Request body bytes all streams of a connection may have in flight together. */
const CONNECTION_RECV_WINDOW = 1024 * 1024;
/** How long a session closed while idle waits, after GOAWAY, for its client to hang up. */
const GOAWAY_GRACE_MS = 1000;
/** Resets by the client within a second that end the connection (the "rapid reset" attack). */
const MAX_RESETS_PER_SECOND = 200;
const EMPTY = new Uint8Array(0);

/** One accepted HTTP/2 connection. */
export class Http2Session implements ServedConnection, StreamHost {
  /** Coarse time the last stream ended (or the session began). */
  #idleSince: number;
  /** Coarse time of the last read from the client. */
  #lastReceived: number;
  readonly #socket: Deno.Conn;
  readonly #host: Http2Host;
  readonly #decoder: HpackDecoder;
  readonly #streams = new Map<number, Http2Stream>();
  /** Streams whose HEADERS this read brought, dispatched once all its frames are handled. */
  #arrived: Http2Stream[] = [];
  /** Highest stream id the client has opened. */
  #lastStreamId = 0;
  /** Stream ids above this are refused: GOAWAY was sent. */
  #goAwayId = -1;
  #peerGoAway = false;
  #closed = false;
  #remoteAddr: string | undefined;

  /** The client's SETTINGS_INITIAL_WINDOW_SIZE: what each stream may be sent at first. */
  #peerInitialWindow = DEFAULT_WINDOW;
  /** What the client may still send on the connection, and what it sent that was taken since. */
  #connRecvWindow = CONNECTION_RECV_WINDOW;
  #connUnacknowledged = 0;

  /**
   * A header block arriving in CONTINUATION frames: its stream, flags and
   * bytes so far, and the bytes its frames took on the wire (headers too).
   */
  #continuing: {
    streamId: number;
    endStream: boolean;
    parts: Uint8Array[];
    size: number;
    received: number;
  } | null = null;
  #prefaceSettingsSeen = false;
  #resetWindowStart = 0;
  #resetsInWindow = 0;

  readonly #out: FrameWriter;
  readonly #sender: ResponseSender;
  /** Set once the session should end as soon as its output is written. */
  #endPending = false;
  #goingAway: ReturnType<typeof setTimeout> | undefined;
  /** Set once a draining session has said it will take no more streams (see #noticeShutdown). */
  #shutdownNotice: ReturnType<typeof setTimeout> | undefined;

  /**
   * Starts serving `socket`; `received` is what was read from it already
   * (an h2c connection's first bytes). `host.closed` is called when it ends.
   */
  constructor(socket: Deno.Conn, host: Http2Host, received?: Uint8Array) {
    this.#socket = socket;
    this.#host = host;
    this.#out = new FrameWriter(socket, () => this.#end(), host);
    this.#sender = new ResponseSender(this.#out, {
      isClosed: () => this.#closed,
      onError: (message) => host.onError(message),
      ended: (stream) => this.#localEnd(stream),
      reset: (streamId, code) => this.#resetStream(streamId, code),
      closeWhenDone: () => this.drain(),
    });
    this.#idleSince = this.#lastReceived = host.now;
    // Strings are bounded by their header block, whose size is limited:
    // a field over the list limit is answered with 431, not a broken connection.
    this.#decoder = new HpackDecoder(4096, Infinity);
    this.#sendSettings();
    this.#serve(received ?? EMPTY).catch((error) => {
      host.onError(`HTTP/2 session: ${(error as Error)?.stack ?? error}`);
      this.#end();
    });
  }

  /** Whether no stream is open. */
  get idle(): boolean {
    return this.#streams.size === 0;
  }

  /**
   * Coarse time since when the session has waited on its client, 0 while
   * it is busy itself; the listener closes it once the wait lasts
   * keepAliveTimeout. It waits with no stream open, while a write stays
   * unread, and while every open stream waits for the client (for body
   * data it has room to send, or for window to send the response in).
   */
  get waitingSince(): number {
    if (this.#streams.size === 0) return this.#idleSince;
    if (this.#out.writingSince !== 0) return this.#out.writingSince;
    for (const stream of this.#streams.values()) {
      if (!this.#waitsOnClient(stream)) return 0;
    }
    return this.#lastReceived;
  }

  #waitsOnClient(stream: Http2Stream): boolean {
    if (stream.pending !== null) {
      return stream.sendWindow <= 0 || this.#sender.connWindow <= 0;
    }
    // The client can send only while both windows have room.
    return !stream.remoteClosed && stream.recvWindow > 0 && this.#connRecvWindow > 0;
  }

  /**
   * Closes the session: the listener calls this on idle sessions, and on
   * all of them once a shutdown's grace period is over. An idle session
   * says GOAWAY first (RFC 9113 section 6.8), so its client opens its next
   * stream on a new connection, with a PING after it: the client's answer
   * means it has seen the GOAWAY and sent nothing the session has not read,
   * and the connection closes then (after a second without one, or at a
   * second call, it closes anyway). A busy session is closed at once, its
   * streams cut short.
   */
  close(): void {
    if (this.#closed) return;
    if (this.#streams.size > 0 || this.#goingAway !== undefined) return this.#end();
    this.#goAway(H2_ERROR.NO_ERROR, "");
    this.#out.bytesFrame(FRAME.PING, 0, 0, GOAWAY_PING);
    this.#out.schedule();
    this.#goingAway = setTimeout(() => this.#end(), GOAWAY_GRACE_MS);
    Deno.unrefTimer(this.#goingAway);
  }

  /** The listener drains: the client is told at once (see #noticeShutdown). */
  drain(): void {
    if (!this.#closed) this.#noticeShutdown();
  }

  peer(): Deno.NetAddr {
    return this.#socket.remoteAddr as Deno.NetAddr;
  }

  remoteAddr(): string {
    return this.#remoteAddr ??= formatAddr(this.peer());
  }

  /** Reopens the windows as the application takes request body bytes. */
  consumed(stream: Http2Stream, size: number): void {
    if (this.#closed) return;
    this.#creditConnection(size);
    if (stream.remoteClosed) return;
    stream.unacknowledged += size;
    if (stream.unacknowledged >= STREAM_RECV_WINDOW / 2) {
      this.#windowUpdate(stream.id, stream.unacknowledged);
      stream.recvWindow += stream.unacknowledged;
      stream.unacknowledged = 0;
    }
    this.#out.schedule();
  }

  /** An interim 100 (RFC 9113 section 8.1): the client may now send the body it held back. */
  sendContinue(stream: Http2Stream): void {
    if (this.#closed || stream.localClosed) return;
    let block = CONTINUE_BLOCK;
    if (this.#sender.tableSizeUpdate) {
      this.#sender.tableSizeUpdate = false;
      block = CONTINUE_BLOCK_WITH_TABLE_SIZE_UPDATE;
    }
    this.#out.bytesFrame(FRAME.HEADERS, FLAG.END_HEADERS, stream.id, block);
    this.#out.schedule();
  }

  // --- Reading ---

  async #serve(received: Uint8Array): Promise<void> {
    let buf = new Uint8Array(Math.max(IDLE_BUFFER_SIZE, received.length));
    buf.set(received);
    let start = 0;
    let end = received.length;
    let prefaceSeen = false;
    try {
      for (;;) {
        if (!prefaceSeen && end - start >= CLIENT_PREFACE.length) {
          if (!bytesAt(buf, start, CLIENT_PREFACE)) {
            throw new H2ConnectionError(H2_ERROR.PROTOCOL_ERROR, "bad connection preface");
          }
          prefaceSeen = true;
          start += CLIENT_PREFACE.length;
        }
        if (prefaceSeen) start = this.#handleFrames(buf, start, end);
        if (this.#arrived.length > 0) {
          // The read's requests are admitted together, in turns with the
          // other connections' (see ReactorTurn); this one is not read meanwhile.
          const admitted = this.#host.turn.admit(this.#arrived.length);
          if (admitted !== undefined) await admitted;
          this.#dispatchArrived();
        }
        this.#out.schedule();
        if (this.#closed) return;
        // Room for the next read: unread bytes move to the front; a frame
        // larger than the buffer grows it.
        if (start === end) {
          start = end = 0;
          if (this.#streams.size === 0 && buf.length > IDLE_BUFFER_SIZE) {
            // Idle: what a burst grew is given back (see IDLE_BUFFER_SIZE).
            buf = new Uint8Array(IDLE_BUFFER_SIZE);
            this.#out.trim();
          }
        } else if (start > 0) {
          buf.copyWithin(0, start, end);
          end -= start;
          start = 0;
        }
        const needed = end >= FRAME_HEADER_SIZE ? FRAME_HEADER_SIZE + readFrameLength(buf, 0) : 0;
        if (needed > buf.length) {
          const grown = new Uint8Array(needed);
          grown.set(buf.subarray(0, end));
          buf = grown;
        }
        if (this.#out.pending > OUTPUT_HIGH_WATER) {
          // A client that sends but does not read (pings, say) is not answered into memory.
          await this.#out.drained();
          if (this.#closed) return;
        }
        const n = await readSocket(this.#socket, end === 0 ? buf : buf.subarray(end));
        if (!n) break;
        this.#lastReceived = this.#host.now;
        end += n;
      }
    } catch (error) {
      if (error instanceof H2ConnectionError) {
        this.#goAway(error.code, error.message);
        return this.#endAfterFlush();
      }
      if (!isDisconnect(error)) throw error;
    }
    this.#end();
  }

  /** Handles every whole frame in `buf[start, end)`; returns where the rest begins. */
  #handleFrames(buf: Uint8Array, start: number, end: number): number {
    while (end - start >= FRAME_HEADER_SIZE && !this.#closed) {
      const length = readFrameLength(buf, start);
      if (length > DEFAULT_MAX_FRAME_SIZE) {
        throw new H2ConnectionError(
          H2_ERROR.FRAME_SIZE_ERROR,
          `frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE`,
        );
      }
      if (end - start < FRAME_HEADER_SIZE + length) break;
      const type = buf[start + 3];
      const flags = buf[start + 4];
      const streamId = readUint31(buf, start + 5);
      const at = start + FRAME_HEADER_SIZE;
      start = at + length;
      if (!this.#prefaceSettingsSeen && (type !== FRAME.SETTINGS || (flags & FLAG.ACK) !== 0)) {
        // The preface ends with the client's SETTINGS (RFC 9113 section 3.4).
        throw new H2ConnectionError(H2_ERROR.PROTOCOL_ERROR, "first frame is not SETTINGS");
      }
      if (this.#continuing !== null && type !== FRAME.CONTINUATION) {
        throw new H2ConnectionError(
          H2_ERROR.PROTOCOL_ERROR,
          "header block interrupted by another frame",
        );
      }
      try {
        this.#handleFrame(buf, at, length, type, flags, streamId);
      } catch (error) {
        if (!(error instanceof H2StreamError)) throw error;
        this.#resetStream(streamId, error.code);
      }
    }
    return start;
  }

  #handleFrame(
    buf: Uint8Array,
    at: number,
    length: number,
    type: number,
    flags: number,
    streamId: number,
  ): void {
    switch (type) {
      case FRAME.DATA:
        return this.#onData(buf, at, length, flags, streamId);
      case FRAME.HEADERS:
        return this.#onHeaders(buf, at, length, flags, streamId);
      case FRAME.CONTINUATION:
        return this.#onContinuation(buf, at, length, flags, streamId);
      case FRAME.PRIORITY:
        if (streamId === 0) throw protocolError("PRIORITY on stream 0");
        if (length !== 5) {
          throw new H2StreamError(H2_ERROR.FRAME_SIZE_ERROR, "PRIORITY of wrong length");
        }
        if (dependencyOf(buf, at) === streamId) {
          throw new H2StreamError(H2_ERROR.PROTOCOL_ERROR, "stream depends on itself");
        }
        return;
      case FRAME.RST_STREAM:
        return this.#onReset(buf, at, length, streamId);
      case FRAME.SETTINGS:
        return this.#onSettings(buf, at, length, flags, streamId);
      case FRAME.PUSH_PROMISE:
        throw protocolError("PUSH_PROMISE from a client");
      case FRAME.PING:
        if (streamId !== 0) throw protocolError("PING on a stream");
        if (length !== 8) {
          throw new H2ConnectionError(H2_ERROR.FRAME_SIZE_ERROR, "PING of wrong length");
        }
        if ((flags & FLAG.ACK) === 0) {
          this.#out.bytesFrame(FRAME.PING, FLAG.ACK, 0, buf.subarray(at, at + 8));
        } else if (this.#goingAway !== undefined && bytesAt(buf, at, GOAWAY_PING)) {
          this.#endAfterFlush();
        } else if (this.#shutdownNotice !== undefined && bytesAt(buf, at, SHUTDOWN_PING)) {
          this.#lastGoAway();
        }
        return;
      case FRAME.GOAWAY:
        if (streamId !== 0) throw protocolError("GOAWAY on a stream");
        if (length < 8) {
          throw new H2ConnectionError(H2_ERROR.FRAME_SIZE_ERROR, "GOAWAY too short");
        }
        this.#peerGoAway = true;
        if (this.#streams.size === 0) this.#endAfterFlush();
        return;
      case FRAME.WINDOW_UPDATE:
        return this.#onWindowUpdate(buf, at, length, streamId);
      default:
        // Unknown frame types are ignored (RFC 9113 section 4.1).
        return;
    }
  }

  #onSettings(buf: Uint8Array, at: number, length: number, flags: number, streamId: number): void {
    if (streamId !== 0) throw protocolError("SETTINGS on a stream");
    if (flags & FLAG.ACK) {
      if (length !== 0) {
        throw new H2ConnectionError(H2_ERROR.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
      }
      return;
    }
    if (length % 6 !== 0) {
      throw new H2ConnectionError(H2_ERROR.FRAME_SIZE_ERROR, "SETTINGS of wrong length");
    }
    this.#prefaceSettingsSeen = true;
    for (let p = at; p < at + length; p += 6) {
      const id = (buf[p] << 8) | buf[p + 1];
      const value = readUint32(buf, p + 2);
      if (id === SETTING.ENABLE_PUSH) {
        if (value > 1) throw protocolError("SETTINGS_ENABLE_PUSH not 0 or 1");
      } else if (id === SETTING.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) {
          throw new H2ConnectionError(H2_ERROR.FLOW_CONTROL_ERROR, "initial window too large");
        }
        const delta = value - this.#peerInitialWindow;
        this.#peerInitialWindow = value;
        for (const stream of this.#streams.values()) {
          stream.sendWindow += delta;
          if (stream.sendWindow > MAX_WINDOW) {
            throw new H2ConnectionError(H2_ERROR.FLOW_CONTROL_ERROR, "stream window overflow");
          }
        }
        if (delta > 0) this.#sender.unblock();
      } else if (id === SETTING.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_FRAME_SIZE_LIMIT) {
          throw protocolError(`SETTINGS_MAX_FRAME_SIZE ${value}`);
        }
        this.#sender.maxFrame = value;
      } else if (id === SETTING.MAX_HEADER_LIST_SIZE) {
        this.#sender.maxHeaderList = value;
      } else if (id === SETTING.HEADER_TABLE_SIZE) {
        // Responses never use the dynamic table, but the client's decoder
        // waits for the size update that acknowledges its setting.
        this.#sender.tableSizeUpdate = true;
      }
    }
    this.#out.frame(FRAME.SETTINGS, FLAG.ACK, 0, 0);
  }

  #onWindowUpdate(buf: Uint8Array, at: number, length: number, streamId: number): void {
    if (length !== 4) {
      throw new H2ConnectionError(H2_ERROR.FRAME_SIZE_ERROR, "WINDOW_UPDATE of wrong length");
    }
    const increment = readUint31(buf, at);
    if (streamId === 0) {
      if (increment === 0) throw protocolError("WINDOW_UPDATE of 0");
      this.#sender.connWindow += increment;
      if (this.#sender.connWindow > MAX_WINDOW) {
        throw new H2ConnectionError(H2_ERROR.FLOW_CONTROL_ERROR, "connection window overflow");
      }
      this.#sender.unblock();
      return;
    }
    const stream = this.#streams.get(streamId);
    if (stream === undefined) {
      if (streamId > this.#lastStreamId) throw protocolError("WINDOW_UPDATE on an idle stream");
      return;
    }
    if (increment === 0) throw new H2StreamError(H2_ERROR.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) {
      throw new H2StreamError(H2_ERROR.FLOW_CONTROL_ERROR, "stream window overflow");
    }
    if (stream.pending !== null) this.#sender.unblock();
  }

  #onReset(buf: Uint8Array, at: number, length: number, streamId: number): void {
    if (streamId === 0) throw protocolError("RST_STREAM on stream 0");
    if (length !== 4) {
      throw new H2ConnectionError(H2_ERROR.FRAME_SIZE_ERROR, "RST_STREAM of wrong length");
    }
    if (streamId > this.#lastStreamId) throw protocolError("RST_STREAM on an idle stream");
    const stream = this.#streams.get(streamId);
    if (stream === undefined) return;
    const now = this.#host.now;
    if (now !== this.#resetWindowStart) {
      this.#resetWindowStart = now;
      this.#resetsInWindow = 0;
    }
    if (++this.#resetsInWindow > MAX_RESETS_PER_SECOND) {
      throw new H2ConnectionError(H2_ERROR.ENHANCE_YOUR_CALM, "too many stream resets");
    }
    this.#closeStream(
      stream,
      new Error(`stream reset by the client (code ${readUint32(buf, at)})`),
    );
  }

  #onData(buf: Uint8Array, at: number, length: number, flags: number, streamId: number): void {
    if (streamId === 0) throw protocolError("DATA on stream 0");
    // The whole frame, padding included, counts against the windows.
    if (length > this.#connRecvWindow) {
      throw new H2ConnectionError(H2_ERROR.FLOW_CONTROL_ERROR, "DATA beyond the connection window");
    }
    this.#connRecvWindow -= length;
    const stream = this.#streams.get(streamId);
    if (stream === undefined) {
      if (streamId > this.#lastStreamId) throw protocolError("DATA on an idle stream");
      // Sent before the client learnt the stream had ended: dropped, window given back.
      this.#creditConnection(length);
      return;
    }
    if (stream.remoteClosed) {
      this.#creditConnection(length);
      throw new H2StreamError(H2_ERROR.STREAM_CLOSED, "DATA after the end of the stream");
    }
    if (length > stream.recvWindow) {
      this.#creditConnection(length);
      throw new H2StreamError(H2_ERROR.FLOW_CONTROL_ERROR, "DATA beyond the stream window");
    }
    stream.recvWindow -= length;
    let dataStart = at;
    let dataEnd = at + length;
    if (flags & FLAG.PADDED) {
      dataStart++;
      dataEnd -= padLength(buf, at, length, "DATA");
      // Padding is never read: both windows get it back now.
      this.consumed(stream, length - (dataEnd - dataStart));
    }
    const size = dataEnd - dataStart;
    stream.received += size;
    if (stream.contentLength >= 0 && stream.received > stream.contentLength) {
      this.#creditConnection(size);
      throw new H2StreamError(H2_ERROR.PROTOCOL_ERROR, "body longer than its content-length");
    }
    if (size > 0) stream.push(buf.slice(dataStart, dataEnd));
    if (flags & FLAG.END_STREAM) this.#endOfRequest(stream);
  }

  /** Counts `size` received bytes as taken, reopening the connection window when enough are. */
  #creditConnection(size: number): void {
    this.#connUnacknowledged += size;
    if (this.#connUnacknowledged >= CONNECTION_RECV_WINDOW / 2) {
      this.#windowUpdate(0, this.#connUnacknowledged);
      this.#connRecvWindow += this.#connUnacknowledged;
      this.#connUnacknowledged = 0;
      this.#out.schedule();
    }
  }

  #endOfRequest(stream: Http2Stream): void {
    if (stream.contentLength >= 0 && stream.received !== stream.contentLength) {
      throw new H2StreamError(H2_ERROR.PROTOCOL_ERROR, "body shorter than its content-length");
    }
    stream.endBody();
    if (stream.localClosed) this.#forget(stream);
  }

  #onHeaders(buf: Uint8Array, at: number, length: number, flags: number, streamId: number): void {
    if (streamId === 0) throw protocolError("HEADERS on stream 0");
    let blockStart = at;
    let blockEnd = at + length;
    if (flags & FLAG.PADDED) {
      blockStart++;
      blockEnd -= padLength(buf, at, length, "HEADERS");
    }
    if (flags & FLAG.PRIORITY) {
      if (blockEnd - blockStart < 5) throw protocolError("HEADERS too short for its priority");
      // A stream error by RFC 9113 section 5.3.1, ended here as the connection's: refusing the
      // stream alone would still mean decoding its header block to keep HPACK in step.
      if (dependencyOf(buf, blockStart) === streamId) {
        throw protocolError("stream depends on itself");
      }
      blockStart += 5;
    }
    if (blockEnd < blockStart) throw protocolError("HEADERS too short");
    const endStream = (flags & FLAG.END_STREAM) !== 0;
    if (flags & FLAG.END_HEADERS) {
      return this.#onHeaderBlock(streamId, buf, blockStart, blockEnd, endStream);
    }
    this.#continuing = {
      streamId,
      endStream,
      parts: [buf.slice(blockStart, blockEnd)],
      size: blockEnd - blockStart,
      received: FRAME_HEADER_SIZE + length,
    };
  }

  #onContinuation(
    buf: Uint8Array,
    at: number,
    length: number,
    flags: number,
    streamId: number,
  ): void {
    const block = this.#continuing;
    if (block === null || block.streamId !== streamId) {
      throw protocolError("CONTINUATION without a header block to continue");
    }
    block.size += length;
    // Generous for the compressed form of the largest list accepted, and a
    // bound on what endless CONTINUATION frames can make the session hold.
    // Frame headers count too: empty frames, each kept, would have no bound.
    block.received += FRAME_HEADER_SIZE + length;
    if (block.received > 2 * this.#host.maxHeadBytes + DEFAULT_MAX_FRAME_SIZE) {
      throw new H2ConnectionError(H2_ERROR.ENHANCE_YOUR_CALM, "header block too large");
    }
    if (length > 0) block.parts.push(buf.slice(at, at + length));
    if ((flags & FLAG.END_HEADERS) === 0) return;
    this.#continuing = null;
    const whole = concatBytes(block.parts, block.size);
    this.#onHeaderBlock(streamId, whole, 0, whole.length, block.endStream);
  }

  /** A whole header block: a new request, or trailers. */
  #onHeaderBlock(
    streamId: number,
    buf: Uint8Array,
    start: number,
    end: number,
    endStream: boolean,
  ): void {
    // Decoded whatever becomes of the stream: the table must stay in step.
    let count: number;
    try {
      count = this.#decoder.decode(buf, start, end);
    } catch (error) {
      if (!(error instanceof HpackError)) throw error;
      throw new H2ConnectionError(H2_ERROR.COMPRESSION_ERROR, error.message);
    }
    const existing = this.#streams.get(streamId);
    if (existing !== undefined) {
      // Trailers: they end the body, and are not passed on.
      if (existing.remoteClosed) {
        throw new H2StreamError(H2_ERROR.STREAM_CLOSED, "HEADERS after the end of the stream");
      }
      if (!endStream) {
        throw new H2StreamError(H2_ERROR.PROTOCOL_ERROR, "trailers without END_STREAM");
      }
      checkTrailerFields(this.#decoder.names, this.#decoder.values, count);
      this.#endOfRequest(existing);
      return;
    }
    if (streamId <= this.#lastStreamId) {
      if (streamId % 2 === 0) throw protocolError(`HEADERS on stream ${streamId}`);
      // A closed stream: one used before, or one passed over, which the first
      // use of a higher id closed (RFC 9113 section 5.1.1). Said so, where an
      // ignored request left its client waiting; trailers that crossed this
      // side's reset get the same, which the client ignores (section 5.4.2).
      throw new H2StreamError(H2_ERROR.STREAM_CLOSED, `HEADERS on closed stream ${streamId}`);
    }
    if (streamId % 2 === 0) throw protocolError(`client stream id ${streamId} is even`);
    this.#lastStreamId = streamId;
    if (this.#goAwayId >= 0) return; // GOAWAY was sent: ignored (RFC 9113 section 6.8)
    if (this.#host.draining) this.#noticeShutdown();
    if (this.#streams.size >= MAX_CONCURRENT_STREAMS) {
      throw new H2StreamError(H2_ERROR.REFUSED_STREAM, "too many concurrent streams");
    }
    const stream = new Http2Stream(
      streamId,
      this,
      STREAM_RECV_WINDOW,
      this.#peerInitialWindow,
    );
    this.#streams.set(streamId, stream);
    if (this.#decoder.listSize > this.#host.maxHeadBytes) {
      stream.remoteClosed = endStream;
      this.#sender.answer(stream, 431);
      return;
    }
    let fields;
    try {
      fields = requestFields(this.#decoder.names, this.#decoder.values, count);
    } catch (error) {
      this.#forget(stream);
      throw error;
    }
    stream.contentLength = fields.contentLength;
    stream.expectContinue = fields.expectContinue && !endStream;
    stream.head = fields.method === "HEAD";
    if (endStream) {
      if (fields.contentLength > 0) {
        this.#forget(stream);
        throw new H2StreamError(H2_ERROR.PROTOCOL_ERROR, "body shorter than its content-length");
      }
      stream.remoteClosed = true;
    }
    stream.request = new HttpRequest({
      method: fields.method,
      path: fields.path,
      query: fields.query,
      requestURI: fields.requestURI,
      scheme: this.#host.scheme,
      host: fields.host,
      proto: "HTTP/2",
      headers: fields.headers,
      // Made when a filter first asks for it, which sends the 100 the client waits for.
      body: stream.expectContinue ? () => stream.bodyStream() : undefined,
    });
    // The parsed fields belong to this request alone (see the HTTP/1.1 server).
    stream.request.headers = fields.headers;
    this.#arrived.push(stream);
  }

  // --- Dispatching requests ---

  /** Hands the requests this read brought to the handler, bodies as whole as they came. */
  #dispatchArrived(): void {
    const arrived = this.#arrived;
    this.#arrived = [];
    for (const stream of arrived) {
      const request = stream.request!;
      stream.request = null;
      if (stream.reset) continue;
      if (stream.remoteClosed) request.body = stream.takeWholeBody();
      else if (!stream.expectContinue) request.body = stream.bodyStream();
      this.#run(stream, request);
    }
  }

  #run(stream: Http2Stream, request: HttpRequest): void {
    if (stream.reset) return;
    let result: HttpResponse | Promise<HttpResponse>;
    try {
      result = this.#host.handler(request, new PeerClient(request, stream));
    } catch (error) {
      return this.#handlerFailed(stream, error);
    }
    if (result instanceof Promise) {
      result.then(
        (response) => this.#deliver(stream, response),
        (error) => this.#handlerFailed(stream, error),
      );
    } else {
      this.#deliver(stream, result);
    }
  }

  /** Sends the response; a fault there resets its stream, never the node (no rejection escapes). */
  #deliver(stream: Http2Stream, response: HttpResponse): void {
    try {
      this.#sender.respond(stream, response);
    } catch (error) {
      this.#host.onError(`HTTP/2 response: ${(error as Error)?.stack ?? error}`);
      if (!this.#closed) this.#resetStream(stream.id, H2_ERROR.INTERNAL_ERROR);
      this.#out.schedule();
    }
  }

  #handlerFailed(stream: Http2Stream, error: unknown): void {
    this.#host.onError(`HTTP/2 handler: ${(error as Error)?.stack ?? error}`);
    if (!stream.reset) this.#sender.answer(stream, 500);
  }

  /** The response has ended: the stream goes once the request has too. */
  #localEnd(stream: Http2Stream): void {
    stream.localClosed = true;
    if (stream.remoteClosed) return this.#forget(stream);
    // The answer is complete but the client is still sending: tell it to
    // stop (RFC 9113 section 8.1) and give back what it already sent.
    this.#resetStream(stream.id, H2_ERROR.NO_ERROR);
  }

  /** Ends a stream with RST_STREAM (its request and response both cut short). */
  #resetStream(streamId: number, code: number): void {
    this.#out.uint32Frame(FRAME.RST_STREAM, streamId, code);
    const stream = this.#streams.get(streamId);
    if (stream !== undefined) {
      this.#closeStream(stream, new Error(`stream reset (code ${code})`));
    }
  }

  /** Drops a stream cut short: its unread body returns to the connection window. */
  #closeStream(stream: Http2Stream, reason: Error): void {
    this.#creditConnection(stream.unread);
    stream.abort(reason);
    this.#forget(stream);
  }

  #forget(stream: Http2Stream): void {
    if (!this.#streams.delete(stream.id)) return;
    this.#streamEnded();
  }

  #streamEnded(): void {
    if (this.#streams.size > 0) return;
    this.#idleSince = this.#host.now;
    if (this.#peerGoAway || this.#goAwayId >= 0) this.#endAfterFlush();
  }

  // --- Output ---

  #sendSettings(): void {
    this.#out.settings([
      [SETTING.MAX_CONCURRENT_STREAMS, MAX_CONCURRENT_STREAMS],
      [SETTING.INITIAL_WINDOW_SIZE, STREAM_RECV_WINDOW],
      [SETTING.MAX_HEADER_LIST_SIZE, this.#host.maxHeadBytes],
      [SETTING.ENABLE_PUSH, 0],
    ]);
    this.#windowUpdate(0, CONNECTION_RECV_WINDOW - DEFAULT_WINDOW);
    this.#out.schedule();
  }

  #windowUpdate(streamId: number, increment: number): void {
    this.#out.uint32Frame(FRAME.WINDOW_UPDATE, streamId, increment);
  }

  /** Sends GOAWAY once; streams above `lastId` (default: the last opened) are not served. */
  #goAway(code: number, message: string, lastId = this.#lastStreamId): void {
    if (this.#goAwayId >= 0) return;
    this.#goAwayId = lastId;
    this.#out.goAway(lastId, code, message);
    this.#out.schedule();
  }

  /**
   * Shutting down, as RFC 9113 section 6.8 advises: GOAWAY naming the
   * highest stream id, so the client opens no more streams here, and a PING
   * after it. The streams it sent before it saw the GOAWAY are served, and
   * the last of them is named in a second GOAWAY once the PING comes back
   * (or after a second without). A GOAWAY naming the first stream seen
   * while draining refused the others a client had in flight with it.
   */
  #noticeShutdown(): void {
    if (this.#shutdownNotice !== undefined || this.#goAwayId >= 0) return;
    this.#out.goAway(MAX_STREAM_ID, H2_ERROR.NO_ERROR, "");
    this.#out.bytesFrame(FRAME.PING, 0, 0, SHUTDOWN_PING);
    this.#out.schedule();
    this.#shutdownNotice = setTimeout(() => this.#lastGoAway(), GOAWAY_GRACE_MS);
    Deno.unrefTimer(this.#shutdownNotice);
  }

  /** The GOAWAY after the shutdown notice: no stream past those opened so far is served. */
  #lastGoAway(): void {
    clearTimeout(this.#shutdownNotice);
    if (this.#closed) return;
    this.#goAway(H2_ERROR.NO_ERROR, "");
    if (this.#streams.size === 0) this.#endAfterFlush();
  }

  /** Ends the session once what is queued has been written. */
  #endAfterFlush(): void {
    if (this.#endPending) return;
    this.#endPending = true;
    this.#out.drained().then(() => this.#end());
  }

  /** Closes the socket and cuts every open stream short. */
  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#goingAway);
    clearTimeout(this.#shutdownNotice);
    const gone = new Error("HTTP/2 connection closed");
    for (const stream of this.#streams.values()) stream.abort(gone);
    this.#streams.clear();
    this.#sender.clear();
    this.#out.close();
    closeQuietly(this.#socket);
    this.#host.closed(this);
  }
}

/** The stream a priority field at `at` depends on (its exclusive bit left out). */
function dependencyOf(buf: Uint8Array, at: number): number {
  return ((buf[at] & 0x7f) << 24 | buf[at + 1] << 16 | buf[at + 2] << 8 | buf[at + 3]) >>> 0;
}

/** `:status: 100` in HPACK: a literal without indexing, name from static entry 8. */
const CONTINUE_BLOCK = new Uint8Array([0x08, 0x03, 0x31, 0x30, 0x30]);
/** The same, opened by a table size update to 0 (see ResponseSender.tableSizeUpdate). */
const CONTINUE_BLOCK_WITH_TABLE_SIZE_UPDATE = new Uint8Array([0x20, ...CONTINUE_BLOCK]);

/** The payload of the PING that follows a closing session's GOAWAY. */
const GOAWAY_PING = new TextEncoder().encode("goaway\0\0");

/** The payload of the PING that follows a draining session's first GOAWAY. */
const SHUTDOWN_PING = new TextEncoder().encode("drain\0\0\0");

/** The highest stream id: a GOAWAY naming it refuses nothing sent so far. */
const MAX_STREAM_ID = 2 ** 31 - 1;

/** Whether `buf` holds `expected` from `at` on. */
function bytesAt(buf: Uint8Array, at: number, expected: Uint8Array): boolean {
  for (let i = 0; i < expected.length; i++) if (buf[at + i] !== expected[i]) return false;
  return true;
}

/** The pad length a PADDED frame's first byte gives; a connection error if it leaves no room. */
function padLength(buf: Uint8Array, at: number, length: number, frame: string): number {
  const pad = length > 0 ? buf[at] : 0;
  if (length === 0 || pad >= length) throw protocolError(`padding exceeds the ${frame} frame`);
  return pad;
}

function protocolError(message: string): H2ConnectionError {
  return new H2ConnectionError(H2_ERROR.PROTOCOL_ERROR, message);
}
