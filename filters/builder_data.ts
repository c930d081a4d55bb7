/**
 * What RequestBuilder and ResponseBuilder templates see: `.requests.<NS>`,
 * `.responses.<NS>`, `.data` and `.namespace`, with requests and responses
 * shaped like the Go `*http.Request` / `*http.Response` views Easegress
 * hands its templates (`.Method .URL.Path .Header .Host .StatusCode ...`),
 * plus the body accessors `.Body .RawBody .JSONBody .YAMLBody`.
 *
 * Bodies must be buffered before a template runs (the engine is
 * synchronous); {@linkcode prepareBuilderData} reads them only when asked.
 *
 * @module
 */

import { loadedYaml, loadYaml, yamlReady } from "./yaml_module.ts";
import type { Context, HttpRequest, HttpResponse } from "./context.ts";
import { forEachHeaderField } from "./header_fields.ts";
import { type CookieView, requestCookies, responseCookies } from "./go_cookies.ts";
import { goEscapedPath } from "./go_escaped_path.ts";
import { HTTP_HEADER, httpHeader, stringSlice, URL_VALUES, urlValues } from "./template/gotypes.ts";
import { BASIC_AUTH_USER } from "./template/easegress_funcs.ts";
import { parseJSON } from "./template/json.ts";
import { float64, type GoType, nilSlice, withGoType } from "./template/values.ts";
import { STATUS_TEXT } from "./status_text.ts";

/** Field and method names through which a template reads a body. */
export const BODY_FIELDS: readonly string[] = ["Body", "RawBody", "JSONBody", "YAMLBody"];

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** Header values as Go sees them: web Headers hold UTF-8 bytes as Latin-1 characters. */
function goHeaderValue(value: string): string {
  // deno-lint-ignore no-control-regex
  if (!/[^\x00-\x7f]/.test(value)) return value;
  const bytes = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i) & 0xff;
  return decoder.decode(bytes);
}

/**
 * A web Headers object as Go's http.Header (canonical names, values as
 * lists). Repeated fields stay separate values, as Go keeps them
 * (`X-A: 1` and `X-A: 2` are `[1 2]`, not `[1, 2]`), wherever the headers
 * still hold them apart (a `HeaderFields`; the runtime's `Headers` joins all
 * but Set-Cookie).
 */
export function goHeader(headers: Headers, skipHost = false): Record<string, string[]> {
  const entries: [string, string[]][] = [];
  forEachHeaderField(headers, (value, name) => {
    if (skipHost && name === "host") return;
    entries.push([name, [goHeaderValue(value)]]);
  });
  return httpHeader(entries);
}

/** Go's major and minor protocol version of "HTTP/1.1", "HTTP/2", ... and its Go spelling. */
function protoParts(proto: string): [string, number, number] {
  const m = /^HTTP\/(\d+)(?:\.(\d+))?$/.exec(proto);
  if (!m) return [proto, 1, 1];
  const major = Number(m[1]);
  const minor = Number(m[2] ?? 0);
  return [`HTTP/${major}.${minor}`, major, minor];
}

function unescapePath(p: string): string {
  try {
    return decodeURIComponent(p.replace(/%(?![0-9a-fA-F]{2})/g, "%25"));
  } catch {
    return p;
  }
}

/** Go's `*url.URL` for a request target: fields and the methods templates use. */
export class UrlView {
  /** "http", or "" for a server request's path-only URL. */
  readonly Scheme: string;
  readonly Opaque = "";
  readonly User = null;
  /** The host, "" for a server request's path-only URL. */
  readonly Host: string;
  /** The decoded path. */
  readonly Path: string;
  /** The encoded path when it differs from the default encoding of Path, else "". */
  readonly RawPath: string;
  readonly ForceQuery = false;
  /** The query without "?". */
  readonly RawQuery: string;
  readonly Fragment = "";
  readonly RawFragment = "";

  constructor(rawPath: string, rawQuery: string, scheme = "", host = "") {
    this.Scheme = scheme;
    this.Host = host;
    this.Path = unescapePath(rawPath);
    this.RawPath = this.Path === rawPath ? "" : rawPath;
    this.RawQuery = rawQuery;
  }

  /** The path as it goes on the wire (Go's `EscapedPath`). */
  EscapedPath(): string {
    return goEscapedPath(this.RawPath || this.Path);
  }

  /** Path plus "?query". */
  RequestURI(): string {
    const p = this.EscapedPath() || "/";
    return this.RawQuery ? `${p}?${this.RawQuery}` : p;
  }

  /** The parsed query (url.Values, with Get/Values/Has). */
  Query(): Record<string, string[]> {
    return urlValues(this.RawQuery);
  }

