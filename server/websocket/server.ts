/**
 * A running WebSocketServer: its listener (plain or TLS), the relays of its
 * clients, and its status. A spec change restarts the listener; the relays
 * already open go on to their end.
 *
 * @module
 */

import type { Logger } from "../../filters/filter.ts";
import { decodePem } from "../../filters/pem.ts";
import { closeQuietly, isTlsConn } from "../httpserver/served_connection.ts";
import { socketPass } from "../../filters/native_sockets.ts";
import { anyAddress } from "../any_address.ts";
import { ListenRetry } from "../listen_retry.ts";
import { HANDSHAKE_TIMEOUT_MS, handshaken, relay, type RelayTarget } from "./relay.ts";
import { waitUntil } from "../../filters/sleep.ts";
import type { WebSocketServerSpec } from "./spec.ts";

/** What a WebSocketServer needs from its data plane. */
export interface WebSocketServerEnv {
  log: Logger;
  /** Share the port with the node's other data planes (workers). */
  reusePort?: boolean;
}

/** One WebSocketServer object. */
export class WebSocketServer {
  #spec: WebSocketServerSpec;
  readonly #env: WebSocketServerEnv;
  #listener: Deno.Listener | undefined;
  /** The accept loop of `#listener`: it holds the port until its pending accept is cancelled. */
  #accepting: Promise<void> = Promise.resolve();
  #restarting: Promise<void> | undefined;
  readonly #listening: ListenRetry<Deno.Listener>;
  /** Open sockets of the relays (client and backend), closed with the object. */
  readonly #sockets = new Set<Deno.Conn>();
  /** Clients whose TLS handshake is under way. */
  readonly #handshaking = new Set<Deno.TlsConn>();
  #relays = 0;
  #served = 0;

  constructor(spec: WebSocketServerSpec, env: WebSocketServerEnv) {
    this.#spec = spec;
    this.#env = env;
    this.#listening = new ListenRetry(
      () => this.#open(this.#spec),
      (listener) => {
        this.#listener = listener;
        this.#accepting = this.#accept(listener, this.#target(this.#spec));
      },
      closeQuietly,
      (message) => env.log.error(message),
      () => this.#spec.port,
    );
    this.#listening.start();
  }

  /** Takes a changed spec: the listener restarts with it (open relays go on). */
  update(spec: WebSocketServerSpec): void {
    this.#spec = spec;
    // Updates that come while the port is let go make one restart, with the latest spec.
    this.#restarting ??= this.#stopListening().then(() => {
      this.#restarting = undefined;
      this.#listening.start();
    });
  }

  /** The status document of `object status get`. */
  status(): Record<string, unknown> {
    return {
      name: this.#spec.name,
      state: this.#listening.state,
      health: this.#listening.error,
      error: this.#listening.error,
      port: this.#spec.port,
      backend: this.#spec.backend,
      connections: this.#relays,
      connectionsServed: this.#served,
    };
  }

  /** Stops listening and closes every relay. */
  close(): Promise<void> {
    this.#listening.close();
    this.#stopListening();
    for (const client of this.#handshaking) shutHandshaking(client);
    this.#handshaking.clear();
    for (const socket of this.#sockets) closeQuietly(socket);
    this.#sockets.clear();
    return Promise.resolve();
  }

  /** Closes the listener; resolves once its port can be bound again. */
  #stopListening(): Promise<void> {
    if (this.#listener !== undefined) closeQuietly(this.#listener);
    this.#listener = undefined;
    return this.#accepting;
  }

  #open(spec: WebSocketServerSpec): Deno.Listener {
    const options = {
      hostname: anyAddress(),
      port: spec.port,
      reusePort: this.#env.reusePort,
    } as Deno.TcpListenOptions;
    return spec.https
      ? Deno.listenTls({
        ...options,
        cert: decodePem(spec.certBase64 ?? ""),
        key: decodePem(spec.keyBase64 ?? ""),
        // Clients that offer ALPN (Deno's and rustls-based ones) give up when the
        // server picks none; the handshake is HTTP/1.1.
        alpnProtocols: ["http/1.1"],
      })
      : Deno.listen(options);
  }

  #target(spec: WebSocketServerSpec): RelayTarget {
    const backend = new URL(spec.backend);
    const secure = backend.protocol === "wss:";
    const hostname = backend.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(backend.port || (secure ? 443 : 80));
    const clientCert = spec.wssCertBase64 && spec.wssKeyBase64
      ? { cert: decodePem(spec.wssCertBase64), key: decodePem(spec.wssKeyBase64) }
      : {};
    return {
      backend,
      scheme: spec.https ? "https" : "http",
      connect: () =>
        secure
          ? handshaken(Deno.connectTls({ hostname, port, ...clientCert }))
          : Deno.connect({ hostname, port }),
    };
  }

  async #accept(listener: Deno.Listener, target: RelayTarget): Promise<void> {
    for (;;) {
      let client: Deno.Conn;
      try {
        client = await listener.accept();
      } catch (e) {
        // Closed by update() or close(); anything else is logged and ends this listener.
        if (this.#listener === listener) {
          this.#env.log.error(`accepting on port ${this.#spec.port}: ${(e as Error).message}`);
        }
        return;
      }
      this.#serve(client, target);
    }
  }

  /**
   * Whether `client`'s TLS handshake is done within the handshake deadline
   * (the one a plain client has to send its WebSocket handshake). A client
   * that has not sent its ClientHello by then is closed.
   */
  async #handshake(client: Deno.TlsConn): Promise<boolean> {
    this.#handshaking.add(client);
    // Set by the handshake when it settles; still "late" when the deadline came first.
    let outcome = "late" as "done" | "failed" | "late";
    try {
      await waitUntil(
        client.handshake().then(() => outcome = "done", () => outcome = "failed"),
        Date.now() + HANDSHAKE_TIMEOUT_MS,
      );
      if (outcome === "late") shutHandshaking(client);
      return outcome === "done";
    } finally {
      this.#handshaking.delete(client);
    }
  }

  async #serve(client: Deno.Conn, target: RelayTarget): Promise<void> {
    const sockets = this.#sockets;
    sockets.add(client);
    this.#relays++;
    this.#served++;
    let backend: Deno.Conn | undefined;
    try {
      if (isTlsConn(client) && !(await this.#handshake(client))) return;
      await relay(client, target, (opened) => {
        backend = opened;
        if (this.#listening.state === "closed") closeQuietly(opened);
        else sockets.add(opened);
      });
    } catch (e) {
      this.#env.log.warn(`relay: ${(e as Error).message}`);
    } finally {
      this.#relays--;
      sockets.delete(client);
      closeQuietly(client);
      if (backend !== undefined) {
        sockets.delete(backend);
        closeQuietly(backend);
      }
    }
  }
}

/**
 * Closes a client whose TLS handshake is under way. Closing it is not
 * enough: the runtime's handshake keeps its TCP socket for as long as the
 * client stays silent, so that socket is shut down too.
 */
function shutHandshaking(client: Deno.TlsConn): void {
  closeQuietly(client);
  socketPass.queue(client.localAddr, client.remoteAddr);
}
