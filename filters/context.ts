/**
 * The per-request state a pipeline's filters share: namespaces holding at
 * most one request and one response each, and a `data` map.
 *
 * Requests and responses are small mutable wrappers. Their headers are a
 * `Headers` (a {@linkcode HeaderFields} when parsed or built here), copied
 * only when a filter asks for the mutable `headers`; their body is bytes or
 * a stream, read lazily and only once unless buffered.
 *
 * @module
 */

import type { AbortWatch } from "./abort_watch.ts";
import type { RequestTrace } from "./trace.ts";
import { concatBytes } from "./concat_bytes.ts";
import { forEachHeaderField, HeaderFields, isHeaders } from "./header_fields.ts";
import { isBodilessStatus } from "./status_text.ts";
import type { PeerCertificate } from "./peer_certificate.ts";
import { shapeAnchor } from "./shape_anchor.ts";

// The newest of each, kept through an idle heap trim (see shape_anchor.ts).
const REQUEST_SHAPE = shapeAnchor();
const RESPONSE_SHAPE = shapeAnchor();
const CONTEXT_SHAPE = shapeAnchor();

/** A message body: bytes, a byte stream, or nothing. */
export type Body = Uint8Array | ReadableStream<Uint8Array> | null;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** The body of a message without one, as `bufferedBody` gives it: one shared empty array. */
export const EMPTY_BODY: Uint8Array = new Uint8Array(0);

/** Thrown when a body is longer than the limit given to `bytes()`. */
export class BodyTooLargeError extends RangeError {
  constructor(limit: number) {
    super(`Cannot read body: longer than ${limit} bytes`);
    this.name = "BodyTooLargeError";
  }
}

/**
 * A request body the client framed wrongly (a bad chunk size line, say),
 * as the server's body stream fails with it: the fault is the client's (400).
 */
export class MalformedBodyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MalformedBodyError";
  }
}

/** Reads a whole stream into one array, failing once `limit` bytes are passed. */
export async function readAll(
  stream: ReadableStream<Uint8Array>,
  limit = Infinity,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.byteLength;
    if (size > limit) {
      stream.cancel().catch(() => {});
      throw new BodyTooLargeError(limit);
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0] : concatBytes(chunks, size);
}

/**
 * Cancels `stream` unless something reads it (it is locked): a body replaced
 * before anything read it would keep what feeds it open for good, an
 * upstream's connection or a client's upload.
 */
function dropStream(stream: ReadableStream<Uint8Array>): void {
  if (!stream.locked) stream.cancel().catch(() => {});
}

/** A mutable copy of `headers`, as a {@linkcode HeaderFields} (cheap to change and to copy). */
export function copyHeaders(headers: Headers): HeaderFields {
  return new HeaderFields(headers);
}

/** Shared header and body handling of requests and responses. */
export abstract class Message {
  #headers: Headers;
  #ownHeaders: boolean;
  #body: Body | undefined;
  #bodySource: (() => Body) | undefined;

  /** `headers` given as a `Headers` are borrowed; anything else is copied into a HeaderFields. */
  constructor(headers: HeadersInit | undefined, body: Body | string | (() => Body) | undefined) {
    if (isHeaders(headers)) {
      this.#headers = headers;
      this.#ownHeaders = false;
    } else {
      this.#headers = new HeaderFields(headers);
      this.#ownHeaders = true;
    }
    if (typeof body === "function") {
      this.#body = undefined;
      this.#bodySource = body;
    } else {
      this.#body = typeof body === "string" ? encoder.encode(body) : body ?? null;
      this.#bodySource = undefined;
    }
  }

  /** Mutable headers; the first call copies headers that came in immutable. */
  get headers(): Headers {
    if (!this.#ownHeaders) {
      this.#headers = copyHeaders(this.#headers);
      this.#ownHeaders = true;
    }
    return this.#headers;
  }

  set headers(headers: Headers) {
    this.#headers = headers;
    this.#ownHeaders = true;
  }

  /** Headers for reading only: never copies. Do not modify. */
  get rawHeaders(): Headers {
    return this.#headers;
  }