  /** The host without a port. */
  Hostname(): string {
    const h = this.Host;
    if (h.startsWith("[")) return h.slice(1, h.indexOf("]"));
    const i = h.lastIndexOf(":");
    return i < 0 ? h : h.slice(0, i);
  }

  /** The port of Host, or "". */
  Port(): string {
    const m = /:(\d*)$/.exec(
      this.Host.startsWith("[") ? this.Host.slice(this.Host.indexOf("]")) : this.Host,
    );
    return m ? m[1] : "";
  }

  /** Whether the URL has a scheme. */
  IsAbs(): boolean {
    return this.Scheme !== "";
  }

  /** The URL as Go prints it. */
  String(): string {
    let s = "";
    if (this.Scheme) s += this.Scheme + ":";
    if (this.Scheme || this.Host) s += "//" + this.Host;
    const p = this.EscapedPath();
    if (p && p[0] !== "/" && this.Host) s += "/";
    s += p;
    if (this.RawQuery) s += "?" + this.RawQuery;
    return s;
  }
}
withGoType(UrlView.prototype, { name: "*url.URL" });

/** Converts YAML-parsed numbers to the engine's ints and float64s. */
function goValues(v: unknown): unknown {
  if (typeof v === "number") return Number.isInteger(v) ? v : float64(v);
  if (Array.isArray(v)) return v.map(goValues);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = goValues(x);
    return out;
  }
  return v === undefined ? null : v;
}

/** The body accessors both views share; the parsed forms are computed once, on demand. */
abstract class MessageView {
  readonly #bytes: Uint8Array | undefined;
  #text: string | undefined;
  #json: unknown;
  #yaml: unknown;

  constructor(bytes: Uint8Array | undefined) {
    this.#bytes = bytes;
  }

  /** The body bytes ([]byte); empty when the body was not read. */
  RawBody(): Uint8Array {
    return this.#bytes ?? EMPTY;
  }

  /** The body as text. */
  Body(): string {
    return this.#text ??= this.#bytes ? decoder.decode(this.#bytes) : "";
  }

  /** The body parsed as JSON, numbers kept exact (json.Number). */
  JSONBody(): unknown {
    if (this.#json === undefined) {
      const text = this.Body();
      if (!text.trim()) throw new Error("EOF");
      this.#json = parseJSON(text, true);
    }
    return this.#json;
  }

  /** The body parsed as YAML. */
  YAMLBody(): unknown {
    if (this.#yaml === undefined) this.#yaml = goValues(loadedYaml().parse(this.Body()) ?? null);
    return this.#yaml;
  }
}
for (const m of ["JSONBody", "YAMLBody"] as const) {
  Object.assign(MessageView.prototype[m], { returnsInterface: true });
}

const BASIC_PREFIX = /^basic /i;

/** The user of an `Authorization: Basic` value as Go's `Request.BasicAuth` reads it, else "". */
function basicAuthUser(authorization: string | null): string {
  if (authorization === null || !BASIC_PREFIX.test(authorization)) return "";
  let credentials: string;
  try {
    credentials = decoder.decode(Uint8Array.fromBase64(authorization.slice(6)));
  } catch {
    return "";
  }
  const colon = credentials.indexOf(":");
  return colon < 0 ? "" : credentials.slice(0, colon);
}

/** A request as templates see it (Go's `*http.Request` plus body accessors). */
export class RequestView extends MessageView {
  readonly #req: HttpRequest;
  #header: Record<string, string[]> | undefined;
  #url: UrlView | undefined;
  /** Upper-case method. */
  readonly Method: string;
  /** "HTTP/1.1", "HTTP/2.0", ... */
  readonly Proto: string;
  readonly ProtoMajor: number;
  readonly ProtoMinor: number;
  /** The Host the client asked for. */
  readonly Host: string;
  /** The client's "ip:port" (the original request only). */
  readonly RemoteAddr: string;
  /** The request target as received (the original request only). */
  readonly RequestURI: string;

  constructor(
    req: HttpRequest,
    bytes: Uint8Array | undefined,
    remoteAddr: string,
    original: boolean,
  ) {
    super(bytes);
    this.#req = req;
    this.Method = req.method;
    [this.Proto, this.ProtoMajor, this.ProtoMinor] = protoParts(req.proto);
    this.Host = req.host;
    this.RemoteAddr = original ? remoteAddr : "";
    this.RequestURI = original ? req.requestURI ?? req.url : "";
  }

  /** The request URL (path and query). */
  get URL(): UrlView {
    return this.#url ??= new UrlView(this.#req.path, this.#req.query);
  }

