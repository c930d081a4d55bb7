/**
 * The RemoteFilter filter, as Easegress's: the request and response of the
 * active namespace go to a remote service as JSON, and its reply (the same
 * shape) replaces the request's method, path, query, headers and body and
 * sets the response's status, the values of the headers it names and its
 * body.
 *
 * The JSON: `{request: {realIP, method, scheme, host, path, query,
 * fragment, proto, header, body}, response: {statusCode, header, body}}`,
 * headers as `{Name: [values]}` and bodies base64, as Go writes them. Bodies
 * over 64 KiB, a reply over 192 KiB, a status of 300 or more, bad JSON, a
 * network error or the `timeout` make the response a 503 and the result
 * `failed`; a 205 reply gives `responseAlready`. Unlike Easegress, the
 * remote service's certificate is verified.
 *
 * @module
 */

import { BodyTooLargeError, type Context, HttpResponse, readAll } from "./context.ts";
import type { FilterInstance, FilterKind } from "./filter.ts";
import { goHeader } from "./builder_data.ts";
import { gunzipStream } from "./gzip.ts";
import { HeaderFields, isToken, quote } from "./header_fields.ts";
import { http1Transport, type Transport } from "./proxy/transport.ts";
import { parseDuration, SpecReader, urlWithProtocol } from "./spec.ts";

/** The RemoteFilter spec, normalized. */
export interface RemoteFilterSpec {
  /** The remote service, http(s). */
  url: string;
  /** How long a call may take, a duration; unset or 0 waits as long as the client does. */
  timeout?: string;
}

/** The call failed; the response is a 503. */
export const RESULT_FAILED = "failed";
/** The remote service answered 205: it has made the response. */
export const RESULT_RESPONSE_ALREADY = "responseAlready";

const MAX_BODY_BYTES = 64 * 1024;
const MAX_REPLY_BYTES = 3 * MAX_BODY_BYTES;

function validate(raw: Record<string, unknown>): RemoteFilterSpec {
  const r = SpecReader.root(raw);
  const spec: RemoteFilterSpec = { url: r.string("url", { required: true }) ?? "" };
  if (spec.url && !urlWithProtocol(spec.url, ["http:", "https:"])) {
    r.problem("url", `must be an http(s) URL, got "${spec.url}"`);
  } else if (spec.url) {
    try {
      callHeaders(new URL(spec.url));
    } catch {
      r.problem("url", "has a malformed %-escape in its user or password");
    }
  }
  const timeout = r.duration("timeout");
  if (timeout) spec.timeout = timeout;
  r.finish();
  r.throwIfProblems();
  return spec;
}

/** Go's JSON for a byte slice: base64, or null for none. */
function base64(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : bytes.toBase64();
}

function fromBase64(text: unknown, field: string): Uint8Array | null {
  if (text === null || text === undefined) return null;
  if (typeof text !== "string") throw new TypeError(`${field} is not a base64 string`);
  return Uint8Array.fromBase64(text);
}

/** The header map of a reply: name to a list of values. */
function headerEntries(value: unknown, field: string): [string, string][] {
  if (value === null || value === undefined) return [];
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`${field} is not a map of header lists`);
  }
  const out: [string, string][] = [];
  for (const [name, values] of Object.entries(value)) {
    if (!Array.isArray(values) || values.some((v) => typeof v !== "string")) {
      throw new TypeError(`${field}.${name} is not a list of strings`);
    }
    for (const v of values) out.push([name, v]);
  }
  return out;
}

/**
 * Every call is JSON, and takes a gzipped reply, as Go's client asks for one
 * (and decodes it) unless told otherwise.
 */
const JSON_HEADERS = new HeaderFields({
  "content-type": "application/json",
  "accept-encoding": "gzip",
});
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The JSON a remote service gets: Easegress's request and response entities,
 * headers as Go's http.Header (the request's without Host, which is a field
 * of its own), bodies in base64.
 */
export function contextJson(
  ctx: Context,
  response: HttpResponse,
  requestBody: Uint8Array | null,
  responseBody: Uint8Array | null,
): string {
  const request = ctx.request;
  return JSON.stringify({
    request: {
      realIP: ctx.realIP,
      method: request.method,
      scheme: request.scheme,
      host: request.host,
      path: request.path,
      query: request.query,
      fragment: "",
      proto: request.proto,
      header: goHeader(request.rawHeaders, true),
      body: base64(requestBody),
    },
    response: {
      statusCode: response.status,
      header: goHeader(response.rawHeaders),
      body: base64(responseBody),
    },
  });
}

/**
 * The fields of every call to `url`: JSON, with the URL's user and password
 * as basic auth, as Go's client sends them (fetch would too; the transport
 * takes the origin alone).
 */
function callHeaders(url: URL): HeaderFields {
  if (!url.username && !url.password) return JSON_HEADERS;
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return new HeaderFields({
    ...Object.fromEntries(JSON_HEADERS),
    authorization: `Basic ${encoder.encode(credentials).toBase64()}`,
  });
}

class RemoteFilter implements FilterInstance {
  readonly #transport: Transport;
  readonly #headers: HeaderFields;
  /** The URL's path and query, as the request line carries them. */
  readonly #target: string;
  readonly #host: string;
  readonly #timeoutMs: number;
  /** `timeout` as the spec gives it, for messages. */
  readonly #timeout: string;

