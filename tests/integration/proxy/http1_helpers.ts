/**
 * Test servers for the HTTP/1.1 client: `Deno.serve` backends and raw
 * `Deno.listen` servers that can misbehave on purpose.
 *
 * @module
 */

import {
  Http1Pool,
  type Http1PoolOptions,
  type UpstreamRequest,
} from "../../../filters/proxy/http1_client.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A `Deno.serve` backend on an ephemeral loopback port. */
export function serveBackend(
  handler: (req: Request) => Response | Promise<Response>,
): { port: number; close(): Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return { port: server.addr.port, close: () => server.shutdown() };
}

/** Reads HTTP/1.1 requests from a raw connection. */
export class RequestReader {
  readonly conn: Deno.Conn;
  #buffer = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  async #more(): Promise<boolean> {
    const chunk = new Uint8Array(64 * 1024);
    let n: number | null;
    try {
      n = await this.conn.read(chunk);
    } catch {
      return false;
    }
    if (n === null) return false;
    const joined = new Uint8Array(this.#buffer.length + n);
    joined.set(this.#buffer);
    joined.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = joined;
    return true;
  }

  /** The next request head as text (without the blank line), or null at EOF. */
  async head(): Promise<string | null> {
    for (;;) {
      const text = decoder.decode(this.#buffer);
      const end = text.indexOf("\r\n\r\n");
      if (end !== -1) {
        this.#buffer = this.#buffer.subarray(end + 4);
        return text.slice(0, end);
      }
      if (!(await this.#more())) return null;
    }
  }

  /** Reads exactly `n` body bytes (fewer at EOF). */
  async body(n: number): Promise<Uint8Array> {
    while (this.#buffer.length < n && await this.#more());
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(out.length);
    return out;
  }

  /** Reads and discards everything until EOF; returns the byte count. */
  async drain(): Promise<number> {
    let total = this.#buffer.length;
    this.#buffer = new Uint8Array(0);
    const chunk = new Uint8Array(64 * 1024);
    for (;;) {
      let n: number | null;
      try {
        n = await this.conn.read(chunk);
      } catch {
        return total;
      }
      if (n === null) return total;
      total += n;
    }
  }

  /** Writes text (or bytes) to the connection, ignoring a peer that went away. */
  async write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    try {
      let written = 0;
      while (written < bytes.length) written += await this.conn.write(bytes.subarray(written));
    } catch {
      // The client closed first; tests check what the client saw.
    }
  }
}

/** Content-Length of a request head, or 0. */
export function contentLengthOf(head: string): number {
  const match = head.match(/\r\ncontent-length:\s*(\d+)/i);
  return match ? Number(match[1]) : 0;
}

/**
 * A raw TCP server: runs `handle` for each accepted connection (with its
 * 0-based index) and closes the connection when `handle` returns.
 */
export class RawServer {
  readonly port: number;
  /** Connections accepted so far. */
  accepted = 0;
  readonly #listener: Deno.Listener;
  readonly #open = new Set<Deno.Conn>();
  readonly #tasks: Promise<void>[] = [];
  readonly #acceptLoop: Promise<void>;

  constructor(handle: (reader: RequestReader, index: number) => Promise<void>) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#listener = listener;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.#acceptLoop = (async () => {
      for (;;) {
        let conn: Deno.Conn;
        try {
          conn = await listener.accept();
        } catch {
          return;
        }
        const index = this.accepted++;
        this.#open.add(conn);
        this.#tasks.push(
          handle(new RequestReader(conn), index).catch(() => {}).finally(() => {
            this.#closeConn(conn);
          }),
        );
      }
    })();
  }

  #closeConn(conn: Deno.Conn): void {
    if (!this.#open.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }

  /** Stops listening, closes every connection and waits for the handlers. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#acceptLoop;
    for (const conn of [...this.#open]) this.#closeConn(conn);
    await Promise.allSettled(this.#tasks);
  }
}

/** A GET request for `target`. */
export function get(target: string, init: Partial<UpstreamRequest> = {}): UpstreamRequest {
  return {
    method: "GET",
    target,
    host: "backend.test",
    headers: new Headers(),
    body: null,
    ...init,
  };
}

/** A pool on 127.0.0.1:`port`. */
export function poolFor(port: number, options?: Http1PoolOptions): Http1Pool {
  return new Http1Pool({ hostname: "127.0.0.1", port }, options);
}

/** Reads a response body stream (or null) as text. */
export async function text(body: ReadableStream<Uint8Array> | null): Promise<string> {
  return body === null ? "" : await new Response(body).text();
}

/** Waits (at most ~5 s) until `condition` holds; fails the test otherwise. No timing is asserted. */
export async function eventually(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`Timed out waiting until ${what}`);
}

/** Lets pending socket operations that a close cancelled settle, for the op sanitizer. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A stream of `total` bytes in `chunkSize` pieces; byte i is `i % 251`. */
export function patternStream(total: number, chunkSize = 64 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) {
        controller.close();
        return;
      }
      const size = Math.min(chunkSize, total - sent);
      const chunk = new Uint8Array(size);
      for (let i = 0; i < size; i++) chunk[i] = (sent + i) % 251;
      sent += size;
      controller.enqueue(chunk);
    },
  });
}

/** Counts a stream's bytes and checks they follow {@linkcode patternStream}'s pattern. */
export async function checkPattern(body: ReadableStream<Uint8Array>): Promise<number> {
  let seen = 0;
  for await (const chunk of body) {
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] !== (seen + i) % 251) throw new Error(`Byte ${seen + i} is wrong`);
    }
    seen += chunk.length;
  }
  return seen;
}
