/**
 * QUIC endpoints (UDP sockets) shared by the HTTP/3 servers of an isolate
 * that listen on the same address, so a server restarted on its port (a
 * new certificate, say) takes new connections at once while the old one
 * drains its own on the same socket.
 *
 * The runtime gives no other way: a second endpoint cannot bind the port
 * while the first exists, and a closed endpoint keeps its socket until the
 * endpoint object is garbage collected. Its accept queue also belongs to
 * the endpoint, not to a listener (a stopped listener's pending `incoming()`
 * still takes the next connection, with the TLS config of the latest
 * `listen()`), so one accept loop per endpoint hands each connection to the
 * server that has it now; and a listener that is garbage collected stops
 * the endpoint taking connections, so every one is kept with it.
 *
 * @module
 */

import { releaseShapeAnchors } from "../../filters/shape_anchor.ts";

/** What an HTTP/3 server gets: the socket's address and its own release. */
export interface QuicLease {
  readonly addr: Deno.NetAddr;
  /** New connections go to the server that leased last; this lets go (the last closes the socket). */
  release(): void;
}

/** The TLS and transport settings of a server, applied to its endpoint's new connections. */
export type QuicListenSettings = Deno.QuicListenOptions;

interface Shared {
  readonly key: string;
  readonly endpoint: Deno.QuicEndpoint;
  /** The first listener, whose `incoming()` the accept loop awaits for the endpoint's life. */
  readonly listener: Deno.QuicListener;
  /**
   * Every listener made on the endpoint since: collecting any of them
   * stops the endpoint taking connections, so they live as long as it.
   */
  readonly later: Deno.QuicListener[];
  /** The server new connections go to; undefined between servers (they are refused). */
  take: ((incoming: Deno.QuicIncoming) => void) | undefined;
  leases: number;
  closeTimer: ReturnType<typeof setTimeout> | undefined;
}

/** How long an endpoint nobody leases stays open: a restarting server leases it again. */
const LINGER_MS = 2_000;
const shared = new Map<string, Shared>();
const exposedGc = (globalThis as { gc?: () => void }).gc;

/**
 * Leases the endpoint on `hostname:port` (binding it when none is open),
 * applies `settings` to its new connections and hands them to `take`.
 * Throws the bind error. Port 0 always binds a new endpoint.
 */
export function leaseQuicEndpoint(
  hostname: string,
  port: number,
  settings: QuicListenSettings,
  take: (incoming: Deno.QuicIncoming) => void,
): QuicLease {
  let entry = port === 0 ? undefined : shared.get(`${hostname}:${port}`);
  if (entry === undefined) {
    entry = open(hostname, port, settings);
  } else {
    // The latest listen() sets the TLS config of the endpoint's new handshakes.
    entry.later.push(entry.endpoint.listen(settings));
  }
  clearTimeout(entry.closeTimer);
  entry.closeTimer = undefined;
  entry.leases++;
  entry.take = take;
  const { hostname: boundHost, port: boundPort } = entry.endpoint.addr;
  const lease: Shared = entry;
  let released = false;
  return {
    addr: { transport: "udp", hostname: boundHost, port: boundPort },
    release() {
      if (released) return;
      released = true;
      if (lease.take === take) lease.take = undefined;
      if (--lease.leases > 0) return;
      lease.closeTimer = setTimeout(() => close(lease), LINGER_MS);
      // A process that is ending does not wait for it.
      Deno.unrefTimer(lease.closeTimer);
    },
  };
}

function open(hostname: string, port: number, settings: QuicListenSettings): Shared {
  const endpoint = new Deno.QuicEndpoint({ hostname, port });
  let listener: Deno.QuicListener;
  try {
    listener = endpoint.listen(settings);
  } catch (error) {
    endpoint.close();
    throw error;
  }
  const key = `${hostname}:${endpoint.addr.port}`;
  const entry: Shared = {
    key,
    endpoint,
    listener,
    later: [],
    take: undefined,
    leases: 0,
    closeTimer: undefined,
  };
  shared.set(key, entry);
  acceptLoop(entry);
  return entry;
}

async function acceptLoop(entry: Shared): Promise<void> {
  for (;;) {
    let incoming: Deno.QuicIncoming;
    try {
      incoming = await entry.listener.incoming();
    } catch {
      return; // the endpoint is closed
    }
    if (entry.take) entry.take(incoming);
    else incoming.refuse();
  }
}

function close(entry: Shared): void {
  if (shared.get(entry.key) === entry) shared.delete(entry.key);
  entry.endpoint.close();
  // The socket goes with the endpoint object: collect it once the accept loop
  // has let go. The newest request's objects, which shape anchors keep until
  // the isolate's next idle trim, lead to it through their server's listener
  // (after the trim, no collection would come): they are let go of first.
  releaseShapeAnchors();
  if (exposedGc) setTimeout(exposedGc, 100);
}
