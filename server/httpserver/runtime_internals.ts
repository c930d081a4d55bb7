/**
 * The piece of the runtime's TLS internals that HTTPS listeners with
 * several certificates use, looked up once: it may be missing on another
 * Deno version, and callers then fall back to public APIs.
 *
 * @module
 */

import { denoInternals } from "../../filters/deno_internals.ts";

/**
 * The `Deno.listenTls` option key (what Deno's `node:tls` uses for
 * `SNICallback`) whose value picks the certificate by the client's server
 * name: `(serverName) => ({ cert, key })`, serverName "" without SNI.
 */
export const sniResolverSymbol: symbol | undefined =
  typeof denoInternals?.resolverSymbol === "symbol" ? denoInternals.resolverSymbol : undefined;