  /** One header's value, or null. */
  header(name: string): string | null {
    return this.#headers.get(name);
  }

  /**
   * The value of the first field named `name`, or null: what Go's
   * Header.Get gives, where `header` joins repeated fields with ", " (as
   * the runtime's `Headers` always does).
   */
  firstHeader(name: string): string | null {
    const headers = this.#headers;
    return headers instanceof HeaderFields ? headers.first(name) : headers.get(name);
  }

  /** The body: bytes, a stream (readable once), or null. */
  get body(): Body {
    if (this.#body === undefined) {
      this.#body = this.#bodySource ? this.#bodySource() : null;
      this.#bodySource = undefined;
    }
    return this.#body;
  }

  /**
   * Replaces the body; strings are UTF-8 encoded. Content-Length is not
   * touched. A stream replaced before anything read it is cancelled (see
   * {@linkcode dropStream}).
   */
  set body(body: Body | string) {
    const old = this.#body;
    this.#body = typeof body === "string" ? encoder.encode(body) : body;
    this.#bodySource = undefined;
    if (old instanceof ReadableStream && old !== body) dropStream(old);
  }

  /**
   * Cancels the body when it is a stream nothing reads and `next` (the
   * message replacing this one) does not carry on; a body not yet made is
   * not made.
   */
  dropBody(next: Message | undefined): void {
    const body = this.#body;
    if (body instanceof ReadableStream && (next === undefined || body !== next.#body)) {
      dropStream(body);
    }
  }

  /** The body's length when it is held as bytes, else -1; a body not yet made is not made. */
  get heldBodyLength(): number {
    const body = this.#body;
    return body instanceof Uint8Array ? body.byteLength : -1;
  }

  /** Whether the body is a stream that has not been buffered. */
  get isStream(): boolean {
    return this.body instanceof ReadableStream;
  }

  /**
   * Reads the whole body into bytes and keeps them as the body, so later
   * readers see the same bytes. Throws {@linkcode BodyTooLargeError} past `limit`.
   */
  async bytes(limit = Infinity): Promise<Uint8Array> {
    const body = this.body;
    if (body === null) return EMPTY_BODY;
    if (body instanceof Uint8Array) {
      if (body.byteLength > limit) throw new BodyTooLargeError(limit);
      return body;
    }
    const bytes = await readAll(body, limit);
    this.#body = bytes;
    return bytes;
  }

  /** The whole body as UTF-8 text (buffered, see {@linkcode bytes}). */
  async text(limit?: number): Promise<string> {
    return decoder.decode(await this.bytes(limit));
  }

  /** The body's bytes if it is already buffered (or empty), else undefined. */
  get bufferedBody(): Uint8Array | undefined {
    const body = this.body;
    if (body === null) return EMPTY_BODY;
    return body instanceof Uint8Array ? body : undefined;
  }
}

/** Fields to build an {@linkcode HttpRequest} from. */
export interface HttpRequestInit {
  /** @default {"GET"} */
  method?: string;
  /** Path without the query, starting with "/". @default {"/"} */
  path?: string;
  /** Raw query without "?". @default {""} */
  query?: string;
  /** The target as the client sent it, when it is not `path` and `query`. */
  requestURI?: string;
  /** @default {"http"} */
  scheme?: string;
  /** The Host (authority). @default {""} */
  host?: string;
  /** @default {"HTTP/1.1"} */
  proto?: string;
  /** A `Headers` object is borrowed: it is copied only when a filter changes headers. */
  headers?: HeadersInit;
  /** The body; a function is called once, when a filter first asks for the body. */
  body?: Body | string | (() => Body);
}

/** Splits an absolute URL into its path (without query) and raw query. */
export function splitTarget(url: string): { path: string; query: string } {
  const pathStart = url.indexOf("/", url.indexOf("://") + 3);
  if (pathStart < 0) return { path: "/", query: "" };
  const q = url.indexOf("?", pathStart);
  return q < 0
    ? { path: url.slice(pathStart), query: "" }
    : { path: url.slice(pathStart, q), query: url.slice(q + 1) };
}

/** A request inside a pipeline: mutable method, path, query, headers and body. */
export class HttpRequest extends Message {
  /** Upper-case method. */
  method: string;
  /** Path without the query, starting with "/". */
  path: string;
  /** Raw query without "?" ("" when absent). */
  query: string;
  /**
   * The request target as the client sent it (Go's `RequestURI`), for the
   * access log and templates, when it is not `path` and `query`: dot
   * segments resolved or escapes normalized before routing, an absolute-form
   * target, a path or query a rewriteTarget or filter changed (see
   * {@linkcode keepRequestURI}). Undefined otherwise.
   */
  requestURI: string | undefined;
  /** "http" or "https". */
  scheme: string;
  /** The Host (authority) the client asked for. */
  host: string;
  /** "HTTP/1.1", "HTTP/2" or "HTTP/3". */
  proto: string;
  /**
   * How many bytes of a streamed body a filter may buffer to send it more
   * than once (a Proxy's retries and mirror): the route's body limit, set by
   * the server. -1 when the body must stream (clientMaxBodySize -1), and for
   * requests built elsewhere.
   */
  replayLimit = -1;

