/**
 * HTTP/2 sessions on the HTTP/1.1 server's listeners: through the runtime's
 * own HTTP/2 client over TLS (requests, bodies both ways, streaming), and
 * through a raw client over h2c for what a library client never sends
 * (protocol errors, floods, flow control at its edges, idle closing).
 */

import assert from "node:assert/strict";
import { type HttpRequest, HttpResponse } from "../../../filters/context.ts";
import type { PeerClient } from "../../../server/httpserver/client.ts";
import { serveHttp1 } from "../../../server/httpserver/http1/server.ts";
import { Http2Session, MAX_CONCURRENT_STREAMS } from "../../../server/http2/session.ts";
import { makeSelfSignedCert } from "../../../tools/self_signed_cert.ts";
import {
  frame,
  get,
  headerBlock,
  RawH2Client,
  settings,
  uint32,
} from "../../fixtures/raw_h2_client.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW: 8 };

type Handler = (request: HttpRequest, client: PeerClient) => HttpResponse | Promise<HttpResponse>;

/** Our server with HTTP/2 sessions: h2c when `cert` is absent, else TLS with ALPN. */
function serve(
  handler: Handler,
  options: {
    cert?: { cert: string; key: string };
    keepAliveTimeoutMs?: number;
    onError?: (message: string) => void;
  } = {},
) {
  return serveHttp1({
    hostname: "127.0.0.1",
    port: 0,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 0,
    maxConnections: 0,
    tls: options.cert,
    handler,
    onError: options.onError ?? ((message) => console.error(message)),
    h2: (socket, host, received) => new Http2Session(socket, host, received),
  });
}

/** A body of `parts` chunks, `gapMs` apart. */
function slowBody(parts: number, gapMs: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise((r) => setTimeout(r, gapMs));
      if (sent === parts) return controller.close();
      controller.enqueue(encoder.encode(`part ${sent++}\n`));
    },
  });
}

function statusOf(client: RawH2Client, payload: Uint8Array): string {
  return client.fields(payload).find(([name]) => name === ":status")![1];
}

function codeOf(payload: Uint8Array, at = 0): number {
  return new DataView(payload.buffer, payload.byteOffset).getUint32(at);
}

Deno.test("HTTP/2 over TLS: requests, bodies both ways, headers, and a slow body past keepAliveTimeout", async () => {
  const cert = await makeSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
  const handler = async (request: HttpRequest) => {
    if (request.path === "/slow") return new HttpResponse(200, {}, slowBody(3, 700));
    if (request.path === "/cookies") {
      return new HttpResponse(204, [["set-cookie", "a=1"], ["set-cookie", "b=2"]]);
    }
    const body = await request.bytes();
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", body as Uint8Array<ArrayBuffer>),
    );
    const line = `${request.method} ${request.scheme} ${request.proto} ${request.host} ` +
      `${request.path}?${request.query} ${body.length} ${digest.slice(0, 4).join(".")} ` +
      `${request.header("cookie")}\n`;
    return new HttpResponse(201, { "content-type": "text/plain" }, line);
  };
  // Four gaps of 700 ms: well past the idle limit and the sweep's margin.
  const server = serve(handler, { cert, keepAliveTimeoutMs: 500 });
  const client = Deno.createHttpClient({ caCerts: [cert.cert], http1: false, http2: true });
  const base = `https://127.0.0.1:${server.port}`;
  try {
    const empty = await crypto.subtle.digest("SHA-256", new Uint8Array(0));
    const emptyDigest = new Uint8Array(empty).slice(0, 4).join(".");
    const plain = await fetch(`${base}/a/b?x=1`, { client, headers: { cookie: "k=v" } });
    assert.equal(plain.status, 201);
    assert.equal(plain.headers.get("content-type"), "text/plain");
    assert.ok(plain.headers.get("date"));
    const port = server.port;
    assert.equal(
      await plain.text(),
      `GET https HTTP/2 127.0.0.1:${port} /a/b?x=1 0 ${emptyDigest} k=v\n`,
    );
    // A megabyte sent in chunks: more than the stream's window, so it flows as it is read.
    const big = new Uint8Array(1024 * 1024).map((_, i) => (i * 7) & 0xff);
    const expected = new Uint8Array(await crypto.subtle.digest("SHA-256", big)).slice(0, 4);
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < big.length; at += 100_000) {
          controller.enqueue(big.slice(at, at + 100_000));
        }
        controller.close();
      },
    });
    const posted = await fetch(`${base}/up`, { client, method: "POST", body: chunks });
    assert.match(await posted.text(), new RegExp(` ${big.length} ${expected.join("\\.")} `));
    const head = await fetch(`${base}/h`, { client, method: "HEAD" });
    assert.equal(head.status, 201);
    const headLine = `HEAD https HTTP/2 127.0.0.1:${port} /h? 0 ${emptyDigest} null\n`;
    assert.equal(head.headers.get("content-length"), String(headLine.length));
    assert.equal(await head.text(), "");
    const cookies = await fetch(`${base}/cookies`, { client });
    assert.deepEqual(cookies.headers.getSetCookie(), ["a=1", "b=2"]);
    await cookies.body?.cancel();
    // Many streams at once on the one connection.
    const many = await Promise.all(
      Array.from(
        { length: 100 },
        (_, i) => fetch(`${base}/n${i}`, { client }).then((r) => r.text()),
      ),
    );
    many.forEach((text, i) => assert.ok(text.includes(` /n${i}? `), text));
    const slow = await fetch(`${base}/slow`, { client });
    assert.equal(await slow.text(), "part 0\npart 1\npart 2\n");
  } finally {
    client.close();
    await server.shutdown(0);
    await Deno.remove(cert.dir, { recursive: true });
  }
});

