/**
 * Socket reads through the runtime's read op, without `Deno.Conn.read`.
 *
 * `Conn.read` adds each pending read to a Set the connection owns and
 * deletes it when the read ends. V8 replaces a Set's table when the Set
 * empties, and once a connection has lived through two young-generation
 * collections (any idle pause does it) its table and every later
 * replacement are allocated in the old generation. Proxying at 30k
 * requests/s that made 10-14 MB of old-generation garbage a second, about
 * three discarded tables per request, and a full collection every second
 * with pauses of 1-8 ms. The op itself keeps no such record; holding the
 * pending read (to ref or unref it) is the caller's job, as
 * `Http1Connection` does anyway.
 *
 * The op is looked up once; on a runtime without it, reads go through
 * `Conn.read`.
 *
 * @module
 */

import { denoInternals } from "../deno_internals.ts";

/** Bytes read; 0 or null at end of stream (the op says 0, `Conn.read` null). */
export type ReadCount = number | null;

/** What the HTTP/1.1 code uses of a socket: a `Deno.Conn`, or a {@linkcode LeanSocket}. */
export type Socket = Pick<Deno.Conn, "read" | "write" | "close" | "closeWrite" | "ref" | "unref">;

interface RuntimeCore {
  read(rid: number, buf: Uint8Array): Promise<number>;
  write(rid: number, buf: Uint8Array): Promise<number>;
  shutdown(rid: number): Promise<void>;
  close(rid: number): void;
  refOpPromise(promise: Promise<unknown>): void;
  unrefOpPromise(promise: Promise<unknown>): void;
  internalRidSymbol: symbol;
  promiseIdSymbol: symbol;
}

const candidate = denoInternals?.core as Partial<RuntimeCore> | undefined;
const core: RuntimeCore | undefined = typeof candidate?.read === "function" &&
    typeof candidate.write === "function" &&
    typeof candidate.shutdown === "function" &&
    typeof candidate.close === "function" &&
    typeof candidate.refOpPromise === "function" &&
    typeof candidate.unrefOpPromise === "function" &&
    typeof candidate.internalRidSymbol === "symbol" &&
    typeof candidate.promiseIdSymbol === "symbol"
  ? candidate as RuntimeCore
  : undefined;

/** The runtime's resource id of `socket`, where the runtime's ops are at hand. */
function ridOf(socket: Socket): number | undefined {
  if (core === undefined) return undefined;
  return (socket as unknown as Record<symbol, number | undefined>)[core.internalRidSymbol];
}

/** Reads into `buf` (which must not be empty). */
export function readSocket(socket: Socket, buf: Uint8Array): Promise<ReadCount> {
  const rid = ridOf(socket);
  return rid === undefined ? socket.read(buf) : core!.read(rid, buf);
}

/**
 * Lets `socket` keep the process alive again, through `read`, its pending
 * read from {@linkcode readSocket}, if any.
 */
export function refRead(socket: Socket, read: Promise<ReadCount> | null): void {
  if (read !== null && isOp(read)) core!.refOpPromise(read);
  else socket.ref();
}

/** Stops `read`, the pending read of `socket` from {@linkcode readSocket}, keeping the process alive. */
export function unrefRead(socket: Socket, read: Promise<ReadCount>): void {
  if (isOp(read)) core!.unrefOpPromise(read);
  else socket.unref();
}

/** Whether `read` came from the op (not from `Conn.read`, which the socket's own ref/unref cover). */
function isOp(read: Promise<ReadCount>): boolean {
  return core !== undefined &&
    (read as unknown as Record<symbol, unknown>)[core.promiseIdSymbol] !== undefined;
}

/**
 * A socket held by its resource id alone. A `Deno.Conn` object keeps its
 * local and remote addresses (objects of their own, about 580 bytes
 * together), a Set of pending reads and more: some 840 bytes of heap per
 * connection, 8 MB for 10 000 idle keep-alive clients. The resource stays
 * open without the object (the runtime never closes a socket for being
 * unreferenced), so a connection that no longer needs the `Deno.Conn`
 * keeps this instead, going to the runtime's ops by id.
 */
export class LeanSocket implements Socket {
  readonly #rid: number;

  private constructor(rid: number) {
    this.#rid = rid;
    // Where readSocket looks for the id, as on a Deno.Conn.
    Object.defineProperty(this, core!.internalRidSymbol, { value: rid });
  }

  /** A lean socket for `conn`'s resource, or `conn` itself where the runtime's ops are not at hand. */
  static of(conn: Deno.Conn): Socket {
    const rid = ridOf(conn);
    return rid === undefined ? conn : new LeanSocket(rid);
  }

  /** As `Deno.Conn.read`: null at end of stream. */
  async read(buf: Uint8Array): Promise<number | null> {
    const n = await core!.read(this.#rid, buf);
    return n === 0 && buf.length > 0 ? null : n;
  }

  /** As `Deno.Conn.write`. */
  write(buf: Uint8Array): Promise<number> {
    return core!.write(this.#rid, buf);
  }

  /** As `Deno.Conn.closeWrite`. */
  closeWrite(): Promise<void> {
    return core!.shutdown(this.#rid);
  }

  /** As `Deno.Conn.close`. */
  close(): void {
    core!.close(this.#rid);
  }

  /** Reads here are op reads, ref'd and unref'd one by one (see refRead). */
  ref(): void {}

  /** See {@linkcode ref}. */
  unref(): void {}
}
