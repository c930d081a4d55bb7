/**
 * How the Proxy talks to one upstream origin. The pooled HTTP/1.1 client is
 * the transport for every server; `fetch` remains available for callers that
 * want it (tests, comparisons).
 *
 * @module
 */

import { HOP_BY_HOP, isHopByHop } from "./hop_by_hop.ts";
import { UpstreamError } from "./upstream_error.ts";

/** A request to one upstream server. */
export interface UpstreamRequest {
  method: string;
  /** Path plus "?query", as on the request line. */
  target: string;
  /** The Host header to send. */
  host: string;
  /** Client headers; hop-by-hop ones are skipped when sending. */
  headers: Headers;
  /** Written after `headers` (X-Forwarded-*). */
  extraHeaders?: [string, string][];
  body: Uint8Array | ReadableStream<Uint8Array> | null;
  signal?: AbortSignal;
}

/** An upstream's answer; hop-by-hop headers removed. */
export interface UpstreamResponse {
  status: number;
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
}

/** Sends requests to one origin. */
export interface Transport {
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  close(): void;
}

/** A transport over `fetch`, for comparisons and as a reference implementation. */
export class FetchTransport implements Transport {
  readonly #origin: string;

  constructor(origin: string) {
    this.#origin = origin;
  }

  async request(req: UpstreamRequest): Promise<UpstreamResponse> {
    const connection = req.headers.get("connection");
    const headers = new Headers();
    req.headers.forEach((v, k) => {
      if (!isHopByHop(k, connection)) headers.append(k, v);
    });
    for (const [k, v] of req.extraHeaders ?? []) headers.set(k, v);
    headers.set("host", req.host);
    let response: Response;
    try {
      response = await fetch(this.#origin + req.target, {
        method: req.method,
        headers,
        body: req.body as BodyInit | null,
        redirect: "manual",
        signal: req.signal,
      });
    } catch (e) {
      if (req.signal?.aborted) throw new UpstreamError("aborted", "request aborted", { cause: e });
      throw new UpstreamError("connect", (e as Error).message, { cause: e });
    }
    const out = new Headers();
    response.headers.forEach((v, k) => {
      if (!HOP_BY_HOP.has(k)) out.append(k, v);
    });
    return { status: response.status, headers: out, body: response.body };
  }

  close(): void {}
}
