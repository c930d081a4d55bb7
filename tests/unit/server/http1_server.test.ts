/**
 * The HTTP/1.1 server over real loopback sockets, driven by a raw client
 * that writes bytes and parses what comes back, so framing is checked on
 * the wire rather than through another HTTP implementation.
 */

import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type HttpRequest, HttpResponse } from "../../../filters/context.ts";
import { ConnectionUpgrade } from "../../../filters/connection_upgrade.ts";
import type { PeerClient } from "../../../server/httpserver/client.ts";
import type { ConnectionHost } from "../../../server/httpserver/http1/connection.ts";
import { releaseShapeAnchors } from "../../../filters/shape_anchor.ts";
import type { RequestHandler } from "../../../server/httpserver/web_handler.ts";
import type { ServedConnection } from "../../../server/httpserver/served_connection.ts";
import {
  type Http1Server,
  type Http1ServerOptions,
  serveHttp1,
} from "../../../server/httpserver/http1/server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** How long a raw read may wait before the test fails instead of hanging. */
const READ_GUARD_MS = 10_000;

// ---------------------------------------------------------------------------
// A raw HTTP/1.1 client: just enough parsing to check what the server sends.

/** One response as it came over the wire. */
interface RawResponse {
  version: string;
  status: number;
  reason: string;
  /** Header lines in order, names lower-cased, values as latin1 text. */
  lines: [string, string][];
  /** The head text up to and including the blank line. */
  headText: string;
  body: Uint8Array;
  /** Whether the body came chunked. */
  chunked: boolean;
}

/** The first value of header `name`, or null. */
function header(response: RawResponse, name: string): string | null {
  return response.lines.find(([n]) => n === name)?.[1] ?? null;
}

/** Every value of header `name`, one per line. */
function headerAll(response: RawResponse, name: string): string[] {
  return response.lines.filter(([n]) => n === name).map(([, v]) => v);
}

function text(response: RawResponse): string {
  return decoder.decode(response.body);
}

function latin1(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += String.fromCharCode(b);
  return out;
}

