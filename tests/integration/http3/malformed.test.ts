import assert from "node:assert/strict";
import { H3_ERROR, type Http3Server, serveHttp3 } from "../../../server/http3/mod.ts";
import {
  encodeFrame,
  encodeSettingsFrame,
  FRAME,
  STREAM_TYPE,
} from "../../../server/http3/frames.ts";
import { getFields, gtlsclient, RawH3Client, testCert, within } from "./_helpers.ts";

async function withServer(
  fn: (port: number, cert: string, server: Http3Server) => Promise<void>,
  options: { maxHeaderBytes?: number; idleTimeoutMs?: number } = {},
  handler: (request: Request) => Response | Promise<Response> = echoSummary,
): Promise<void> {
  const { cert, key } = await testCert();
  const server = serveHttp3({ hostname: "127.0.0.1", port: 0, cert, key, ...options, handler });
  try {
    await fn(server.addr.port, cert, server);
  } finally {
    await server.shutdown(1000);
  }
}

/** Answers with the method, path and body length. */
async function echoSummary(request: Request): Promise<Response> {
  const body = request.body ? await request.text() : "";
  return new Response(`ok ${request.method} ${new URL(request.url).pathname} ${body.length}\n`);
}

/** Asserts the server closed `client`'s connection with `code`, and that a fresh connection still works. */
async function assertConnectionError(
  client: RawH3Client,
  code: number,
  port: number,
): Promise<void> {
  const info = await within(client.closed, 5000, "connection close");
  assert.equal(info.closeCode, code, `close code 0x${info.closeCode.toString(16)}: ${info.reason}`);
  client.close();
  const other = await gtlsclient(port, ["/still-up"]);
  assert.equal(other.statuses.get(0), "200", other.stderr.slice(-1500));
}

Deno.test("a HEADERS frame cut short by FIN is H3_FRAME_ERROR for that connection only", async () => {
  await withServer(async (port, cert) => {
    const client = await RawH3Client.connect(port, cert);
    await client.openControlStream();
    // Claims 32 payload bytes, carries 3, then ends the stream.
    client.exchange(Uint8Array.of(FRAME.HEADERS, 32, 0, 0, 0xd1)).catch(() => {});
    await assertConnectionError(client, H3_ERROR.FRAME_ERROR, port);
  });
});

Deno.test("a SETTINGS payload shorter than its varints is H3_FRAME_ERROR", async () => {
  await withServer(async (port, cert) => {
    const client = await RawH3Client.connect(port, cert);
    await client.openUniStream(Uint8Array.of(STREAM_TYPE.CONTROL, FRAME.SETTINGS, 1, 0x06));
    await assertConnectionError(client, H3_ERROR.FRAME_ERROR, port);
  });
});

Deno.test("a request without :method gets 400 naming H3_MESSAGE_ERROR; the connection goes on", async () => {
  await withServer(async (port, cert) => {
    const client = await RawH3Client.connect(port, cert);
    try {
      await client.openControlStream();
      const fields = [":scheme", "https", ":authority", "localhost", ":path", "/x"];
      const bad = await client.request(client.headersFrame(fields));
      assert.equal(bad.status, "400");
      assert.match(bad.body, /H3_MESSAGE_ERROR: missing :method/);
      const good = await client.request(client.headersFrame(getFields("/after")));
      assert.equal(good.status, "200");
      assert.equal(good.body, "ok GET /after 0\n");
    } finally {
      client.close();
    }
  });
});

Deno.test("an uppercase header name gets 400 naming H3_MESSAGE_ERROR", async () => {
  await withServer(async (port, cert) => {
    const client = await RawH3Client.connect(port, cert);
    try {
      await client.openControlStream();
      const bad = await client.request(client.headersFrame(getFields("/", ["X-Upper", "1"])));
      assert.equal(bad.status, "400");
      assert.match(bad.body, /H3_MESSAGE_ERROR: field name "X-Upper" has uppercase/);
      const also = await client.request(
        client.headersFrame(getFields("/", ["connection", "close"])),
      );
      assert.equal(also.status, "400");
      assert.match(also.body, /connection-specific/);
    } finally {
      client.close();
    }
  });
  // Another server's clients were never affected; gtlsclient still works end to end.
  await withServer(async (port) => {
    assert.equal((await gtlsclient(port, ["/"])).statuses.get(0), "200");
  });
});