Deno.test("HTTP/2: a session whose streams wait on a silent client closes after keepAliveTimeout", async () => {
  const server = serve(async (request) => {
    const body = await request.bytes();
    return new HttpResponse(200, {}, body.length > 0 ? body : "hello");
  }, { keepAliveTimeoutMs: 1000 });
  try {
    // A body that stops short of its content-length.
    const stalled = await RawH2Client.connect(server.port);
    await stalled.request(1, get("/upload", [["content-length", "10"]]), false);
    await stalled.send(frame(FRAME.DATA, 0, 1, encoder.encode("abc")));
    let started = Date.now();
    await stalled.rest(6000);
    assert.ok(Date.now() - started < 6000);
    // A response the client gives no window to (SETTINGS_INITIAL_WINDOW_SIZE 0).
    const shut = await RawH2Client.connect(server.port, { settings: [[4, 0]] });
    await shut.request(1, get("/download"));
    started = Date.now();
    const frames = await shut.rest(6000);
    assert.ok(Date.now() - started < 6000);
    assert.ok(frames.some((f) => f.type === FRAME.HEADERS && f.streamId === 1));
    assert.ok(!frames.some((f) => f.type === FRAME.DATA && f.streamId === 1));
  } finally {
    await server.shutdown(0);
  }
});

Deno.test("HTTP/2: a session whose client stops reading the socket closes after keepAliveTimeout", async () => {
  let cancelled: (why: string) => void = () => {};
  const outcome = new Promise<string>((resolve) => cancelled = resolve);
  const chunk = new Uint8Array(64 * 1024);
  const server = serve(() =>
    new HttpResponse(
      200,
      {},
      new ReadableStream<Uint8Array>({
        pull: (controller) => controller.enqueue(chunk),
        cancel: () => cancelled("cancelled"),
      }),
    ), { keepAliveTimeoutMs: 1000 });
  // All the window there is, then never a read: the socket's buffers fill.
  const client = await RawH2Client.connect(server.port, { settings: [[4, 0x7fffffff]] });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await client.send(frame(FRAME.WINDOW, 0, 0, uint32(0x7fffffff - 65535)));
    await client.request(1, get("/endless"));
    const result = await Promise.race([
      outcome,
      new Promise<string>((r) => timer = setTimeout(() => r("still writing"), 10_000)),
    ]);
    assert.equal(result, "cancelled");
  } finally {
    clearTimeout(timer);
    client.close();
    await server.shutdown(0);
  }
});

