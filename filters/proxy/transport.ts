/**
 * How the Proxy talks to one upstream origin: the shape the pooled HTTP/1.1
 * client implements, so pools and tests depend on this and not on the client.
 *
 * @module
 */

import type { UpstreamRequest, UpstreamResponse } from "./http1_client.ts";

export type { UpstreamRequest, UpstreamResponse };

/** Sends requests to one origin. */
export interface Transport {
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  close(): void;
}
