import assert from "node:assert/strict";
import {
  type Http3Handler,
  type Http3ServerOptions,
  serveHttp3,
} from "../../../server/http3/mod.ts";
import { encodeFrame, FRAME } from "../../../server/http3/frames.ts";
import { QpackDecoder } from "../../../server/http3/qpack_decoder.ts";
import { StreamReader } from "../../../server/http3/stream_reader.ts";
import { getFields, gtlsclient, RawH3Client, testCert, within } from "./_helpers.ts";

async function withServer(
  handler: Http3Handler,
  fn: (port: number, cert: string) => Promise<void>,
  options: Partial<Http3ServerOptions> = {},
): Promise<void> {
  const { cert, key } = await testCert();
  const server = serveHttp3({ hostname: "127.0.0.1", port: 0, cert, key, ...options, handler });
  try {
    await fn(server.addr.port, cert);
  } finally {
    await server.shutdown(1000);
  }
}

async function withClient(port: number, cert: string, fn: (client: RawH3Client) => Promise<void>) {
  const client = await RawH3Client.connect(port, cert);
  try {
    await client.openControlStream();
    await fn(client);
  } finally {
    client.close();
  }
}

/** Silences the server's console.error for a handler that fails on purpose. */
async function quietly(fn: () => Promise<void>): Promise<void> {
  const original = console.error;
  console.error = () => {};
  try {
    await fn();
  } finally {
    console.error = original;
  }
}

Deno.test("a handler that throws yields 500 and the connection keeps serving", async () => {
  let calls = 0;
  await quietly(() =>
    withServer(() => {
      if (calls++ === 0) throw new Error("boom");
      return new Response("fine");
    }, (port, cert) =>
      withClient(port, cert, async (client) => {
        const failed = await client.request(client.headersFrame(getFields("/")));
        assert.equal(failed.status, "500");
        const next = await client.request(client.headersFrame(getFields("/")));
        assert.equal(next.status, "200");
        assert.equal(next.body, "fine");
      }))
  );
});

Deno.test("HEAD responses carry headers but no DATA", async () => {
  await withServer(
    () => new Response("twelve bytes", { headers: { "content-length": "12" } }),
    (port, cert) =>
      withClient(port, cert, async (client) => {
        const head = await client.request(
          client.headersFrame([":method", "HEAD", ...getFields("/").slice(2)]),
        );
        assert.equal(head.status, "200");
        assert.equal(head.headers.get("content-length"), "12");
        assert.equal(head.body, "");
      }),
  );
});

Deno.test("an answer without a body says content-length: 0, as over HTTP/1.1 and HTTP/2", async () => {
  await withServer(
    (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/204") return new Response(null, { status: 204 });
      if (path === "/head") return new Response(null, { headers: { "content-length": "12" } });
      return new Response(null, { status: 503 });
    },
    (port, cert) =>
      withClient(port, cert, async (client) => {
        const empty = await client.request(client.headersFrame(getFields("/none")));
        assert.equal(empty.status, "503");
        assert.equal(empty.headers.get("content-length"), "0");
        const noContent = await client.request(client.headersFrame(getFields("/204")));
        assert.equal(noContent.status, "204");
        assert.equal(noContent.headers.has("content-length"), false);
        const head = await client.request(
          client.headersFrame([":method", "HEAD", ...getFields("/head").slice(2)]),
        );
        assert.equal(head.headers.get("content-length"), "12");
      }),
  );
});

Deno.test("a response body that fails midway ends that stream as malformed for the client", async () => {
  const logged: string[] = [];
  await quietly(() =>
    withServer(() => {
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 2) controller.enqueue(new TextEncoder().encode("part\n"));
          else controller.error(new Error("upstream died"));
        },
      });
      return new Response(body);
    }, async (port) => {
      const result = await gtlsclient(port, ["/"]);
      assert.equal(result.statuses.get(0), "200");
      // nghttp3 resets the stream with H3_MESSAGE_ERROR (0x10e = 270).
      assert.match(result.stderr, /HTTP stream 0 closed with error code 270/);
    }, { onError: (message) => logged.push(message) })
  );
  // One line naming the failure, as HTTP/1.1 and HTTP/2 log it: no stack trace.
  assert.deepEqual(logged, ["HTTP/3 response body: upstream died"]);
});

