/**
 * Listeners for an HTTPServer: our own HTTP/1.1 and HTTP/2 servers for
 * plain HTTP (HTTP/2 as h2c with prior knowledge) and for TLS (HTTP/2 by
 * ALPN), with a certificate chosen by server name when there are several;
 * with `--http1-server deno`, `Deno.serve` and, for several certificates,
 * `node:http2`'s secure server with an SNI callback; QUIC for HTTP/3.
 * Whichever runs, requests reach the same handler as the pipeline's
 * `HttpRequest`.
 *
 * @module
 */

import { anyAddress } from "../any_address.ts";
import { LISTEN_RETRY_MS } from "../listen_retry.ts";
import { parseDuration } from "../../filters/spec.ts";
import { type Http3Server, serveHttp3 } from "../http3/mod.ts";
import { setNoDelayOnListeners } from "../../filters/native_sockets.ts";
import { decodePem } from "../../filters/pem.ts";
import { sniResolverSymbol } from "./runtime_internals.ts";
import { Http2Session } from "../http2/session.ts";
import { ReactorTurn } from "./reactor_turn.ts";
import { serveHttp1, type TlsKeyPair } from "./http1/server.ts";
import type { HTTPServerSpec } from "./spec.ts";
import type { ConnectionQuota } from "./connection_quota.ts";
import { type RequestHandler, type WebHandler, webHandler } from "./web_handler.ts";

export type { RequestHandler, WebHandler } from "./web_handler.ts";

/** A started listener. */
export interface Listener {
  /** The bound TCP port. */
  readonly port: number;
  /**
   * Stops taking connections and resolves once the port can be bound again.
   * TCP connections go on being served (until `shutdown`); QUIC ones drain
   * on their UDP socket, which the next HTTP/3 server on the port shares.
   */
  releasePort(graceMs: number): Promise<void>;
  /** Stops accepting, waits for in-flight requests up to `graceMs`, then closes. */
  shutdown(graceMs: number): Promise<void>;
  /** What it serves without, though the spec asks for it (HTTP/3 when its UDP port is taken). */
  readonly degraded?: string;
  /**
   * Applies the spec's `maxConnections` and `keepAliveTimeout` in place, and
   * says whether it could; absent where only a new listener can.
   */
  setLimits?(spec: HTTPServerSpec): boolean;
}

/** Resolves after the runtime's next turn: a closed listener's cancelled accept lets its socket go then. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * What serves plain HTTP/1.1 and HTTPS: `builtin` is our server (less CPU
 * per request, enforced connection limits and idle timeout); `deno` is
 * `Deno.serve` (and `node:http2` for several certificates), kept for
 * comparison and as a fallback.
 */
export type Http1ServerKind = "builtin" | "deno";

/** Options for {@linkcode startListener}. */
export interface ListenerOptions {
  /** Let several processes or isolates bind the same port. @default {false} */
  reusePort?: boolean;
  /** Called with unexpected handler errors. */
  onError?: (message: string) => void;
  /**
   * Serve HTTP/3 when the spec asks for it. UDP ports cannot be shared, so
   * of several isolates on one port only one serves QUIC. @default {true}
   */
  quic?: boolean;
  /**
   * Isolates sharing the port. Without a shared `quota`, the kernel spreads
   * connections about evenly, so each admits `ceil(maxConnections / planes)`.
   * @default {1}
   */
  planes?: number;
  /**
   * Where our HTTP/1.1 server counts connections against `maxConnections`,
   * shared with the server's other listeners (see connection_quota.ts).
   */
  quota?: ConnectionQuota;
  /** @default {"builtin"} */
  http1Server?: Http1ServerKind;
  /** Told whether HTTP/3 serves, at each try to bind its UDP port. */
  onHttp3?: (serving: boolean) => void;
}

/** A certificate and key pair in PEM. */
export interface CertPair {
  name: string;
  cert: string;
  key: string;
}

/** The certificate pairs of a spec, decoded. */
export function certPairs(spec: HTTPServerSpec): CertPair[] {
  const pairs: CertPair[] = [];
  if (spec.certBase64 && spec.keyBase64) {
    pairs.push({
      name: "certBase64",
      cert: decodePem(spec.certBase64),
      key: decodePem(spec.keyBase64),
    });
  }
  for (const [name, cert] of Object.entries(spec.certs)) {
    pairs.push({ name, cert: decodePem(cert), key: decodePem(spec.keys[name]) });
  }
  return pairs;
}

