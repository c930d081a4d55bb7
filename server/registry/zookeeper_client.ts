/**
 * The little of ZooKeeper's client protocol a registry needs: a session,
 * `getChildren` and `getData` (and `create`/`delete`, for registering
 * instances), one request at a time, then `closeSession`. Messages are
 * length-prefixed jute records, big-endian.
 *
 * @module
 */

const OP_CREATE = 1;
const OP_DELETE = 2;
const OP_GET_DATA = 4;
const OP_GET_CHILDREN = 8;
const OP_CLOSE_SESSION = -11;
const PASSWORD_LENGTH = 16;
/** The largest reply taken (ZooKeeper's own jute.maxbuffer default is 1 MB). */
const MAX_FRAME = 4 * 1024 * 1024;

/** ZooKeeper's error code for a node that does not exist. */
export const ZNONODE = -101;

const ERRORS: Record<number, string> = {
  [-4]: "connection loss",
  [-7]: "operation timeout",
  [ZNONODE]: "no node",
  [-102]: "no authentication",
  [-110]: "node exists",
  [-111]: "node not empty",
  [-112]: "session expired",
};

/** An error ZooKeeper answered a request with. */
export class ZooKeeperError extends Error {
  /** ZooKeeper's error code (negative), as {@linkcode ZNONODE}. */
  readonly code: number;