Deno.test("HTTP/2: an idle session says GOAWAY and a PING, and closes once the client answers", async () => {
  const server = serve(() => new HttpResponse(200, {}, "ok"), { keepAliveTimeoutMs: 300 });
  try {
    for (const answer of [true, false]) {
      const client = await RawH2Client.connect(server.port);
      const seen: number[] = [];
      let goAwayAt = 0;
      for (;;) {
        const next = await client.read(8000);
        if (next === null) break;
        seen.push(next.type);
        if (next.type === FRAME.GOAWAY) {
          goAwayAt = Date.now();
          assert.equal(codeOf(next.payload, 4), 0);
        }
        if (next.type === FRAME.SETTINGS && !(next.flags & 1)) {
          await client.send(frame(FRAME.SETTINGS, 1, 0));
        }
        if (next.type === FRAME.PING && !(next.flags & 1) && answer) {
          await client.send(frame(FRAME.PING, 1, 0, next.payload));
        }
      }
      client.close();
      assert.ok(goAwayAt > 0, `frames: ${seen.join(" ")}`);
      const afterMs = Date.now() - goAwayAt;
      // Answered: at once; silent: after the session's second of grace.
      assert.ok(answer ? afterMs < 500 : afterMs < 3000, `closed ${afterMs} ms after GOAWAY`);
    }
  } finally {
    await server.shutdown(0);
  }
});

Deno.test("HTTP/2: an :authority or host that is an IPv6 address without brackets is served, as over HTTP/1.1", async () => {
  const server = serve((request) => new HttpResponse(200, {}, request.host));
  const client = await RawH2Client.connect(server.port);
  try {
    const requests: [string, string][][] = [
      [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "::1"]],
      [[":method", "GET"], [":scheme", "http"], [":path", "/"], ["host", "2001:db8::1"]],
    ];
    let id = 1;
    for (const fields of requests) {
      await client.request(id, fields);
      const headers = await client.until((f) => f.streamId === id);
      assert.equal(statusOf(client, headers.payload), "200", JSON.stringify(fields));
      const data = await client.until((f) => f.streamId === id && f.type === FRAME.DATA);
      assert.equal(decoder.decode(data.payload), fields[3][1]);
      id += 2;
    }
  } finally {
    client.close();
    await server.shutdown(0);
  }
});

Deno.test("HTTP/2: malformed requests reset their stream; the connection goes on", async () => {
  const server = serve((request) => new HttpResponse(200, {}, request.path));
  const client = await RawH2Client.connect(server.port);
  try {
    const bad: [string, string][][] = [
      get("/upper", [["X-Upper", "1"]]),
      get("/conn", [["connection", "keep-alive"]]),
      get("/te", [["te", "gzip"]]),
      [[":method", "GET"], [":path", "/no-scheme"], [":authority", "t"]],
      [...get("/late"), [":method", "GET"]],
      [[":method", "GET"], ["x", "1"], [":scheme", "http"], [":path", "/order"]],
      get("relative"),
      get("/nul", [["x", "a\0b"]]),
      get("/lead", [["x", " a"]]),
      get("/trail", [["x", "a\t"]]),
      // Nothing that could break the upstream HTTP/1.1 request line or head.
      [[":method", "GET / HTTP/1.1\r\nx: y\r\n\r\nGET"], [":scheme", "http"], [":path", "/"], [
        ":authority",
        "t",
      ]],
      [[":method", "G T"], [":scheme", "http"], [":path", "/"], [":authority", "t"]],
      [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "t x/y"]],
      [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "1::2::3"]],
      [[":method", "GET"], [":scheme", "ftp"], [":path", "/"], [":authority", "t"]],
      [[":method", "GET"], [":scheme", "http"], [":path", "/"]],
      get("/frag#x"),
      get("/other-host", [["host", "elsewhere"]]),
    ];
    let id = 1;
    for (const fields of bad) {
      await client.request(id, fields);
      const reset = await client.until((f) => f.streamId === id);
      assert.equal(reset.type, FRAME.RST_STREAM, JSON.stringify(fields));
      assert.equal(codeOf(reset.payload), 1, JSON.stringify(fields));
      id += 2;
    }
    // A PRIORITY frame making a stream depend on itself (RFC 9113 section 5.3.1).
    await client.send(frame(2, 0, id, new Uint8Array([0, 0, 0, id, 16])));
    const selfDependent = await client.until((f) => f.streamId === id);
    assert.deepEqual([selfDependent.type, codeOf(selfDependent.payload)], [FRAME.RST_STREAM, 1]);
    id += 2;
    // A body longer than its content-length.
    await client.send(
      frame(FRAME.HEADERS, 4, id, headerBlock([...get("/cl"), ["content-length", "2"]])),
      frame(FRAME.DATA, 1, id, encoder.encode("abc")),
    );
    const reset = await client.until((f) => f.streamId === id);
    assert.equal(reset.type, FRAME.RST_STREAM);
    id += 2;
    await client.request(id, get("/fine"));
    const headers = await client.until((f) => f.streamId === id);
    assert.equal(statusOf(client, headers.payload), "200");
    const data = await client.until((f) => f.streamId === id && f.type === FRAME.DATA);
    assert.equal(decoder.decode(data.payload), "/fine");
  } finally {
    client.close();
    await server.shutdown(0);
  }
});

