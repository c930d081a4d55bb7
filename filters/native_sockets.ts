/**
 * The kernel sockets behind the runtime's resources, reached where no
 * runtime API does the job (Linux: glibc through the runtime's FFI; a
 * socket is found among the process's descriptors by its addresses).
 * Elsewhere, or without the FFI permission, nothing here does anything.
 *
 * Shutting sockets down: closing a TLS connection whose handshake has not
 * finished removes it from the runtime's resource table, but not its TCP
 * socket: the runtime's handshake goes on reading until the client sends
 * something or leaves. A client that connects and stays silent would hold
 * a file descriptor of the node for as long as it likes (measured: 200
 * silent clients kept their 200 descriptors open after the handshake
 * timeout had closed their connections, until they left), and enough of
 * them exhaust the descriptors every other client needs. Such a socket is
 * shut down both ways (`shutdown(SHUT_RDWR)`): the runtime then reads end-of-stream and
 * closes the descriptor itself, which stays the runtime's.
 *
 * TCP_NODELAY on TLS listeners: the runtime's TLS connections offer no
 * `setNoDelay`, and Nagle's algorithm held the last TLS record of an
 * answer until the client's delayed ACK, 40 ms later (HTTPS answers of 16
 * and 70 KB took 50 ms where plain HTTP took 2-3). Linux hands a listening
 * socket's TCP_NODELAY down to the connections it accepts, so it is set
 * once on the listener. The Proxy's mutual-TLS connections are made by
 * `Deno.connectTls` (the only way to present a client certificate), which
 * offers no `setNoDelay` either: each gets TCP_NODELAY from a pass over the
 * descriptors once it is open.
 *
 * @module
 */

import { parseIP } from "./ip_address.ts";

const SHUT_RDWR = 2;
const SOL_SOCKET = 1;
const SO_TYPE = 3;
const SOCK_STREAM = 1;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const AF_INET = 2;
const AF_INET6 = 10;
/** Large enough for a `sockaddr_in6` (28 bytes). */
const SOCKADDR_SIZE = 128;
/** Descriptors looked at between two yields to other work (about 1.5 ms of system calls). */
const FDS_PER_SLICE = 512;

const LIBC_SYMBOLS = {
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "i32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
} as const;

/** The glibc socket calls this module uses. */
export type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

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
 * Reads sockets' addresses through glibc ({@linkcode openLibc}) into one
 * buffer, reused from read to read.
 */
export class AddressReader {
  readonly #libc: Libc;
  readonly #sockaddr = new Uint8Array(SOCKADDR_SIZE);
  readonly #length = new Uint32Array(1);
  readonly #lengthBytes = new Uint8Array(this.#length.buffer);

  constructor(libc: Libc) {
    this.#libc = libc;
  }

  /**
   * Reads the peer (`getpeername`) or local (`getsockname`) address of
   * `fd`; false when it has none (not a socket, or no peer).
   */
  read(call: "getpeername" | "getsockname", fd: number): boolean {
    this.#length[0] = SOCKADDR_SIZE;
    return this.#libc[call](fd, this.#sockaddr, this.#lengthBytes) === 0;
  }