Deno.test("DATA before HEADERS is H3_FRAME_UNEXPECTED", async () => {
  await withServer(async (port, cert) => {
    const client = await RawH3Client.connect(port, cert);
    await client.openControlStream();
    client.exchange(encodeFrame(FRAME.DATA, Uint8Array.of(1, 2, 3))).catch(() => {});
    await assertConnectionError(client, H3_ERROR.FRAME_UNEXPECTED, port);
  });
});

Deno.test("a control stream that does not start with SETTINGS is H3_MISSING_SETTINGS", async () => {
  await withServer(async (port, cert) => {
    const client = await RawH3Client.connect(port, cert);
    await client.openUniStream(Uint8Array.of(STREAM_TYPE.CONTROL, FRAME.GOAWAY, 1, 0));
    await assertConnectionError(client, H3_ERROR.MISSING_SETTINGS, port);
  });
});

Deno.test("a second control stream is H3_STREAM_CREATION_ERROR", async () => {
  await withServer(async (port, cert) => {
    const client = await RawH3Client.connect(port, cert);
    await client.openControlStream();
    await client.openControlStream();
    await assertConnectionError(client, H3_ERROR.STREAM_CREATION_ERROR, port);
  });
});

Deno.test("a dynamic table insert beyond the advertised capacity 0 is QPACK_ENCODER_STREAM_ERROR", async () => {
  await withServer(async (port, cert) => {
    const client = await RawH3Client.connect(port, cert);
    await client.openControlStream();
    // Set Dynamic Table Capacity 0 is fine; the insert that follows cannot fit.
    const insert = Uint8Array.of(STREAM_TYPE.QPACK_ENCODER, 0x20, 0xc0, 0x01, 0x61);
    await client.openUniStream(insert);
    await assertConnectionError(client, H3_ERROR.QPACK_ENCODER_STREAM_ERROR, port);
  });
});

Deno.test("unknown stream and frame types are ignored", async () => {
  await withServer(async (port, cert) => {
    const client = await RawH3Client.connect(port, cert);
    try {
      await client.openUniStream(
        Uint8Array.of(STREAM_TYPE.CONTROL, ...encodeSettingsFrame([[0x21, 5]]), 0x21, 2, 9, 9),
      );
      await client.openUniStream(Uint8Array.of(0x21, 1, 2, 3)); // reserved stream type
      const qpack = await client.openUniStream(Uint8Array.of(STREAM_TYPE.QPACK_ENCODER, 0x20));
      const grease = encodeFrame(0x21, new Uint8Array(10));
      const response = await client.request(
        Uint8Array.from([...grease, ...client.headersFrame(getFields("/greased")), ...grease]),
      );
      assert.equal(response.status, "200");
      assert.equal(response.body, "ok GET /greased 0\n");
      await qpack.write(Uint8Array.of(0x20)); // capacity 0 again, split from the type byte
    } finally {
      client.close();
    }
  });
});

Deno.test("an oversized header section gets 431", async () => {
  await withServer(async (port, cert) => {
    const client = await RawH3Client.connect(port, cert);
    try {
      await client.openControlStream();
      const response = await client.request(
        client.headersFrame(getFields("/", ["x-big", "a".repeat(2000)])),
      );
      assert.equal(response.status, "431");
      assert.match(response.body, /H3_EXCESSIVE_LOAD/);
      const small = await client.request(client.headersFrame(getFields("/small")));
      assert.equal(small.status, "200");
    } finally {
      client.close();
    }
  }, { maxHeaderBytes: 1024 });
});

