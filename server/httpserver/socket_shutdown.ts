/**
 * Shuts down TCP sockets that the runtime keeps after their resource closed.
 *
 * Closing a TLS connection whose handshake has not finished removes it from
 * the runtime's resource table, but not its TCP socket: the runtime's
 * handshake goes on reading until the client sends something or leaves. A
 * client that connects and stays silent would hold a file descriptor of the
 * node for as long as it likes (measured: 200 silent clients kept their 200
 * descriptors open after the handshake timeout had closed their
 * connections, until they left), and enough of them exhaust the
 * descriptors every other client needs. An HTTP/2 session the runtime is
 * closing gracefully cannot be made to end either while its client keeps
 * quiet (see `h2_session.ts`).
 *
 * On Linux, a socket queued here is found among the process's descriptors
 * by its two addresses (`getpeername`, `getsockname`) and shut down both
 * ways (`shutdown(SHUT_RDWR)`) through the runtime's FFI and glibc: the
 * handshake then reads end-of-stream, fails, and the runtime closes the
 * descriptor. The descriptor is not closed here: it is still the runtime's.
 * Elsewhere, or without the FFI permission, nothing is done.
 *
 * @module
 */

import { parseIP } from "./ipfilter.ts";

const SHUT_RDWR = 2;
const AF_INET = 2;
const AF_INET6 = 10;
/** Large enough for a `sockaddr_in6` (28 bytes). */
const SOCKADDR_SIZE = 128;
/** Descriptors looked at between two yields to other work (about 1.5 ms of system calls). */
const FDS_PER_SLICE = 512;

const LIBC_SYMBOLS = {
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

/**
 * A key naming one end of a TCP connection ("4:<hex address>:<port>" or
 * "6:..."), the same for a Deno address and the kernel's: IPv4-mapped IPv6
 * addresses count as IPv4. Undefined for an address that is not TCP/IP.
 */
export function endpointKey(addr: Deno.Addr): string | undefined {
  if (addr.transport !== "tcp" && addr.transport !== "udp") return undefined;
  const ip = parseIP(addr.hostname);
  return ip === undefined ? undefined : `${ip.v6 ? 6 : 4}:${ip.bits.toString(16)}:${addr.port}`;
}

/** {@linkcode endpointKey} of a `sockaddr_in` or `sockaddr_in6`; undefined for other families. */
export function sockaddrKey(sockaddr: Uint8Array): string | undefined {
  // sa_family is in host byte order (little-endian on Linux's x86-64 and arm64); the port is big-endian.
  const family = sockaddr[0] | (sockaddr[1] << 8);
  const port = (sockaddr[2] << 8) | sockaddr[3];
  if (family === AF_INET) return `4:${bitsOf(sockaddr, 4, 8).toString(16)}:${port}`;
  if (family !== AF_INET6) return undefined;
  const bits = bitsOf(sockaddr, 8, 24);
  // ::ffff:a.b.c.d is the IPv4 client of a dual-stack listener.
  if (bits >> 32n === 0xffffn) return `4:${(bits & 0xffffffffn).toString(16)}:${port}`;
  return `6:${bits.toString(16)}:${port}`;
}

function bitsOf(bytes: Uint8Array, from: number, to: number): bigint {
  let bits = 0n;
  for (let i = from; i < to; i++) bits = (bits << 8n) | BigInt(bytes[i]);
  return bits;
}

/**
 * Collects sockets to shut down and shuts them down together, in one pass
 * over the process's descriptors, right after the current task (timed-out
 * handshakes and idle sessions are closed in batches). The pass costs a system call
 * per descriptor, about 3 us here (8 000 descriptors: 25 ms), so it yields
 * to other work every {@linkcode FDS_PER_SLICE} descriptors.
 */
export class SocketShutdown {
  /** Peer port -> the queued sockets with that peer port, as [peer key, local key]. */
  #queued = new Map<number, [string, string][]>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #libc: () => Libc | undefined;

  /** `libc` is for tests; by default glibc is opened on first use. */
  constructor(libc: () => Libc | undefined = openLibc) {
    this.#libc = libc;
  }

  /** Whether sockets can be shut down here (Linux, glibc, the FFI permission). */
  get available(): boolean {
    return this.#libc() !== undefined;
  }

  /** Queues the TCP socket between `local` and `remote` to be shut down. */
  queue(local: Deno.Addr, remote: Deno.Addr): void {
    if (this.#libc() === undefined) return;
    const localKey = endpointKey(local);
    const peerKey = endpointKey(remote);
    if (localKey === undefined || peerKey === undefined) return;
    const port = (remote as Deno.NetAddr).port;
    const sockets = this.#queued.get(port);
    if (sockets === undefined) this.#queued.set(port, [[peerKey, localKey]]);
    else sockets.push([peerKey, localKey]);
    if (this.#timer !== undefined) return;
    const timer = setTimeout(() => {
      this.#timer = undefined;
      // Nothing in the pass is expected to throw; if something does, traffic goes on.
      this.flush().catch(() => {});
    }, 0);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Shuts the queued sockets down; resolves with how many were found. */
  async flush(): Promise<number> {
    const queued = this.#queued;
    if (queued.size === 0) return 0;
    this.#queued = new Map();
    const libc = this.#libc();
    if (libc === undefined) return 0;
    const fds: number[] = [];
    try {
      for await (const entry of Deno.readDir("/proc/self/fd")) fds.push(Number(entry.name));
    } catch {
      return 0;
    }
    const sockaddr = new Uint8Array(SOCKADDR_SIZE);
    const length = new Uint32Array(1);
    const lengthBytes = new Uint8Array(length.buffer);
    const addressOf = (call: "getpeername" | "getsockname", fd: number): boolean => {
      length[0] = SOCKADDR_SIZE;
      return libc[call](fd, sockaddr, lengthBytes) === 0;
    };
    let found = 0;
    for (let i = 0; i < fds.length && queued.size > 0; i++) {
      if (i > 0 && i % FDS_PER_SLICE === 0) await new Promise((resolve) => setTimeout(resolve, 0));
      const fd = fds[i];
      // getpeername fails at once for files, pipes and listening sockets; the
      // peer's port rules out nearly every other socket before any key is made.
      if (!addressOf("getpeername", fd)) continue;
      const port = (sockaddr[2] << 8) | sockaddr[3];
      const sockets = queued.get(port);
      if (sockets === undefined) continue;
      const peerKey = sockaddrKey(sockaddr);
      if (!addressOf("getsockname", fd)) continue;
      const localKey = sockaddrKey(sockaddr);
      const at = sockets.findIndex(([peer, local]) => peer === peerKey && local === localKey);
      if (at < 0) continue;
      if (libc.shutdown(fd, SHUT_RDWR) === 0) found++;
      sockets.splice(at, 1);
      if (sockets.length === 0) queued.delete(port);
    }
    return found;
  }
}

let libc: Libc | undefined | null = null;

/** glibc's socket calls, opened once; undefined off Linux or without the FFI permission. */
function openLibc(): Libc | undefined {
  if (libc !== null) return libc;
  libc = undefined;
  if (Deno.build.os !== "linux") return libc;
  try {
    libc = Deno.dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
  } catch {
    // No glibc or no FFI permission: sockets are left to the runtime.
  }
  return libc;
}

/** The process's one queue, shared by every TLS listener. */
export const socketShutdown = new SocketShutdown();
