/**
 * The HTTP/1.1 server of plain-HTTP listeners, written over `Deno.listen`,
 * and of HTTPS ones over `Deno.listenTls`; connections that choose HTTP/2
 * by ALPN, or open with its preface, go to the `h2` option's session.
 *
 * Requests reach the handler as the pipeline's own `HttpRequest` and leave
 * as its `HttpResponse`, so no web `Request`/`Response` is built per request:
 * measured on a 2-core machine, a proxy written this way needs about half
 * the CPU per request of one behind `Deno.serve`. Owning the connections
 * also lets the server enforce what `Deno.serve` cannot: a connection cap
 * (`maxConnections`) and an idle timeout (`keepAliveTimeout`).
 *
 * @module
 */

import { type ConnectionHost, ServerConnection } from "./connection.ts";
import type { RequestHandler } from "../web_handler.ts";
import { ReactorTurn } from "../reactor_turn.ts";
import { closeQuietly, type ServedConnection } from "../served_connection.ts";
import { sniResolverSymbol } from "../runtime_internals.ts";
import { setNoDelayOnListeners, socketPass } from "../../../filters/native_sockets.ts";
import { waitUntil } from "../../../filters/sleep.ts";
import { type ConnectionQuota, LocalConnectionQuota } from "../connection_quota.ts";

/** Options for {@linkcode serveHttp1}. */
export interface Http1ServerOptions {
  hostname: string;
  port: number;
  /** Let several processes or isolates bind the same port. */
  reusePort?: boolean;
  handler: RequestHandler;
  /** Idle connections (and heads that take longer) are closed after this. 0: never. */
  keepAliveTimeoutMs: number;
  /** Connections served at once; further ones wait to be served. 0: no limit. */
  maxConnections: number;
  /**
   * Where the connections are counted against `maxConnections`: pass one
   * shared with the other listeners of the same server (data planes, a
   * listener draining). @default {a quota of this listener's own}
   */
  quota?: ConnectionQuota;
  /** Largest request head, in bytes. @default {65536} */
  maxHeadBytes?: number;
  /** Serve TLS: with one certificate, or one chosen by the client's server name (SNI). */
  tls?: TlsKeyPair | ((serverName: string) => TlsKeyPair);
  /**
   * Serves HTTP/2 on a connection, and returns it for tracking: a TLS one
   * whose client chose "h2" by ALPN, or a plain one that opened with the
   * HTTP/2 preface (h2c), `received` being what was read of it. Without it,
   * only HTTP/1.1 is offered.
   */
  h2?: (socket: Deno.Conn, host: ConnectionHost, received?: Uint8Array) => ServedConnection;
  onError?: (message: string) => void;
}

/** A certificate and its key, PEM. */
export interface TlsKeyPair {
  cert: string;
  key: string;
}

/** A running HTTP/1.1 server. */
export interface Http1Server {
  readonly port: number;
  /**
   * Stops accepting; resolves once the port is free for another listener.
   * The connections go on being served.
   */
  stopAccepting(): Promise<void>;
  /** Stops accepting, closes idle connections, lets busy ones finish for up to `graceMs`. */
  shutdown(graceMs: number): Promise<void>;
  /** Changes the connection cap in place (0: no limit), as Easegress does: no connection is dropped. */
  setMaxConnections(maxConnections: number): void;
  /** Changes the idle timeout in place (0: never); the next sweep applies it to every connection. */
  setKeepAliveTimeout(ms: number): void;
}

/** How often idle connections are looked for. */
const SWEEP_MS = 1000;
/**
 * How long a shutdown leaves idle connections open. A keep-alive client may
 * have sent its next request already, unread yet by a busy isolate: closed
 * under it, that request fails (a reset, as a load generator or a client
 * that does not retry sees it); within the grace it is answered, with
 * `Connection: close`. A listener restarted by an update (keepAliveTimeout,
 * a certificate) would otherwise fail requests of most busy connections.
 */
const IDLE_DRAIN_GRACE_MS = 250;
/** Longest a TLS handshake may take (less when keepAliveTimeout is shorter). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** A TLS connection whose handshake is under way: it holds a slot already. */
class Handshake implements ServedConnection {
  readonly waitingSince: number;
  readonly idle = true;
  readonly #socket: Deno.Conn;
  /** Whether the handshake has ended (done or failed): the runtime then owns no hidden socket. */
  settled = false;

