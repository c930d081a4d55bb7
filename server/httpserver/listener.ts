/**
 * Listeners for an HTTPServer: our own HTTP/1.1 server for plain HTTP (h2c
 * connections are passed to an internal `Deno.serve`); `Deno.serve` for TLS
 * with one certificate (HTTP/2 by ALPN); `node:http2`'s secure server with
 * an SNI callback when several certificates must be chosen by server name;
 * QUIC for HTTP/3. Whichever runs, requests reach the same handler as the
 * pipeline's `HttpRequest`.
 *
 * @module
 */

import { X509Certificate } from "node:crypto";
import { createSecureContext, type SecureContext } from "node:tls";
import {
  createSecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from "node:http2";
import type { Socket } from "node:net";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { HttpRequest, type HttpResponse } from "../../filters/context.ts";
import { parseDuration } from "../../filters/spec.ts";
import { type Http3Server, serveHttp3 } from "../http3/mod.ts";
import { PeerClient } from "./client.ts";
import { ReactorTurn } from "./reactor_turn.ts";
import { serveHttp1 } from "./http1/server.ts";
import type { HTTPServerSpec } from "./spec.ts";

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

/** Handles one request. */
export type RequestHandler = (
  request: HttpRequest,
  client: PeerClient,
) => HttpResponse | Promise<HttpResponse>;

/**
 * A handler of web requests, as `Deno.serve`, node and HTTP/3 adapters call
 * it; `proto` overrides the protocol the handler was made for.
 */
type WebHandler = (
  request: Request,
  peer: () => Deno.NetAddr,
  proto?: string,
) => Response | Promise<Response>;

function toWeb(response: HttpResponse): Response {
  return response.toWeb();
}

/** Adapts `handler` to web requests; `proto` is what the requests' `proto` says. */
function webHandler(handler: RequestHandler, proto: string): WebHandler {
  return (req, peer, actual) => {
    const request = HttpRequest.fromWeb(req, actual ?? proto);
    const client = new PeerClient(request, { peer, signal: () => req.signal });
    const result = handler(request, client);
    return result instanceof Promise ? result.then(toWeb) : result.toWeb();
  };
}

/** A started listener. */
export interface Listener {
  /** The bound TCP port. */
  readonly port: number;
  /** Stops accepting, waits for in-flight requests up to `graceMs`, then closes. */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * What serves plain HTTP/1.1: `builtin` is our server (less CPU per request,
 * enforced connection limits and idle timeout); `deno` is `Deno.serve`, kept
 * for comparison and as a fallback.
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
   * Isolates sharing the port. The kernel spreads connections evenly, so
   * each admits `ceil(maxConnections / planes)`. @default {1}
   */
  planes?: number;
  /** @default {"builtin"} */
  http1Server?: Http1ServerKind;
}

/** A certificate and key pair in PEM. */
export interface CertPair {
  name: string;
  cert: string;
  key: string;
}

const decoder = new TextDecoder();

/** Decodes a PEM value given raw or base64-encoded (base64 tried first, like Easegress). */
export function decodePem(value: string): string {
  const trimmed = value.trim();
  if (trimmed.startsWith("-----BEGIN")) return trimmed + "\n";
  try {
    const bytes = Uint8Array.from(atob(trimmed.replace(/\s+/g, "")), (c) => c.charCodeAt(0));
    const text = decoder.decode(bytes).trim();
    if (text.startsWith("-----BEGIN")) return text + "\n";
  } catch { /* not base64: fall through */ }
  throw new TypeError("is neither PEM nor base64-encoded PEM");
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
  const hostname = spec.address ?? "0.0.0.0";
  if (!spec.https) return startPlainListener(spec, hostname, handler, options);
  const pairs = certPairs(spec);
  const web = webHandler(handler, "HTTP/1.1");
  const tcp = pairs.length > 1
    ? await startSniListener(spec.port, hostname, pairs, web, options)
    : startDenoListener(spec.port, hostname, web, options, pairs[0]);
  if (!spec.http3 || options.quic === false) return tcp;
  let quic: Http3Server;
  const h3 = webHandler(handler, "HTTP/3");
  try {
    // QUIC takes one certificate: the first pair (SNI applies to TCP only).
    quic = serveHttp3({
      hostname,
      port: tcp.port,
      cert: pairs[0].cert,
      key: pairs[0].key,
      handler: (req, info) => h3(req, () => info.remoteAddr),
    });
  } catch (e) {
    // TCP keeps serving (HTTP/1.1 and HTTP/2) when the UDP port is taken.
    options.onError?.(`cannot serve HTTP/3 on UDP port ${tcp.port}: ${(e as Error).message}`);
    return tcp;
  }
  return {
    port: tcp.port,
    async shutdown(graceMs: number) {
      await Promise.all([tcp.shutdown(graceMs), quic.shutdown(graceMs)]);
    },
  };
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
  const h2c = new H2cBridge(webHandler(handler, "HTTP/2"), options);
  const server = serveHttp1({
    hostname,
    port: spec.port,
    reusePort: options.reusePort,
    handler,
    keepAliveTimeoutMs: parseDuration(spec.keepAliveTimeout) ?? 60_000,
    maxConnections: Math.ceil(spec.maxConnections / (options.planes ?? 1)),
    h2c: (socket, received) => h2c.take(socket, received),
    onError: options.onError,
  });
  return {
    port: server.port,
    async shutdown(graceMs: number) {
      await Promise.all([server.shutdown(graceMs), h2c.shutdown(graceMs)]);
    },
  };
}

/**
 * Serves h2c connections: each is piped to a `Deno.serve` listening on a
 * loopback port of its own, started on first use. Requests there see the
 * real client's address, looked up by the pipe's local port.
 */
class H2cBridge {
  readonly #handler: WebHandler;
  readonly #options: ListenerOptions;
  #inner: Listener | undefined;
  readonly #peers = new Map<number, Deno.NetAddr>();

  constructor(handler: WebHandler, options: ListenerOptions) {
    this.#handler = handler;
    this.#options = options;
  }

  async take(socket: Deno.Conn, received: Uint8Array): Promise<void> {
    const peers = this.#peers;
    this.#inner ??= startDenoListener(0, "127.0.0.1", (req, peer) => {
      const pipe = peer();
      return this.#handler(req, () => peers.get(pipe.port) ?? pipe);
    }, { onError: this.#options.onError });
    let pipe: Deno.TcpConn | undefined;
    try {
      pipe = await Deno.connect({ hostname: "127.0.0.1", port: this.#inner.port });
      const port = (pipe.localAddr as Deno.NetAddr).port;
      peers.set(port, socket.remoteAddr as Deno.NetAddr);
      await pipe.write(received);
      await Promise.allSettled([
        socket.readable.pipeTo(pipe.writable),
        pipe.readable.pipeTo(socket.writable),
      ]);
      peers.delete(port);
    } catch (e) {
      this.#options.onError?.(`h2c: ${(e as Error).message}`);
    } finally {
      for (const c of [socket, pipe]) {
        try {
          c?.close();
        } catch { /* closed by the pipe already */ }
      }
    }
  }

  async shutdown(graceMs: number): Promise<void> {
    await this.#inner?.shutdown(graceMs);
  }
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
    const admitted = turn.admit();
    return admitted === undefined ? handler(req, peer) : admitted.then(() => handler(req, peer));
  });
  return {
    port: (server.addr as Deno.NetAddr).port,
    async shutdown(graceMs: number) {
      const timer = setTimeout(() => controller.abort(), graceMs);
      try {
        await server.shutdown();
      } finally {
        clearTimeout(timer);
        turn.close();
      }
    },
  };
}

async function startSniListener(
  port: number,
  hostname: string,
  pairs: CertPair[],
  handler: WebHandler,
  options: ListenerOptions,
): Promise<Listener> {
  const contexts = pairs.map((p) => ({
    names: certificateNames(p.cert),
    context: createSecureContext({ cert: p.cert, key: p.key }),
  }));
  const fallback = contexts[0].context;
  const pick = (servername: string): SecureContext => {
    const name = servername.toLowerCase();
    for (const c of contexts) if (c.names.some((n) => nameMatches(n, name))) return c.context;
    return fallback;
  };
  // Connections with the number of requests in flight on each, so a
  // shutdown can close idle ones at once and the rest after the grace time.
  const inFlight = new Map<Socket, number>();
  // HTTP/2 by ALPN, HTTP/1.1 for clients that do not offer it.
  const server = createSecureServer({
    cert: pairs[0].cert,
    key: pairs[0].key,
    allowHTTP1: true,
    SNICallback: (servername, cb) => cb(null, pick(servername)),
  }, (req, res) => {
    const socket = req.socket as Socket;
    if (inFlight.has(socket)) {
      inFlight.set(socket, inFlight.get(socket)! + 1);
      res.once("close", () => {
        if (inFlight.has(socket)) inFlight.set(socket, inFlight.get(socket)! - 1);
      });
    }
    serveNodeRequest(req, res, handler, options);
  });
  server.on("secureConnection", (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once("close", () => inFlight.delete(socket));
  });
  const sessions = new Set<Http2Session>();
  server.on("session", (session: Http2Session) => {
    // An HTTP/2 connection is tracked as its session, not as a socket.
    inFlight.delete(session.socket as Socket);
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  // node reports a port in use through an event, after listen() returns.
  const { promise: listening, resolve, reject } = Promise.withResolvers<void>();
  server.once("error", reject);
  server.listen({ port, host: hostname, reusePort: !!options.reusePort }, () => {
    server.off("error", reject);
    resolve();
  });
  await listening;
  const bound = (server.address() as { port: number }).port;
  return {
    port: bound,
    shutdown(graceMs: number) {
      return new Promise<void>((done) => {
        const timer = setTimeout(() => {
          for (const socket of inFlight.keys()) socket.destroy();
          done();
        }, graceMs);
        server.close(() => {
          clearTimeout(timer);
          done();
        });
        // HTTP/2 sessions get GOAWAY and end when their streams do.
        for (const session of sessions) session.close();
        for (const [socket, n] of inFlight) if (n === 0 && !socket.destroyed) socket.end();
      });
    },
  };
}

// Connection-specific fields: meaningless (and refused by node) on HTTP/2.
const HTTP1_ONLY = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

async function serveNodeRequest(
  req: NodeRequest,
  res: NodeResponse,
  handler: WebHandler,
  options: ListenerOptions,
): Promise<void> {
  const h2 = req.httpVersionMajor === 2;
  try {
    const headers = new Headers();
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i][0] !== ":") headers.append(raw[i], raw[i + 1]);
    }
    const authority = h2 ? String(req.headers[":authority"] ?? "") : headers.get("host");
    if (h2 && authority && !headers.has("host")) headers.set("host", authority);
    const method = req.method ?? "GET";
    const hasBody = method !== "GET" && method !== "HEAD";
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    const request = new Request(`https://${authority || "localhost"}${req.url}`, {
      method,
      headers,
      body: hasBody ? Readable.toWeb(req as Readable) as ReadableStream<Uint8Array> : null,
      signal: abort.signal,
      // @ts-ignore: needed for streaming request bodies
      duplex: "half",
    });
    const remoteAddr = {
      transport: "tcp" as const,
      hostname: req.socket.remoteAddress ?? "",
      port: req.socket.remotePort ?? 0,
    };
    const response = await handler(
      request,
      () => remoteAddr,
      h2 ? "HTTP/2" : `HTTP/${req.httpVersion}`,
    );
    const out: Record<string, string | string[]> = {};
    response.headers.forEach((v, k) => {
      if (h2 && HTTP1_ONLY.has(k)) return;
      const seen = out[k];
      out[k] = seen === undefined ? v : Array.isArray(seen) ? [...seen, v] : [seen, v];
    });
    for (const cookie of response.headers.getSetCookie()) {
      // Headers.forEach joins set-cookie values; each must stay its own field.
      out["set-cookie"] = [...(Array.isArray(out["set-cookie"]) ? out["set-cookie"] : []), cookie];
    }
    (res as ServerResponse).writeHead(response.status, out);
    if (!response.body) {
      res.end();
      return;
    }
    for await (const chunk of response.body) {
      if (!(res as ServerResponse).write(chunk)) await new Promise((r) => res.once("drain", r));
    }
    res.end();
  } catch (e) {
    options.onError?.(`${(e as Error)?.stack ?? e}`);
    if (!res.headersSent) (res as ServerResponse).writeHead(500);
    res.end();
  }
}

/** The DNS names a PEM certificate is for (subject CN and SAN DNS entries). */
export function certificateNames(pem: string): string[] {
  try {
    const cert = new X509Certificate(pem);
    const names = new Set<string>();
    for (const part of (cert.subjectAltName ?? "").split(",")) {
      const m = /^\s*DNS:(.+)$/.exec(part);
      if (m) names.add(m[1].trim().toLowerCase());
    }
    const cn = /CN=([^\n,]+)/.exec(cert.subject);
    if (cn) names.add(cn[1].trim().toLowerCase());
    return [...names];
  } catch {
    return [];
  }
}

function nameMatches(pattern: string, name: string): boolean {
  if (pattern === name) return true;
  if (pattern.startsWith("*.")) {
    const dot = name.indexOf(".");
    return dot > 0 && name.slice(dot) === pattern.slice(1);
  }
  return false;
}