  /** Request headers, without Host (as in Go). */
  get Header(): Record<string, string[]> {
    return this.#header ??= goHeader(this.#req.rawHeaders, true);
  }

  /** Content-Length, -1 when unknown. */
  get ContentLength(): number {
    const cl = this.#req.header("content-length");
    if (cl !== null && /^\d+$/.test(cl)) return Number(cl);
    return this.#req.header("transfer-encoding") ? -1 : 0;
  }

  /** The User-Agent header (its first field, as Go's Header.Get). */
  UserAgent(): string {
    return goHeaderValue(this.#req.firstHeader("user-agent") ?? "");
  }

  /** The Referer header (its first field, as Go's Header.Get). */
  Referer(): string {
    return goHeaderValue(this.#req.firstHeader("referer") ?? "");
  }

  /** The user of the Basic credentials in Authorization, "" without them (for `username`). */
  [BASIC_AUTH_USER](): string {
    return basicAuthUser(this.#req.firstHeader("authorization"));
  }

  /** The named cookie of the Cookie fields; an error when absent, as in Go. */
  Cookie(name: unknown): CookieView {
    const found = requestCookies(this.#req.cookieHeader(), goHeaderValue, String(name));
    if (found.length) return found[0];
    throw new Error("http: named cookie not present");
  }

  /** Every cookie of the Cookie fields ([]*http.Cookie). */
  Cookies(): CookieView[] {
    return withGoType(requestCookies(this.#req.cookieHeader(), goHeaderValue), COOKIE_SLICE);
  }

  /** Go's `*tls.ConnectionState`: nil on a plain connection. */
  get TLS(): TlsView | null {
    if (this.#req.scheme !== "https") return null;
    return new TlsView(this.ProtoMajor === 2 ? "h2" : this.ProtoMajor === 3 ? "h3" : "");
  }

  /** Whether the client asked to close the connection after this request. */
  get Close(): boolean {
    const connection = this.#req.header("connection")?.toLowerCase() ?? "";
    if (this.ProtoMajor !== 1) return false;
    if (this.ProtoMinor === 0) return !/(^|,)\s*keep-alive\s*(,|$)/.test(connection);
    return /(^|,)\s*close\s*(,|$)/.test(connection);
  }

  /** ["chunked"] for a chunked HTTP/1.1 body, else nil. */
  get TransferEncoding(): string[] {
    return /chunked/i.test(this.#req.header("transfer-encoding") ?? "")
      ? stringSlice(["chunked"])
      : nilSlice("[]string") as string[];
  }

  /** Nil until Go's ParseForm, which templates cannot call. */
  get Form(): Record<string, string[]> {
    return withGoType({}, NIL_URL_VALUES);
  }

  /** Nil until Go's ParseForm, which templates cannot call. */
  get PostForm(): Record<string, string[]> {
    return withGoType({}, NIL_URL_VALUES);
  }

  /** Nil until Go's ParseMultipartForm, which templates cannot call. */
  get MultipartForm(): null {
    return null;
  }

  /** Request trailers: none are read. */
  get Trailer(): Record<string, string[]> {
    return withGoType({}, NIL_HEADER);
  }
}

const NIL_URL_VALUES: GoType = { ...URL_VALUES, isNil: true };
const NIL_HEADER: GoType = { ...HTTP_HEADER, isNil: true };
const COOKIE_SLICE: GoType = { name: "[]*http.Cookie" };

/** Go's `*tls.ConnectionState`, with what is known of the connection. */
export class TlsView {
  /** Always true: a request arrives only after the handshake. */
  readonly HandshakeComplete = true;
  /** The ALPN protocol, "h2" or "h3" (HTTP/1.1 does not say whether ALPN chose it). */
  readonly NegotiatedProtocol: string;

  constructor(negotiatedProtocol: string) {
    this.NegotiatedProtocol = negotiatedProtocol;
  }
}
withGoType(TlsView.prototype, { name: "*tls.ConnectionState" });
withGoType(RequestView.prototype, { name: "*builder.request" });

/** A response as templates see it (Go's `*http.Response` plus body accessors). */
export class ResponseView extends MessageView {
  readonly #resp: HttpResponse;
  #header: Record<string, string[]> | undefined;
  /** The status code. */
  readonly StatusCode: number;
  /** "200 OK" */
  readonly Status: string;
  readonly Proto = "HTTP/1.1";
  readonly ProtoMajor = 1;
  readonly ProtoMinor = 1;

  constructor(resp: HttpResponse, bytes: Uint8Array | undefined) {
    super(bytes);
    this.#resp = resp;
    this.StatusCode = resp.status;
    const text = STATUS_TEXT[resp.status];
    this.Status = text ? `${resp.status} ${text}` : String(resp.status);
  }

  /** Response headers. */
  get Header(): Record<string, string[]> {
    return this.#header ??= goHeader(this.#resp.rawHeaders);
  }

  /** Content-Length, -1 when unknown. */
  get ContentLength(): number {
    const cl = this.#resp.header("content-length");
    return cl !== null && /^\d+$/.test(cl) ? Number(cl) : -1;
  }

  /** The cookies its Set-Cookie fields set ([]*http.Cookie), attributes included. */
  Cookies(): CookieView[] {
    const lines = this.#resp.rawHeaders.getSetCookie().map(goHeaderValue);
    return withGoType(responseCookies(lines), COOKIE_SLICE);
  }

  /** The Location header, unresolved; an error when there is none, as in Go. */
  Location(): UrlView {
    const location = this.#resp.header("location");
    if (!location) throw new Error("http: no Location header in response");
    const m = /^(?:([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?/.exec(location)!;
    return new UrlView(m[3], m[4] ?? "", m[1]?.toLowerCase() ?? "", m[2] ?? "");
  }

  /** Whether the connection closes after it. */
  get Close(): boolean {
    return /(^|,)\s*close\s*(,|$)/i.test(this.#resp.header("connection") ?? "");
  }

  /** ["chunked"] for a chunked body, else nil. */
  get TransferEncoding(): string[] {
    return /chunked/i.test(this.#resp.header("transfer-encoding") ?? "")
      ? stringSlice(["chunked"])
      : nilSlice("[]string") as string[];
  }

  /** False: bodies reach templates as they came. */
  readonly Uncompressed = false;

  /** Response trailers: none are read. */
  get Trailer(): Record<string, string[]> {
    return withGoType({}, NIL_HEADER);
  }
}
withGoType(ResponseView.prototype, { name: "*builder.response" });

/** Options for {@linkcode prepareBuilderData}. */
export interface BuilderDataOptions {
  /** Buffer every request and response body so the body accessors see them. @default {false} */
  readBodies?: boolean;
}

type BuilderData = Record<string, unknown>;

function assemble(ctx: Context, bodies: Map<object, Uint8Array> | undefined): BuilderData {
  const requests: Record<string, unknown> = {};
  const responses: Record<string, unknown> = {};
  for (const [name, ns] of ctx.namespaces()) {
    if (ns.request) {
      const bytes = bodies?.get(ns.request) ?? ns.request.bufferedBody;
      requests[name] = new RequestView(ns.request, bytes, ctx.remoteAddr, name === "DEFAULT");
    }
    if (ns.response) {
      const bytes = bodies?.get(ns.response) ?? ns.response.bufferedBody;
      responses[name] = new ResponseView(ns.response, bytes);
    }
  }
  return { requests, responses, data: ctx.data, namespace: ctx.namespace };
}

/**
 * The data a builder template runs on. With `readBodies`, every body is
 * buffered first (so the result is a promise); otherwise only bodies already
 * in memory are visible and the result is immediate (except on the first
 * call, which imports the YAML module).
 */
export function prepareBuilderData(
  ctx: Context,
  options: BuilderDataOptions = {},
): BuilderData | Promise<BuilderData> {
  // Templates may read YAMLBody, and builders parse their output as YAML.
  if (!yamlReady()) return loadYaml().then(() => prepareBuilderData(ctx, options));
  if (!options.readBodies) return assemble(ctx, undefined);
  const pending: Promise<void>[] = [];
  const bodies = new Map<object, Uint8Array>();
  for (const [name, ns] of ctx.namespaces()) {
    for (const msg of [ns.request, ns.response]) {
      if (!msg) continue;
      const held = msg.bufferedBody;
      if (held) bodies.set(msg, held);
      else if (msg === ns.request && ns.request.replayLimit < 0) {
        // The route streams it (clientMaxBodySize -1): read whole it could be any size, so
        // templates see Easegress's note instead and the body goes on as a stream.
        bodies.set(msg, encoder.encode(`the body of request ${JSON.stringify(name)} is a stream`));
      } else if (msg === ns.response && ns.response.unlimitedStream && msg.isStream) {
        // Likewise an answer its pool streams (serverMaxBodySize -1).
        bodies.set(msg, encoder.encode(`the body of response ${JSON.stringify(name)} is a stream`));
      } else pending.push(msg.bytes().then((b) => void bodies.set(msg, b)));
    }
  }
  if (!pending.length) return assemble(ctx, bodies);
  return Promise.all(pending).then(() => assemble(ctx, bodies));
}