  constructor(init: HttpRequestInit = {}) {
    super(init.headers, init.body);
    this.method = init.method ?? "GET";
    this.path = init.path ?? "/";
    this.query = init.query ?? "";
    this.requestURI = init.requestURI;
    this.scheme = init.scheme ?? "http";
    this.host = init.host ?? "";
    this.proto = init.proto ?? "HTTP/1.1";
    REQUEST_SHAPE.latest = this;
  }

  /**
   * Keeps the target as it is now in {@linkcode requestURI}, unless one is
   * kept already: called before the path or query changes, so Go's
   * `RequestURI` stays what the client sent, as Easegress's templates show
   * it, whatever rewrites the URL.
   */
  keepRequestURI(): void {
    this.requestURI ??= this.url;
  }

  /**
   * Wraps a web request without copying its headers or touching its body
   * until a filter asks for them. `target` is the request's path and query
   * when the caller has already split them out of the URL.
   */
  static fromWeb(
    request: Request,
    proto = "HTTP/1.1",
    target?: { path: string; query: string },
  ): HttpRequest {
    const url = request.url;
    const schemeEnd = url.indexOf("://");
    const method = request.method;
    const headers = request.headers;
    const { path, query } = target ?? splitTarget(url);
    return new HttpRequest({
      method,
      scheme: url.slice(0, schemeEnd),
      host: headers.get("host") ?? url.slice(schemeEnd + 3, url.indexOf("/", schemeEnd + 3)),
      path,
      query,
      proto,
      headers,
      body: method === "GET" || method === "HEAD" ? null : () => request.body,
    });
  }

  /** Path plus "?query" when there is one. */
  get url(): string {
    return this.query ? `${this.path}?${this.query}` : this.path;
  }

  /**
   * Every Cookie field as one list, joined with "; ", or null: Go's
   * `Request.Cookie` reads each Cookie line in turn, where `header` would
   * join them with ", " and lose the cookies after the first line.
   */
  cookieHeader(): string | null {
    const headers = this.rawHeaders;
    if (!(headers instanceof HeaderFields)) return headers.get("cookie");
    let joined: string | null = null;
    headers.someField("cookie", (value) => {
      joined = joined === null ? value : `${joined}; ${value}`;
      return false;
    });
    return joined;
  }
}

/** A response inside a pipeline: mutable status, headers and body. */
export class HttpResponse extends Message {
  /** The status code. */
  status: number;
  /**
   * Called once the body has gone to the client, or was given up (the
   * client left), by the server writing it (see {@linkcode sent}) with the
   * body bytes written, -1 when it does not count them: how the HTTPServer
   * times and logs a streamed answer to its end.
   */
  onSent: ((bodyBytes: number) => void) | undefined;
  /**
   * Whether the body is a stream no limit holds: the answer of a pool whose
   * `serverMaxBodySize` is -1, as Easegress streams it. Read whole it could be
   * any size, so builder templates see Easegress's note instead.
   */
  unlimitedStream: boolean;

