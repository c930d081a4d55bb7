/**
 * HTTP/2 on one TLS connection the listener accepted itself (ALPN "h2"),
 * served by the runtime's HTTP server for a single connection: the one
 * Deno's own `node:http2` uses. Accepting connections ourselves is what
 * lets HTTPS listeners cap them (`maxConnections`) and close idle ones
 * (`keepAliveTimeout`), which `Deno.serve` cannot.
 *
 * @module
 */

import type { HttpResponse } from "../../filters/context.ts";
import { isBodilessStatus } from "../../filters/status_text.ts";
import type { ServeHttpOnConnection } from "./runtime_internals.ts";
import type { ServedConnection, SessionHost } from "./served_connection.ts";
import { socketShutdown } from "./native_sockets.ts";
import { type RequestHandler, type WebHandler, webHandler } from "./web_handler.ts";

function noListen(): void {}

/**
 * How long a session being closed while idle waits for its client to
 * answer the ping that comes with GOAWAY (a client does so at once) before
 * the connection is closed anyway.
 */
const GOAWAY_GRACE_MS = 1000;

function ignoreGoneResource(event: ErrorEvent): void {
  if (event.error instanceof Deno.errors.BadResource) event.preventDefault();
}

/**
 * `body` passed through as is, with `ended` called once when it has been
 * read to its end, failed, or been cancelled.
 */
function watchEnd(body: ReadableStream<Uint8Array>, ended: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    ended();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read();
        if (chunk.done) {
          finish();
          controller.close();
        } else {
          controller.enqueue(chunk.value);
        }
      } catch (error) {
        finish();
        controller.error(error);
      }
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  });
}

/**
 * An HTTP/2 session on an accepted connection, tracked as its listener's
 * other connections: busy while a request is in the pipeline or its
 * response body is still being sent.
 */
export class H2Session implements ServedConnection {
  /** Coarse time the last open stream ended (or the session began); 0 while streams are open. */
  waitingSince: number;
  #open = 0;
  #ended = false;
  readonly #abort = new AbortController();
  readonly #server: Deno.HttpServer;
  readonly #socket: Deno.Conn;
  /** Set while an idle session says GOAWAY before it closes. */
  #goingAway: ReturnType<typeof setTimeout> | undefined;
  readonly #host: SessionHost;
  readonly #streamEnded = (): void => {
    if (--this.#open === 0) this.waitingSince = this.#host.now;
  };
  readonly #respond = (response: HttpResponse): Response => {
    const body = response.body;
    // toWeb drops the body of bodiless statuses: the stream ends with the head.
    if (body instanceof ReadableStream && !isBodilessStatus(response.status)) {
      response.body = watchEnd(body, this.#streamEnded);
    } else {
      this.#streamEnded();
    }
    return response.toWeb();
  };

  /** Starts serving `socket` (handshaken, ALPN "h2"); `host.closed` is called when it ends. */
  constructor(
    serve: ServeHttpOnConnection,
    socket: Deno.Conn,
    handler: RequestHandler,
    host: SessionHost,
  ) {
    this.#host = host;
    this.#socket = socket;
    this.waitingSince = host.now;
    const peer = () => socket.remoteAddr as Deno.NetAddr;
    const web: WebHandler = webHandler(handler, "HTTP/2", this.#respond, this.#failed);
    const server = this.#server = serve(
      socket,
      this.#abort.signal,
      (req) => {
        this.#open++;
        this.waitingSince = 0;
        return host.turn.whenAdmitted(() => {
          try {
            return web(req, peer);
          } catch (error) {
            // The stream ends with the 500 that onError makes.
            return this.#failed(error);
          }
        });
      },
      (error) => {
        host.onError(`HTTP/2 handler: ${(error as Error)?.stack ?? error}`);
        return new Response(null, { status: 500 });
      },
      noListen,
    );
    server.finished.then(() => this.#end(), () => this.#end());
  }

  /** Whether no stream is open. */
  get idle(): boolean {
    return this.#open === 0;
  }

  /**
   * Closes the session: the listener calls this on idle sessions, and on
   * all of them once a shutdown's grace period is over. An idle session
   * first says GOAWAY (RFC 9113 section 6.8), so its client opens its next
   * stream on a new connection rather than on one that vanishes; the
   * runtime ends the session once the client has answered the ping that
   * comes with the GOAWAY, and a client that has not within a second, or a
   * second call, has its TCP connection shut down (the runtime offers no
   * other way to end a session it is closing gracefully). Without that way
   * (off Linux), and for a session with open streams, the connection is
   * closed at once, as an HTTP/1.1 socket is.
   */
  close(): void {
    if (this.#ended || this.#abort.signal.aborted) return;
    if (this.#goingAway !== undefined) return this.#shutDownSocket();
    if (this.#open > 0 || !socketShutdown.available) return this.#abortNow();
    this.#server.shutdown().catch(() => {});
    // A stream the client opened before it saw the GOAWAY may finish; the
    // runtime ends the session after it.
    this.#goingAway = setTimeout(() => {
      if (this.#open === 0) this.#shutDownSocket();
    }, GOAWAY_GRACE_MS);
    Deno.unrefTimer(this.#goingAway);
  }

  #shutDownSocket(): void {
    if (this.#ended) return;
    clearTimeout(this.#goingAway);
    socketShutdown.queue(this.#socket.localAddr, this.#socket.remoteAddr);
  }

  #abortNow(): void {
    // The runtime closes the session from an abort listener, which throws
    // when the connection has ended in the same turn: that is not an error
    // of the node's, and must not reach the uncaught-exception handler.
    globalThis.addEventListener("error", ignoreGoneResource);
    try {
      this.#abort.abort();
    } finally {
      globalThis.removeEventListener("error", ignoreGoneResource);
    }
  }

  readonly #failed = (error: unknown): never => {
    this.#streamEnded();
    throw error;
  };

  #end(): void {
    this.#ended = true;
    clearTimeout(this.#goingAway);
    this.#host.closed(this);
  }
}