  constructor(path: string, code: number) {
    super(`${path}: ${ERRORS[code] ?? `ZooKeeper error ${code}`}`);
    this.code = code;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Writes jute records into a growing buffer. */
class RecordWriter {
  #bytes = new Uint8Array(256);
  #view = new DataView(this.#bytes.buffer);
  #at = 4; // room for the frame length

  #room(n: number): void {
    if (this.#at + n <= this.#bytes.length) return;
    const bigger = new Uint8Array(Math.max(this.#bytes.length * 2, this.#at + n));
    bigger.set(this.#bytes);
    this.#bytes = bigger;
    this.#view = new DataView(bigger.buffer);
  }

  int(value: number): this {
    this.#room(4);
    this.#view.setInt32(this.#at, value);
    this.#at += 4;
    return this;
  }

  long(value: bigint): this {
    this.#room(8);
    this.#view.setBigInt64(this.#at, value);
    this.#at += 8;
    return this;
  }

  bool(value: boolean): this {
    this.#room(1);
    this.#bytes[this.#at++] = value ? 1 : 0;
    return this;
  }

  buffer(value: Uint8Array): this {
    this.int(value.length);
    this.#room(value.length);
    this.#bytes.set(value, this.#at);
    this.#at += value.length;
    return this;
  }

  string(value: string): this {
    return this.buffer(encoder.encode(value));
  }

  /** The frame: its length, then the records. */
  frame(): Uint8Array {
    this.#view.setInt32(0, this.#at - 4);
    return this.#bytes.subarray(0, this.#at);
  }
}

/** Reads jute records from one reply. */
class RecordReader {
  readonly #view: DataView;
  #at = 0;

  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #need(n: number): void {
    if (this.#at + n > this.bytes.length) {
      throw new Error("ZooKeeper reply is shorter than its records");
    }
  }

  int(): number {
    this.#need(4);
    const value = this.#view.getInt32(this.#at);
    this.#at += 4;
    return value;
  }

  long(): bigint {
    this.#need(8);
    const value = this.#view.getBigInt64(this.#at);
    this.#at += 8;
    return value;
  }

  buffer(): Uint8Array | null {
    const length = this.int();
    if (length < 0) return null;
    this.#need(length);
    const value = this.bytes.slice(this.#at, this.#at + length);
    this.#at += length;
    return value;
  }

  string(): string {
    return decoder.decode(this.buffer() ?? new Uint8Array());
  }
}

/** A ZooKeeper session over one connection. */
export class ZooKeeperClient {
  readonly #conn: Deno.Conn;
  readonly #timeoutMs: number;
  #pending = new Uint8Array(0);
  #xid = 0;

  private constructor(conn: Deno.Conn, timeoutMs: number) {
    this.#conn = conn;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Opens a session with the first of `servers` ("host:port") that accepts
   * one within `timeoutMs`; throws naming each server's failure.
   */
  static async connect(servers: readonly string[], timeoutMs: number): Promise<ZooKeeperClient> {
    const failures: string[] = [];
    for (const server of servers) {
      const colon = server.lastIndexOf(":");
      const hostname = server.slice(0, colon).replace(/^\[|\]$/g, "");
      const port = Number(server.slice(colon + 1));
      let conn: Deno.Conn | undefined;
      try {
        conn = await Deno.connect({ hostname, port, signal: AbortSignal.timeout(timeoutMs) });
        const client = new ZooKeeperClient(conn, timeoutMs);
        await client.#handshake();
        return client;
      } catch (e) {
        conn?.close();
        failures.push(`${server}: ${(e as Error).message}`);
      }
    }
    throw new Error(`cannot open a ZooKeeper session: ${failures.join("; ")}`);
  }

  async #handshake(): Promise<void> {
    const request = new RecordWriter()
      .int(0) // protocol version
      .long(0n) // last zxid seen
      .int(this.#timeoutMs) // session timeout
      .long(0n) // session id: a new session
      .buffer(new Uint8Array(PASSWORD_LENGTH))
      .bool(false); // not read-only
    await this.#write(request.frame());
    const reply = new RecordReader(await this.#readFrame());
    reply.int(); // protocol version
    const negotiatedTimeout = reply.int();
    if (negotiatedTimeout <= 0) throw new Error("ZooKeeper refused the session");
  }

  /** The names of the children of `path`. */
  async getChildren(path: string): Promise<string[]> {
    const reply = await this.#call(OP_GET_CHILDREN, (w) => w.string(path).bool(false), path);
    const count = reply.int();
    const names: string[] = [];
    for (let i = 0; i < count; i++) names.push(reply.string());
    return names;
  }

  /** The data of the node at `path` (null when it has none). */
  async getData(path: string): Promise<Uint8Array | null> {
    const reply = await this.#call(OP_GET_DATA, (w) => w.string(path).bool(false), path);
    return reply.buffer();
  }

  /** Creates a persistent node at `path` holding `data`, open to everyone. */
  async create(path: string, data: Uint8Array): Promise<void> {
    await this.#call(OP_CREATE, (w) =>
      w.string(path).buffer(data)
        // One ACL: all permissions (31) for world:anyone.
        .int(1).int(31).string("world").string("anyone")
        .int(0), path); // flags: persistent
  }

  /** Deletes the node at `path`, whatever its version. */
  async delete(path: string): Promise<void> {
    await this.#call(OP_DELETE, (w) => w.string(path).int(-1), path);
  }

  /** Ends the session and the connection. */
  close(): void {
    const request = new RecordWriter().int(++this.#xid).int(OP_CLOSE_SESSION);
    this.#write(request.frame()).catch(() => {}).finally(() => {
      try {
        this.#conn.close();
      } catch { /* closed already */ }
    });
  }

  async #call(
    op: number,
    body: (w: RecordWriter) => RecordWriter,
    path: string,
  ): Promise<RecordReader> {
    const xid = ++this.#xid;
    await this.#write(body(new RecordWriter().int(xid).int(op)).frame());
    for (;;) {
      const reply = new RecordReader(await this.#readFrame());
      const replyXid = reply.int();
      reply.long(); // zxid
      const err = reply.int();
      // Watch events (-1) and pings (-2) are not ours to answer.
      if (replyXid !== xid) continue;
      if (err !== 0) throw new ZooKeeperError(path, err);
      return reply;
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length;) at += await this.#conn.write(bytes.subarray(at));
  }

  /** One length-prefixed reply, within the session timeout. */
  async #readFrame(): Promise<Uint8Array> {
    const deadline = Date.now() + this.#timeoutMs;
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      if (this.#pending.length >= 4) {
        const length = new DataView(this.#pending.buffer, this.#pending.byteOffset).getInt32(0);
        if (length < 0 || length > MAX_FRAME) throw new Error(`ZooKeeper reply of ${length} bytes`);
        if (this.#pending.length >= 4 + length) {
          const frame = this.#pending.slice(4, 4 + length);
          this.#pending = this.#pending.slice(4 + length);
          return frame;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("ZooKeeper did not answer in time");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        this.#conn.read(buffer),
        new Promise<"late">((resolve) => timer = setTimeout(() => resolve("late"), left)),
      ]).finally(() => clearTimeout(timer));
      if (n === "late") throw new Error("ZooKeeper did not answer in time");
      if (n === null) throw new Error("ZooKeeper closed the connection");
      const joined = new Uint8Array(this.#pending.length + n);
      joined.set(this.#pending);
      joined.set(buffer.subarray(0, n), this.#pending.length);
      this.#pending = joined;
    }
  }
}