/** Starts the listener a spec asks for; rejects when the port cannot be bound. */
export async function startListener(
  spec: HTTPServerSpec,
  handler: RequestHandler,
  options: ListenerOptions = {},
): Promise<Listener> {
  const hostname = spec.address ?? anyAddress();
  if (!spec.https) return startPlainListener(spec, hostname, handler, options);
  const pairs = certPairs(spec);
  if (pairs.length === 0) {
    throw new Error("no certificate yet: waiting for the AutoCertManager to obtain one");
  }
  const clientCa = spec.caCertBase64 ? decodePem(spec.caCertBase64) : undefined;
  // Only node:tls asks clients for certificates: mutual TLS goes through it.
  const own = options.http1Server !== "deno" && clientCa === undefined &&
    (pairs.length === 1 || sniResolverSymbol !== undefined);
  let tcp: Listener;
  if (own) {
    // The picker for several certificates is loaded on demand, as
    // node:crypto costs an idle node memory.
    const keys = pairs.length === 1
      ? pairs[0]
      : (await import("./cert_picker.ts")).certificatePicker(pairs);
    tcp = startHttp1Listener(spec, hostname, handler, options, keys);
  } else {
    const web = webHandler(handler, "HTTP/1.1");
    if (pairs.length > 1 || clientCa !== undefined) {
      // Loaded on demand: the node modules it needs cost an idle node 1–3 MB.
      const { startSniListener } = await import("./sni_listener.ts");
      tcp = await startSniListener(spec.port, hostname, pairs, web, options, clientCa, {
        keepAliveTimeoutMs: keepAliveMs(spec),
        maxConnections: planeShare(spec, options),
      });
    } else {
      tcp = startDenoListener(spec.port, hostname, web, options, pairs[0]);
    }
  }
  if (!spec.http3 || options.quic === false) return tcp;
  const h3 = webHandler(handler, "HTTP/3");
  const quic = new QuicPart(
    () =>
      // QUIC takes one certificate: the first pair (SNI applies to TCP only).
      serveHttp3({
        hostname,
        port: tcp.port,
        cert: pairs[0].cert,
        key: pairs[0].key,
        handler: (req, info, target) =>
          h3(req, () => info.remoteAddr, undefined, undefined, target),
        // QUIC's idle timeout: a connection without packets this long is closed.
        idleTimeoutMs: quicIdleMs(spec.keepAliveTimeout),
        onError: options.onError,
      }),
    tcp.port,
    options.onError,
    options.onHttp3,
  );
  return {
    port: tcp.port,
    get degraded() {
      return quic.degraded;
    },
    async releasePort(graceMs: number) {
      quic.shutdown(graceMs);
      await tcp.releasePort(graceMs);
    },
    async shutdown(graceMs: number) {
      await Promise.all([tcp.shutdown(graceMs), quic.shutdown(graceMs)]);
    },
    // QUIC connections are not capped (the cap is the TCP listener's) and
    // QUIC's idle timeout is set once: limits change in place only while
    // keepAliveTimeout stays.
    setLimits: tcp.setLimits &&
      ((next) => next.keepAliveTimeout === spec.keepAliveTimeout && tcp.setLimits!(next)),
  };
}

/**
 * How often, and how many times, HTTP/3 first tries again for a UDP port it
 * could not bind: a port an update or restart is letting go comes free
 * within seconds.
 */
const QUIC_QUICK_RETRY_MS = 1000;
const QUIC_QUICK_RETRIES = 30;

/**
 * The wait before HTTP/3's next try for its UDP port after `tries` failed
 * ones: every second at first, then every LISTEN_RETRY_MS for as long as the
 * listener runs, as its TCP side retries a taken port.
 */
export function quicRetryDelay(tries: number): number {
  return tries <= QUIC_QUICK_RETRIES ? QUIC_QUICK_RETRY_MS : LISTEN_RETRY_MS;
}

/**
 * The HTTP/3 server of a TLS listener. When the UDP port is taken, TCP
 * serves on (HTTP/1.1 and HTTP/2) and the port is tried again for a while:
 * a socket this isolate closed (a server deleted or moved off the port a
 * moment ago) is let go only once its endpoint is garbage collected, so a
 * server back on the port within that time would otherwise never serve
 * HTTP/3.
 */
class QuicPart {
  #server: Http3Server | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  /** Why HTTP/3 is not served, or undefined while it is. */
  degraded: string | undefined;

