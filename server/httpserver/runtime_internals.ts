/**
 * The two pieces of the runtime's HTTP and TLS internals that HTTPS
 * listeners use, looked up once: either may be missing on another Deno
 * version, and callers then fall back to public APIs.
 *
 * @module
 */

import { denoInternals } from "../../filters/deno_internals.ts";

/** Serves HTTP (HTTP/1.1 or HTTP/2, by what the client speaks) on one accepted connection. */
export type ServeHttpOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal,
  handler: Deno.ServeHandler,
  onError: (error: unknown) => Response | Promise<Response>,
  onListen: (scheme: string) => void,
) => Deno.HttpServer;

/** The runtime's per-connection HTTP server (the one Deno's `node:http2` uses), if present. */
export const serveHttpOnConnection: ServeHttpOnConnection | undefined =
  typeof denoInternals?.serveHttpOnConnection === "function"
    ? denoInternals.serveHttpOnConnection as ServeHttpOnConnection
    : undefined;

/**
 * The `Deno.listenTls` option key (what Deno's `node:tls` uses for
 * `SNICallback`) whose value picks the certificate by the client's server
 * name: `(serverName) => ({ cert, key })`, serverName "" without SNI.
 */
export const sniResolverSymbol: symbol | undefined =
  typeof denoInternals?.resolverSymbol === "symbol" ? denoInternals.resolverSymbol : undefined;
