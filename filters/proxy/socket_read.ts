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

interface RuntimeCore {
  read(rid: number, buf: Uint8Array): Promise<number>;
  refOpPromise(promise: Promise<unknown>): void;
  unrefOpPromise(promise: Promise<unknown>): void;
  internalRidSymbol: symbol;
  promiseIdSymbol: symbol;
}

const candidate = denoInternals?.core as Partial<RuntimeCore> | undefined;
const core: RuntimeCore | undefined = typeof candidate?.read === "function" &&
    typeof candidate.refOpPromise === "function" &&
    typeof candidate.unrefOpPromise === "function" &&
    typeof candidate.internalRidSymbol === "symbol" &&
    typeof candidate.promiseIdSymbol === "symbol"
  ? candidate as RuntimeCore
  : undefined;

/** Reads into `buf` (which must not be empty). */
export function readSocket(socket: Deno.Conn, buf: Uint8Array): Promise<ReadCount> {
  if (core === undefined) return socket.read(buf);
  const rid = (socket as unknown as Record<symbol, number | undefined>)[core.internalRidSymbol];
  return rid === undefined ? socket.read(buf) : core.read(rid, buf);
}

/**
 * Lets `socket` keep the process alive again, through `read`, its pending
 * read from {@linkcode readSocket}, if any.
 */
export function refRead(socket: Deno.Conn, read: Promise<ReadCount> | null): void {
  if (read !== null && isOp(read)) core!.refOpPromise(read);
  else socket.ref();
}

/** Stops `read`, the pending read of `socket` from {@linkcode readSocket}, keeping the process alive. */
export function unrefRead(socket: Deno.Conn, read: Promise<ReadCount>): void {
  if (isOp(read)) core!.unrefOpPromise(read);
  else socket.unref();
}

/** Whether `read` came from the op (not from `Conn.read`, which the socket's own ref/unref cover). */
function isOp(read: Promise<ReadCount>): boolean {
  return core !== undefined &&
    (read as unknown as Record<symbol, unknown>)[core.promiseIdSymbol] !== undefined;
}