class RawClient {
  readonly conn: Deno.TcpConn;
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #closed = false;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  static async open(port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let n = 0;
    while (n < bytes.length) n += await this.conn.write(bytes.subarray(n));
  }

  /** Reads more bytes into the buffer; false at end of stream (or reset). */
  async #fill(): Promise<boolean> {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      const grown = new Uint8Array(this.#buf.length * 2);
      grown.set(this.#buf.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buf = grown;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no bytes from the server within ${READ_GUARD_MS} ms`)),
        READ_GUARD_MS,
      );
    });
    let n: number | null;
    try {
      n = await Promise.race([this.conn.read(this.#buf.subarray(this.#end)), guard]);
    } catch (e) {
      if (e instanceof Deno.errors.ConnectionReset) return false;
      throw e;
    } finally {
      clearTimeout(timer);
    }
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  async #line(): Promise<string> {
    for (;;) {
      const lf = this.#buf.subarray(this.#start, this.#end).indexOf(10);
      if (lf >= 0) {
        const line = latin1(this.#buf.subarray(this.#start, this.#start + lf));
        this.#start += lf + 1;
        return line.endsWith("\r") ? line.slice(0, -1) : line;
      }
      if (!(await this.#fill())) throw new Error("connection closed in the middle of a line");
    }
  }

  async #exactly(n: number): Promise<Uint8Array> {
    while (this.#end - this.#start < n) {
      if (!(await this.#fill())) {
        throw new Error(`connection closed after ${this.#end - this.#start} of ${n} body bytes`);
      }
    }
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** Reads a status line and headers. */
  async readHead(): Promise<RawResponse> {
    const statusLine = await this.#line();
    const m = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(statusLine);
    if (!m) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
    const lines: [string, string][] = [];
    let headText = statusLine + "\r\n";
    for (;;) {
      const line = await this.#line();
      headText += line + "\r\n";
      if (line === "") break;
      const colon = line.indexOf(":");
      lines.push([line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]);
    }
    return {
      version: m[1],
      status: Number(m[2]),
      reason: m[3],
      lines,
      headText,
      body: new Uint8Array(0),
      chunked: false,
    };
  }

  /**
   * Reads one whole response. `head` says the request was HEAD (no body
   * follows whatever the headers say).
   */
  async readResponse(options: { head?: boolean } = {}): Promise<RawResponse> {
    const response = await this.readHead();
    const status = response.status;
    if (options.head || status < 200 || status === 204 || status === 304) return response;
    const te = header(response, "transfer-encoding");
    const cl = header(response, "content-length");
    if (te !== null) {
      assert.equal(te.toLowerCase(), "chunked", "the server only sends chunked");
      assert.equal(cl, null, "chunked responses must not have a content-length");
      response.chunked = true;
      response.body = await this.#chunkedBody();
    } else if (cl !== null) {
      response.body = await this.#exactly(Number(cl));
    } else {
      response.body = await this.readUntilClose();
    }
    return response;
  }

  async #chunkedBody(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for (;;) {
      const sizeLine = await this.#line();
      const size = parseInt(sizeLine.split(";")[0].trim(), 16);
      assert.ok(Number.isFinite(size), `chunk size line ${JSON.stringify(sizeLine)}`);
      if (size === 0) break;
      parts.push(await this.#exactly(size));
      assert.equal(await this.#line(), "", "CRLF after chunk data");
    }
    while ((await this.#line()) !== "") {
      // trailers: none expected, skipped
    }
    return concat(parts);
  }

  /** Everything until the server closes the connection. */
  async readUntilClose(): Promise<Uint8Array> {
    while (await this.#fill()) {
      // keep reading
    }
    const out = this.#buf.slice(this.#start, this.#end);
    this.#start = this.#end;
    return out;
  }

  /** Whether the server closed the connection with nothing more sent. */
  async closedByServer(): Promise<boolean> {
    const rest = await this.readUntilClose();
    return rest.length === 0;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Servers and handlers.

interface TestServer extends Http1Server {
  /** What the server passed to `onError`. */
  errors: string[];
  /** Calls `shutdown` once; later calls return the first call's promise. */
  stop(graceMs: number): Promise<void>;
}

function start(
  handler: RequestHandler,
  options: Partial<Omit<Http1ServerOptions, "handler">> = {},
): TestServer {
  const errors: string[] = [];
  const server = serveHttp1({
    hostname: "127.0.0.1",
    port: 0,
    keepAliveTimeoutMs: 0,
    maxConnections: 0,
    onError: (message) => errors.push(message),
    ...options,
    handler,
  });
  let stopping: Promise<void> | undefined;
  const stop = (graceMs: number) => stopping ??= server.shutdown(graceMs);
  return Object.assign(server, { errors, stop });
}

/** Runs `body` with a server and a client, then closes both. */
async function withServer(
  handler: RequestHandler,
  options: Partial<Omit<Http1ServerOptions, "handler">>,
  body: (client: RawClient, server: TestServer) => Promise<void>,
): Promise<void> {
  const server = start(handler, options);
  const client = await RawClient.open(server.port);
  try {
    await body(client, server);
  } finally {
    client.close();
    await server.stop(0);
  }
}

/** Answers with the method, path and query it saw. */
function describe(request: HttpRequest): HttpResponse {
  const query = request.query ? `?${request.query}` : "";
  return new HttpResponse(
    200,
    { "content-type": "text/plain" },
    `${request.method} ${request.path}${query}`,
  );
}

/** Answers with the request body it read. */
async function echo(request: HttpRequest): Promise<HttpResponse> {
  const body = await request.bytes();
  return new HttpResponse(200, { "x-method": request.method }, body);
}

/** A stream that yields `parts` one by one. */
function streamOf(...parts: string[]): ReadableStream<Uint8Array> {
  const queue = parts.map((p) => encoder.encode(p));
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = queue.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(next);
    },
  });
}

function get(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;
}

/** A promise with its resolver exposed. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}

function pattern(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7 + (i >> 10)) & 0xff;
  return out;
}

// ---------------------------------------------------------------------------
// Connection reuse and ordering.

Deno.test("serveHttp1 serves several requests on one keep-alive connection", async () => {
  const peers = new Set<string>();
  const handler = (request: HttpRequest, client: PeerClient) => {
    peers.add(client.remoteAddr);
    return describe(request);
  };
  await withServer(handler, {}, async (client) => {
    for (const path of ["/a", "/b?x=1", "/c"]) {
      await client.write(get(path));
      const response = await client.readResponse();
      assert.equal(response.version, "HTTP/1.1");
      assert.equal(response.status, 200);
      assert.equal(response.reason, "OK");
      assert.equal(text(response), `GET ${path}`);
      assert.equal(header(response, "content-length"), String(path.length + 4));
      assert.equal(header(response, "connection"), null, "1.1 keep-alive is implicit");
    }
    assert.equal(peers.size, 1, "all three came over the same connection");
    const [peer] = peers;
    assert.match(peer, /^127\.0\.0\.1:\d+$/);
  });
});

Deno.test("serveHttp1 answers pipelined requests in order", async () => {
  const seen: string[] = [];
  const handler = async (request: HttpRequest) => {
    seen.push(request.path);
    // The first request is the slowest: answers must still come in order.
    if (request.path === "/1") await new Promise((r) => setTimeout(r, 20));
    return describe(request);
  };
  await withServer(handler, {}, async (client) => {
    await client.write(
      get("/1") +
        "POST /2 HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nabc" +
        get("/3"),
    );
    assert.equal(text(await client.readResponse()), "GET /1");
    assert.equal(text(await client.readResponse()), "POST /2");
    assert.equal(text(await client.readResponse()), "GET /3");
    assert.deepEqual(seen, ["/1", "/2", "/3"]);
  });
});

Deno.test("serveHttp1 passes method, path, query, host, proto and headers to the handler", async () => {
  let got: HttpRequest | undefined;
  const handler = (request: HttpRequest) => {
    got = request;
    return new HttpResponse(204);
  };
  await withServer(handler, {}, async (client) => {
    await client.write(
      "DELETE /items/7?force=yes HTTP/1.1\r\nHost: api.example:81\r\nX-Trace: t1\r\n\r\n",
    );
    assert.equal((await client.readResponse()).status, 204);
    assert.ok(got);
    assert.equal(got.method, "DELETE");
    assert.equal(got.path, "/items/7");
    assert.equal(got.query, "force=yes");
    assert.equal(got.host, "api.example:81");
    assert.equal(got.scheme, "http");
    assert.equal(got.proto, "HTTP/1.1");
    assert.equal(got.header("x-trace"), "t1");
    assert.equal(got.body, null);
  });
});

Deno.test("serveHttp1 lets a filter change the parsed headers in place, not on a copy", async () => {
  let inPlace: boolean | undefined;
  let realIP = "";
  const handler = (request: HttpRequest, client: PeerClient) => {
    const parsed = request.rawHeaders;
    request.headers.set("X-Forwarded-For", "203.0.113.9");
    inPlace = request.rawHeaders === parsed;
    // The client's address reads the request's headers as they are now.
    realIP = client.realIP;
    return new HttpResponse(204);
  };
  await withServer(handler, {}, async (client) => {
    await client.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert.equal((await client.readResponse()).status, 204);
    assert.equal(inPlace, true);
    assert.equal(realIP, "203.0.113.9");
  });
});

Deno.test("serveHttp1 ignores empty lines before a request line", async () => {
  await withServer(describe, {}, async (client) => {
    await client.write("\r\n" + get("/after-crlf"));
    assert.equal(text(await client.readResponse()), "GET /after-crlf");
    // Two empty lines are not an empty head, also when they arrive apart from the request.
    await client.write("\r\n\r\n\n" + get("/after-three"));
    assert.equal(text(await client.readResponse()), "GET /after-three");
    await client.write("\r\n\r\n");
    await new Promise((resolve) => setTimeout(resolve, 20));
    await client.write(get("/later"));
    assert.equal(text(await client.readResponse()), "GET /later");
  });
});

// ---------------------------------------------------------------------------
// Request bodies.

Deno.test("serveHttp1 echoes a small Content-Length body that arrived with the head", async () => {
  let buffered: boolean | undefined;
  const handler = (request: HttpRequest) => {
    buffered = request.bufferedBody !== undefined;
    return echo(request);
  };
  await withServer(handler, {}, async (client) => {
    await client.write("POST /e HTTP/1.1\r\nHost: test\r\nContent-Length: 11\r\n\r\nhello world");
    const response = await client.readResponse();
    assert.equal(response.status, 200);
    assert.equal(text(response), "hello world");
    assert.equal(header(response, "x-method"), "POST");
    assert.equal(buffered, true, "a body already received is handed over as bytes");
    // The connection is still usable.
    await client.write(get("/next"));
    assert.equal((await client.readResponse()).status, 200);
  });
});

Deno.test("serveHttp1 streams a large Content-Length body to the handler and back", async () => {
  const size = 300 * 1024;
  const payload = pattern(size);
  let wasStream: boolean | undefined;
  const handler = (request: HttpRequest) => {
    wasStream = request.isStream;
    // Stream the request body straight back with the same declared length.
    return new HttpResponse(200, { "content-length": String(size) }, request.body);
  };
  await withServer(handler, {}, async (client) => {
    // Write and read at once: the echo flows back while the upload is going.
    const writing = (async () => {
      await client.write(`PUT /big HTTP/1.1\r\nHost: test\r\nContent-Length: ${size}\r\n\r\n`);
      for (let at = 0; at < size; at += 20_000) {
        await client.write(payload.subarray(at, Math.min(size, at + 20_000)));
      }
    })();
    const response = await client.readResponse();
    await writing;
    assert.equal(response.status, 200);
    assert.equal(response.chunked, false);
    assert.equal(header(response, "content-length"), String(size));
    assert.equal(response.body.length, size);
    assert.deepEqual(response.body, payload);
    assert.equal(wasStream, true);
  });
});

Deno.test("serveHttp1 buffers a large body the handler reads whole", async () => {
  const size = 300 * 1024;
  const payload = pattern(size);
  await withServer(echo, {}, async (client) => {
    await client.write(`POST /big HTTP/1.1\r\nHost: test\r\nContent-Length: ${size}\r\n\r\n`);
    await client.write(payload);
    const response = await client.readResponse();
    assert.equal(header(response, "content-length"), String(size));
    assert.deepEqual(response.body, payload);
  });
});

Deno.test("serveHttp1 decodes a chunked request body, extensions and trailers included", async () => {
  await withServer(echo, {}, async (client) => {
    await client.write("POST /c HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n");
    await client.write("5;name=value\r\nhello\r\n");
    await client.write("1\r\n \r\n6\r\nchunks\r\n");
    await client.write("0\r\nX-Trailer: yes\r\n\r\n");
    const response = await client.readResponse();
    assert.equal(response.status, 200);
    assert.equal(text(response), "hello chunks");
    // The trailers were consumed: the next request parses cleanly.
    await client.write(get("/after"));
    assert.equal((await client.readResponse()).status, 200);
  });
});

Deno.test("serveHttp1 decodes a chunked body that arrived with the head in one write", async () => {
  await withServer(echo, {}, async (client) => {
    await client.write(
      "POST /c HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
        get("/pipelined"),
    );
    assert.equal(text(await client.readResponse()), "abc");
    const next = await client.readResponse();
    assert.equal(next.status, 200);
    assert.equal(header(next, "x-method"), "GET");
  });
});

Deno.test("serveHttp1 reads and drops a small body the handler left, keeping the connection", async () => {
  await withServer((request) => new HttpResponse(401, {}, request.path), {}, async (client) => {
    await client.write("POST /u HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\npartial");
    const response = await client.readResponse();
    assert.equal(response.status, 401);
    assert.equal(header(response, "connection"), null);
    // The rest of the body comes after the answer, then the next request.
    await client.write("x".repeat(93) + get("/next"));
    assert.equal(text(await client.readResponse()), "/next");
  });
});

Deno.test("serveHttp1 closes the connection after a response that left over 256 KiB of body unread", async () => {
  await withServer(() => new HttpResponse(401, {}, "no"), {}, async (client) => {
    await client.write(
      "POST /u HTTP/1.1\r\nHost: test\r\nContent-Length: 300000\r\n\r\npartial",
    );
    const response = await client.readResponse();
    assert.equal(response.status, 401);
    assert.equal(header(response, "connection"), "close");
    assert.ok(await client.closedByServer());
  });
});

Deno.test("serveHttp1 reads and drops a small chunked body the handler left, keeping the connection", async () => {
  await withServer((request) => new HttpResponse(401, {}, request.path), {}, async (client) => {
    await client.write("POST /u HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n");
    await client.write("5\r\nhello\r\n");
    const response = await client.readResponse();
    assert.equal(response.status, 401);
    assert.equal(header(response, "connection"), null);
    // The rest of the body comes after the answer, then the next request.
    await client.write("6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n" + get("/next"));
    assert.equal(text(await client.readResponse()), "/next");
  });
});

Deno.test("serveHttp1 closes the connection once an unread chunked body passes 256 KiB", async () => {
  await withServer(() => new HttpResponse(401, {}, "no"), {}, async (client) => {
    await client.write("POST /u HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n");
    const response = await client.readResponse();
    assert.equal(response.status, 401);
    const chunk = `4000\r\n${"x".repeat(0x4000)}\r\n`;
    // 17 chunks of 16 KiB: one past what is dropped to keep the connection.
    for (let i = 0; i < 17; i++) await client.write(chunk);
    assert.ok(await client.closedByServer());
  });
});

Deno.test("serveHttp1 closes the connection after a chunked body the handler gave up past its limit", async () => {
  const handler = async (request: HttpRequest) => {
    // As the server reads a body against clientMaxBodySize.
    await request.bytes(4).catch(() => {});
    return new HttpResponse(413);
  };
  await withServer(handler, {}, async (client) => {
    await client.write("POST /u HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n");
    await client.write("5\r\nhello\r\n");
    const response = await client.readResponse();
    assert.equal(response.status, 413);
    assert.equal(header(response, "connection"), "close");
    assert.ok(await client.closedByServer());
  });
});

Deno.test("serveHttp1 answers 400 to a chunked body framed wrongly, whatever the handler made of it", async () => {
  const handler = async (request: HttpRequest) => {
    try {
      await request.bytes();
    } catch {
      // A filter that cannot read the body answers as it sees fit (the Proxy: 500).
    }
    return new HttpResponse(500, {}, "upload failed");
  };
  await withServer(handler, {}, async (client) => {
    await client.write("POST /c HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n");
    await client.write("5\r\nhello\r\nzz\r\n" + get("/smuggled"));
    const response = await client.readResponse();
    assert.equal(response.status, 400);
    assert.match(text(response), /invalid chunk size line "zz"/);
    assert.equal(header(response, "connection"), "close");
    assert.ok(await client.closedByServer(), "nothing after the bad body is served");
  });
});

Deno.test("serveHttp1 fails the body stream when the client leaves mid-body", async () => {
  const failure = deferred<string>();
  const handler = async (request: HttpRequest) => {
    try {
      await request.bytes();
      failure.resolve("no error");
    } catch (e) {
      failure.resolve((e as Error).message);
    }
    return new HttpResponse(200);
  };
  const server = start(handler);
  const client = await RawClient.open(server.port);
  try {
    await client.write("POST /u HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\nonly some");
    // Let the handler start reading before the client goes.
    await new Promise((r) => setTimeout(r, 50));
    client.close();
    assert.match(
      await failure.promise,
      /Cannot read request body: Client closed the connection after 9 of 100 body bytes/,
    );
  } finally {
    client.close();
    await server.stop(0);
  }
});

for (const way of ["signal", "abortWatch"] as const) {
  Deno.test(`serveHttp1 aborts the client's ${way} when the client leaves mid-body`, async () => {
    const aborted = deferred<boolean>();
    const handler = async (request: HttpRequest, peer: PeerClient) => {
      await request.bytes().catch(() => {});
      // Asked for only now, as the Proxy asks once its upstream send failed.
      aborted.resolve(peer[way].aborted);
      return new HttpResponse(200);
    };
    const server = start(handler);
    const client = await RawClient.open(server.port);
    try {
      await client.write("POST /u HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\nonly some");
      await new Promise((r) => setTimeout(r, 50));
      client.close();
      assert.equal(await aborted.promise, true);
    } finally {
      client.close();
      await server.stop(0);
    }
  });
}

// ---------------------------------------------------------------------------
// Response framing.

Deno.test("serveHttp1 sends a stream body without a length as chunked", async () => {
  const handler = () =>
    new HttpResponse(200, { "x-kind": "stream" }, streamOf("one ", "", "two ", "three"));
  await withServer(handler, {}, async (client) => {
    await client.write(get("/s"));
    const response = await client.readResponse();
    assert.equal(response.chunked, true);
    assert.equal(header(response, "transfer-encoding"), "chunked");
    assert.equal(header(response, "content-length"), null);
    assert.equal(text(response), "one two three");
    await client.write(get("/again"));
    const again = await client.readResponse();
    assert.equal(again.chunked, true);
    assert.equal(text(again), "one two three");
  });
});

Deno.test("serveHttp1 keeps a declared Content-Length on a stream body", async () => {
  const handler = () => new HttpResponse(200, { "content-length": "8" }, streamOf("abc", "defgh"));
  await withServer(handler, {}, async (client) => {
    await client.write(get("/s"));
    const response = await client.readResponse();
    assert.equal(response.chunked, false);
    assert.equal(header(response, "transfer-encoding"), null);
    assert.deepEqual(headerAll(response, "content-length"), ["8"]);
    assert.equal(text(response), "abcdefgh");
    await client.write(get("/again"));
    assert.equal(text(await client.readResponse()), "abcdefgh");
  });
});

Deno.test("serveHttp1 closes the connection when a stream body is shorter than declared", async () => {
  const handler = () => new HttpResponse(200, { "content-length": "10" }, streamOf("abc"));
  await withServer(handler, {}, async (client) => {
    await client.write(get("/short"));
    const head = await client.readHead();
    assert.equal(header(head, "content-length"), "10");
    // The only way to tell a cut body from a whole one: the connection ends.
    assert.equal(decoder.decode(await client.readUntilClose()), "abc");
  });
});

Deno.test("serveHttp1 writes the server's own framing over a handler's framing headers", async () => {
  const handler = () =>
    new HttpResponse(200, {
      "content-length": "999",
      "transfer-encoding": "chunked",
      "keep-alive": "timeout=5",
      "upgrade": "h2c",
    }, "four");
  await withServer(handler, {}, async (client) => {
    await client.write(get("/f"));
    const response = await client.readResponse();
    assert.deepEqual(headerAll(response, "content-length"), ["4"]);
    assert.equal(header(response, "transfer-encoding"), null);
    assert.equal(header(response, "keep-alive"), null);
    assert.equal(header(response, "upgrade"), null);
    assert.equal(text(response), "four");
  });
});

Deno.test("serveHttp1 answers an empty body with content-length 0", async () => {
  await withServer(() => new HttpResponse(200), {}, async (client) => {
    await client.write(get("/empty"));
    const response = await client.readResponse();
    assert.equal(header(response, "content-length"), "0");
    assert.equal(response.body.length, 0);
  });
});

Deno.test("serveHttp1 answers HEAD with the length a GET would get and no body", async () => {
  const handler = (request: HttpRequest) => {
    if (request.path === "/bytes") return new HttpResponse(200, {}, "hello");
    if (request.path === "/stream") {
      return new HttpResponse(200, { "content-length": "6" }, streamOf("stream"));
    }
    // A HEAD answer from an upstream: no body, the length stated in a header.
    return new HttpResponse(200, { "content-length": "1234" });
  };
  await withServer(handler, {}, async (client) => {
    for (const [path, length] of [["/bytes", "5"], ["/stream", "6"], ["/upstream", "1234"]]) {
      await client.write(`HEAD ${path} HTTP/1.1\r\nHost: test\r\n\r\n`);
      const response = await client.readResponse({ head: true });
      assert.equal(response.status, 200);
      assert.deepEqual(headerAll(response, "content-length"), [length], path);
    }
    // Had any body bytes been sent, this response would not parse.
    await client.write(get("/bytes"));
    const response = await client.readResponse();
    assert.equal(response.version, "HTTP/1.1");
    assert.equal(text(response), "hello");
  });
});

Deno.test("serveHttp1 sends no body and no content-length with 204 and 304", async () => {
  const handler = (request: HttpRequest) =>
    request.path === "/204"
      ? new HttpResponse(204, { "content-length": "5" }, "ignored")
      : new HttpResponse(304, { etag: '"v1"' }, streamOf("ignored too"));
  await withServer(handler, {}, async (client) => {
    await client.write(get("/204") + get("/304") + get("/204"));
    const first = await client.readResponse();
    assert.equal(first.status, 204);
    assert.equal(first.reason, "No Content");
    assert.equal(header(first, "content-length"), null);
    assert.equal(header(first, "transfer-encoding"), null);
    const second = await client.readResponse();
    assert.equal(second.status, 304);
    assert.equal(header(second, "etag"), '"v1"');
    assert.equal(header(second, "content-length"), null);
    assert.equal(header(second, "transfer-encoding"), null);
    // A stray body byte would have broken this status line.
    assert.equal((await client.readResponse()).status, 204);
  });
});

Deno.test("serveHttp1 writes each Set-Cookie on its own line", async () => {
  const handler = () => {
    const headers = new Headers();
    headers.append("set-cookie", "a=1; Path=/");
    headers.append("set-cookie", "b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT");
    headers.set("x-other", "v");
    return new HttpResponse(200, headers, "ok");
  };
  await withServer(handler, {}, async (client) => {
    await client.write(get("/cookies"));
    const response = await client.readResponse();
    assert.deepEqual(headerAll(response, "set-cookie"), [
      "a=1; Path=/",
      "b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT",
    ]);
    assert.equal(header(response, "x-other"), "v");
  });
});

Deno.test("serveHttp1 adds a Date header unless the handler set one", async () => {
  const handler = (request: HttpRequest) =>
    request.path === "/own"
      ? new HttpResponse(200, { date: "Thu, 01 Jan 2037 00:00:00 GMT" }, "x")
      : new HttpResponse(200, {}, "x");
  await withServer(handler, {}, async (client) => {
    await client.write(get("/default"));
    const response = await client.readResponse();
    const dates = headerAll(response, "date");
    assert.equal(dates.length, 1);
    assert.match(dates[0], /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    assert.ok(!Number.isNaN(Date.parse(dates[0])));
    await client.write(get("/own"));
    assert.deepEqual(headerAll(await client.readResponse(), "date"), [
      "Thu, 01 Jan 2037 00:00:00 GMT",
    ]);
  });
});

Deno.test("serveHttp1 writes latin1 header values byte for byte", async () => {
  const handler = () => new HttpResponse(200, { "x-latin": "caf\u00e9" }, "x");
  await withServer(handler, {}, async (client) => {
    await client.write(get("/latin"));
    const response = await client.readResponse();
    assert.equal(header(response, "x-latin"), "caf\u00e9", "one 0xE9 byte on the wire");
  });
});

Deno.test("serveHttp1 writes heads and bodies of any size whole", async () => {
  // Heads and bodies that fit the small and the large write buffers, and neither.
  const cases: Record<string, [number, number]> = {
    "/small": [100, 100],
    "/big-head": [20_000, 100],
    "/huge-head": [80_000, 100],
    "/big-body": [100, 40_000],
    "/huge-body": [100, 100_000],
    "/both": [70_000, 70_000],
  };
  const handler = (request: HttpRequest) => {
    const [headSize, bodySize] = cases[request.path];
    return new HttpResponse(200, { "x-pad": "h".repeat(headSize) }, "b".repeat(bodySize));
  };
  await withServer(handler, {}, async (client) => {
    for (const [path, [headSize, bodySize]] of Object.entries(cases)) {
      await client.write(get(path));
      const response = await client.readResponse();
      assert.equal(header(response, "x-pad"), "h".repeat(headSize), path);
      assert.equal(text(response), "b".repeat(bodySize), path);
    }
  });
});

Deno.test("serveHttp1 writes a reason phrase for known statuses and Go's text for others", async () => {
  const handler = (request: HttpRequest) => new HttpResponse(Number(request.path.slice(1)), {}, "");
  await withServer(handler, {}, async (client) => {
    await client.write(get("/404"));
    const notFound = await client.readResponse();
    assert.equal(notFound.status, 404);
    assert.equal(notFound.reason, "Not Found");
    await client.write(get("/599"));
    const odd = await client.readResponse();
    assert.equal(odd.status, 599);
    assert.equal(odd.reason, "status code 599");
  });
});

// ---------------------------------------------------------------------------
// HTTP/1.0 clients.

Deno.test("serveHttp1 closes an HTTP/1.0 connection after the response", async () => {
  let proto = "";
  const handler = (request: HttpRequest) => {
    proto = request.proto;
    return describe(request);
  };
  await withServer(handler, {}, async (client) => {
    await client.write("GET /old HTTP/1.0\r\n\r\n");
    const response = await client.readResponse();
    assert.equal(response.version, "HTTP/1.1");
    assert.equal(text(response), "GET /old");
    assert.equal(header(response, "connection"), "close");
    assert.equal(proto, "HTTP/1.0");
    assert.ok(await client.closedByServer());
  });
});

Deno.test("serveHttp1 keeps an HTTP/1.0 connection that asked for keep-alive", async () => {
  await withServer(describe, {}, async (client) => {
    for (const path of ["/one", "/two"]) {
      await client.write(`GET ${path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`);
      const response = await client.readResponse();
      assert.equal(text(response), `GET ${path}`);
      assert.equal(header(response, "connection"), "keep-alive");
    }
  });
});

Deno.test("serveHttp1 sends an HTTP/1.0 client a stream body delimited by closing", async () => {
  const handler = () => new HttpResponse(200, {}, streamOf("until ", "close"));
  await withServer(handler, {}, async (client) => {
    await client.write("GET /s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const response = await client.readResponse();
    assert.equal(header(response, "transfer-encoding"), null, "1.0 clients do not know chunked");
    assert.equal(header(response, "content-length"), null);
    assert.equal(header(response, "connection"), "close");
    assert.equal(text(response), "until close");
  });
});

Deno.test("serveHttp1 keeps an HTTP/1.0 keep-alive connection for a stream body with a length", async () => {
  const handler = () => new HttpResponse(200, { "content-length": "4" }, streamOf("ab", "cd"));
  await withServer(handler, {}, async (client) => {
    await client.write("GET /s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const response = await client.readResponse();
    assert.equal(header(response, "content-length"), "4");
    assert.equal(header(response, "connection"), "keep-alive");
    assert.equal(text(response), "abcd");
  });
});

// ---------------------------------------------------------------------------
// Expect: 100-continue.

Deno.test("serveHttp1 sends 100 Continue before reading a body the client holds back", async () => {
  await withServer(echo, {}, async (client) => {
    await client.write(
      "PUT /up HTTP/1.1\r\nHost: test\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n",
    );
    const interim = await client.readResponse();
    assert.equal(interim.status, 100);
    assert.equal(interim.headText, "HTTP/1.1 100 Continue\r\n\r\n");
    await client.write("payload");
    const response = await client.readResponse();
    assert.equal(response.status, 200);
    assert.equal(text(response), "payload");
    // Only one interim response per request.
    await client.write(get("/next"));
    assert.equal((await client.readResponse()).status, 200);
  });
});

Deno.test("serveHttp1 sends no 100 Continue when the handler answers without the body", async () => {
  await withServer(() => new HttpResponse(413, {}, "too big"), {}, async (client) => {
    await client.write(
      "PUT /up HTTP/1.1\r\nHost: test\r\nContent-Length: 7000000\r\nExpect: 100-continue\r\n\r\n",
    );
    const response = await client.readResponse();
    assert.equal(response.status, 413, "the final answer comes first");
    assert.equal(header(response, "connection"), "close");
    assert.ok(await client.closedByServer());
  });
});

Deno.test("serveHttp1 answers 417 to an expectation it does not know", async () => {
  await withServer(echo, {}, async (client) => {
    await client.write(
      "PUT /up HTTP/1.1\r\nHost: test\r\nContent-Length: 1\r\nExpect: magic\r\n\r\n",
    );
    const response = await client.readResponse();
    assert.equal(response.status, 417);
    assert.equal(header(response, "connection"), "close");
  });
});

Deno.test({
  name: "serveHttp1 ignores Expect: 100-continue from an HTTP/1.0 client",
  async fn() {
    await withServer(echo, {}, async (client) => {
      await client.write("PUT /up HTTP/1.0\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
      await new Promise((r) => setTimeout(r, 100));
      await client.write("data");
      const response = await client.readResponse();
      assert.equal(response.status, 200, "no interim 100 before the answer");
      assert.equal(text(response), "data");
    });
  },
});

// ---------------------------------------------------------------------------
// Refusals and errors.

Deno.test("serveHttp1 answers a malformed request with 400 and closes", async () => {
  let called = false;
  const handler = () => {
    called = true;
    return new HttpResponse(200);
  };
  await withServer(handler, {}, async (client) => {
    await client.write("GET / HTTP/1.1\r\nHost: test\r\nBad Header: x\r\n\r\n" + get("/never"));
    const response = await client.readResponse();
    assert.equal(response.status, 400);
    assert.equal(response.reason, "Bad Request");
    assert.equal(header(response, "content-type"), "text/plain; charset=utf-8");
    assert.equal(header(response, "connection"), "close");
    assert.match(text(response), /^400 invalid header "Bad Header"\n$/);
    assert.ok(await client.closedByServer(), "the pipelined request is not served");
    assert.equal(called, false);
  });
});

Deno.test("serveHttp1 answers the refusals of the head parser with their statuses", async () => {
  const cases: [string, number][] = [
    ["GET / HTTP/1.1\r\n\r\n", 400], // no Host
    ["GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505],
    ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
    ["POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501],
  ];
  const server = start(() => new HttpResponse(200));
  try {
    for (const [head, status] of cases) {
      const client = await RawClient.open(server.port);
      try {
        await client.write(head);
        const response = await client.readResponse();
        assert.equal(response.status, status, JSON.stringify(head));
        assert.ok(await client.closedByServer());
      } finally {
        client.close();
      }
    }
  } finally {
    await server.stop(0);
  }
});

Deno.test("serveHttp1 answers 505 to the HTTP/2 preface when no h2c handler is set", async () => {
  await withServer(() => new HttpResponse(200), {}, async (client) => {
    await client.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert.equal((await client.readResponse()).status, 505);
  });
});

Deno.test("serveHttp1 answers 431 to a head larger than maxHeadBytes", async () => {
  await withServer(describe, { maxHeadBytes: 1024 }, async (client) => {
    await client.write(`GET / HTTP/1.1\r\nHost: test\r\nX-Big: ${"b".repeat(8000)}\r\n\r\n`);
    const response = await client.readResponse();
    assert.equal(response.status, 431);
    assert.equal(response.reason, "Request Header Fields Too Large");
    assert.match(text(response), /request head larger than 1024 bytes/);
    assert.equal(header(response, "connection"), "close");
  });
});

Deno.test("serveHttp1 answers 431 to a head that grows past maxHeadBytes slowly", async () => {
  await withServer(describe, { maxHeadBytes: 1024 }, async (client) => {
    // 28 bytes, then 108-byte lines: the tenth line is the first past 1024
    // bytes, and nothing is sent after it, so the server has read it all.
    await client.write("GET / HTTP/1.1\r\nHost: test\r\n");
    for (let i = 0; i < 10; i++) {
      await client.write(`X-H${i}: ${"v".repeat(100)}\r\n`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const response = await client.readResponse();
    assert.equal(response.status, 431);
  });
});

Deno.test("serveHttp1 answers 414 to a request line longer than maxHeadBytes", async () => {
  await withServer(describe, { maxHeadBytes: 1024 }, async (client) => {
    await client.write(`GET /${"p".repeat(8000)} HTTP/1.1\r\nHost: test\r\n\r\n`);
    const response = await client.readResponse();
    assert.equal(response.status, 414);
    assert.match(text(response), /request line longer than 1024 bytes/);
  });
});

Deno.test("serveHttp1 refuses a request line that cannot be HTTP before its line end arrives", async () => {
  // A TLS ClientHello (an https:// URL at a plain port) holds no line end to wait for.
  await withServer(describe, {}, async (client) => {
    await client.write("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03");
    const response = await client.readResponse();
    assert.equal(response.status, 400);
    assert.match(text(response), /a TLS handshake sent to a plain HTTP port/);
  });
  await withServer(describe, {}, async (client) => {
    await client.write("GE(T / HTT");
    const response = await client.readResponse();
    assert.equal(response.status, 400);
    assert.match(text(response), /invalid method "GE\(T \/ HTT": not an HTTP\/1.x request/);
  });
  // A method arriving byte by byte is waited for as before.
  await withServer(describe, {}, async (client) => {
    for (const part of ["\r\nG", "ET", " / HTTP/1.1\r\nHost: test\r\n\r\n"]) {
      await client.write(part);
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal((await client.readResponse()).status, 200);
  });
});

Deno.test({
  name: "serveHttp1 answers 431 to an oversized head that arrives in one piece",
  async fn() {
    await withServer(describe, { maxHeadBytes: 1024 }, async (client) => {
      await client.write(`GET / HTTP/1.1\r\nHost: test\r\nX-Big: ${"b".repeat(2500)}\r\n\r\n`);
      assert.equal((await client.readResponse()).status, 431);
    });
  },
});

Deno.test("serveHttp1 answers 500 and closes when the handler throws", async () => {
  const handler = (request: HttpRequest) => {
    if (request.path === "/sync") throw new Error("boom sync");
    return Promise.reject(new Error("boom async"));
  };
  const server = start(handler);
  try {
    for (const path of ["/sync", "/async"]) {
      const client = await RawClient.open(server.port);
      try {
        await client.write(get(path));
        const response = await client.readResponse();
        assert.equal(response.status, 500);
        assert.equal(text(response), "500 internal error\n", "no internals leak to the client");
        assert.equal(header(response, "connection"), "close");
        assert.ok(await client.closedByServer());
      } finally {
        client.close();
      }
    }
    assert.equal(server.errors.length, 2);
    assert.match(server.errors[0], /HTTP\/1\.1 handler: .*boom sync/);
    assert.match(server.errors[1], /boom async/);
  } finally {
    await server.stop(0);
  }
});

Deno.test("serveHttp1 closes the connection when the handler's response says Connection: close", async () => {
  const handler = () => new HttpResponse(200, { connection: "close" }, "bye");
  await withServer(handler, {}, async (client) => {
    await client.write(get("/bye") + get("/never"));
    const response = await client.readResponse();
    assert.equal(text(response), "bye");
    assert.deepEqual(headerAll(response, "connection"), ["close"]);
    assert.ok(await client.closedByServer());
  });
});

Deno.test("serveHttp1 closes the connection after answering a request that said Connection: close", async () => {
  await withServer(describe, {}, async (client) => {
    await client.write(get("/last", "Connection: close\r\n") + get("/never"));
    const response = await client.readResponse();
    assert.equal(text(response), "GET /last");
    assert.equal(header(response, "connection"), "close");
    assert.ok(await client.closedByServer());
  });
});

// ---------------------------------------------------------------------------
// Connection management.

Deno.test("serveHttp1 keeps nothing of an answered exchange while the connection waits", async () => {
  // A suspended async frame keeps whatever its registers last held: an idle
  // connection must not pin its last request and response (and body).
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  let lastRequest: WeakRef<HttpRequest> | undefined;
  let lastResponse: WeakRef<HttpResponse> | undefined;
  const handler = (request: HttpRequest) => {
    const response = new HttpResponse(200, {}, new Uint8Array(256 * 1024));
    lastRequest = new WeakRef(request);
    lastResponse = new WeakRef(response);
    return response;
  };
  await withServer(handler, {}, async (client) => {
    for (const path of ["/a", "/b"]) {
      await client.write(get(path));
      assert.equal((await client.readResponse()).body.length, 256 * 1024);
    }
    // The server is back waiting for the next head; WeakRefs hold their
    // targets until the current task ends, so collect in a later one.
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The isolate's shape anchors hold the newest request and response until
    // the next heap trim, on purpose; what is looked for here is the connection.
    releaseShapeAnchors();
    gc();
    assert.equal(lastRequest?.deref(), undefined, "the last request is kept");
    assert.equal(lastResponse?.deref(), undefined, "the last response is kept");
  });
});

Deno.test("serveHttp1 closes a connection left idle past keepAliveTimeoutMs", async () => {
  await withServer(describe, { keepAliveTimeoutMs: 1500 }, async (client) => {
    await client.write(get("/once"));
    assert.equal((await client.readResponse()).status, 200);
    // Stay idle: the server's sweep closes the connection (read guard: 10 s).
    assert.ok(await client.closedByServer());
  });
});

Deno.test("serveHttp1 keeps a connection idle for less than keepAliveTimeoutMs open", async () => {
  // The idle clock is coarse (one sweep a second): a connection must never
  // be closed before it has really waited the whole limit.
  await withServer(describe, { keepAliveTimeoutMs: 2000 }, async (client) => {
    for (let i = 0; i < 3; i++) {
      await client.write(get(`/${i}`));
      assert.equal(text(await client.readResponse()), `GET /${i}`);
      if (i < 2) await new Promise((r) => setTimeout(r, 1900));
    }
  });
});

Deno.test("serveHttp1 closes a connection whose head never completes past keepAliveTimeoutMs", async () => {
  await withServer(describe, { keepAliveTimeoutMs: 1500 }, async (client) => {
    await client.write("GET /slow HTTP/1.1\r\nHost: te");
    assert.ok(await client.closedByServer());
  });
});

Deno.test("serveHttp1 closes a connection whose request body stalls past keepAliveTimeoutMs", async () => {
  await withServer(echo, { keepAliveTimeoutMs: 1500 }, async (client) => {
    await client.write("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    assert.ok(await client.closedByServer());
  });
});

Deno.test("serveHttp1 keeps a request body that arrives slowly but steadily", async () => {
  await withServer(echo, { keepAliveTimeoutMs: 1500 }, async (client) => {
    await client.write("POST /drip HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\n");
    for (const byte of "drip") {
      await new Promise((r) => setTimeout(r, 900));
      await client.write(byte);
    }
    assert.equal(text(await client.readResponse()), "drip");
  });
});

Deno.test("serveHttp1 drops an unread body that arrives slowly but steadily and serves the next request", async () => {
  const handler = (request: HttpRequest) => new HttpResponse(401, {}, request.path);
  await withServer(handler, { keepAliveTimeoutMs: 1500 }, async (client) => {
    await client.write("POST /u HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n");
    assert.equal((await client.readResponse()).status, 401);
    // Each byte well within the timeout, all of them past it.
    for (const byte of "drips") {
      await new Promise((r) => setTimeout(r, 900));
      await client.write(byte);
    }
    await client.write(get("/next"));
    assert.equal(text(await client.readResponse()), "/next");
  });
});

Deno.test("serveHttp1 closes a connection whose client stops taking its response", async () => {
  const cancelled = deferred<string>();
  const chunk = new Uint8Array(64 * 1024);
  const handler = () =>
    new HttpResponse(
      200,
      {},
      new ReadableStream<Uint8Array>({
        pull: (controller) => controller.enqueue(chunk),
        cancel: () => cancelled.resolve("cancelled"),
      }),
    );
  await withServer(handler, { keepAliveTimeoutMs: 1500 }, async (client) => {
    await client.write(get("/endless"));
    // Never read: the socket's buffers fill and the server's write waits.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      cancelled.promise,
      new Promise<string>((r) => timer = setTimeout(() => r("still writing"), 10_000)),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, "cancelled");
  });
});

Deno.test("serveHttp1 with maxConnections 1 accepts a second client only after the first leaves", async () => {
  const order: string[] = [];
  const handler = (request: HttpRequest) => {
    order.push(request.path);
    return describe(request);
  };
  const server = start(handler, { maxConnections: 1 });
  const first = await RawClient.open(server.port);
  let second: RawClient | undefined;
  try {
    await first.write(get("/first-1"));
    assert.equal(text(await first.readResponse()), "GET /first-1");
    // The kernel completes the handshake; the server does not accept yet.
    second = await RawClient.open(server.port);
    await second.write(get("/second"));
    await first.write(get("/first-2"));
    assert.equal(text(await first.readResponse()), "GET /first-2");
    assert.deepEqual(order, ["/first-1", "/first-2"], "the second client is still waiting");
    first.close();
    assert.equal(text(await second.readResponse()), "GET /second");
    assert.deepEqual(order, ["/first-1", "/first-2", "/second"]);
  } finally {
    first.close();
    second?.close();
    await server.stop(0);
  }
});

Deno.test("serveHttp1 shutdown closes idle connections after a short grace, not graceMs", async () => {
  const server = start(describe);
  const client = await RawClient.open(server.port);
  try {
    await client.write(get("/before"));
    assert.equal((await client.readResponse()).status, 200);
    // A long grace period: it must not be waited out for an idle connection.
    await server.stop(60_000);
    assert.ok(await client.closedByServer());
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: server.port }),
      Deno.errors.ConnectionRefused,
    );
  } finally {
    client.close();
    await server.stop(0);
  }
});

Deno.test("serveHttp1 shutdown answers a request that comes on an idle connection just after it starts", async () => {
  const server = start(describe);
  const client = await RawClient.open(server.port);
  try {
    await client.write(get("/before"));
    assert.equal((await client.readResponse()).status, 200);
    const stopping = server.stop(60_000);
    // A keep-alive client sends its next request as the listener is
    // replaced (an update that restarts it): answered, not reset.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await client.write(get("/next"));
    const response = await client.readResponse();
    assert.equal(text(response), "GET /next");
    assert.equal(header(response, "connection"), "close");
    assert.ok(await client.closedByServer());
    await stopping;
  } finally {
    client.close();
    await server.stop(0);
  }
});

Deno.test("serveHttp1 shutdown lets an in-flight request finish, then closes", async () => {
  const started = deferred();
  const release = deferred();
  const handler = async (request: HttpRequest) => {
    started.resolve();
    await release.promise;
    return describe(request);
  };
  const server = start(handler);
  const client = await RawClient.open(server.port);
  try {
    await client.write(get("/slow"));
    await started.promise;
    const stopping = server.stop(60_000);
    release.resolve();
    const response = await client.readResponse();
    assert.equal(text(response), "GET /slow");
    assert.equal(header(response, "connection"), "close", "a draining server ends keep-alive");
    assert.ok(await client.closedByServer());
    await stopping;
  } finally {
    release.resolve();
    client.close();
    await server.stop(0);
  }
});

Deno.test("serveHttp1 shutdown closes busy connections once graceMs runs out", async () => {
  const started = deferred();
  const release = deferred();
  const handler = async () => {
    started.resolve();
    await release.promise;
    return new HttpResponse(200, {}, "late");
  };
  const server = start(handler);
  const client = await RawClient.open(server.port);
  try {
    await client.write(get("/stuck"));
    await started.promise;
    await server.stop(200);
    // The handler is still waiting, but its connection is gone.
    assert.ok(await client.closedByServer());
  } finally {
    release.resolve();
    client.close();
    await server.stop(0);
  }
});

Deno.test({
  name: "serveHttp1 shutdown may be called twice",
  async fn() {
    const server = serveHttp1({
      hostname: "127.0.0.1",
      port: 0,
      keepAliveTimeoutMs: 0,
      maxConnections: 0,
      handler: () => new HttpResponse(200),
    });
    await server.shutdown(0);
    await server.shutdown(0);
  },
});

for (const way of ["signal", "abortWatch"] as const) {
  Deno.test(`serveHttp1 aborts the client's ${way} when the client closes during the handler`, async () => {
    const started = deferred();
    const aborted = deferred<boolean>();
    const handler = async (_request: HttpRequest, peer: PeerClient) => {
      const watch = peer[way];
      assert.equal(watch.aborted, false);
      started.resolve();
      await new Promise<void>((resolve) => watch.addEventListener("abort", () => resolve()));
      aborted.resolve(watch.aborted);
      return new HttpResponse(200, {}, "nobody listens");
    };
    const server = start(handler);
    const client = await RawClient.open(server.port);
    try {
      await client.write(get("/wait"));
      await started.promise;
      client.close();
      assert.equal(await aborted.promise, true);
    } finally {
      client.close();
      await server.stop(0);
    }
  });
}

Deno.test({
  name: "serveHttp1 forgets abortWatch listeners of answered requests on a kept connection",
  async fn() {
    const started = deferred();
    const calls: string[] = [];
    const done = deferred();
    const handler = (request: HttpRequest, peer: PeerClient) => {
      const watch = peer.abortWatch;
      // Left registered on purpose: the answer must end it.
      watch.addEventListener("abort", () => calls.push(request.path));
      if (request.path === "/first") return new HttpResponse(200, {}, "first");
      started.resolve();
      return new Promise<HttpResponse>((resolve) => {
        watch.addEventListener("abort", () => {
          done.resolve();
          resolve(new HttpResponse(200, {}, "second"));
        });
      });
    };
    const server = start(handler);
    const client = await RawClient.open(server.port);
    try {
      await client.write(get("/first"));
      assert.equal(text(await client.readResponse()), "first");
      await client.write(get("/second"));
      await started.promise;
      client.close();
      await done.promise;
      assert.deepEqual(calls, ["/second"]);
    } finally {
      client.close();
      await server.stop(0);
    }
  },
});

Deno.test("serveHttp1 keeps the next request's bytes read while watching the client", async () => {
  // The signal's watch reads ahead; what it reads must become the next request.
  const handler = async (request: HttpRequest, peer: PeerClient) => {
    const signal = peer.signal;
    if (request.path === "/watch") await new Promise((r) => setTimeout(r, 50));
    return new HttpResponse(200, {}, `${request.path} aborted=${signal.aborted}`);
  };
  await withServer(handler, {}, async (client) => {
    await client.write(get("/watch"));
    await client.write(get("/next"));
    assert.equal(text(await client.readResponse()), "/watch aborted=false");
    assert.equal(text(await client.readResponse()), "/next aborted=false");
  });
});

Deno.test({
  name: "serveHttp1 reads a pipelined request's body after a handler watched the client",
  async fn() {
    const handler = (request: HttpRequest, peer: PeerClient) => {
      if (request.path === "/watch") {
        void peer.signal;
        return new HttpResponse(200, {}, "watched");
      }
      return echo(request);
    };
    await withServer(handler, {}, async (client) => {
      await client.write(
        get("/watch") + "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\n",
      );
      assert.equal(text(await client.readResponse()), "watched");
      await new Promise((r) => setTimeout(r, 50));
      await client.write("hello");
      assert.equal(text(await client.readResponse()), "hello");
    });
  },
});

Deno.test({
  name: "serveHttp1 aborts the signal of a request whose predecessor watched the client",
  async fn() {
    const started = deferred();
    const outcome = deferred<string>();
    const handler = async (request: HttpRequest, peer: PeerClient) => {
      const signal = peer.signal;
      if (request.path === "/first") {
        // Let "/second" arrive through the read-ahead.
        await new Promise((r) => setTimeout(r, 100));
        return new HttpResponse(200, {}, "first");
      }
      started.resolve();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const result = await Promise.race([
        new Promise<string>((r) => signal.addEventListener("abort", () => r("aborted"))),
        new Promise<string>((r) => timer = setTimeout(() => r("never aborted"), 3000)),
      ]);
      clearTimeout(timer);
      outcome.resolve(result);
      return new HttpResponse(200, {}, "second");
    };
    const server = start(handler);
    const client = await RawClient.open(server.port);
    try {
      await client.write(get("/first"));
      await client.write(get("/second"));
      assert.equal(text(await client.readResponse()), "first");
      await started.promise;
      client.close();
      assert.equal(await outcome.promise, "aborted");
    } finally {
      client.close();
      await server.stop(0);
    }
  },
});

// ---------------------------------------------------------------------------
// h2c hand-over.

/** An `h2` option handing h2c connections to `take`, tracked by the server until it is done. */
function h2cTaker(take: (socket: Deno.Conn, received: Uint8Array) => unknown) {
  return (socket: Deno.Conn, host: ConnectionHost, received?: Uint8Array): ServedConnection => {
    const conn: ServedConnection = {
      waitingSince: 0,
      idle: false,
      close() {
        try {
          socket.close();
        } catch { /* closed already */ }
      },
    };
    Promise.resolve(take(socket, received!)).finally(() => host.closed(conn));
    return conn;
  };
}

Deno.test("serveHttp1 hands a connection that opens with the HTTP/2 preface to h2c", async () => {
  const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  // An empty SETTINGS frame follows the preface, as a real client sends it.
  const settings = new Uint8Array([0, 0, 0, 4, 0, 0, 0, 0, 0]);
  const sent = concat([encoder.encode(preface), settings]);
  const taken = deferred<Uint8Array>();
  let handlerCalled = false;
  const h2c = (socket: Deno.Conn, received: Uint8Array) => {
    return (async () => {
      // Whatever did not come with `received` is still on the socket.
      const all = [received];
      let size = received.length;
      const buf = new Uint8Array(1024);
      while (size < sent.length) {
        const n = await socket.read(buf);
        if (n === null) break;
        all.push(buf.slice(0, n));
        size += n;
      }
      await socket.write(encoder.encode("h2c took over"));
      socket.close();
      taken.resolve(concat(all));
    })();
  };
  const handler = () => {
    handlerCalled = true;
    return new HttpResponse(200);
  };
  await withServer(handler, { h2: h2cTaker(h2c) }, async (client) => {
    await client.write(sent);
    assert.deepEqual(await taken.promise, sent);
    assert.equal(decoder.decode(await client.readUntilClose()), "h2c took over");
    assert.equal(handlerCalled, false);
  });
});

Deno.test("serveHttp1 gives h2c the bytes it received with the preface", async () => {
  const received = deferred<Uint8Array>();
  const h2c = (socket: Deno.Conn, bytes: Uint8Array) => {
    received.resolve(bytes);
    socket.close();
  };
  await withServer(() => new HttpResponse(200), { h2: h2cTaker(h2c) }, async (client) => {
    await client.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    const bytes = await received.promise;
    const text = decoder.decode(bytes);
    assert.ok(text.startsWith("PRI * HTTP/2.0\r\n"), JSON.stringify(text));
    assert.ok("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".startsWith(text));
    await client.readUntilClose();
  });
});

Deno.test("serveHttp1 serves HTTP/1.1 as usual when an h2c handler is set", async () => {
  let h2cCalled = false;
  const h2c = (socket: Deno.Conn) => {
    h2cCalled = true;
    socket.close();
  };
  await withServer(describe, { h2: h2cTaker(h2c) }, async (client) => {
    // "P" starts like the preface but the request is ordinary HTTP/1.1.
    await client.write("POST /p HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n");
    assert.equal(text(await client.readResponse()), "POST /p");
    // Only the first bytes of a connection can be a preface.
    await client.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert.equal((await client.readResponse()).status, 505);
    assert.equal(h2cCalled, false);
  });
});

Deno.test("serveHttp1 lets a refused client read the answer while it is still sending", async () => {
  const handler = () => new HttpResponse(413, undefined, "too large");
  await withServer(handler, {}, async (client) => {
    // The head and part of the body arrive together; the handler never reads the body.
    await client.write(
      `POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 400000\r\n\r\n${"x".repeat(60_000)}`,
    );
    // The rest comes after the answer went out: a socket closed with unread
    // input would reset the connection and the answer would be lost.
    await new Promise((r) => setTimeout(r, 200));
    await client.write("x".repeat(340_000));
    const response = await client.readResponse();
    assert.equal(response.status, 413);
    assert.equal(header(response, "connection"), "close");
    assert.ok(await client.closedByServer());
  });
});

for (const asker of ["request", "response"]) {
  Deno.test(`serveHttp1 lets a client read the answer while it is still sending when the ${asker} asks to close`, async () => {
    const close = { connection: "close" };
    const handler = () => new HttpResponse(401, asker === "response" ? close : undefined, "no");
    await withServer(handler, {}, async (client) => {
      // A body small enough to drop, but the connection is to close.
      await client.write(
        "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 200000\r\n" +
          (asker === "request" ? "Connection: close\r\n\r\n" : "\r\n"),
      );
      await new Promise((r) => setTimeout(r, 100));
      // Sent after the answer went out: a socket closed on it would reset the upload.
      for (let i = 0; i < 20; i++) {
        await client.write("x".repeat(10_000));
        await new Promise((r) => setTimeout(r, 5));
      }
      const response = await client.readResponse();
      assert.equal(response.status, 401);
      assert.equal(header(response, "connection"), "close");
      assert.ok(await client.closedByServer());
    });
  });
}

// ---------------------------------------------------------------------------
// TLS.

Deno.test("serveHttp1: accepted connections have TCP_NODELAY, plain and TLS", async () => {
  const { makeSelfSignedCert } = await import("../../../tools/self_signed_cert.ts");
  const { tcpNoDelayOf } = await import("../../fixtures/socket_options.ts");
  const cert = await makeSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
  const handler = () => new HttpResponse(200, {}, "ok");
  const plain = start(handler);
  const tls = start(handler, { tls: { cert: cert.cert, key: cert.key } });
  const clients: Deno.Conn[] = [];
  try {
    for (const [server, secure] of [[plain, false], [tls, true]] as const) {
      const options = { hostname: "127.0.0.1", port: server.port };
      const client = secure
        ? await Deno.connectTls({ ...options, caCerts: [cert.cert] })
        : await Deno.connect(options);
      clients.push(client);
      await client.write(encoder.encode(get("/")));
      // Answered: the server has accepted and set the connection up.
      assert.ok((await client.read(new Uint8Array(4096))) !== null);
      assert.equal(tcpNoDelayOf(client.localAddr, "peer"), 1, secure ? "TLS" : "plain");
    }
  } finally {
    for (const client of clients) client.close();
    await plain.stop(0);
    await tls.stop(0);
    await Deno.remove(cert.dir, { recursive: true });
  }
});

Deno.test("serveHttp1 over TLS: requests say https; a client that never handshakes loses its slot and socket", async () => {
  const { makeSelfSignedCert } = await import("../../../tools/self_signed_cert.ts");
  const cert = await makeSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
  const server = start(
    (request) => new HttpResponse(200, {}, `${request.scheme} ${request.proto}`),
    { tls: { cert: cert.cert, key: cert.key }, keepAliveTimeoutMs: 1000, maxConnections: 1 },
  );
  // Plain TCP, no ClientHello: it takes the only slot until its handshake times out.
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const guard = setTimeout(() => server.stop(0), READ_GUARD_MS);
  try {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: server.port,
      caCerts: [cert.cert],
    });
    await conn.write(encoder.encode(get("/", "Connection: close\r\n")));
    const text = decoder.decode(await new Response(conn.readable).arrayBuffer());
    assert.match(text, /^HTTP\/1\.1 200 [\s\S]*\r\n\r\nhttps HTTP\/1\.1$/);
    // Its TCP connection is closed too, not only its slot: the runtime would
    // keep it open for as long as the client stays silent.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = await Promise.race([
      silent.read(new Uint8Array(16)),
      new Promise<"open">((resolve) => timer = setTimeout(() => resolve("open"), 3000)),
    ]);
    clearTimeout(timer);
    assert.equal(read, null, "the silent client's connection was closed by the server");
  } finally {
    clearTimeout(guard);
    silent.close();
    await server.stop(0);
    await Deno.remove(cert.dir, { recursive: true });
  }
});

Deno.test("serveHttp1 over TLS: a handshake that ends while the server drains is served, not dropped", async () => {
  const { makeSelfSignedCert } = await import("../../../tools/self_signed_cert.ts");
  const cert = await makeSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
  const server = start(describe, { tls: { cert: cert.cert, key: cert.key } });
  // Plain TCP first, so the connection is accepted before the drain and
  // its handshake runs after it starts.
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stopping = server.stop(60_000);
    const conn = await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts: [cert.cert] });
    await conn.write(encoder.encode(get("/late")));
    const answer = decoder.decode(await new Response(conn.readable).arrayBuffer());
    assert.match(answer, /^HTTP\/1\.1 200 [\s\S]*connection: close\r\n[\s\S]*\r\n\r\nGET \/late$/i);
    await stopping;
  } finally {
    await server.stop(0);
    await Deno.remove(cert.dir, { recursive: true });
  }
});