Deno.test("HTTP/2: a request on a stream id already used or passed over has its stream reset, not ignored", async () => {
  const server = serve((request) => new HttpResponse(200, {}, request.path));
  const client = await RawH2Client.connect(server.port);
  try {
    await client.request(1, get("/first"));
    await client.until((f) => f.streamId === 1 && f.type === FRAME.DATA && (f.flags & 1) !== 0);
    // Stream 1 again, after it closed: its client waited for an answer that never came.
    await client.request(1, get("/again"));
    const again = await client.until((f) => f.streamId === 1);
    assert.deepEqual([again.type, codeOf(again.payload)], [FRAME.RST_STREAM, 5]);
    // Stream 5, then 3: the first use of 5 closed 3 (RFC 9113 section 5.1.1).
    await client.request(5, get("/five"));
    await client.until((f) => f.streamId === 5 && f.type === FRAME.DATA && (f.flags & 1) !== 0);
    await client.request(3, get("/three"));
    const three = await client.until((f) => f.streamId === 3);
    assert.deepEqual([three.type, codeOf(three.payload)], [FRAME.RST_STREAM, 5]);
    // The connection goes on.
    await client.request(7, get("/seven"));
    const data = await client.until((f) => f.streamId === 7 && f.type === FRAME.DATA);
    assert.equal(decoder.decode(data.payload), "/seven");
  } finally {
    client.close();
    await server.shutdown(0);
  }
});

Deno.test("HTTP/2: trailers end the body; malformed ones reset the stream as a malformed head does", async () => {
  const server = serve(async (request) => {
    const body = await request.bytes();
    return new HttpResponse(200, {}, `${body.length}`);
  });
  const client = await RawH2Client.connect(server.port);
  const post: [string, string][] = [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", "/up"],
    [":authority", "t"],
  ];
  const sendWithTrailers = (id: number, trailers: [string, string][]) =>
    client.send(
      frame(FRAME.HEADERS, 4, id, headerBlock(post)),
      frame(FRAME.DATA, 0, id, encoder.encode("abc")),
      frame(FRAME.HEADERS, 5, id, headerBlock(trailers)),
    );
  try {
    // RFC 9113 section 8.1: no pseudo-fields in trailers; section 8.2: the field rules of a head.
    const bad: [string, string][][] = [
      [[":path", "/other"]],
      [["x-sum", "1"], [":status", "200"]],
      [["X-Sum", "1"]],
      [["transfer-encoding", "chunked"]],
      [["x-sum", "a\0b"]],
      [["x-sum", " 1"]],
    ];
    let id = 1;
    for (const trailers of bad) {
      await sendWithTrailers(id, trailers);
      const reset = await client.until((f) => f.streamId === id);
      assert.equal(reset.type, FRAME.RST_STREAM, JSON.stringify(trailers));
      assert.equal(codeOf(reset.payload), 1, JSON.stringify(trailers));
      id += 2;
    }
    await sendWithTrailers(id, [["x-sum", "1"], ["x-other", "2"]]);
    const headers = await client.until((f) => f.streamId === id);
    assert.equal(headers.type, FRAME.HEADERS);
    assert.equal(statusOf(client, headers.payload), "200");
    const data = await client.until((f) => f.streamId === id && f.type === FRAME.DATA);
    assert.equal(decoder.decode(data.payload), "3");
  } finally {
    client.close();
    await server.shutdown(0);
  }
});

