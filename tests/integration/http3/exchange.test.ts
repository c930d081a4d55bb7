import assert from "node:assert/strict";
import { type Http3Handler, serveHttp3 } from "../../../server/http3/mod.ts";
import { encodeFrame, FRAME } from "../../../server/http3/frames.ts";
import { getFields, gtlsclient, RawH3Client, testCert, within } from "./_helpers.ts";

async function withServer(
  handler: Http3Handler,
  fn: (port: number, cert: string) => Promise<void>,
): Promise<void> {
  const { cert, key } = await testCert();
  const server = serveHttp3({ hostname: "127.0.0.1", port: 0, cert, key, handler });
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

Deno.test("a response body that fails midway ends that stream as malformed for the client", async () => {
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
    })
  );
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
