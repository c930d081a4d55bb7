/**
 * WebSocket relays: a client's handshake is checked and passed to the
 * backend with the client's headers (plus X-Forwarded-For, -Host and
 * -Proto), then bytes flow both ways untouched until either side closes.
 * The backend's answer, 101 or a refusal, reaches the client as the backend
 * wrote it; after a refusal the relay ends. A WebSocketServer's connections
 * come here whole ({@linkcode relay}); a WebSocketProxy's once the
 * HTTPServer has read the handshake ({@linkcode relayHandshake}).
 *
 * @module
 */

import { forEachHeaderField } from "../../filters/header_fields.ts";
import { Http1Connection } from "../../filters/proxy/http1_connection.ts";
import { findHeadEnd, hasToken } from "../../filters/proxy/http1_parser.ts";
import { HOP_BY_HOP } from "../../filters/proxy/hop_by_hop.ts";
import { closeFrame, FrameLimit, GOING_AWAY, MESSAGE_TOO_BIG } from "./frame_limit.ts";
import { readSocket, type Socket } from "../../filters/proxy/socket_read.ts";
import { writeAll } from "../../filters/write_all.ts";
import { STATUS_TEXT } from "../../filters/status_text.ts";
import {
  badMethodStart,
  parseRequestHead,
  RequestHeadError,
  skipEmptyLines,
} from "../httpserver/http1/request_head.ts";
import { unmapIPv4 } from "../httpserver/client.ts";
import { closeQuietly } from "../httpserver/served_connection.ts";

/**
 * Longest a client may take to send its handshake (and, over TLS, its TLS
 * handshake before that), and the backend to accept a connection.
 */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
const MAX_HEAD_BYTES = 64 * 1024;
/** Each direction's read buffer: an idle relay holds two. */
const RELAY_BUFFER_SIZE = 8 * 1024;
/** Fields that describe the client's hop, or that the relay writes itself. */
const NOT_COPIED: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  "host",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** The start of a backend's answer that accepts the upgrade. */
const SWITCHED = /^HTTP\/1\.[01] 101[ \r]/;
/** A Sec-WebSocket-Key: 16 bytes in base64 (RFC 6455 section 4.1). */
const HANDSHAKE_KEY = /^[A-Za-z0-9+/]{22}==$/;

/** Where and how a relay reaches its backend. */
export interface RelayTarget {
  /** The backend's base URL (ws:// or wss://). */
  readonly backend: URL;
  /**
   * The largest message from the client and from the backend, in bytes
   * (-1: no limit); none are looked at when absent.
   */
  readonly limits?: { readonly client: number; readonly server: number };
  /** The Host sent to the backend: the backend URL's host when absent. */
  readonly host?: string;
  /** Opens a connection to the backend. */
  connect(): Promise<Deno.Conn>;
  /** "http" or "https": how the client reached us. */
  readonly scheme: string;
  /**
   * How long the client may take to send its handshake, and the backend to
   * accept the connection and to answer. @default {10000}
   */
  readonly handshakeTimeoutMs?: number;
}

/**
 * Relays `client` to the backend until either side closes; resolves then.
 * `onBackend` is told the backend connection once it is open, so the
 * caller can close it too.
 */
export async function relay(
  client: Deno.Conn,
  target: RelayTarget,
  onBackend: (backend: Deno.Conn) => void,
): Promise<void> {
  const timeoutMs = target.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  const conn = new Http1Connection(client, undefined, 4096);
  const timer = setTimeout(() => conn.close(), timeoutMs);
  let headEnd = -1;
  try {
    for (;;) {
      // Empty lines before the request line are not its end (RFC 9112 section 2.2).
      conn.start = skipEmptyLines(conn.buf, conn.start, conn.end);
      if ((headEnd = findHeadEnd(conn.buf, conn.start, conn.end)) >= 0) break;
      if (conn.buffered > MAX_HEAD_BYTES) {
        return await refuse(client, 431, "request head too large");
      }
      const notHttp = badMethodStart(conn.buf, conn.start, conn.end);
      if (notHttp !== null) return await refuse(client, notHttp.status, notHttp.message);
      if (!(await conn.fill())) return;
    }
  } catch {
    return; // the client left, or took too long
  } finally {
    clearTimeout(timer);
  }
  let head;
  try {
    head = parseRequestHead(conn.buf, conn.start, headEnd);
  } catch (e) {
    if (!(e instanceof RequestHeadError)) throw e;
    return await refuse(client, e.status, e.message);
  }
  const problem = handshakeProblem(head.method, head.headers);
  if (problem !== null) {
    return await refuse(client, problem.status, problem.message, problem.fields);
  }
  conn.start = headEnd;
  const handshake: Handshake = {
    path: head.path,
    query: head.query,
    host: head.host,
    headers: head.headers,
    clientIP: unmapIPv4((client.remoteAddr as Deno.NetAddr).hostname),
  };
  await relayHandshake(conn, handshake, target, onBackend);
}