Deno.test("HTTP/2: connection errors end the session with GOAWAY and the error code", async () => {
  const server = serve(() => new HttpResponse(200));
  const cases: [string, Uint8Array[], number, boolean][] = [
    ["bad preface", [encoder.encode("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")], 1, false],
    ["DATA on stream 0", [frame(FRAME.DATA, 0, 0, new Uint8Array(1))], 1, true],
    ["even stream id", [frame(FRAME.HEADERS, 5, 2, headerBlock(get("/")))], 1, true],
    ["frame over 16 KB", [frame(FRAME.DATA, 0, 1, new Uint8Array(17_000))], 6, true],
    ["bad HPACK", [frame(FRAME.HEADERS, 5, 1, new Uint8Array([0x80]))], 9, true],
    ["PING of 4 bytes", [frame(FRAME.PING, 0, 0, new Uint8Array(4))], 6, true],
    [
      "HEADERS depending on its own stream",
      [frame(FRAME.HEADERS, 0x25, 1, new Uint8Array([0, 0, 0, 1, 16, ...headerBlock(get("/"))]))],
      1,
      true,
    ],
    [
      "CONTINUATION out of place",
      [
        frame(FRAME.HEADERS, 1, 1, headerBlock(get("/"))),
        frame(FRAME.PING, 0, 0, new Uint8Array(8)),
      ],
      1,
      true,
    ],
  ];
  try {
    for (const [what, frames, code, preface] of cases) {
      const client = await RawH2Client.connect(server.port, { preface });
      await client.send(...frames);
      const frames_ = await client.rest();
      client.close();
      const goAway = frames_.find((f) => f.type === FRAME.GOAWAY);
      assert.ok(goAway, `${what}: no GOAWAY in ${frames_.map((f) => f.type).join(" ")}`);
      assert.equal(codeOf(goAway.payload, 4), code, what);
    }
  } finally {
    await server.shutdown(0);
  }
});

Deno.test("HTTP/2: a client's SETTINGS_HEADER_TABLE_SIZE is acknowledged by a table size update opening the next header block", async () => {
  const server = serve(async (request) => {
    if (request.method === "POST") await request.bytes();
    return new HttpResponse(200, {}, "ok");
  });
  // A decoder that announced a smaller table requires the update (RFC 7541 section 4.2):
  // nghttp2's clients end the connection with COMPRESSION_ERROR without it.
  const client = await RawH2Client.connect(server.port, { settings: [[1, 0]] });
  const firstByte = async (id: number) => {
    await client.request(id, get("/"));
    const headers = await client.until((f) => f.streamId === id && f.type === FRAME.HEADERS);
    assert.equal(statusOf(client, headers.payload), "200");
    return headers.payload[0];
  };
  try {
    // 001xxxxx: a dynamic table size update; 0x20 sets the size to 0, which any limit allows.
    assert.equal(await firstByte(1), 0x20);
    assert.notEqual(await firstByte(3) & 0xe0, 0x20, "one update per SETTINGS");
    // A later change of the setting asks for another.
    await client.send(frame(FRAME.SETTINGS, 0, 0, settings([[1, 256]])));
    assert.equal(await firstByte(5), 0x20);
    assert.notEqual(await firstByte(7) & 0xe0, 0x20);
    // An interim 100 is the next block as much as a response is.
    await client.send(frame(FRAME.SETTINGS, 0, 0, settings([[1, 0]])));
    await client.request(9, [
      [":method", "POST"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "t"],
      ["expect", "100-continue"],
    ], false);
    const interim = await client.until((f) => f.streamId === 9 && f.type === FRAME.HEADERS);
    assert.equal(statusOf(client, interim.payload), "100");
    assert.equal(interim.payload[0], 0x20);
    await client.send(frame(FRAME.DATA, 1, 9, encoder.encode("x")));
    const final = await client.until((f) => f.streamId === 9 && f.type === FRAME.HEADERS);
    assert.equal(statusOf(client, final.payload), "200");
    assert.notEqual(final.payload[0] & 0xe0, 0x20);
  } finally {
    client.close();
    await server.shutdown(0);
  }
});

