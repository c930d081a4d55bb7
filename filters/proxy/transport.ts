/**
 * How the Proxy talks to one upstream origin: the shape the pooled HTTP/1.1
 * client implements, so pools and tests depend on this and not on the client.
 *
 * @module
 */

import { Http1Pool, type UpstreamRequest, type UpstreamResponse } from "./http1_client.ts";
import type { IdleBudget } from "./idle_budget.ts";

export type { UpstreamRequest, UpstreamResponse };

/** Sends requests to one origin. */
export interface Transport {
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  close(): void;
}

/** Mutual TLS for HTTPS origins: a client certificate and the roots servers must chain to (PEM). */
export interface ClientTls {
  cert: string;
  key: string;
  rootCert: string;
}

/** Largest response head (and trailer block) taken from a server, in bytes. */
const RESPONSE_HEAD_MAX = 256 * 1024;

/**
 * A pooled HTTP/1.1 transport to `origin` ("http(s)://host[:port]"), with
 * Easegress's client settings: 90 s idle connections, 30 s to connect, 10 s
 * for a TLS handshake (the pool's default); response heads up to 256 KiB.
 * `idleBudget` caps the idle connections of all the transports given it.
 */
export function http1Transport(
  origin: string,
  maxIdlePerHost?: number,
  clientTls?: ClientTls,
  idleBudget?: IdleBudget,
): Transport {
  const url = new URL(origin);
  const tls = url.protocol === "https:";
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  return new Http1Pool({
    hostname,
    port: Number(url.port) || (tls ? 443 : 80),
    tls,
    serverName: hostname,
    ...(clientTls && {
      caCerts: [clientTls.rootCert],
      clientCertificate: { cert: clientTls.cert, key: clientTls.key },
    }),
  }, {
    maxIdlePerHost,
    idleBudget,
    idleTimeoutMs: 90_000,
    connectTimeoutMs: 30_000,
    // Room for a server's large cookies or policy headers, which pass
    // through Easegress. Not Go's 10 MiB: parsing and forwarding a head
    // costs some 3 µs a field, so 1 MiB of tiny fields held a worker for
    // near a second and 10 MiB for 5-8 s and 1 GB; curl takes no more than
    // 300 KB of heads anyway. A connection's read buffer grows only as far
    // as a head needs and shrinks when it goes idle.
    maxHeaderBytes: RESPONSE_HEAD_MAX,
  });
}