  /** The port of the address last read: cheaper than its key, to rule sockets out. */
  get port(): number {
    return (this.#sockaddr[2] << 8) | this.#sockaddr[3];
  }

  /** {@linkcode endpointKey} of the address last read. */
  key(): string | undefined {
    return sockaddrKey(this.#sockaddr);
  }
}

/** What a pass does to a queued socket. */
export type SocketAction = "shutdown" | "nodelay";

/**
 * Collects sockets to act on and finds them together, in one pass over the
 * process's descriptors, right after the current task: timed-out handshakes
 * and idle sessions are shut down in batches, and upstream TLS connections
 * get TCP_NODELAY. The pass costs a system call per descriptor, about 3 us
 * here (8 000 descriptors: 25 ms), so it yields to other work every
 * {@linkcode FDS_PER_SLICE} descriptors.
 */
export class SocketPass {
  /** Peer port -> the queued sockets with that peer port, as [peer key, local key, action]. */
  #queued = new Map<number, [string, string, SocketAction][]>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #libc: () => Libc | undefined;

  /** `libc` is for tests; by default glibc is opened on first use. */
  constructor(libc: () => Libc | undefined = openLibc) {
    this.#libc = libc;
  }

  /** Whether sockets can be reached here (Linux, glibc, the FFI permission). */
  get available(): boolean {
    return this.#libc() !== undefined;
  }

  /** Queues the TCP socket between `local` and `remote` for `action`. */
  queue(local: Deno.Addr, remote: Deno.Addr, action: SocketAction = "shutdown"): void {
    if (this.#libc() === undefined) return;
    const localKey = endpointKey(local);
    const peerKey = endpointKey(remote);
    if (localKey === undefined || peerKey === undefined) return;
    const port = (remote as Deno.NetAddr).port;
    const sockets = this.#queued.get(port);
    if (sockets === undefined) this.#queued.set(port, [[peerKey, localKey, action]]);
    else sockets.push([peerKey, localKey, action]);
    if (this.#timer !== undefined) return;
    const timer = setTimeout(() => {
      this.#timer = undefined;
      // Nothing in the pass is expected to throw; if something does, traffic goes on.
      this.flush().catch(() => {});
    }, 0);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Acts on the queued sockets; resolves with how many were found. */
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
    const address = new AddressReader(libc);
    let found = 0;
    for (let i = 0; i < fds.length && queued.size > 0; i++) {
      if (i > 0 && i % FDS_PER_SLICE === 0) await new Promise((resolve) => setTimeout(resolve, 0));
      const fd = fds[i];
      // getpeername fails at once for files, pipes and listening sockets; the
      // peer's port rules out nearly every other socket before any key is made.
      if (!address.read("getpeername", fd)) continue;
      const port = address.port;
      const sockets = queued.get(port);
      if (sockets === undefined) continue;
      const peerKey = address.key();
      if (!address.read("getsockname", fd)) continue;
      const localKey = address.key();
      const at = sockets.findIndex(([peer, local]) => peer === peerKey && local === localKey);
      if (at < 0) continue;
      const [, , action] = sockets[at];
      if (action === "shutdown" ? libc.shutdown(fd, SHUT_RDWR) === 0 : setNoDelay(libc, fd)) {
        found++;
      }
      sockets.splice(at, 1);
      if (sockets.length === 0) queued.delete(port);
    }
    return found;
  }
}

/**
 * Turns TCP_NODELAY on for this process's TCP listening sockets bound to
 * `addr` (more than one with `reusePort`), so the connections they accept
 * have it; returns how many it set. Looks at every descriptor once: meant
 * for when a listener starts.
 */
export function setNoDelayOnListeners(addr: Deno.Addr, lib = openLibc()): number {
  const key = endpointKey(addr);
  if (lib === undefined || key === undefined) return 0;
  const port = (addr as Deno.NetAddr).port;
  const address = new AddressReader(lib);
  const int = new Uint32Array(1);
  const intBytes = new Uint8Array(int.buffer);
  const intLength = new Uint32Array(1);
  const intLengthBytes = new Uint8Array(intLength.buffer);
  let set = 0;
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync("/proc/self/fd")];
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const fd = Number(entry.name);
    if (!address.read("getsockname", fd)) continue;
    // The port rules out nearly every other socket before any key is made.
    if (address.port !== port || address.key() !== key) continue;
    // A listening socket has no peer; the connections it accepted share its local address.
    if (address.read("getpeername", fd)) continue;
    intLength[0] = 4;
    if (lib.getsockopt(fd, SOL_SOCKET, SO_TYPE, intBytes, intLengthBytes) !== 0) continue;
    if (int[0] !== SOCK_STREAM) continue; // HTTP/3's UDP socket on the same port
    if (setNoDelay(lib, fd)) set++;
  }
  return set;
}

const one = new Uint8Array(new Uint32Array([1]).buffer);

function setNoDelay(lib: Libc, fd: number): boolean {
  return lib.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, one, 4) === 0;
}

let libc: Libc | undefined | null = null;

/** glibc's socket calls, opened once; undefined off Linux or without the FFI permission. */
export function openLibc(): Libc | undefined {
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

/** The process's one queue, shared by every TLS listener and upstream pool. */
export const socketPass = new SocketPass();
