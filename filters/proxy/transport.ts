/**
 * How the Proxy talks to one upstream origin: the shape the pooled HTTP/1.1
 * client implements, so pools and tests depend on this and not on the client.
 *
 * @module
 */

import { Http1Pool, type UpstreamRequest, type UpstreamResponse } from "./http1_client.ts";

export type { UpstreamRequest, UpstreamResponse };

/** Sends requests to one origin. */
export interface Transport {
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  close(): void;
}

/**
 * A pooled HTTP/1.1 transport to `origin` ("http(s)://host[:port]"), with
 * Easegress's client settings: 90 s idle connections, 30 s to connect.
 */
export function http1Transport(origin: string, maxIdlePerHost?: number): Transport {
  const url = new URL(origin);
  const tls = url.protocol === "https:";
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  return new Http1Pool({
    hostname,
    port: Number(url.port) || (tls ? 443 : 80),
    tls,
    serverName: hostname,
  }, {
    maxIdlePerHost,
    idleTimeoutMs: 90_000,
    connectTimeoutMs: 30_000,
  });
}