Deno.test("a handler that ignores a large upload still answers, and the connection goes on", async () => {
  await withServer(
    (request) => new Response(`ignored ${request.method}`),
    (port, cert) =>
      withClient(port, cert, async (client) => {
        const stream = await client.conn.createBidirectionalStream();
        const writer = stream.writable.getWriter();
        const fields = [":method", "POST", ...getFields("/upload").slice(2)];
        const upload = Uint8Array.from([
          ...client.headersFrame(fields),
          ...encodeFrame(FRAME.DATA, new Uint8Array(1024 * 1024)),
        ]);
        // The server may stop reading (STOP_SENDING) before all of it is sent.
        writer.write(upload).then(() => writer.close()).catch(() => {});
        const reply = new Uint8Array(await new Response(stream.readable).arrayBuffer());
        assert.ok(new TextDecoder().decode(reply).includes("ignored POST"));
        const next = await client.request(client.headersFrame(getFields("/next")));
        assert.equal(next.status, "200");
      }),
  );
});

Deno.test("expect: 100-continue gets a 100 when the handler reads the body, none when it answers first", async () => {
  await withServer(
    async (request) => {
      if (new URL(request.url).pathname === "/refuse") return new Response("no", { status: 403 });
      return new Response(`got ${(await request.arrayBuffer()).byteLength}`);
    },
    (port, cert) =>
      withClient(port, cert, async (client) => {
        const decoder = new QpackDecoder();
        const expect = ["expect", "100-continue", "content-length", "5"];
        const post = (path: string) => [":method", "POST", ...getFields(path, expect).slice(2)];
        const stream = await client.conn.createBidirectionalStream();
        const writer = stream.writable.getWriter();
        // Headers only: the body is held back until the 100 arrives.
        await writer.write(client.headersFrame(post("/upload")));
        const reader = new StreamReader(stream.readable);
        const statusOf = async () => {
          await within(reader.readFrameHeader(), 5000, "a HEADERS frame");
          assert.equal(reader.frameType, FRAME.HEADERS);
          const fields = decoder.decodeFieldSection(await reader.readExact(reader.frameLength), 0);
          return fields[fields.indexOf(":status") + 1];
        };
        assert.equal(await statusOf(), "100");
        await writer.write(encodeFrame(FRAME.DATA, new TextEncoder().encode("hello")));
        await writer.close();
        assert.equal(await statusOf(), "200");

        const refused = await client.request(client.headersFrame(post("/refuse")));
        assert.equal(refused.status, "403");
      }),
  );
});

/** A DATA frame header with a 2-byte length, for a payload sent in pieces. */
function dataFrameHeader(length: number): Uint8Array {
  return Uint8Array.of(FRAME.DATA, 0x40 | (length >> 8), length & 0xff);
}

/** Whether `client`'s connection is still open a moment from now. */
async function stillOpen(client: RawH3Client): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const open = await Promise.race([
    client.closed.then(() => false),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), 100)),
  ]);
  clearTimeout(timer);
  return open;
}

Deno.test("a GET with a body in several DATA frames is answered; a request in flight and the next one are too", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  let go!: () => void;
  const goAhead = new Promise<void>((resolve) => go = resolve);
  const seen: string[] = [];
  await withServer(async (request) => {
    const path = new URL(request.url).pathname;
    seen.push(`${request.method} ${path} body ${request.body === null ? "none" : "some"}`);
    if (path === "/slow") await released;
    if (path === "/with-body") await goAhead;
    return new Response(`${request.method} ${path}`);
  }, (port, cert) =>
    withClient(port, cert, async (client) => {
      // In flight on the same connection while the GET with a body is served.
      const slow = client.request(client.headersFrame(getFields("/slow")));
      slow.catch(() => {}); // awaited below
      const stream = await client.conn.createBidirectionalStream();
      const writer = stream.writable.getWriter();
      const part = new Uint8Array(4000).fill(7);
      // Two whole DATA frames, then a third one's header and half its payload:
      // the answer goes out while the server waits inside that frame.
      await writer.write(Uint8Array.from([
        ...client.headersFrame(getFields("/with-body", ["content-length", "12000"])),
        ...encodeFrame(FRAME.DATA, part),
        ...encodeFrame(FRAME.DATA, part),
        ...dataFrameHeader(part.length),
        ...part.subarray(0, 2000),
      ]));
      // Once a later request has made the round trip, the server has read all
      // that came and waits for the rest of the third frame: answer now.
      assert.equal((await client.request(client.headersFrame(getFields("/ping")))).status, "200");
      go();
      const reply = new TextDecoder().decode(await new Response(stream.readable).arrayBuffer());
      assert.ok(reply.includes("GET /with-body"), reply);
      // The rest, which the server may have asked to stop (STOP_SENDING).
      writer.write(part.subarray(2000)).then(() => writer.close()).catch(() => {});
      release();
      const slowReply = await within(slow, 5000, "the GET in flight");
      assert.equal(slowReply.status, "200");
      assert.equal(slowReply.body, "GET /slow");
      const next = await client.request(client.headersFrame(getFields("/next")));
      assert.equal(next.status, "200");
      assert.equal(next.body, "GET /next");
      assert.ok(await stillOpen(client), "the connection was closed");
    }));
  // A GET's content is not handed to the handler (a fetch Request cannot carry it).
  assert.deepEqual(seen.toSorted(), [
    "GET /next body none",
    "GET /ping body none",
    "GET /slow body none",
    "GET /with-body body none",
  ]);
});