  constructor(status = 200, headers?: HeadersInit, body: Body | string | (() => Body) = null) {
    super(headers, body);
    this.status = status;
    this.onSent = undefined;
    this.unlimitedStream = false;
    RESPONSE_SHAPE.latest = this;
  }

  /**
   * Tells {@linkcode onSent}, once, that the body has gone or was given up,
   * after `bodyBytes` of it were written (-1: not counted).
   */
  sent(bodyBytes = -1): void {
    const onSent = this.onSent;
    if (onSent === undefined) return;
    this.onSent = undefined;
    onSent(bodyBytes);
  }

  /** Wraps a web response without copying its headers. */
  static fromWeb(response: Response): HttpResponse {
    return new HttpResponse(response.status, response.headers, () => response.body);
  }

  /** The web `Response` to send to a client. */
  toWeb(): Response {
    const status = this.status;
    if (isBodilessStatus(status) || status === 205) return this.#withoutContent(status);
    const response = new Response(this.body as BodyInit | null, { status });
    // Appended to the response's own headers rather than given in the init
    // dictionary, whose conversion turns every field into a WebIDL sequence
    // first: 0.7 us less per response through Deno.serve with five fields.
    appendTarget = response.headers;
    const headers = this.rawHeaders;
    try {
      forEachHeaderField(headers, appendToTarget);
    } finally {
      appendTarget = NO_HEADERS;
    }
    return response;
  }

  /**
   * A response that has no content as a web response: 204 and 304, and 205,
   * which RFC 9110 section 15.3.6 has carry none and the Fetch API refuses a
   * body with (a server's 205 with a few bytes was answered 500). A streamed
   * body is cancelled, so its source (an upstream connection) is let go.
   * Framing fields a server sent with it are dropped, as Go's server drops
   * them: node's HTTP/2 reset a 204's stream for its Content-Length. A 205
   * says "content-length: 0" (RFC 9110 section 15.3.6), so HTTP/1.1
   * clients read it as empty.
   */
  #withoutContent(status: number): Response {
    const body = this.body;
    if (body instanceof ReadableStream) body.cancel().catch(() => {});
    const response = new Response(null, { status });
    appendTarget = response.headers;
    try {
      forEachHeaderField(this.rawHeaders, appendToTarget);
    } finally {
      appendTarget = NO_HEADERS;
    }
    const headers = response.headers;
    headers.delete("transfer-encoding");
    if (status === 205) headers.set("content-length", "0");
    else headers.delete("content-length");
    return response;
  }
}

// State of appendToTarget: appending is synchronous, so no closure per response.
const NO_HEADERS = new Headers();
let appendTarget: Headers = NO_HEADERS;

function appendToTarget(value: string, name: string): void {
  appendTarget.append(name, value);
}

/** One namespace of a context: at most one request and one response. */
export interface Namespace {
  request?: HttpRequest;
  response?: HttpResponse;
}

/** Connection facts about the client, filled by the server. */
export interface ClientInfo {
  /** The TCP peer address "ip:port". */
  remoteAddr: string;
  /** The client's IP after X-Forwarded-For / X-Real-Ip. */
  realIP: string;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /**
   * The same news as `signal`, for code that only waits for it: a server
   * may offer something cheaper than a real signal here, which may hear of
   * the client leaving a little later (tens of milliseconds).
   */
  abortWatch?: AbortWatch;
  /** The client's TLS certificates, leaf first, when the server asked for them. */
  peerCertificates?: readonly PeerCertificate[];
}

const DEFAULT_NS = "DEFAULT";
const NEVER_ABORTED = new AbortController().signal;

