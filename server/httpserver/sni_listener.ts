/**
 * The HTTPS listener for several certificates: `node:http2`'s secure server
 * picks one by the client's server name (SNI) and speaks HTTP/2 by ALPN or
 * HTTP/1.1. Loaded only when a spec has several certificates: the node
 * modules it needs cost an idle node 1–3 MB.
 *
 * @module
 */

import { createSecureContext, type SecureContext, type TLSSocket } from "node:tls";
import {
  peerCertificatesFromSocket,
  type PeerCertificateSource,
} from "../../filters/peer_certificate.ts";
import {
  constants,
  createSecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from "node:http2";
import type { Socket } from "node:net";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import {
  type CertPair,
  type Listener,
  type ListenerOptions,
  nextTurn,
  type WebHandler,
} from "./listener.ts";
import { ReactorTurn } from "./reactor_turn.ts";
import { certificatePicker } from "./cert_picker.ts";
import { setNoDelayOnListeners } from "../../filters/native_sockets.ts";
import { isAuthority } from "./field_rules.ts";
import { absoluteFormParts } from "./http1/request_head.ts";
import { isBodilessStatus } from "../../filters/status_text.ts";
import { hasToken } from "../../filters/proxy/http1_parser.ts";

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

/** The spec's connection limits, as the other listeners apply them. */
export interface ConnectionLimits {
  /** How long a connection may stay without a request in flight. */
  keepAliveTimeoutMs: number;
  /** Connections served at once; more are closed as they come. */
  maxConnections: number;
}

/**
 * Serves HTTPS on `port` with the certificate each client's server name
 * matches (the first by default); with `clientCa`, clients must present a
 * certificate that chains to it (mutual TLS), and requests carry the chain.
 */
export async function startSniListener(
  port: number,
  hostname: string,
  pairs: CertPair[],
  handler: WebHandler,
  options: ListenerOptions,
  clientCa?: string,
  limits?: ConnectionLimits,
): Promise<Listener> {
  const pickContext = certificatePicker(
    pairs.map((p) => ({
      cert: p.cert,
      // The context chosen by server name is the one that checks client certificates.
      context: createSecureContext({
        cert: p.cert,
        key: p.key,
        ...(clientCa ? { ca: clientCa } : {}),
      }),
    })),
  );
  const pick = (servername: string): SecureContext => pickContext(servername).context;
  // Connections with the number of requests in flight on each, so a
  // shutdown can close idle ones at once and the rest after the grace time.
  const inFlight = new Map<Socket, number>();
  // Requests are admitted in turns, as on the other listeners: HTTP/2
  // streams in flight otherwise starve some connections for seconds.
  const turn = new ReactorTurn();
  // HTTP/1.1 connections yet to send a request, with the timer that closes
  // them once keepAliveTimeout passes: node's HTTP/1.1 side counts it from an
  // answer only, so a connection that sent nothing stayed open until its
  // headersTimeout, 60 to 90 s, where the builtin server closes it.
  const firstRequestDue = new Map<Socket, ReturnType<typeof setTimeout>>();
  // HTTP/2 by ALPN, HTTP/1.1 for clients that do not offer it.
  const server = createSecureServer({
    cert: pairs[0].cert,
    key: pairs[0].key,
    allowHTTP1: true,
    // A request may have as many fields as its header list holds (64 KB), as
    // on the builtin server: past node's 128, its stream was reset
    // (ENHANCE_YOUR_CALM), though a browser behind a few proxies comes near.
    maxHeaderListPairs: 65536,
    SNICallback: (servername, cb) => cb(null, pick(servername)),
    ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  }, (req, res) => {
    const socket = req.socket as Socket;
    if (firstRequestDue.size !== 0 && firstRequestDue.has(socket)) {
      clearTimeout(firstRequestDue.get(socket));
      firstRequestDue.delete(socket);
    }
    if (inFlight.has(socket)) {
      inFlight.set(socket, inFlight.get(socket)! + 1);
      res.once("close", () => {
        if (inFlight.has(socket)) inFlight.set(socket, inFlight.get(socket)! - 1);
      });
    }
    turn.whenAdmitted(() => serveNodeRequest(req, res, handler, options, !!clientCa));
  });
  server.on("secureConnection", (socket: TLSSocket) => {
    // An HTTP/2 connection is tracked as its session, which comes first and
    // holds a socket of its own: this one would look idle, and be ended mid-stream.
    if (socket.alpnProtocol === "h2") return;
    inFlight.set(socket, 0);
    if (limits) {
      firstRequestDue.set(
        socket,
        setTimeout(() => {
          firstRequestDue.delete(socket);
          socket.destroy();
        }, limits.keepAliveTimeoutMs),
      );
    }
    socket.once("close", () => {
      inFlight.delete(socket);
      clearTimeout(firstRequestDue.get(socket));
      firstRequestDue.delete(socket);
    });
  });
  // A request head its HTTP/1.1 parser refuses gets an answer naming why,
  // as the builtin server's does; the runtime's closed some connections
  // without one, and node's default names nothing.
  server.on("clientError", (err: Error & { code?: string; reason?: string }, socket: Socket) => {
    if (!err.code?.startsWith("HPE_") || !socket.writable) return void socket.destroy();
    socket.end(
      err.code === "HPE_HEADER_OVERFLOW"
        ? plainAnswer(431, "Request Header Fields Too Large", "request head larger than 16 KB")
        : plainAnswer(400, "Bad Request", err.reason ?? "malformed request"),
    );
  });
  // CONNECT is for forward proxies: node hands it to this event alone, and
  // without a listener closed the connection with no answer. The builtin
  // server refuses its authority-form target with 400, and resets an HTTP/2
  // CONNECT's stream (PROTOCOL_ERROR), as here: node hands that over with
  // its response, into which a 400 written as HTTP/1.1 text would go as the
  // body of a 200.
  server.on("connect", (req: NodeRequest, socket: Socket | Http2ServerResponse) => {
    if ((req as Http2ServerRequest).stream !== undefined) {
      return void (req as Http2ServerRequest).stream.close(constants.NGHTTP2_PROTOCOL_ERROR);
    }
    (socket as Socket).end(
      plainAnswer(400, "Bad Request", `invalid request target ${JSON.stringify(req.url ?? "")}`),
    );
  });
  // An expectation other than 100-continue is refused naming it, as the
  // builtin server refuses it (RFC 9110 section 10.1.1); node's own 417 said
  // nothing, and came chunked.
  server.on("checkExpectation", (req: IncomingMessage, res: ServerResponse) => {
    refuse(res, `unsupported Expect ${JSON.stringify(req.headers.expect ?? "")}`, 417);
  });
  // Its HTTP/1.1 side answers a request without Host with an empty 400 of
  // its own; it is refused as the builtin server refuses it instead (see
  // http1Refusal), and an HTTP/1.0 one, which needs none, is served.
  (server as unknown as { requireHostHeader: boolean }).requireHostHeader = false;
  // It kept the first 1000 fields of a head and dropped the rest unsaid (an
  // Authorization sent late among them); the head's size is the bound, as
  // on the builtin server.
  (server as unknown as { maxHeadersCount: number }).maxHeadersCount = 0;
  const sessions = new Set<Http2Session>();
  server.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (limits) closeWhenIdle(session, limits.keepAliveTimeoutMs);
  });
  if (limits) {
    // Read by its HTTP/1.1 side (allowHTTP1), which closes idle connections after 5 s otherwise.
    (server as unknown as { keepAliveTimeout: number }).keepAliveTimeout =
      limits.keepAliveTimeoutMs;
    server.maxConnections = limits.maxConnections;
  }
  // node reports a port in use through an event, after listen() returns.
  const { promise: listening, resolve, reject } = Promise.withResolvers<void>();
  server.once("error", reject);
  server.listen({ port, host: hostname, reusePort: !!options.reusePort }, () => {
    server.off("error", reject);
    resolve();
  });
  await listening;
  const bound = (server.address() as { port: number }).port;
  // Its connections would otherwise keep Nagle's algorithm, and answers wait for delayed ACKs.
  setNoDelayOnListeners({ transport: "tcp", hostname, port: bound });
  let stopped: Promise<void> | undefined;
  const shutdown = (graceMs: number) =>
    stopped ??= new Promise<void>((resolve) => {
      const done = () => {
        turn.close();
        resolve();
      };
      const timer = setTimeout(() => {
        for (const socket of inFlight.keys()) socket.destroy();
        for (const session of sessions) session.destroy();
        done();
      }, graceMs);
      server.close(() => {
        clearTimeout(timer);
        done();
      });
      // HTTP/2 sessions get GOAWAY and end when their streams do.
      for (const session of sessions) session.close();
      for (const [socket, n] of inFlight) if (n === 0 && !socket.destroyed) socket.end();
    });
  return {
    port: bound,
    releasePort(graceMs: number) {
      // The server stops listening when its shutdown starts.
      shutdown(graceMs);
      return nextTurn();
    },
    shutdown,
  };
}