  constructor(spec: RemoteFilterSpec) {
    const url = new URL(spec.url);
    // Our own client, not fetch: a 205 reply carries the JSON, which fetch would drop.
    this.#transport = http1Transport(url.origin);
    this.#target = url.pathname + url.search;
    this.#headers = callHeaders(url);
    this.#host = url.host;
    this.#timeoutMs = spec.timeout ? parseDuration(spec.timeout) ?? 0 : 0;
    this.#timeout = spec.timeout ?? "";
  }

  async handle(ctx: Context): Promise<string> {
    const response = ctx.response ??= new HttpResponse(200);
    try {
      return await this.#call(ctx, response);
    } catch (e) {
      response.status = 503;
      ctx.addTag(`remoteFilterErr: ${(e as Error)?.message ?? e}`);
      return RESULT_FAILED;
    }
  }

  close(): void {
    this.#transport.close();
  }

  async #call(ctx: Context, response: HttpResponse): Promise<string> {
    const request = ctx.request;
    const requestBody = request.body === null ? null : await request.bytes(MAX_BODY_BYTES);
    const responseBody = response.body === null ? null : await response.bytes(MAX_BODY_BYTES);
    const sent = contextJson(ctx, response, requestBody, responseBody);
    const timeout = this.#timeoutMs > 0 ? AbortSignal.timeout(this.#timeoutMs) : undefined;
    const signal = timeout ? AbortSignal.any([ctx.signal, timeout]) : ctx.signal;
    let reply;
    try {
      reply = await this.#transport.request({
        method: "POST",
        target: this.#target,
        host: this.#host,
        headers: this.#headers,
        body: encoder.encode(sent),
        signal,
      });
    } catch (e) {
      // The transport says only that it was aborted; the tag should say why.
      if (timeout?.aborted && !ctx.signal.aborted) {
        throw new Error(`the remote service did not answer within ${this.#timeout}`);
      }
      throw e;
    }
    if (reply.status >= 300) {
      reply.body?.cancel().catch(() => {});
      throw new Error(`remote service answered ${reply.status}`);
    }
    let bytes = reply.bodyBytes ??
      (reply.body === null ? new Uint8Array(0) : await readAll(reply.body, MAX_REPLY_BYTES));
    if (bytes.length > MAX_REPLY_BYTES) throw new BodyTooLargeError(MAX_REPLY_BYTES);
    if (bytes.length > 0 && reply.headers.get("content-encoding")?.toLowerCase() === "gzip") {
      // The limit holds for what the reply unpacks to, too.
      bytes = await readAll(await gunzipStream(ReadableStream.from([bytes])), MAX_REPLY_BYTES);
    }
    this.#apply(ctx, response, JSON.parse(decoder.decode(bytes)));
    return reply.status === 205 ? RESULT_RESPONSE_ALREADY : "";
  }

  /** Takes the reply's request and response over, checked whole before anything changes. */
  #apply(ctx: Context, response: HttpResponse, reply: unknown): void {
    if (typeof reply !== "object" || reply === null) throw new TypeError("reply is not an object");
    const { request: re, response: we } = reply as Record<string, Record<string, unknown> | null>;
    if (typeof re !== "object" || re === null) throw new TypeError("reply has no request");
    const request = ctx.request;
    const method = typeof re.method === "string" && re.method
      ? re.method.toUpperCase()
      : request.method;
    if (!isToken(method)) throw new TypeError(`request.method ${quote(method)} is not a method`);
    const path = typeof re.path === "string" ? re.path : request.path;
    if (!path.startsWith("/")) {
      throw new TypeError(`request.path ${quote(path)} does not start with /`);
    }
    const query = typeof re.query === "string" ? re.query : request.query;
    // HeaderFields refuses invalid names and values here, before any change.
    const requestHeaders = new HeaderFields(headerEntries(re.header, "request.header"));
    const requestBody = fromBase64(re.body, "request.body");
    if (requestBody !== null) requestHeaders.set("content-length", String(requestBody.length));
    let update: { status: number; headers: HeaderFields; body: Uint8Array | null } | undefined;
    if (we !== null && we !== undefined) {
      const status = we.statusCode;
      if (typeof status !== "number" || !Number.isInteger(status) || status < 200 || status > 599) {
        throw new RangeError(`invalid status code: ${status}`);
      }
      update = {
        status,
        headers: new HeaderFields(headerEntries(we.header, "response.header")),
        body: fromBase64(we.body, "response.body"),
      };
    }
    request.method = method;
    if (path !== request.path || query !== request.query) request.keepRequestURI();
    request.path = path;
    request.query = query;
    request.headers = requestHeaders;
    request.body = requestBody;
    if (update === undefined) return;
    response.status = update.status;
    const headers = response.headers;
    // A name the reply lists takes the reply's values. Easegress adds them, so a service sending
    // back the response it was given, as the JSON invites, doubled every header (Date included).
    update.headers.forEachField((_, name) => headers.delete(name));
    update.headers.forEachField((value, name) => headers.append(name, value));
    response.body = update.body;
    headers.set("content-length", String(update.body?.length ?? 0));
  }
}

/** The RemoteFilter filter kind. */
export const remoteFilterKind: FilterKind<RemoteFilterSpec> = {
  kind: "RemoteFilter",
  description: "RemoteFilter lets a remote service act on the request and response.",
  results: [RESULT_FAILED, RESULT_RESPONSE_ALREADY],
  validate,
  create(spec: RemoteFilterSpec): FilterInstance {
    return new RemoteFilter(spec);
  },
};