Deno.test("GET and HEAD with bodies from gtlsclient are answered on one connection", async () => {
  const file = await Deno.makeTempFile();
  try {
    for (const size of [16_000, 1024 * 1024]) {
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
      await Deno.writeFile(file, bytes);
      for (const method of ["GET", "HEAD"]) {
        await withServer((request) => new Response(`${request.method} ok`), async (port) => {
          const result = await gtlsclient(port, ["/a", "/b"], ["-d", file, "-m", method]);
          const what = `${method} with ${size} bytes: ${result.stderr.slice(-1500)}`;
          assert.equal(result.statuses.get(0), "200", what);
          assert.equal(result.statuses.get(4), "200", what);
          assert.doesNotMatch(result.stderr, /CONNECTION_CLOSE.*H3_/, what);
        });
      }
    }
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("a handler that cancels the request body while a read waits inside a DATA frame keeps the connection", async () => {
  await withServer(async (request) => {
    if (request.body === null) return new Response("no body");
    const reader = request.body.getReader();
    await reader.read();
    const waiting = reader.read(); // the rest of the frame never comes
    // Long enough for the server to be waiting on the client for it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await reader.cancel();
    await waiting;
    return new Response("read some, then stopped");
  }, (port, cert) =>
    withClient(port, cert, async (client) => {
      const stream = await client.conn.createBidirectionalStream();
      const writer = stream.writable.getWriter();
      writer.write(Uint8Array.from([
        ...client.headersFrame([":method", "POST", ...getFields("/upload").slice(2)]),
        ...dataFrameHeader(1000),
        ...new Uint8Array(300),
      ])).catch(() => {});
      const reply = new TextDecoder().decode(await new Response(stream.readable).arrayBuffer());
      assert.ok(reply.includes("read some, then stopped"), reply);
      const next = await client.request(client.headersFrame(getFields("/next")));
      assert.equal(next.status, "200");
      assert.ok(await stillOpen(client), "the connection was closed");
    }));
});

Deno.test("a client that abandons a response cancels the handler's body stream", async () => {
  let cancelled!: () => void;
  const wasCancelled = new Promise<void>((resolve) => cancelled = resolve);
  const endless = () =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull: (controller) => controller.enqueue(new Uint8Array(16 * 1024)),
        cancel: () => cancelled(),
      }),
    );
  await withServer(endless, (port, cert) =>
    withClient(port, cert, async (client) => {
      const stream = await client.conn.createBidirectionalStream();
      const writer = stream.writable.getWriter();
      await writer.write(client.headersFrame(getFields("/endless")));
      await writer.close();
      const reader = stream.readable.getReader();
      let received = 0;
      while (received < 200_000) received += (await reader.read()).value?.length ?? 0;
      await reader.cancel(); // STOP_SENDING
      await within(wasCancelled, 5000, "body cancellation");
    }));
});

Deno.test("the request signal aborts when the client goes away", async () => {
  let aborted!: () => void;
  const wasAborted = new Promise<void>((resolve) => aborted = resolve);
  let arrived!: () => void;
  const hasArrived = new Promise<void>((resolve) => arrived = resolve);
  const waitForever: Http3Handler = (request) =>
    new Promise((_, reject) => {
      arrived();
      request.signal.addEventListener("abort", () => {
        aborted();
        reject(request.signal.reason);
      });
    });
  await withServer(waitForever, async (port, cert) => {
    const client = await RawH3Client.connect(port, cert);
    await client.openControlStream();
    client.request(client.headersFrame(getFields("/wait"))).catch(() => {});
    await within(hasArrived, 5000, "request arrival");
    client.close();
    await within(wasAborted, 5000, "request abort");
  });
});

Deno.test("shutdown does not wait past its grace period for a handler that never returns", async () => {
  const { cert, key } = await testCert();
  let arrived!: () => void;
  const hasArrived = new Promise<void>((resolve) => arrived = resolve);
  const server = serveHttp3({
    hostname: "127.0.0.1",
    port: 0,
    cert,
    key,
    handler: () => {
      arrived();
      return new Promise<Response>(() => {}); // ignores its signal, never answers
    },
  });
  const client = await RawH3Client.connect(server.addr.port, cert);
  try {
    await client.openControlStream();
    client.request(client.headersFrame(getFields("/hang"))).catch(() => {});
    await within(hasArrived, 5000, "request arrival");
    await within(server.shutdown(200), 5000, "shutdown");
    const info = await within(client.closed, 5000, "close");
    assert.equal(info.closeCode, 0x100);
  } finally {
    client.close();
  }
});