/**
 * Uploads `size` body bytes in 64 KiB writes without reading, as a client
 * busy sending does, and stops at the first failed write; returns how many
 * bytes the server took.
 */
async function uploadPastAnswer(client: RawClient, size: number): Promise<number> {
  const piece = new Uint8Array(64 * 1024).fill(120);
  let sent = 0;
  try {
    while (sent < size) {
      sent += await client.conn.write(piece.subarray(0, Math.min(piece.length, size - sent)));
    }
  } catch {
    // Reset or shut: what matters is whether the answer can still be read.
  }
  return sent;
}

Deno.test("serveHttp1 keeps an early answer readable for a client that uploads megabytes past it", async () => {
  const handler = () => new HttpResponse(413, undefined, "early");
  const server = start(handler);
  try {
    // A reset loses the answer only some of the time: several rounds, both framings.
    for (let round = 0; round < 6; round++) {
      const chunked = round % 2 === 1;
      const size = 16 * 1024 * 1024;
      const client = await RawClient.open(server.port);
      try {
        await client.write(
          `POST /upload HTTP/1.1\r\nHost: test\r\n` +
            (chunked
              ? "Transfer-Encoding: chunked\r\n\r\n1000000\r\n"
              : `Content-Length: ${size}\r\n\r\n`),
        );
        const sent = await uploadPastAnswer(client, size);
        const response = await client.readResponse();
        assert.equal(response.status, 413, `round ${round}`);
        assert.equal(text(response), "early", `round ${round}`);
        // A chunked body may yet end within what is dropped to keep the connection.
        assert.equal(header(response, "connection"), chunked ? null : "close");
        // The server drained the upload rather than resetting it.
        assert.equal(sent, size, `round ${round}: the upload failed after ${sent} bytes`);
        assert.ok(await client.closedByServer());
      } finally {
        client.close();
      }
    }
  } finally {
    await server.stop(0);
  }
});

