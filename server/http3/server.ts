/**
 * `serveHttp3`: an HTTP/3 server on Deno's native QUIC (`Deno.QuicEndpoint`,
 * needs `--unstable-net`), calling a fetch-style handler per request.
 *
 * @module
 */

import { Http3Connection } from "./connection.ts";
import { H3_ERROR } from "./errors.ts";
import type { Http3Handler } from "./request_stream.ts";
import { waitUntil } from "../../filters/sleep.ts";
import { leaseQuicEndpoint, type QuicLease } from "./endpoints.ts";

/** Options for {@linkcode serveHttp3}. */
export interface Http3ServerOptions {
  /**
   * Address to bind the UDP socket to.
   * @default {"0.0.0.0"}
   */
  hostname?: string;
  /** UDP port (the same number as the TCP listener); 0 picks a free one. */
  port: number;
  /** Certificate chain, PEM. */
  cert: string;
  /** Private key, PEM. */
  key: string;
  /** Answers each request; its `Response` body is streamed out in DATA frames. */
  handler: Http3Handler;
  /**
   * Close connections idle (no packets, no request in flight) this long.
   * @default {60000}
   */
  idleTimeoutMs?: number;
  /**
   * Largest request header section accepted (SETTINGS_MAX_FIELD_SECTION_SIZE);
   * larger ones get 431.
   * @default {65536}
   */
  maxHeaderBytes?: number;
  /**
   * Takes one line (no stack trace, but for a handler that threw) about a
   * failure the client is not told of, such as a response body that broke
   * midway. By default the line goes to `console.error`.
   */
  onError?: (message: string) => void;
  /** Aborting it shuts the server down gracefully (GOAWAY, finish in-flight, close). */
  signal?: AbortSignal;
  /** Called once the socket is bound. */
  onListen?: (addr: Deno.NetAddr) => void;
}

/** A running HTTP/3 server. */
export interface Http3Server {
  /** The bound UDP address. */
  readonly addr: Deno.NetAddr;
  /**
   * Resolves once the server has stopped, every connection is closed and
   * every handler call has returned (handlers of closed connections see
   * their `request.signal` aborted).
   */
  readonly finished: Promise<void>;
  /**
   * Stops accepting connections, sends GOAWAY on each, lets in-flight
   * requests finish for up to `graceMs`, then closes everything.
   */
  shutdown(graceMs?: number): Promise<void>;
}

/** Default time in-flight requests get to finish on shutdown. */
const DEFAULT_GRACE_MS = 10_000;
/**
 * After the last response on a draining connection, how long to let the
 * client close first: closing at once could drop response bytes still in
 * flight, which QUIC does not deliver after CONNECTION_CLOSE.
 */
const LINGER_MS = 500;
/** The longest wait between the keep-alive frames of connections serving requests. */
const KEEP_ALIVE_MAX_MS = 10_000;

/**
 * Starts an HTTP/3 server. Throws (TypeError for bad options, or the bind
 * error) before anything runs in the background.
 *
 * @example
 * ```ts ignore
 * const server = serveHttp3({ port: 8443, cert, key, handler: () => new Response("hi") });
 * await server.shutdown();
 * ```
 */
export function serveHttp3(options: Http3ServerOptions): Http3Server {
  checkOptions(options);
  return new QuicHttp3Server(options);
}

function logError(message: string): void {
  console.error(message);
}

function checkOptions(options: Http3ServerOptions): void {
  const { port, cert, key, handler, idleTimeoutMs, maxHeaderBytes, onError } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`Cannot serve HTTP/3: port ${port} is not an integer in 0..65535`);
  }
  if (typeof cert !== "string" || !cert.includes("-----BEGIN")) {
    throw new TypeError("Cannot serve HTTP/3: cert is not a PEM string");
  }
  if (typeof key !== "string" || !key.includes("-----BEGIN")) {
    throw new TypeError("Cannot serve HTTP/3: key is not a PEM string");
  }
  if (typeof handler !== "function") {
    throw new TypeError("Cannot serve HTTP/3: handler is not a function");
  }
  if (onError !== undefined && typeof onError !== "function") {
    throw new TypeError("Cannot serve HTTP/3: onError is not a function");
  }
  if (idleTimeoutMs !== undefined && !(Number.isInteger(idleTimeoutMs) && idleTimeoutMs > 0)) {
    throw new TypeError(
      `Cannot serve HTTP/3: idleTimeoutMs ${idleTimeoutMs} is not a positive integer`,
    );
  }
  if (
    maxHeaderBytes !== undefined &&
    !(Number.isInteger(maxHeaderBytes) && maxHeaderBytes >= 256 && maxHeaderBytes <= 2 ** 30)
  ) {
    throw new TypeError(
      `Cannot serve HTTP/3: maxHeaderBytes ${maxHeaderBytes} is not in 256..2^30`,
    );
  }
}