Deno.test("HTTP/2: a response waits for the client's window, and goes on after WINDOW_UPDATE", async () => {
  const body = new Uint8Array(1000).fill(120);
  const server = serve(() => new HttpResponse(200, {}, body));
  // SETTINGS_INITIAL_WINDOW_SIZE 100: each stream may get 100 bytes before an update.
  const client = await RawH2Client.connect(server.port, { settings: [[4, 100]] });
  try {
    await client.request(1, get("/"));
    let received = 0;
    for (;;) {
      const next = await client.read(300).catch(() => null);
      if (next === null) break;
      if (next.type === FRAME.DATA) received += next.payload.length;
    }
    assert.equal(received, 100);
    await client.send(frame(FRAME.WINDOW, 0, 1, uint32(900)));
    let ended = false;
    while (!ended) {
      const next = await client.until((f) => f.type === FRAME.DATA);
      received += next.payload.length;
      ended = (next.flags & 1) !== 0;
    }
    assert.equal(received, 1000);
  } finally {
    client.close();
    await server.shutdown(0);
  }
});

Deno.test("HTTP/2: too many streams are refused, large header lists get 431", async () => {
  const waiting: (() => void)[] = [];
  const server = serve((request) => {
    if (request.path === "/ok") return new HttpResponse(200);
    return new Promise((resolve) => waiting.push(() => resolve(new HttpResponse(200))));
  });
  const client = await RawH2Client.connect(server.port);
  try {
    let id = 1;
    for (let i = 0; i < MAX_CONCURRENT_STREAMS; i++, id += 2) {
      await client.request(id, get("/wait"));
    }
    await client.request(id, get("/wait"));
    const refused = await client.until((f) => f.streamId === id);
    assert.equal(refused.type, FRAME.RST_STREAM);
    assert.equal(codeOf(refused.payload), 7);
    for (const release of waiting) release();
    id += 2;
    await client.request(id, get("/ok", [["x-big", "v".repeat(70_000)]]));
    const tooLarge = await client.until((f) => f.streamId === id && f.type === FRAME.HEADERS);
    assert.equal(statusOf(client, tooLarge.payload), "431");
  } finally {
    client.close();
    await server.shutdown(0);
  }
});

Deno.test("HTTP/2: a client reset aborts its request; a reset flood ends the connection", async () => {
  const aborted = Promise.withResolvers<void>();
  const server = serve((_request, peer) => {
    peer.abortWatch.addEventListener("abort", () => aborted.resolve());
    return new Promise(() => {});
  });
  const client = await RawH2Client.connect(server.port);
  try {
    await client.request(1, get("/hang"));
    await new Promise((r) => setTimeout(r, 50));
    await client.send(frame(FRAME.RST_STREAM, 0, 1, uint32(8)));
    await aborted.promise;
    // Streams opened and reset at once, hundreds of them.
    const flood: Uint8Array[] = [];
    for (let id = 3; id < 3 + 2 * 400; id += 2) {
      flood.push(frame(FRAME.HEADERS, 5, id, headerBlock(get("/x"))));
      flood.push(frame(FRAME.RST_STREAM, 0, id, uint32(8)));
    }
    await client.send(...flood);
    const goAway = await client.until((f) => f.type === FRAME.GOAWAY);
    assert.equal(codeOf(goAway.payload, 4), 0xb);
  } finally {
    client.close();
    await server.shutdown(0);
  }
});

Deno.test("HTTP/2: a flood of empty CONTINUATION frames ends the connection", async () => {
  const server = serve(() => new HttpResponse(200));
  const client = await RawH2Client.connect(server.port);
  try {
    // Each empty frame adds nothing to the block, but was kept: memory grew without bound.
    const empty = frame(9, 0, 1, new Uint8Array(0));
    await client.send(frame(FRAME.HEADERS, 1, 1, headerBlock(get("/"))));
    for (let sent = 0; sent < 40_000; sent += 1000) {
      await client.send(...Array.from({ length: 1000 }, () => empty));
    }
    const goAway = await client.until((f) => f.type === FRAME.GOAWAY);
    assert.equal(codeOf(goAway.payload, 4), 0xb);
  } finally {
    client.close();
    await server.shutdown(0);
  }
});