/** A handshake that was checked (see {@linkcode handshakeProblem}), to relay. */
export interface Handshake {
  /** The request's path, as it goes to the backend after the backend URL's own path. */
  readonly path: string;
  /** The query, without its "?" ("" for none). */
  readonly query: string;
  /** The Host the client asked for ("" for none), sent on as X-Forwarded-Host. */
  readonly host: string;
  /** The client's fields: all but the hop's own are sent on. */
  readonly headers: Headers;
  /** The client's address, appended to X-Forwarded-For. */
  readonly clientIP: string;
}

/** Why a request is no WebSocket handshake: its answer's status, text and extra fields. */
export interface HandshakeProblem {
  readonly status: number;
  readonly message: string;
  /** Header lines for the answer ("" for none). */
  readonly fields: string;
}

const NOT_HANDSHAKE: HandshakeProblem = {
  status: 400,
  message: "not a WebSocket handshake",
  fields: "",
};
const BAD_KEY: HandshakeProblem = {
  status: 400,
  message: "Sec-WebSocket-Key must be 16 bytes in base64",
  fields: "",
};
const BAD_VERSION: HandshakeProblem = {
  status: 400,
  message: "unsupported Sec-WebSocket-Version: this server speaks 13",
  fields: "sec-websocket-version: 13\r\n",
};

/** Whether `method` and `headers` make a WebSocket handshake; null when they do. */
export function handshakeProblem(method: string, headers: Headers): HandshakeProblem | null {
  if (
    method !== "GET" || !hasToken(headers.get("connection") ?? "", "upgrade") ||
    !hasToken(headers.get("upgrade") ?? "", "websocket")
  ) {
    return NOT_HANDSHAKE;
  }
  // What gorilla/websocket's Upgrader, which answers Easegress's clients,
  // refuses too (RFC 6455 section 4.2.1): a backend is not left to judge it.
  if (!HANDSHAKE_KEY.test(headers.get("sec-websocket-key") ?? "")) return BAD_KEY;
  if (!hasToken(headers.get("sec-websocket-version") ?? "", "13")) return BAD_VERSION;
  return null;
}

/**
 * Relays a checked handshake, whose head `client` has read (`client.start`
 * is past it; bytes after it, and a read already under way, are the
 * client's first frames), to the backend, then bytes both ways until either
 * side closes. The client's socket is closed by the caller; `onBackend` is
 * told the backend connection once it is open, so the caller can close it
 * too.
 */