/** The state one request carries through a pipeline. */
export class Context {
  // Read through on demand: a server may compute these lazily (an abort
  // signal or the peer address costs a call into the runtime per request).
  readonly #client: Partial<ClientInfo> | undefined;
  #defaultNs: Namespace;
  #others: Map<string, Namespace> | undefined;
  #activeName = DEFAULT_NS;
  #active: Namespace;
  #data: Record<string, unknown> | undefined;
  #tags: string[] | undefined;
  /** The request's span when the server traces it (see filters/trace.ts). */
  trace: RequestTrace | undefined = undefined;
  /**
   * Whether pipelines and proxy pools tag their timings on the request, as
   * Easegress's access log shows them; off unless the access log is on.
   */
  timed = false;
  /**
   * The Host the client asked for ("" when none), kept as it came while
   * filters may rewrite the request's (a RequestAdaptor's `host`).
   */
  readonly clientHost: string;
  /**
   * The request body's size as the client sent it, noted by the HTTPServer
   * before the pipeline runs (filters may replace the body and its
   * Content-Length): its access log's rx. -1 until noted.
   */
  receivedBody = -1;

  constructor(request?: HttpRequest, client?: Partial<ClientInfo>) {
    this.clientHost = request?.host ?? "";
    this.#defaultNs = { request };
    this.#active = this.#defaultNs;
    this.#client = client;
    CONTEXT_SHAPE.latest = this;
  }

  /** The client's IP after X-Forwarded-For / X-Real-Ip. */
  get realIP(): string {
    return this.#client?.realIP ?? "";
  }

  /** The TCP peer address "ip:port". */
  get remoteAddr(): string {
    return this.#client?.remoteAddr ?? "";
  }

  /** The client's TLS certificates, leaf first (empty without client certificates). */
  get peerCertificates(): readonly PeerCertificate[] {
    return this.#client?.peerCertificates ?? [];
  }

  /** Aborted when the client goes away. */
  get signal(): AbortSignal {
    return this.#client?.signal ?? NEVER_ABORTED;
  }

  /**
   * Aborted when the client goes away, like {@linkcode signal}, for code
   * that only waits for that (the Proxy): cheaper where the server offers
   * it, and then possibly told tens of milliseconds later.
   */
  get abortWatch(): AbortWatch {
    const client = this.#client;
    if (client === undefined) return NEVER_ABORTED;
    return client.abortWatch ?? client.signal ?? NEVER_ABORTED;
  }

  /** The name of the active namespace. */
  get namespace(): string {
    return this.#activeName;
  }

  /** Makes `name` the namespace filters read from and write to. */
  useNamespace(name: string): void {
    if (name === this.#activeName) return;
    this.#activeName = name;
    this.#active = this.getNamespace(name);
  }

  /** The namespace called `name`, created empty when absent. */
  getNamespace(name: string): Namespace {
    if (name === DEFAULT_NS) return this.#defaultNs;
    this.#others ??= new Map();
    let ns = this.#others.get(name);
    if (!ns) {
      ns = {};
      this.#others.set(name, ns);
    }
    return ns;
  }

  /** Every namespace, DEFAULT first. */
  namespaces(): [string, Namespace][] {
    const all: [string, Namespace][] = [[DEFAULT_NS, this.#defaultNs]];
    if (this.#others) all.push(...this.#others);
    return all;
  }

  /** The active namespace's request; throws when it has none. */
  get request(): HttpRequest {
    const r = this.#active.request;
    if (!r) throw new Error(`no request in namespace ${this.#activeName}`);
    return r;
  }

  set request(request: HttpRequest) {
    this.#active.request = request;
  }

  /** The active namespace's request, or undefined. */
  get maybeRequest(): HttpRequest | undefined {
    return this.#active.request;
  }

  /** The active namespace's response, or undefined. */
  get response(): HttpResponse | undefined {
    return this.#active.response;
  }

  set response(response: HttpResponse | undefined) {
    const old = this.#active.response;
    this.#active.response = response;
    // The answer replaced (a Mock's or a builder's after a Proxy's, a retry's
    // next attempt): its stream, unread, would keep the upstream's connection.
    if (old !== undefined && old !== response) old.dropBody(response);
  }

  /** Free-form values shared by the pipeline's filters. */
  get data(): Record<string, unknown> {
    return this.#data ??= {};
  }

  /** Adds a note to this request's access log line. */
  addTag(tag: string): void {
    (this.#tags ??= []).push(tag);
  }

  /** The notes added so far. */
  get tags(): readonly string[] {
    return this.#tags ?? [];
  }
}