  constructor(socket: Deno.Conn, now: number) {
    this.#socket = socket;
    this.waitingSince = now;
  }

  close(): void {
    let closed = false;
    try {
      this.#socket.close();
      closed = true;
    } catch { /* closed already */ }
    // Cut short (timed out, or the server stops): the runtime would keep
    // the TCP socket for as long as the client stays silent.
    if (closed && !this.settled) {
      socketPass.queue(this.#socket.localAddr, this.#socket.remoteAddr);
    }
  }
}

/** The server's side of its connections; what each connection sees of it. */
class Host implements ConnectionHost {
  readonly handler: RequestHandler;
  readonly scheme: string;
  readonly maxHeadBytes: number;
  readonly h2c?: (socket: Deno.Conn, received: Uint8Array, from: ServedConnection) => void;
  readonly quota: ConnectionQuota;
  now = Date.now();
  draining = false;
  readonly turn = new ReactorTurn();
  /** What is served, each holding a slot of the quota. */
  readonly connections = new Set<ServedConnection>();
  readonly #onError: (message: string) => void;
  #waiters: (() => void)[] = [];

  constructor(options: Http1ServerOptions) {
    this.handler = options.handler;
    this.scheme = options.tls ? "https" : "http";
    this.maxHeadBytes = options.maxHeadBytes ?? 64 * 1024;
    this.quota = options.quota ?? new LocalConnectionQuota();
    const h2 = options.h2;
    if (h2 !== undefined && !options.tls) {
      this.h2c = (socket, received, from) => this.handOver(from, h2(socket, this, received));
    }
    this.#onError = options.onError ?? (() => {});
  }

  onError(message: string): void {
    this.#onError(message);
  }

  closed(conn: ServedConnection): void {
    if (this.connections.delete(conn)) this.quota.release();
    this.wakeWaiters();
  }

  /** `to` serves on in the slot of `from` (a handshake done, an h2c preface read). */
  handOver(from: ServedConnection, to: ServedConnection): void {
    this.connections.delete(from);
    this.connections.add(to);
  }