  constructor(
    start: () => Http3Server,
    port: number,
    onError?: (message: string) => void,
    onServing?: (serving: boolean) => void,
  ) {
    let tries = 0;
    const attempt = () => {
      this.#retry = undefined;
      if (this.#stopped) return;
      try {
        this.#server = start();
        this.degraded = undefined;
        onServing?.(true);
      } catch (e) {
        onServing?.(false);
        const first = this.degraded === undefined;
        this.degraded = `cannot serve HTTP/3 on UDP port ${port}: ${(e as Error).message}`;
        if (first) onError?.(this.degraded);
        this.#retry = setTimeout(attempt, quicRetryDelay(++tries));
      }
    };
    attempt();
  }

  shutdown(graceMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    return this.#server?.shutdown(graceMs) ?? Promise.resolve();
  }
}

/** `keepAliveTimeout` as QUIC's idle timeout (a positive whole number of ms; 0 keeps the default). */
function quicIdleMs(keepAliveTimeout: string): number {
  const ms = parseDuration(keepAliveTimeout) ?? 0;
  return ms > 0 ? Math.ceil(ms) : 60_000;
}

/**
 * Plain HTTP: our HTTP/1.1 server, handing connections that open with the
 * HTTP/2 preface (h2c with prior knowledge) to an internal `Deno.serve`.
 */
function startPlainListener(
  spec: HTTPServerSpec,
  hostname: string,
  handler: RequestHandler,
  options: ListenerOptions,
): Listener {
  if (options.http1Server === "deno") {
    return startDenoListener(spec.port, hostname, webHandler(handler, "HTTP/1.1"), options);
  }
  return startHttp1Listener(spec, hostname, handler, options);
}

/**
 * Our HTTP/1.1 server, which enforces `keepAliveTimeout` and
 * `maxConnections` on every connection it accepts, with our HTTP/2
 * sessions for TLS connections that choose "h2" by ALPN (one certificate,
 * or one chosen by server name) and for plain ones that open with the
 * HTTP/2 preface (h2c).
 */
function startHttp1Listener(
  spec: HTTPServerSpec,
  hostname: string,
  handler: RequestHandler,
  options: ListenerOptions,
  tls?: TlsKeyPair | ((serverName: string) => TlsKeyPair),
): Listener {
  const server = serveHttp1({
    hostname,
    port: spec.port,
    reusePort: options.reusePort,
    handler,
    keepAliveTimeoutMs: keepAliveMs(spec),
    maxConnections: builtinCap(spec, options),
    quota: options.quota,
    tls,
    h2: (socket, host, received) => new Http2Session(socket, host, received),
    onError: options.onError,
  });
  return {
    port: server.port,
    releasePort: () => server.stopAccepting(),
    shutdown: (graceMs: number) => server.shutdown(graceMs),
    setLimits(next) {
      server.setMaxConnections(builtinCap(next, options));
      server.setKeepAliveTimeout(keepAliveMs(next));
      return true;
    },
  };
}

/** `keepAliveTimeout` in ms (0: never). */
function keepAliveMs(spec: HTTPServerSpec): number {
  return parseDuration(spec.keepAliveTimeout) ?? 60_000;
}

/** The cap our HTTP/1.1 server enforces: the whole of it over a shared quota. */
function builtinCap(spec: HTTPServerSpec, options: ListenerOptions): number {
  return options.quota === undefined ? planeShare(spec, options) : spec.maxConnections;
}

/** The connections one data plane admits: the kernel spreads them evenly over the planes. */
function planeShare(spec: HTTPServerSpec, options: ListenerOptions): number {
  return Math.ceil(spec.maxConnections / (options.planes ?? 1));
}

function startDenoListener(
  port: number,
  hostname: string,
  handler: WebHandler,
  options: ListenerOptions,
  tls?: CertPair,
): Listener {
  const controller = new AbortController();
  const serveOptions = {
    port,
    hostname,
    reusePort: options.reusePort,
    signal: controller.signal,
    onListen() {},
    onError(e: unknown) {
      options.onError?.(`${(e as Error)?.stack ?? e}`);
      return new Response(null, { status: 500 });
    },
    ...(tls ? { cert: tls.cert, key: tls.key } : {}),
  };
  // Requests are admitted in turns here too: with HTTP/2 streams or proxied
  // requests in flight, Deno.serve's connections starve each other the same
  // way (HTTP/2 over TLS, 256 streams: 20-35 % more requests/s, lower p99).
  const turn = new ReactorTurn();
  const server = Deno.serve(serveOptions, (req, info) => {
    const peer = () => info.remoteAddr as Deno.NetAddr;
    return turn.whenAdmitted(() => handler(req, peer));
  });
  // Deno.serve leaves Nagle's algorithm on: its answers would wait for delayed ACKs.
  setNoDelayOnListeners(server.addr);
  let stopped: Promise<void> | undefined;
  const shutdown = (graceMs: number) =>
    stopped ??= (async () => {
      const timer = setTimeout(() => controller.abort(), graceMs);
      try {
        await server.shutdown();
      } finally {
        clearTimeout(timer);
        turn.close();
      }
    })();
  return {
    port: (server.addr as Deno.NetAddr).port,
    releasePort(graceMs: number) {
      // Deno.serve stops listening when its shutdown starts.
      shutdown(graceMs);
      return nextTurn();
    },
    shutdown,
  };
}
