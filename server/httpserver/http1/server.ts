/**
 * The HTTP/1.1 server of plain-HTTP listeners, written over `Deno.listen`.
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

import { type ConnectionHost, type Http1Handler, ServerConnection } from "./connection.ts";
import { ReactorTurn } from "../reactor_turn.ts";

/** Options for {@linkcode serveHttp1}. */
export interface Http1ServerOptions {
  hostname: string;
  port: number;
  /** Let several processes or isolates bind the same port. */
  reusePort?: boolean;
  handler: Http1Handler;
  /** Idle connections (and heads that take longer) are closed after this. 0: never. */
  keepAliveTimeoutMs: number;
  /** Connections served at once; further ones wait to be accepted. 0: no limit. */
  maxConnections: number;
  /** Largest request head, in bytes. @default {65536} */
  maxHeadBytes?: number;
  /** Takes over connections that open with the HTTP/2 preface (h2c). */
  h2c?: (socket: Deno.Conn, received: Uint8Array) => void;
  onError?: (message: string) => void;
}

/** A running HTTP/1.1 server. */
export interface Http1Server {
  readonly port: number;
  /** Stops accepting, closes idle connections, lets busy ones finish for up to `graceMs`. */
  shutdown(graceMs: number): Promise<void>;
}

/** How often idle connections are looked for. */
const SWEEP_MS = 1000;

class Host implements ConnectionHost {
  readonly handler: Http1Handler;
  readonly maxHeadBytes: number;
  readonly h2c?: (socket: Deno.Conn, received: Uint8Array) => void;
  now = Date.now();
  draining = false;
  readonly turn = new ReactorTurn();
  readonly connections = new Set<ServerConnection>();
  readonly #onError: (message: string) => void;
  #waiters: (() => void)[] = [];

  constructor(options: Http1ServerOptions) {
    this.handler = options.handler;
    this.maxHeadBytes = options.maxHeadBytes ?? 64 * 1024;
    this.h2c = options.h2c;
    this.#onError = options.onError ?? (() => {});
  }

  onError(message: string): void {
    this.#onError(message);
  }

  closed(conn: ServerConnection): void {
    this.connections.delete(conn);
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves when a connection ends. */
  slotFreed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** Binds the port (throwing when it is taken) and starts serving. */
export function serveHttp1(options: Http1ServerOptions): Http1Server {
  const listener = Deno.listen({
    hostname: options.hostname,
    port: options.port,
    transport: "tcp",
    reusePort: options.reusePort,
  } as Deno.TcpListenOptions);
  const host = new Host(options);
  const timeout = options.keepAliveTimeoutMs;
  const sweep = setInterval(() => {
    const now = Date.now();
    host.now = now;
    if (timeout <= 0) return;
    for (const conn of host.connections) {
      if (conn.waitingSince !== 0 && now - conn.waitingSince >= timeout) conn.close();
    }
  }, SWEEP_MS);
  Deno.unrefTimer(sweep);

  (async () => {
    while (!host.draining) {
      if (options.maxConnections > 0 && host.connections.size >= options.maxConnections) {
        // Like Go's LimitListener: clients wait in the backlog until a slot frees.
        await host.slotFreed();
        continue;
      }
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
      try {
        (socket as Deno.TcpConn).setNoDelay(true);
      } catch { /* closed already */ }
      const conn = new ServerConnection(socket, host);
      host.connections.add(conn);
      conn.serve();
    }
  })();

  let stopped: Promise<void> | undefined;
  return {
    port: (listener.addr as Deno.NetAddr).port,
    shutdown(graceMs: number) {
      return stopped ??= drain(graceMs);
    },
  };

  async function drain(graceMs: number): Promise<void> {
    host.draining = true;
    clearInterval(sweep);
    listener.close();
    for (const conn of host.connections) if (conn.idle) conn.close();
    const deadline = Date.now() + graceMs;
    while (host.connections.size > 0 && Date.now() < deadline) {
      // Woken by a connection ending, or every 100 ms to close ones that went idle.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        host.slotFreed(),
        new Promise((r) => timer = setTimeout(r, Math.min(100, deadline - Date.now()))),
      ]);
      clearTimeout(timer);
      for (const conn of host.connections) if (conn.idle) conn.close();
    }
    for (const conn of host.connections) conn.close();
    host.turn.close();
  }
}
