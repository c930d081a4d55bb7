/**
 * One client connection of a WebSocketServer: its handshake is checked and
 * passed to the backend with the client's headers (plus X-Forwarded-For,
 * -Host and -Proto), then bytes flow both ways untouched until either side
 * closes. The backend's answer, 101 or a refusal, reaches the client as the
 * backend wrote it; after a refusal the relay ends.
 *
 * @module
 */

import { forEachHeaderField } from "../../filters/header_fields.ts";
import { Http1Connection } from "../../filters/proxy/http1_connection.ts";
import { findHeadEnd, hasToken } from "../../filters/proxy/http1_parser.ts";
import { HOP_BY_HOP } from "../../filters/proxy/hop_by_hop.ts";
import { readSocket } from "../../filters/proxy/socket_read.ts";
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
  let conn: Http1Connection | null = new Http1Connection(client, undefined, 4096);
  const timer = setTimeout(() => conn?.close(), timeoutMs);
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
  const headers = head.headers;
  if (
    head.method !== "GET" || !hasToken(headers.get("connection") ?? "", "upgrade") ||
    !hasToken(headers.get("upgrade") ?? "", "websocket")
  ) {
    return await refuse(client, 400, "not a WebSocket handshake");
  }
  // What gorilla/websocket's Upgrader, which answers Easegress's clients,
  // refuses too (RFC 6455 section 4.2.1): a backend is not left to judge it.
  if (!HANDSHAKE_KEY.test(headers.get("sec-websocket-key") ?? "")) {
    return await refuse(client, 400, "Sec-WebSocket-Key must be 16 bytes in base64");
  }
  if (!hasToken(headers.get("sec-websocket-version") ?? "", "13")) {
    return await refuse(
      client,
      400,
      "unsupported Sec-WebSocket-Version: this server speaks 13",
      "sec-websocket-version: 13\r\n",
    );
  }
  let backend: Deno.Conn;
  try {
    backend = await withTimeout(target.connect(), timeoutMs);
  } catch (e) {
    return await refuse(client, 502, `cannot reach the backend: ${(e as Error).message}`);
  }
  onBackend(backend);
  const forwardedFor = headers.get("x-forwarded-for");
  const clientIP = unmapIPv4((client.remoteAddr as Deno.NetAddr).hostname);
  const base = target.backend.pathname === "/" ? "" : target.backend.pathname.replace(/\/$/, "");
  let text = `GET ${base}${head.path}${head.query ? `?${head.query}` : ""} HTTP/1.1\r\n` +
    `host: ${target.backend.host}\r\n`;
  forEachHeaderField(headers, (value, name) => {
    if (!NOT_COPIED.has(name)) text += `${name}: ${value}\r\n`;
  });
  text += "upgrade: websocket\r\nconnection: Upgrade\r\n" +
    `x-forwarded-for: ${forwardedFor ? `${forwardedFor}, ${clientIP}` : clientIP}\r\n` +
    (head.host ? `x-forwarded-host: ${head.host}\r\n` : "") +
    `x-forwarded-proto: ${target.scheme}\r\n\r\n`;
  // Bytes the client sent after its head, for the backend once it has switched
  // protocols; the read buffer is let go before the relay's long wait.
  const early = conn.buf.slice(headEnd, conn.end);
  conn = null;
  try {
    await writeAll(backend, encoder.encode(text));
  } catch {
    await refuse(client, 502, "the backend closed the connection");
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
      client,
      timedOut ? 504 : 502,
      timedOut
        ? `the backend did not answer the handshake within ${seconds}s`
        : "the backend closed the connection",
    );
  }
  try {
    await writeAll(client, first.subarray(0, n));
  } catch {
    return; // the client left
  }
  if (!SWITCHED.test(decoder.decode(first.subarray(0, Math.min(n, 16))))) {
    return await passRefusal(backend, client, timeoutMs);
  }
  if (early.length > 0) {
    try {
      await writeAll(backend, early);
    } catch {
      return; // the backend left
    }
  }
  await Promise.all([pump(client, backend), pump(backend, client)]);
}

/**
 * Passes on the rest of a backend's refusal (any answer but 101) and ends
 * the relay: the client's bytes go no further. Relayed on, they would reach
 * the backend as requests of their own, with any Host and without the
 * X-Forwarded-* fields written here. The backend, told that no more comes,
 * closes once it has answered; one that does not has `timeoutMs`.
 */
async function passRefusal(backend: Deno.Conn, client: Deno.Conn, timeoutMs: number) {
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
 * Copies `from` to `to` until `from` ends, then ends `to`'s sending side;
 * on a failure either way, closes both (the other pump then ends too).
 */
async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(RELAY_BUFFER_SIZE);
  try {
    for (;;) {
      const n = await readSocket(from, buf);
      if (!n) break;
      await writeAll(to, buf.subarray(0, n));
    }
    await to.closeWrite();
  } catch {
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
  client: Deno.Conn,
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