  /** Wakes whoever waits in `slotFreed`. */
  wakeWaiters(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves when a connection ends (or `wakeWaiters` is called). */
  slotFreed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

function listenTls(
  options: Deno.TcpListenOptions,
  keys: TlsKeyPair | ((serverName: string) => TlsKeyPair),
  alpnProtocols: string[],
): Deno.TlsListener {
  if (typeof keys !== "function") return Deno.listenTls({ ...options, ...keys, alpnProtocols });
  if (sniResolverSymbol === undefined) {
    throw new Error("Cannot choose certificates by server name: this Deno has no SNI resolver");
  }
  return Deno.listenTls(
    { ...options, alpnProtocols, [sniResolverSymbol]: keys } as
      & Deno.ListenTlsOptions
      & Deno.TlsCertifiedKeyPem,
  );
}

/** Binds the port (throwing when it is taken) and starts serving. */
export function serveHttp1(options: Http1ServerOptions): Http1Server {
  const listenOptions = {
    hostname: options.hostname,
    port: options.port,
    transport: "tcp",
    reusePort: options.reusePort,
  } as Deno.TcpListenOptions;
  const tls = options.tls;
  const listener: Deno.Listener = tls
    ? listenTls(listenOptions, tls, options.h2 ? ["h2", "http/1.1"] : ["http/1.1"])
    : Deno.listen(listenOptions);
  // Connections inherit TCP_NODELAY from their listener (see native_sockets.ts):
  // TLS ones have no setNoDelay, and for plain ones it saves a runtime call
  // and a system call per connection. Without that way, plain connections
  // get setNoDelay when accepted.
  const noDelayInherited = setNoDelayOnListeners(listener.addr) > 0;
  const host = new Host(options);
  let timeout = options.keepAliveTimeoutMs;
  const handshakeLimitOf = (timeout: number) =>
    timeout > 0 ? Math.min(timeout, HANDSHAKE_TIMEOUT_MS) : HANDSHAKE_TIMEOUT_MS;
  let handshakeLimit = handshakeLimitOf(timeout);
  const sweep = setInterval(() => {
    const now = Date.now();
    host.now = now;
    for (const conn of host.connections) {
      if (conn.waitingSince === 0) continue;
      const limit = conn instanceof Handshake ? handshakeLimit : timeout;
      // waitingSince is stamped from the coarse clock, up to one sweep early:
      // a connection is closed only once it has surely waited the whole limit.
      if (limit > 0 && now - conn.waitingSince >= limit + SWEEP_MS) conn.close();
    }
  }, SWEEP_MS);
  Deno.unrefTimer(sweep);

  /** Serves a TLS connection by the protocol its client chose, once the handshake is done. */
  async function startTls(socket: Deno.TlsConn): Promise<void> {
    const handshake = new Handshake(socket, host.now);
    host.connections.add(handshake);
    const drop = () => {
      handshake.close();
      host.closed(handshake);
    };
    let protocol: string | null;
    try {
      protocol = (await socket.handshake()).alpnProtocol;
    } catch {
      // The client left, spoke something else, or took too long: nothing to log.
      handshake.settled = true;
      return drop();
    }
    handshake.settled = true;
    // Accepted before the listener closed: served even if the server now
    // drains (with Connection: close), as dropping it would fail its client.
    // The slot passes to the connection: no waiter is woken.
    if (protocol !== "h2" || !options.h2) return serve(socket, handshake);
    try {
      host.handOver(handshake, options.h2(socket, host));
    } catch (e) {
      host.onError(`HTTP/2 session: ${(e as Error)?.stack ?? e}`);
      drop();
    }
  }

  /** Serves a connection that holds a slot (from `handshake`, once done). */
  function serve(socket: Deno.Conn, handshake?: Handshake): void {
    const conn = new ServerConnection(socket, host);
    if (handshake === undefined) host.connections.add(conn);
    else host.handOver(handshake, conn);
    conn.serve();
  }

  let maxConnections = options.maxConnections;
  let accepting = true;
  const acceptLoop = (async () => {
    while (accepting) {
      let socket: Deno.Conn;
      try {
        socket = await listener.accept();
      } catch (e) {
        if (e instanceof Deno.errors.BadResource) return; // the listener was closed
        // Out of file descriptors and the like: back off instead of spinning.
        host.onError(`accept: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      // At the cap the client waits, unserved, for a slot in any plane (see connection_quota.ts).
      let slot = host.quota.acquire(maxConnections);
      while (slot !== true && accepting) {
        await slot;
        if (accepting) slot = host.quota.acquire(maxConnections);
      }
      if (slot !== true) {
        closeQuietly(socket);
        return;
      }
      if (tls) {
        startTls(socket as Deno.TlsConn);
        continue;
      }
      if (!noDelayInherited) {
        try {
          (socket as Deno.TcpConn).setNoDelay(true);
        } catch { /* closed already */ }
      }
      serve(socket);
    }
  })();

  let released: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;
  return {
    port: (listener.addr as Deno.NetAddr).port,
    stopAccepting,
    shutdown(graceMs: number) {
      return stopped ??= drain(graceMs);
    },
    setMaxConnections(n: number) {
      maxConnections = n;
      // A raised cap lets an accept loop waiting for a free slot go on.
      host.quota.wake();
    },
    setKeepAliveTimeout(ms: number) {
      timeout = ms;
      handshakeLimit = handshakeLimitOf(ms);
    },
  };

  function stopAccepting(): Promise<void> {
    return released ??= (async () => {
      accepting = false;
      listener.close();
      // A loop waiting for a free slot must see that it is done.
      host.quota.wake();
      // The socket is released only once the pending accept has been cancelled.
      await acceptLoop;
    })();
  }

  async function drain(graceMs: number): Promise<void> {
    host.draining = true;
    for (const conn of host.connections) conn.drain?.();
    clearInterval(sweep);
    await stopAccepting();
    const deadline = Date.now() + graceMs;
    const idleUntil = Date.now() + Math.min(IDLE_DRAIN_GRACE_MS, graceMs);
    for (;;) {
      const now = Date.now();
      if (now >= idleUntil) { for (const conn of host.connections) if (conn.idle) conn.close(); }
      if (host.connections.size === 0 || now >= deadline) break;
      // Woken by a connection ending, at the end of the idle grace, or every
      // 100 ms to close ones that went idle.
      const wake = now < idleUntil ? idleUntil : Math.min(now + 100, deadline);
      await waitUntil(host.slotFreed(), wake);
    }
    for (const conn of host.connections) conn.close();
    host.turn.close();
  }
}