/**
 * Ends `session` with GOAWAY once it has had no stream open for `idleMs`
 * (node's sessions have no idle timeout of their own).
 */
function closeWhenIdle(session: Http2Session, idleMs: number): void {
  let open = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => session.close(), idleMs);
  };
  arm();
  session.on("stream", (stream: { once(event: "close", listener: () => void): void }) => {
    open++;
    clearTimeout(timer);
    stream.once("close", () => {
      if (--open === 0 && !session.closed) arm();
    });
  });
  session.once("close", () => clearTimeout(timer));
}

/** Whether a request's fields announce content: a Content-Length past 0, or a transfer coding. */
function hasContent(headers: Headers): boolean {
  const length = headers.get("content-length");
  return headers.has("transfer-encoding") || (length !== null && length !== "0");
}

/** A whole HTTP/1.1 answer whose body is `status` and `message`, closing the connection. */
function plainAnswer(status: number, statusText: string, message: string): string {
  const body = `${status} ${message}\n`;
  return `HTTP/1.1 ${status} ${statusText}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `connection: close\r\ncontent-length: ${new TextEncoder().encode(body).length}\r\n\r\n${body}`;
}

/** Answers an HTTP/1.1 request that cannot be served with `status` naming why, and closes. */
function refuse(res: NodeResponse, message: string, status = 400): void {
  const body = `${status} ${message}\n`;
  const head: Record<string, string> = {
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(new TextEncoder().encode(body).length),
  };
  // Not over HTTP/2 (a 417 for its Expect, say), where node drops the field
  // with a warning on the process's stderr.
  if ((res as Http2ServerResponse).stream === undefined) head.connection = "close";
  (res as ServerResponse).writeHead(status, head);
  res.end(body);
}

/**
 * Why an HTTP/1 request node's parser took must be refused all the same, as
 * the builtin server refuses it (see http1/request_head.ts): the status and
 * message, or null. `hosts` is how many Host fields it has.
 */
function http1Refusal(req: IncomingMessage, hosts: number): [number, string] | null {
  if (req.httpVersionMajor !== 1) {
    // node reads a request line without a version as HTTP/0.9, which the
    // builtin server refuses as malformed (400, not 505).
    if (req.httpVersionMajor === 0) {
      return [400, `malformed request line ${JSON.stringify(`${req.method} ${req.url}`)}`];
    }
    return [505, `HTTP version ${req.httpVersion} is not supported`];
  }
  const http10 = req.httpVersionMinor === 0;
  if (hosts > 1) return [400, "more than one Host header"];
  // HTTP/1.1 clients must send Host (RFC 9112 section 3.2); HTTP/1.0 ones need not.
  if (hosts === 0 && !http10) return [400, "missing Host header"];
  if (http10 && req.headers["transfer-encoding"] !== undefined) {
    return [400, "Transfer-Encoding in an HTTP/1.0 request"];
  }
  return null;
}

const HIGH_BYTE = /[\x80-\xff]/;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A field value (a byte string, one byte a character) as the text whose
 * UTF-8 is those bytes: the runtime's node:http writes a head as UTF-8, not
 * Latin-1 as node does, so a backend's UTF-8 ("filename=café.pdf") reached
 * HTTP/1.1 clients encoded twice (cafÃ©). Bytes that are not UTF-8 cannot
 * be written as they came, and go as before.
 */
function asWrittenUtf8(value: string): string {
  const bytes = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return value;
  }
}

// Connection-specific fields: meaningless (and refused by node) on HTTP/2.
const HTTP1_ONLY = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

async function serveNodeRequest(
  req: NodeRequest,
  res: NodeResponse,
  handler: WebHandler,
  options: ListenerOptions,
  clientCertificates: boolean,
): Promise<void> {
  // Told by the stream under it: an HTTP/1 request line may say HTTP/2.0 too.
  const h2 = (req as Http2ServerRequest).stream !== undefined;
  try {
    const headers = new Headers();
    const raw = req.rawHeaders;
    let hosts = 0;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i];
      if (name[0] === ":") continue;
      headers.append(name, raw[i + 1]);
      if (name.length === 4 && name.toLowerCase() === "host") hosts++;
    }
    if (!h2) {
      // node's parser serves what the builtin server refuses: a request line
      // without a version or with HTTP/2.0 was forwarded as HTTP/1.1, and
      // one without Host under a name made up below.
      const refusal = http1Refusal(req as IncomingMessage, hosts);
      if (refusal !== null) return refuse(res, refusal[1], refusal[0]);
    }
    let authority = h2 ? String(req.headers[":authority"] ?? "") : headers.get("host");
    if (h2 && authority && !headers.has("host")) headers.set("host", authority);
    let target = req.url ?? "/";
    if (!h2 && target.charCodeAt(0) !== 0x2f && target !== "*") {
      // An absolute-form target names the host in place of Host (RFC 9112
      // section 3.2.2), as the builtin server and Go's take it: made into a
      // URL after the Host, it was routed and forwarded as "//host/path".
      const absolute = absoluteFormParts(target);
      if (absolute === null) {
        return refuse(res, `invalid request target ${JSON.stringify(target)}`);
      }
      authority = absolute.authority;
      headers.set("host", authority);
      target = absolute.rest;
    }
    const method = req.method ?? "GET";
    // A web Request takes no body with GET or HEAD: one such a request has
    // goes to the handler apart; it was dropped, so a GET with a JSON query
    // reached the backend without it.
    const bodyless = method === "GET" || method === "HEAD";
    const body = !bodyless || hasContent(headers)
      ? Readable.toWeb(req as Readable) as ReadableStream<Uint8Array>
      : null;
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    // The target also goes to the handler as sent (see WebHandler): a URL
    // made of it is spelled as WHATWG parsing does (a backslash read as "/",
    // "{" escaped, dot segments resolved, a fragment dropped), and `*` is
    // none. The URL keeps the path for handlers that read only it (the
    // admin API's routes). A host no URL can hold (two Host fields joined,
    // "a b") is left out of it, for the handler to refuse (a 400, not the
    // 500 of a failed URL).
    const origin = target.charCodeAt(0) === 0x2f || target === "*";
    const urlPath = target === "*" ? "/" : target;
    const urlHost = authority && isAuthority(authority) ? authority : "localhost";
    const init = {
      method,
      headers,
      body: bodyless ? null : body,
      signal: abort.signal,
      duplex: "half",
    };
    let request: Request;
    try {
      request = new Request(`https://${urlHost}${urlPath}`, init);
    } catch {
      // A port past 65535 (Host: x:99999), which no URL holds: the request
      // failed with a 500, where the builtin server and Go's forward its
      // Host as sent (the handler reads it from the field, not the URL).
      request = new Request(`https://localhost${urlPath}`, init);
    }
    const remoteAddr = {
      transport: "tcp" as const,
      hostname: req.socket.remoteAddress ?? "",
      port: req.socket.remotePort ?? 0,
    };
    const socket = req.socket as TLSSocket;
    const response = await handler(
      request,
      () => remoteAddr,
      h2 ? "HTTP/2" : `HTTP/${req.httpVersion}`,
      clientCertificates
        ? () => peerCertificatesFromSocket(socket as PeerCertificateSource)
        : undefined,
      origin ? target : undefined,
      bodyless && body !== null ? body : undefined,
    );
    const out: Record<string, string | string[]> = {};
    let goAway = false;
    let cookies = false;
    response.headers.forEach((v, k) => {
      if (h2 && HTTP1_ONLY.has(k)) {
        // `Connection: close` (keepAlive: false) ends an HTTP/2 connection
        // once its streams are served, as the builtin server and Go's end it.
        if (k === "connection" && hasToken(v, "close")) goAway = true;
        return;
      }
      // Each set-cookie must stay its own field: taken below, from the
      // list made for it. Taken here too, every cookie went out twice.
      if (k === "set-cookie") return void (cookies = true);
      if (!h2 && HIGH_BYTE.test(v)) v = asWrittenUtf8(v);
      const seen = out[k];
      out[k] = seen === undefined ? v : Array.isArray(seen) ? [...seen, v] : [seen, v];
    });
    if (cookies) out["set-cookie"] = response.headers.getSetCookie();
    if (
      response.body === null && method !== "HEAD" && out["content-length"] === undefined &&
      !isBodilessStatus(response.status)
    ) {
      // An answer without a body (the server's own 413 or 404) states its
      // length, as the builtin server's does: node sent the head already
      // written as chunked, with an empty last chunk.
      out["content-length"] = "0";
    }
    (res as ServerResponse).writeHead(response.status, out);
    // GOAWAY now; the session lets open streams, this one too, finish.
    if (goAway) (req as Http2ServerRequest).stream.session?.close();
    if (!response.body) {
      res.end();
      return;
    }
    for await (const chunk of response.body) {
      if (!(res as ServerResponse).write(chunk)) await new Promise((r) => res.once("drain", r));
    }
    res.end();
  } catch (e) {
    if (res.headersSent) {
      // The body failed midway (an upstream that went away): the client must
      // see a cut, not a complete response. HTTP/2 resets the stream, HTTP/1.1
      // closes the connection before the last chunk.
      res.destroy(e as Error);
      return;
    }
    options.onError?.(`${(e as Error)?.stack ?? e}`);
    (res as ServerResponse).writeHead(500);
    res.end();
  }
}