Deno.test("HTTP/2: a response with Connection: close (keepAlive: false) ends the connection with GOAWAY once served", async () => {
  const server = serve((request) =>
    new HttpResponse(200, { connection: "close", "x-path": request.path }, "ok")
  );
  const client = await RawH2Client.connect(server.port);
  try {
    await client.request(1, get("/a"));
    let data = "";
    let goAwayLast = -1;
    for (;;) {
      const f = await client.read(3000);
      if (f === null) break;
      if (f.type === FRAME.DATA) data += decoder.decode(f.payload);
      if (f.type === FRAME.GOAWAY) goAwayLast = codeOf(f.payload);
      if (f.type === FRAME.PING && !(f.flags & 1)) {
        await client.send(frame(FRAME.PING, 1, 0, f.payload));
      }
    }
    // Served, then no more streams: the last GOAWAY names this one, and the connection ended.
    assert.equal(data, "ok");
    assert.equal(goAwayLast, 1);
  } finally {
    client.close();
    await server.shutdown(0);
  }
});

Deno.test("HTTP/2: a shutdown lets open streams finish, says GOAWAY and serves no new stream", async () => {
  const server = serve(async (request) => {
    if (request.path === "/slow") await new Promise((r) => setTimeout(r, 400));
    return new HttpResponse(200, {}, request.path);
  });
  const client = await RawH2Client.connect(server.port);
  try {
    await client.request(1, get("/slow"));
    await new Promise((r) => setTimeout(r, 100));
    const stopped = server.shutdown(5000);
    // Opened after the shutdown began: served, and named the last one in GOAWAY.
    await client.request(3, get("/late"));
    const seen = new Map<number, string>();
    let goAwayLast = -1;
    for (const f of await client.rest(3000)) {
      if (f.type === FRAME.GOAWAY) goAwayLast = codeOf(f.payload);
      if (f.type === FRAME.DATA) seen.set(f.streamId, decoder.decode(f.payload));
    }
    await stopped;
    assert.equal(seen.get(1), "/slow");
    assert.equal(seen.get(3), "/late");
    assert.equal(goAwayLast, 3);
  } finally {
    client.close();
  }
});

Deno.test("HTTP/2: a shutdown serves the streams a client had in flight, and names the last once its PING is answered", async () => {
  const server = serve(async (request) => {
    if (request.path === "/slow") await new Promise((r) => setTimeout(r, 300));
    return new HttpResponse(200, {}, request.path);
  });
  const client = await RawH2Client.connect(server.port);
  try {
    await client.request(1, get("/slow"));
    await new Promise((r) => setTimeout(r, 100));
    const stopped = server.shutdown(5000);
    // Sent together, before the client could see any GOAWAY: all of them are served.
    await client.send(
      ...[3, 5, 7].map((id) => frame(FRAME.HEADERS, 5, id, headerBlock(get(`/s${id}`)))),
    );
    const seen = new Map<number, string>();
    const goAways: number[] = [];
    for (;;) {
      const f = await client.read(3000);
      if (f === null) break;
      if (f.type === FRAME.GOAWAY) goAways.push(codeOf(f.payload));
      if (f.type === FRAME.DATA) seen.set(f.streamId, decoder.decode(f.payload));
      if (f.type === FRAME.PING && !(f.flags & 1)) {
        await client.send(frame(FRAME.PING, 1, 0, f.payload));
      }
    }
    await stopped;
    assert.deepEqual(
      [...seen].sort(([a], [b]) => a - b),
      [[1, "/slow"], [3, "/s3"], [5, "/s5"], [7, "/s7"]],
    );
    // First the highest stream id (take no more), then the last stream served.
    assert.deepEqual(goAways, [2 ** 31 - 1, 7]);
  } finally {
    client.close();
  }
});

Deno.test("HTTP/2: a shutdown tells a busy session's client at once to open no more streams", async () => {
  const server = serve(async (request) => {
    await new Promise((r) => setTimeout(r, 500));
    return new HttpResponse(200, {}, request.path);
  });
  const client = await RawH2Client.connect(server.port);
  try {
    await client.request(1, get("/slow"));
    await new Promise((r) => setTimeout(r, 100));
    const stopped = server.shutdown(5000);
    // Before its stream ends, and though the client opens none.
    const notice = await client.until((f) => f.type === FRAME.GOAWAY, 300);
    assert.equal(codeOf(notice.payload), 2 ** 31 - 1);
    let answered = "";
    for (const f of await client.rest(3000)) {
      if (f.type === FRAME.DATA) answered = decoder.decode(f.payload);
    }
    await stopped;
    assert.equal(answered, "/slow");
  } finally {
    client.close();
  }
});