Deno.test("a response header section over the client's limit becomes a 500 with its reason", async () => {
  const bodiless = () =>
    new Response(null, { status: 204, headers: { "x-big": "a".repeat(2000) } });
  await withServer(
    async (port, cert) => {
      const client = await RawH3Client.connect(port, cert);
      try {
        // SETTINGS_MAX_FIELD_SECTION_SIZE (0x06): 1 000 bytes.
        await client.openControlStream([[0x06, 1000]]);
        const response = await client.request(client.headersFrame(getFields("/big")));
        assert.equal(response.status, "500");
        assert.match(response.body, /response header section exceeds the client's limit/);
      } finally {
        client.close();
      }
    },
    {},
    bodiless,
  );
});

Deno.test("a body that does not match content-length gets 400", async () => {
  await withServer(async (port, cert) => {
    const client = await RawH3Client.connect(port, cert);
    try {
      await client.openControlStream();
      const fields = [
        ":method",
        "POST",
        ":scheme",
        "https",
        ":authority",
        "localhost",
        ":path",
        "/up",
        "content-length",
        "10",
      ];
      const short = Uint8Array.from([
        ...client.headersFrame(fields),
        ...encodeFrame(FRAME.DATA, new TextEncoder().encode("abc")),
      ]);
      const response = await client.request(short);
      assert.equal(response.status, "400");
      assert.match(
        response.body,
        /H3_MESSAGE_ERROR: request body has 3 bytes, content-length says 10/,
      );
      const exact = Uint8Array.from([
        ...client.headersFrame(fields),
        ...encodeFrame(FRAME.DATA, new TextEncoder().encode("0123456789")),
        ...client.headersFrame(["x-trailer", "1"]),
      ]);
      const ok = await client.request(exact);
      assert.equal(ok.status, "200");
      assert.equal(ok.body, "ok POST /up 10\n");
    } finally {
      client.close();
    }
  });
});

Deno.test("shutdown sends GOAWAY, finishes the in-flight request, then closes with H3_NO_ERROR", async () => {
  const { cert, key } = await testCert();
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  let arrived!: () => void;
  const inFlight = new Promise<void>((resolve) => arrived = resolve);
  const server = serveHttp3({
    hostname: "127.0.0.1",
    port: 0,
    cert,
    key,
    handler: async () => {
      arrived();
      await released;
      return new Response("finished\n");
    },
  });
  const client = await RawH3Client.connect(server.addr.port, cert);
  try {
    await client.openControlStream();
    const controlFrames = readServerControl(client.conn);
    const response = client.request(client.headersFrame(getFields("/slow")));
    await within(inFlight, 5000, "request arrival");
    const shutdown = server.shutdown(5000);
    const goaway = await within(controlFrames.goaway, 5000, "GOAWAY");
    assert.equal(goaway, 4); // stream 0 is being served; 4 would not be
    release();
    const answer = await within(response, 5000, "response");
    assert.equal(answer.status, "200");
    assert.equal(answer.body, "finished\n");
    const info = await within(client.closed, 5000, "close");
    assert.equal(info.closeCode, H3_ERROR.NO_ERROR);
    await within(shutdown, 5000, "shutdown");
    await within(server.finished, 5000, "finished");
  } finally {
    release();
    client.close();
    await server.shutdown(100);
  }
});

/** Reads the server's control stream; resolves `goaway` with the first GOAWAY's ID. */
function readServerControl(conn: Deno.QuicConn): { goaway: Promise<number> } {
  const goaway = (async () => {
    for await (const stream of conn.incomingUnidirectionalStreams) {
      const bytes: number[] = [];
      const reader = stream.getReader();
      if (await peekType(reader, bytes) !== STREAM_TYPE.CONTROL) continue;
      // type 0x00, SETTINGS frame, then GOAWAY (type 0x07, length, id).
      for (;;) {
        const at = findGoaway(bytes);
        if (at >= 0) {
          reader.releaseLock();
          return bytes[at + 2];
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("control stream ended without GOAWAY");
        bytes.push(...value);
      }
    }
    throw new Error("no control stream");
  })();
  goaway.catch(() => {});
  return { goaway };
}

async function peekType(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  bytes: number[],
): Promise<number> {
  const { value } = await reader.read();
  if (value) bytes.push(...value);
  return bytes[0] ?? -1;
}

/** Index of a GOAWAY frame after the SETTINGS frame in control-stream bytes, or -1. */
function findGoaway(bytes: number[]): number {
  if (bytes.length < 3) return -1;
  const settingsEnd = 3 + bytes[2]; // type byte, SETTINGS type, 1-byte length
  return bytes[settingsEnd] === FRAME.GOAWAY && bytes.length >= settingsEnd + 3 ? settingsEnd : -1;
}

Deno.test("idle connections are closed after idleTimeoutMs", async () => {
  await withServer(async (port, cert) => {
    const client = await RawH3Client.connect(port, cert);
    try {
      await client.openControlStream();
      // Timed out connections end with an error rather than a close frame.
      const outcome = await within(
        client.closed.then(() => "closed", () => "timed out"),
        10_000,
        "idle close",
      );
      assert.ok(outcome === "closed" || outcome === "timed out");
    } finally {
      client.close();
    }
  }, { idleTimeoutMs: 300 });
});