export async function relayHandshake(
  client: Http1Connection,
  handshake: Handshake,
  target: RelayTarget,
  onBackend: (backend: Deno.Conn) => void,
): Promise<void> {
  const timeoutMs = target.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  const socket = client.socket;
  let backend: Deno.Conn;
  try {
    backend = await withTimeout(target.connect(), timeoutMs);
  } catch (e) {
    return await refuse(socket, 502, `cannot reach the backend: ${(e as Error).message}`);
  }
  onBackend(backend);
  const headers = handshake.headers;
  const forwardedFor = headers.get("x-forwarded-for");
  const clientIP = handshake.clientIP;
  const base = target.backend.pathname === "/" ? "" : target.backend.pathname.replace(/\/$/, "");
  const query = handshake.query;
  let text = `GET ${base}${handshake.path}${query ? `?${query}` : ""} HTTP/1.1\r\n` +
    `host: ${target.host ?? target.backend.host}\r\n`;
  forEachHeaderField(headers, (value, name) => {
    if (!NOT_COPIED.has(name)) text += `${name}: ${value}\r\n`;
  });
  text += "upgrade: websocket\r\nconnection: Upgrade\r\n" +
    `x-forwarded-for: ${forwardedFor ? `${forwardedFor}, ${clientIP}` : clientIP}\r\n` +
    (handshake.host ? `x-forwarded-host: ${handshake.host}\r\n` : "") +
    `x-forwarded-proto: ${target.scheme}\r\n\r\n`;
  try {
    await writeAll(backend, encoder.encode(text));
  } catch {
    await refuse(socket, 502, "the backend closed the connection");
    return;
  }
  // The backend's answer (101 or a refusal) starts the relay; one that never
  // comes would hold the client forever.
  const first = new Uint8Array(RELAY_BUFFER_SIZE);
  let timedOut = false;
  const answerTimer = setTimeout(() => {
    timedOut = true;
    closeQuietly(backend);
  }, timeoutMs);
  let n = 0;
  try {
    // Up to the end of the status line, which tells whether the backend upgraded.
    while (n < first.length && first.subarray(0, n).indexOf(10) < 0) {
      const got = await readSocket(backend, first.subarray(n));
      if (!got) break;
      n += got;
    }
  } catch {
    /* closed: by the timer, or the backend reset it */
  } finally {
    clearTimeout(answerTimer);
  }
  if (!n) {
    const seconds = timeoutMs / 1000;
    return await refuse(
      socket,
      timedOut ? 504 : 502,
      timedOut
        ? `the backend did not answer the handshake within ${seconds}s`
        : "the backend closed the connection",
    );
  }
  try {
    await writeAll(socket, first.subarray(0, n));
  } catch {
    return; // the client left
  }
  if (!SWITCHED.test(decoder.decode(first.subarray(0, Math.min(n, 16))))) {
    return await passRefusal(backend, socket, timeoutMs);
  }
  const limits = target.limits;
  if (limits === undefined) {
    await Promise.all([pumpClient(client, backend), pump(backend, socket)]);
    return;
  }
  const up = new LimitedLeg(backend, new FrameLimit(limits.client), true);
  const down = new LimitedLeg(socket, new FrameLimit(limits.server), false);
  up.back = down;
  down.back = up;
  await Promise.all([pumpClient(client, backend, up), pump(backend, socket, down)]);
}

/**
 * One direction of a relay whose messages are limited: bytes go on up to
 * the frame that takes a message past the limit; then the sender is told
 * 1009 (message too big) and the receiver 1001 (going away), each when its
 * stream is between frames, and the relay ends, as Easegress's read limit
 * ends it.
 */
class LimitedLeg {
  /** The other direction, whose destination is this one's source. */
  back: LimitedLeg = this;
  /** Whether a message went past a limit: the relay is ending, its sockets closed by the legs. */
  stopped = false;
  #writing = false;

  /** `toServer`: whether `to` is the backend (frames to it are masked). */
  constructor(
    readonly to: Socket,
    readonly frames: FrameLimit,
    readonly toServer: boolean,
  ) {}

  /**
   * Writes `bytes` on; false once a message went past the limit. The
   * receiver is closed then, and the sender too unless it was sent a close
   * frame: then only its sending side is, and the caller lingers on it (see
   * {@linkcode linger}).
   */
  async forward(bytes: Uint8Array): Promise<boolean> {
    const over = this.frames.scan(bytes);
    if (over < 0) {
      await this.#write(bytes);
      return true;
    }
    const back = this.back;
    this.stopped = back.stopped = true;
    let told = false;
    try {
      if (over > 0) await this.#write(bytes.subarray(0, over));
      const closing: Promise<void>[] = [];
      // A close frame goes only where no frame of the other way is half written.
      if (!back.#writing && back.frames.atBoundary) {
        told = true;
        closing.push(writeAll(back.to, closeFrame(MESSAGE_TOO_BIG, back.toServer)));
      }
      if (!this.frames.splitHeader) {
        closing.push(writeAll(this.to, closeFrame(GOING_AWAY, this.toServer)));
      }
      await Promise.allSettled(closing);
      if (told) await back.to.closeWrite();
    } catch {
      told = false;
    } finally {
      closeQuietly(this.to);
      if (!told) closeQuietly(back.to);
    }
    return false;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    this.#writing = true;
    try {
      await writeAll(this.to, bytes);
    } finally {
      this.#writing = false;
    }
  }
}

/** Longest a sender told its message was too big is read from before its socket closes. */
const LINGER_MS = 1000;

/**
 * Reads and drops what `socket` still sends, until it closes or for
 * LINGER_MS, then closes it. Closed with unread input, a socket is reset,
 * and a reset loses what its peer has not read yet: the close frame just
 * sent to a client still sending the rest of its message.
 */