Deno.test("HTTP/2: a response that fails while being sent resets its stream, not the connection", async () => {
  const server = serve((request) => {
    if (request.path === "/boom") {
      return new HttpResponse(200, {}, () => {
        throw new Error("the body cannot be made");
      });
    }
    return new HttpResponse(200, {}, "fine");
  });
  const client = await RawH2Client.connect(server.port);
  try {
    await client.request(1, get("/boom"));
    const reset = await client.until((f) => f.streamId === 1);
    assert.equal(reset.type, FRAME.RST_STREAM);
    assert.equal(codeOf(reset.payload), 2);
    await client.request(3, get("/ok"));
    const data = await client.until((f) => f.streamId === 3 && f.type === FRAME.DATA);
    assert.equal(decoder.decode(data.payload), "fine");
  } finally {
    client.close();
    await server.shutdown(0);
  }
});

Deno.test("HTTP/2: random frames end in a reset or GOAWAY, never in a fault of the server", async () => {
  const faults: string[] = [];
  const server = serve((request) => new HttpResponse(200, {}, request.path), {
    onError: (message) => {
      // Handler and response faults would be the handler's; a session fault is ours.
      if (message.startsWith("HTTP/2 session")) faults.push(message);
    },
  });
  // A small deterministic generator: the same cases on every run.
  let seed = 0x2545f491;
  const random = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => random(256));
  try {
    for (let round = 0; round < 200; round++) {
      const client = await RawH2Client.connect(server.port);
      const frames: Uint8Array[] = [];
      // Half the rounds open stream 1 first (a POST still sending), so frames
      // on it get past the checks for idle streams.
      const open = random(2) === 0;
      if (open) {
        const post: [string, string][] = [[":method", "POST"], ...get("/open").slice(1)];
        frames.push(frame(FRAME.HEADERS, 4, 1, headerBlock(post)));
      }
      for (let i = 0; i < 1 + random(6); i++) {
        const type = random(12);
        const flags = random(64);
        const streamId = random(4) === 0 ? 0 : open && random(2) === 0 ? 1 : 1 + 2 * random(4);
        const payload = type === FRAME.HEADERS && random(2) === 0
          ? headerBlock(get(`/r${round}`))
          : bytes(random(40));
        frames.push(frame(type, flags, streamId, payload));
      }
      await client.send(...frames).catch(() => {});
      // Whatever came back (answers, resets, GOAWAY), the session must not have faulted.
      await client.rest(300).catch(() => []);
      client.close();
    }
    assert.deepEqual(faults, []);
    // And the server still serves.
    const client = await RawH2Client.connect(server.port);
    await client.request(1, get("/after"));
    const data = await client.until((f) => f.streamId === 1 && f.type === FRAME.DATA);
    assert.equal(decoder.decode(data.payload), "/after");
    client.close();
  } finally {
    await server.shutdown(0);
  }
});

Deno.test("HTTP/2: expect: 100-continue gets a 100 when the body is read, none when the answer comes first", async () => {
  const server = serve(async (request) => {
    if (request.path === "/refuse") return new HttpResponse(403, {}, "no");
    const body = await request.bytes();
    return new HttpResponse(200, {}, `${body.length}`);
  });
  const client = await RawH2Client.connect(server.port);
  const expect: [string, string][] = [["expect", "100-continue"], ["content-length", "5"]];
  try {
    await client.request(1, [...get("/upload"), ...expect], false);
    // The client holds the body back: nothing more is sent until the 100 arrives.
    const interim = await client.until((f) => f.type === FRAME.HEADERS && f.streamId === 1);
    assert.equal(statusOf(client, interim.payload), "100");
    assert.equal(interim.flags & 1, 0);
    await client.send(frame(FRAME.DATA, 1, 1, encoder.encode("hello")));
    const final = await client.until((f) => f.type === FRAME.HEADERS && f.streamId === 1);
    assert.equal(statusOf(client, final.payload), "200");
    const data = await client.until((f) => f.type === FRAME.DATA && f.streamId === 1);
    assert.equal(decoder.decode(data.payload), "5");

    await client.request(3, [...get("/refuse"), ...expect], false);
    const refused = await client.until((f) => f.type === FRAME.HEADERS && f.streamId === 3);
    assert.equal(statusOf(client, refused.payload), "403");
  } finally {
    client.close();
    await server.shutdown(0);
  }
});