Deno.test("serveHttp1 stops draining a refused client that never stops sending", async () => {
  const handler = () => new HttpResponse(413, undefined, "early");
  await withServer(handler, {}, async (client) => {
    await client.write(
      "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 1000000000000\r\n\r\n",
    );
    const started = Date.now();
    // Sends until the server closes: its byte or time budget must end it.
    const sent = await uploadPastAnswer(client, Number.MAX_SAFE_INTEGER);
    const elapsed = Date.now() - started;
    assert.ok(sent < Number.MAX_SAFE_INTEGER);
    assert.ok(elapsed < 5000, `still taken after ${elapsed} ms`);
  });
});

Deno.test("serveHttp1 answers 400 naming the header whose value holds a control char", async () => {
  let called = false;
  const handler = () => {
    called = true;
    return new HttpResponse(200, undefined, "ok");
  };
  for (const value of ["a\x01b", "a\x7fb"]) {
    await withServer(handler, {}, async (client) => {
      await client.write(get("/", `X-Ctl: ${value}\r\n`));
      const response = await client.readResponse();
      assert.equal(response.status, 400);
      assert.match(text(response), /invalid header "X-Ctl"/);
      assert.ok(await client.closedByServer());
    });
  }
  assert.equal(called, false);
});

Deno.test("serveHttp1 hands the socket to a ConnectionUpgrade, with the bytes after the head", async () => {
  const seen = deferred<string>();
  const upgrade = () =>
    new ConnectionUpgrade(async (conn) => {
      // What came with the head, then what the client sends after the switch.
      let got = decoder.decode(conn.buf.subarray(conn.start, conn.end));
      conn.start = conn.end;
      await conn.write(encoder.encode("HTTP/1.1 101 Switching Protocols\r\n\r\n"));
      while (got.length < "earlylate".length && await conn.fill()) {
        got += decoder.decode(conn.buf.subarray(conn.start, conn.end));
        conn.start = conn.end;
      }
      await conn.write(encoder.encode(`got:${got}`));
      conn.socket.close();
      seen.resolve(got);
    });
  const handler = (request: HttpRequest) => request.path === "/up" ? upgrade() : describe(request);
  await withServer(handler, { port: 32310 }, async (client, server) => {
    // A request before the upgrade on the same connection is served as usual.
    await client.write(get("/a") + get("/up") + "early");
    assert.equal(text(await client.readResponse()), "GET /a");
    const switched = await client.readHead();
    assert.equal(switched.status, 101);
    await client.write("late");
    assert.equal(await seen.promise, "earlylate");
    assert.equal(decoder.decode(await client.readUntilClose()), "got:earlylate");
    assert.deepEqual(server.errors, []);
  });
  // An upgrade request whose body is still to come is refused: its bytes are no new protocol's.
  await withServer(handler, { port: 32311 }, async (client) => {
    await client.write("GET /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    const refused = await client.readResponse();
    assert.equal(refused.status, 400);
    assert.match(text(refused), /no body/);
  });
});
