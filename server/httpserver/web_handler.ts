/**
 * The pipeline's request handler, and its adapter for servers that speak
 * web `Request`/`Response` (`Deno.serve`, `node:http2`, HTTP/3).
 *
 * @module
 */

import type { AbortWatch } from "../../filters/abort_watch.ts";
import { HttpRequest, type HttpResponse } from "../../filters/context.ts";
import { PeerClient, type PeerSource } from "./client.ts";
import { DeferredAbortWatch } from "./deferred_abort.ts";
import { removeDotSegments } from "./dot_segments.ts";
import { isHostField } from "./field_rules.ts";
import { isChunkedOnly } from "../../filters/proxy/http1_parser.ts";
import type { PeerCertificate } from "../../filters/peer_certificate.ts";

/** Handles one request. */
export type RequestHandler = (
  request: HttpRequest,
  client: PeerClient,
) => HttpResponse | Promise<HttpResponse>;

/**
 * A handler of web requests, as `Deno.serve`, node and HTTP/3 adapters call
 * it; `proto` overrides the protocol the handler was made for. `target` is
 * the request target as sent (HTTP/3's :path), when the request's URL may
 * spell it otherwise; without it, the path and query are the URL's. `body`
 * is the body of a GET or HEAD that has one, which a web `Request` cannot
 * hold.
 */
export type WebHandler = (
  request: Request,
  peer: () => Deno.NetAddr,
  proto?: string,
  certificates?: () => readonly PeerCertificate[],
  target?: string,
  body?: ReadableStream<Uint8Array>,
) => Response | Promise<Response>;

/** What a web request's client is known by: its peer and the request's signal. */
class WebPeer implements PeerSource {
  readonly #request: Request;
  readonly #peer: () => Deno.NetAddr;
  readonly peerCertificates: (() => readonly PeerCertificate[]) | undefined;

  constructor(
    request: Request,
    peer: () => Deno.NetAddr,
    certificates?: () => readonly PeerCertificate[],
  ) {
    this.#request = request;
    this.#peer = peer;
    this.peerCertificates = certificates;
  }

  peer(): Deno.NetAddr {
    return this.#peer();
  }

  signal(): AbortSignal {
    return this.#request.signal;
  }

  abortWatch(): AbortWatch {
    return new DeferredAbortWatch(this.#request);
  }
}

function toWeb(response: HttpResponse): Response {
  if (response.onSent !== undefined) {
    const body = response.body;
    if (body instanceof ReadableStream) response.body = endObserved(body, response);
    else response.sent();
  }
  return response.toWeb();
}

/**
 * `body` passed on as the runtime reads it, telling `response` once it has
 * been read to its end, has failed or was cancelled (the client left), with
 * the bytes the runtime took.
 */
function endObserved(
  body: ReadableStream<Uint8Array>,
  response: HttpResponse,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let taken = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (!done) {
          taken += value.byteLength;
          return controller.enqueue(value);
        }
        controller.close();
      } catch (e) {
        controller.error(e);
      }
      response.sent(taken);
    },
    cancel(reason) {
      response.sent(taken);
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * `target` (origin-form, or "*") as a request's path and query. Taken as
 * sent, not from a URL made of it: WHATWG parsing reads a backslash as "/"
 * and escapes `{`, `"` or a query's `'`, so HTTP/3 requests were routed and
 * forwarded otherwise than the same targets over HTTP/1.1 and HTTP/2, and
 * `OPTIONS *` became a path, "/*", that rules took.
 */
function targetParts(target: string): { path: string; query: string } {
  const q = target.indexOf("?");
  return q < 0
    ? { path: target, query: "" }
    : { path: target.slice(0, q), query: target.slice(q + 1) };
}

/** Adapts `handler` to web requests; `proto` is what the requests' `proto` says. */
export function webHandler(handler: RequestHandler, proto: string): WebHandler {
  return (req, peer, actual, certificates, target, body) => {
    // A Host that is no host[:port] is refused, as the builtin server refuses
    // it (RFC 9112 section 3.2), before the request's URL is read: two Host
    // fields (joined with ", ") or "a b" failed the Proxy's upstream request
    // with a 500, and a "/" in it moved the path Deno.serve's URL gives
    // (Host: a/b routed GET /x as /b/x).
    const host = req.headers.get("host");
    if (host !== null && host !== "" && !isHostField(host)) {
      return new Response(`invalid Host ${JSON.stringify(host)}\n`, { status: 400 });
    }
    // A transfer coding besides chunked (gzip, chunked) is refused, as the
    // builtin server refuses it (RFC 9112 section 6.1): these servers undo
    // the chunked framing alone, so the body went on still gzipped and
    // labelled as nothing.
    const codings = req.headers.get("transfer-encoding");
    if (codings !== null && !isChunkedOnly(codings)) {
      return new Response(`unsupported Transfer-Encoding ${JSON.stringify(codings)}\n`, {
        status: 501,
      });
    }
    const request = HttpRequest.fromWeb(
      req,
      actual ?? proto,
      target === undefined ? undefined : targetParts(target),
    );
    // An HTTP/1.0 request without Host names no host, as through the builtin
    // server: its URL's made-up "localhost" went upstream.
    if (host === null && actual === "HTTP/1.0") request.host = "";
    // Deno.serve hands a target's "#" over as sent, where the builtin server
    // refuses it (see BAD_TARGET in http1/request_head.ts): passed on,
    // "/admin#x" missed an "/admin" rule and went upstream with a fragment.
    if ((target ?? req.url).includes("#")) {
      return new Response(`invalid request target ${JSON.stringify(request.url)}\n`, {
        status: 400,
      });
    }
    // Deno.serve gives the path as sent (a URL made from it would not): routed
    // so, `/public/../admin` would take the `/public` rule (see dot_segments.ts).
    // Forwarded as the builtin server and Easegress forward it (a search
    // API's GET with a JSON query, say).
    if (body !== undefined) request.body = body;
    const path = request.path;
    const resolved = removeDotSegments(path);
    if (resolved !== path) {
      request.requestURI = request.url;
      request.path = resolved;
    }
    const client = new PeerClient(request, new WebPeer(req, peer, certificates));
    const result = handler(request, client);
    return result instanceof Promise ? result.then(toWeb) : toWeb(result);
  };
}
