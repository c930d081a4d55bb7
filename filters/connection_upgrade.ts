/**
 * A response that takes over its client's connection instead of being
 * written: the HTTP/1.1 server hands the socket, with what it has read past
 * the request's head, to `takeOver` and lets the connection go. A filter
 * answers a protocol upgrade (a WebSocket handshake) with one.
 *
 * @module
 */

import { HttpResponse } from "./context.ts";
import type { Http1Connection } from "./proxy/http1_connection.ts";

/**
 * Takes over a client connection. `client.start` is past the request's
 * head; bytes after it, and a read already under way, are the client's.
 * The taker owns the socket from then on and must close it
 * (`client.socket.close()`: `client.close()` is a no-op once handed over).
 */
export type TakeOver = (client: Http1Connection) => void;

/** A 101 whose answer, and everything after it, is `takeOver`'s to write. */
export class ConnectionUpgrade extends HttpResponse {
  /** Given the connection once the server has let it go. */
  readonly takeOver: TakeOver;

  constructor(takeOver: TakeOver) {
    super(101);
    this.takeOver = takeOver;
  }
}