class QuicHttp3Server implements Http3Server {
  readonly addr: Deno.NetAddr;
  readonly finished: Promise<void>;
  readonly #lease: QuicLease;
  readonly #options: Http3ServerOptions;
  readonly #connections = new Set<Http3Connection>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #stopped = Promise.withResolvers<void>();
  #stopping = false;
  #shutdown: Promise<void> | null = null;
  readonly #keepAliveTimer: ReturnType<typeof setInterval>;

  constructor(options: Http3ServerOptions) {
    this.#options = options;
    const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    // The UDP socket may be another server's on this port still draining: it is shared.
    this.#lease = leaseQuicEndpoint(
      options.hostname ?? "0.0.0.0",
      options.port,
      {
        alpnProtocols: ["h3"],
        cert: options.cert,
        key: options.key,
        maxIdleTimeout: idleTimeoutMs,
      },
      (incoming) => this.#take(incoming),
    );
    // One timer for every connection: those serving requests are kept from
    // the idle timeout (see Http3Connection.keepAlive). Capped so that a
    // client whose own idle timeout is shorter (30 s is common) hears too.
    this.#keepAliveTimer = setInterval(
      () => this.#keepAlive(),
      Math.max(Math.min(Math.floor(idleTimeoutMs / 3), KEEP_ALIVE_MAX_MS), 50),
    );
    Deno.unrefTimer(this.#keepAliveTimer);
    this.addr = this.#lease.addr;
    this.finished = this.#stopped.promise.then(async () => {
      while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
    });
    const signal = options.signal;
    if (signal) {
      if (signal.aborted) this.shutdown();
      else signal.addEventListener("abort", () => this.shutdown(), { once: true });
    }
    options.onListen?.(this.addr);
  }

  #keepAlive(): void {
    for (const connection of this.#connections) connection.keepAlive();
  }

  #take(incoming: Deno.QuicIncoming): void {
    if (this.#stopping) {
      incoming.refuse();
      return;
    }
    const task = this.#serveConnection(incoming);
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #serveConnection(incoming: Deno.QuicIncoming): Promise<void> {
    let conn: Deno.QuicConn;
    try {
      conn = await incoming.accept();
    } catch {
      return; // handshake failed
    }
    if (conn.protocol !== "h3" || this.#stopping) {
      conn.close({ closeCode: H3_ERROR.NO_ERROR, reason: "not accepting HTTP/3 connections" });
      return;
    }
    const connection = new Http3Connection(conn, {
      handler: this.#options.handler,
      maxHeaderBytes: this.#options.maxHeaderBytes ?? 64 * 1024,
      onError: this.#options.onError ?? logError,
    });
    this.#connections.add(connection);
    try {
      await connection.run();
    } finally {
      this.#connections.delete(connection);
    }
  }

  shutdown(graceMs: number = DEFAULT_GRACE_MS): Promise<void> {
    this.#shutdown ??= this.#drainAndClose(graceMs);
    return this.#shutdown;
  }

  async #drainAndClose(graceMs: number): Promise<void> {
    // New connections are refused (or go to a server that leased the socket since).
    this.#stopping = true;
    this.#stopped.resolve();
    const deadline = Date.now() + Math.max(0, graceMs);
    await Promise.all([...this.#connections].map((c) => c.drain(deadline, LINGER_MS)));
    // `finished` also waits for handlers; one that never returns must not hold shutdown.
    await waitUntil(this.finished, Math.max(deadline, Date.now()) + 1000);
    // Only now: the last lease closes the socket, and with it every connection still on it.
    this.#lease.release();
    clearInterval(this.#keepAliveTimer);
  }
}
