/**
 * What a listener that accepts its own connections keeps of each one,
 * whichever protocol serves it: enough to cap how many are open, close the
 * idle ones after `keepAliveTimeout`, and drain them on shutdown.
 *
 * @module
 */

import type { ReactorTurn } from "./reactor_turn.ts";

/** One accepted connection, as its listener tracks it. */
export interface ServedConnection {
  /** Coarse time (ms) it started waiting for a request or a handshake; 0 while busy. */
  readonly waitingSince: number;
  /** Whether it can be closed without cutting a request short. */
  readonly idle: boolean;
  /** Closes it at once (requests still in it are cut short). */
  close(): void;
  /**
   * Called once when its listener starts draining: a connection that can
   * tell its client to send no more requests (HTTP/2's GOAWAY) does so.
   */
  drain?(): void;
}

/** What a connection needs from the listener that accepted it. */
export interface SessionHost {
  /** Coarse clock (ms) the idle sweep compares against. */
  readonly now: number;
  /** Admits requests in turns, so connections waiting on a socket poll are served too. */
  readonly turn: ReactorTurn;
  onError(message: string): void;
  /** Called once when the connection ends. */
  closed(conn: ServedConnection): void;
}

/** Whether a socket error only says the peer went away. */
export function isDisconnect(e: unknown): boolean {
  return e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe ||
    e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted ||
    e instanceof Deno.errors.NotConnected || e instanceof Deno.errors.UnexpectedEof;
}

/** Closes a socket or listener that may be closed already (by its peer, or by a failed op). */
export function closeQuietly(closable: { close(): void }): void {
  try {
    closable.close();
  } catch { /* closed already */ }
}

/** Whether `socket` is a TLS connection (with a handshake to wait for). */
export function isTlsConn(socket: Deno.Conn): socket is Deno.TlsConn {
  return typeof (socket as Partial<Deno.TlsConn>).handshake === "function";
}
