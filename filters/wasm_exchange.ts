/**
 * What crosses to a WasmHost worker and back for one request: the request
 * and response as plain data, and what the module changed, logged and
 * tagged. A worker runs the module on a Context made from it, so a module
 * that loops can be stopped by ending the worker.
 *
 * @module
 */

import { Context, EMPTY_BODY, HttpRequest, HttpResponse } from "./context.ts";
import { forEachHeaderField, HeaderFields } from "./header_fields.ts";

/** A request or response head and, when it was read, its body. */
export interface MessageSnapshot {
  headers: [string, string][];
  /** The body when the module may read it (it imports the getter), else absent. */
  body?: Uint8Array;
}

/** One request as the worker gets it. */
export interface ExchangeIn {
  realIP: string;
  method: string;
  host: string;
  path: string;
  query: string;
  scheme: string;
  proto: string;
  request: MessageSnapshot;
  response?: MessageSnapshot & { status: number };
}

/** What the module did, as the filter applies it. */
export interface ExchangeOut {
  result: number;
  method: string;
  host: string;
  path: string;
  query: string;
  /** The request's headers, when the module changed them. */
  requestHeaders?: [string, string][];
  /** The request body, when the module set it. */
  requestBody?: Uint8Array;
  /** The response, when there is one after the call. */
  response?: { status: number; headers?: [string, string][]; body?: Uint8Array };
  tags: string[];
  logs: [level: number, message: string][];
}

/** The snapshot of `ctx` for a module that reads the bodies it is told to. */
export function exchangeOf(
  ctx: Context,
  bodies: { request: boolean; response: boolean },
): ExchangeIn {
  const request = ctx.request;
  const response = ctx.response;
  return {
    realIP: ctx.realIP,
    method: request.method,
    host: request.host,
    path: request.path,
    query: request.query,
    scheme: request.scheme,
    proto: request.proto,
    request: {
      headers: fieldList(request.rawHeaders),
      ...(bodies.request ? { body: request.bufferedBody } : {}),
    },
    ...(response
      ? {
        response: {
          status: response.status,
          headers: fieldList(response.rawHeaders),
          ...(bodies.response ? { body: response.bufferedBody } : {}),
        },
      }
      : {}),
  };
}

/** A Context holding the snapshot, for the module to run on. */
export function contextOf(exchange: ExchangeIn): Context {
  const request = new HttpRequest({
    method: exchange.method,
    host: exchange.host,
    path: exchange.path,
    query: exchange.query,
    scheme: exchange.scheme,
    proto: exchange.proto,
    headers: exchange.request.headers,
    body: exchange.request.body ?? null,
  });
  const ctx = new Context(request, { realIP: exchange.realIP });
  const r = exchange.response;
  if (r) ctx.response = new HttpResponse(r.status, r.headers, r.body ?? null);
  return ctx;
}

/**
 * The header fields one by one, in order: a header sent twice stays two
 * fields, as the module's Go-style header functions see them (a Headers
 * iteration would join them with ", ").
 */
function fieldList(headers: Headers): [string, string][] {
  const fields: [string, string][] = [];
  forEachHeaderField(headers, (value, name) => fields.push([name, value]));
  return fields;
}

function sameHeaders(a: readonly [string, string][], b: readonly [string, string][]): boolean {
  return a.length === b.length && a.every(([n, v], i) => n === b[i][0] && v === b[i][1]);
}

/** What the module did to `ctx` (made by {@linkcode contextOf} from `before`). */
export function outcomeOf(
  ctx: Context,
  before: ExchangeIn,
  result: number,
  logs: [number, string][],
): ExchangeOut {
  const request = ctx.request;
  const headers = fieldList(request.rawHeaders);
  const out: ExchangeOut = {
    result,
    method: request.method,
    host: request.host,
    path: request.path,
    query: request.query,
    tags: [...ctx.tags],
    logs,
  };
  if (!sameHeaders(headers, before.request.headers)) out.requestHeaders = headers;
  // A body the module set is a new array, an empty one too (it replaces the body with nothing);
  // one it did not touch is the snapshot's, or the shared empty one of a body that did not cross.
  const body = request.bufferedBody;
  if (body !== undefined && body !== (before.request.body ?? EMPTY_BODY)) out.requestBody = body;
  const response = ctx.response;
  if (response) {
    const responseHeaders = fieldList(response.rawHeaders);
    const old = before.response;
    out.response = { status: response.status };
    if (!old || !sameHeaders(responseHeaders, old.headers)) out.response.headers = responseHeaders;
    const responseBody = response.bufferedBody;
    if (responseBody !== undefined && responseBody !== (old?.body ?? EMPTY_BODY)) {
      out.response.body = responseBody;
    }
  }
  return out;
}

/** Applies what the module did to the real `ctx`. */
export function applyOutcome(ctx: Context, out: ExchangeOut): void {
  const request = ctx.request;
  request.method = out.method;
  request.host = out.host;
  if (out.path !== request.path || out.query !== request.query) request.keepRequestURI();
  request.path = out.path;
  request.query = out.query;
  if (out.requestHeaders) request.headers = new HeaderFields(out.requestHeaders);
  if (out.requestBody) request.body = out.requestBody;
  if (out.response) {
    const response = ctx.response ??= new HttpResponse(out.response.status);
    response.status = out.response.status;
    if (out.response.headers) response.headers = new HeaderFields(out.response.headers);
    if (out.response.body) response.body = out.response.body;
  }
  for (const tag of out.tags) ctx.addTag(tag);
}
