/**
 * A stand-in for `Deno.Conn` that replays scripted reads and records writes,
 * for testing the HTTP/1.1 client's framing without sockets.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Replays `reads` (each delivered by one `read` call at most) and then EOF. */
export class ScriptedSocket {
  /** Everything written, one entry per `write` call. */
  readonly written: Uint8Array[] = [];
  /** Whether `close` was called. */
  closed = false;
  /** Most bytes one `write` call takes, to script short writes. */
  maxWrite = Infinity;
  readonly #reads: Uint8Array[];

  constructor(reads: (string | Uint8Array)[]) {
    this.#reads = reads.map((r) => typeof r === "string" ? encoder.encode(r) : r);
  }

  /** Splits `text` into one read per byte. */
  static byteByByte(text: string): ScriptedSocket {
    return new ScriptedSocket([...encoder.encode(text)].map((b) => new Uint8Array([b])));
  }

  read(p: Uint8Array): Promise<number | null> {
    const next = this.#reads.shift();
    if (next === undefined) return Promise.resolve(null);
    const n = Math.min(p.length, next.length);
    p.set(next.subarray(0, n));
    if (n < next.length) this.#reads.unshift(next.subarray(n));
    return Promise.resolve(n);
  }

  write(p: Uint8Array): Promise<number> {
    const n = Math.min(p.length, this.maxWrite);
    this.written.push(p.slice(0, n));
    return Promise.resolve(n);
  }

  close(): void {
    this.closed = true;
  }

  ref(): void {}
  unref(): void {}

  /** This object typed as the socket the client expects. */
  asConn(): Deno.Conn {
    return this as unknown as Deno.Conn;
  }
}