async function linger(socket: Socket): Promise<void> {
  const timer = setTimeout(() => closeQuietly(socket), LINGER_MS);
  const buf = new Uint8Array(RELAY_BUFFER_SIZE);
  try {
    while (await readSocket(socket, buf)) {
      // dropped
    }
  } catch {
    // Closed by the timer, or reset by the client.
  } finally {
    clearTimeout(timer);
    closeQuietly(socket);
  }
}

/**
 * Copies what `client` sent after its handshake (bytes buffered, then a
 * read already under way) to `backend`, then the rest of its bytes as
 * {@linkcode pump} does. The connection's buffer is let go before the
 * relay's long wait.
 */
async function pumpClient(
  client: Http1Connection,
  backend: Deno.Conn,
  leg?: LimitedLeg,
): Promise<void> {
  const socket = client.socket;
  try {
    while (client.buffered > 0 || client.reading) {
      if (client.buffered === 0 && !(await client.fill())) {
        await backend.closeWrite();
        return;
      }
      const bytes = client.buf.subarray(client.start, client.end);
      client.start = client.end;
      if (leg === undefined) await writeAll(backend, bytes);
      else if (!(await leg.forward(bytes))) return await linger(socket);
    }
  } catch {
    if (leg?.stopped) return; // the legs close the sockets
    closeQuietly(socket);
    closeQuietly(backend);
    return;
  }
  client.buf = EMPTY;
  client.start = client.end = 0;
  await pump(socket, backend, leg);
}

const EMPTY = new Uint8Array(0);

/**
 * Passes on the rest of a backend's refusal (any answer but 101) and ends
 * the relay: the client's bytes go no further. Relayed on, they would reach
 * the backend as requests of their own, with any Host and without the
 * X-Forwarded-* fields written here. The backend, told that no more comes,
 * closes once it has answered; one that does not has `timeoutMs`.
 */
async function passRefusal(backend: Deno.Conn, client: Socket, timeoutMs: number) {
  const timer = setTimeout(() => closeQuietly(backend), timeoutMs);
  try {
    await backend.closeWrite();
    await pump(backend, client);
  } catch {
    /* the backend is gone already */
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Copies `from` to `to` (through `leg`, when messages are limited) until
 * `from` ends, then ends `to`'s sending side; on a failure either way,
 * closes both (the other pump then ends too).
 */
async function pump(from: Socket, to: Socket, leg?: LimitedLeg): Promise<void> {
  const buf = new Uint8Array(RELAY_BUFFER_SIZE);
  try {
    for (;;) {
      const n = await readSocket(from, buf);
      if (!n) break;
      if (leg === undefined) await writeAll(to, buf.subarray(0, n));
      else if (!(await leg.forward(buf.subarray(0, n)))) return await linger(from);
    }
    await to.closeWrite();
  } catch {
    if (leg?.stopped) return; // the legs close the sockets
    closeQuietly(from);
    closeQuietly(to);
  }
}

/** `connecting`, or a timeout error after `ms` (a connection that opens later is closed). */
function withTimeout(connecting: Promise<Deno.Conn>, ms: number): Promise<Deno.Conn> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      connecting.then(closeQuietly, () => {});
      reject(new Error(`no connection after ${ms / 1000}s`));
    }, ms);
  });
  return Promise.race([connecting, late]).finally(() => clearTimeout(timer));
}

/** Answers `status` with `message` and closes; `extraFields` are header lines to add. */
async function refuse(
  client: Socket,
  status: number,
  message: string,
  extraFields = "",
): Promise<void> {
  const body = `${message}\n`;
  const head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ""}\r\ncontent-type: text/plain\r\n` +
    extraFields +
    `content-length: ${encoder.encode(body).length}\r\nconnection: close\r\n\r\n`;
  try {
    await writeAll(client, encoder.encode(head + body));
  } catch { /* the client is gone */ }
}

/**
 * A TLS connection once its handshake is done, so a backend certificate
 * that fails verification is reported as such rather than as a closed
 * connection at the first write.
 */
export async function handshaken(connecting: Promise<Deno.TlsConn>): Promise<Deno.TlsConn> {
  const conn = await connecting;
  try {
    await conn.handshake();
  } catch (e) {
    closeQuietly(conn);
    throw e;
  }
  return conn;
}
