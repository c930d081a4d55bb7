import assert from "node:assert/strict";
import {
  type BodyReader,
  ChunkedReader,
  ContentLengthReader,
  UntilCloseReader,
} from "../../../filters/proxy/http1_body.ts";
import { Http1Connection } from "../../../filters/proxy/http1_connection.ts";
import { UpstreamError } from "../../../filters/proxy/upstream_error.ts";
import { ScriptedSocket } from "./scripted_socket.ts";

const decoder = new TextDecoder();

function connectionOf(socket: ScriptedSocket): Http1Connection {
  return new Http1Connection(socket.asConn(), () => {});
}

/** Reads a body to its end, as the response stream would. */
async function readAll(reader: BodyReader): Promise<string> {
  let text = "";
  for (let chunk = await reader.read(); chunk !== null; chunk = await reader.read()) {
    text += decoder.decode(chunk);
    reader.settle();
    if (reader.done) break;
  }
  return text;
}

async function assertUpstreamError(
  promise: Promise<unknown>,
  kind: string,
  message: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof UpstreamError, `expected UpstreamError, got ${error}`);
    assert.equal(error.kind, kind);
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("ContentLengthReader reads exactly the declared bytes and leaves the rest", async () => {
  const conn = connectionOf(new ScriptedSocket(["hel", "lo wor", "ldNEXT"]));
  const reader = new ContentLengthReader(conn, 11);
  assert.equal(await readAll(reader), "hello world");
  assert.equal(reader.done, true);
  assert.equal(conn.buffered, 4, "bytes after the body stay buffered");
});

Deno.test("ContentLengthReader serves bytes already buffered without reading", async () => {
  const conn = connectionOf(new ScriptedSocket(["abcdef"]));
  assert.equal(await conn.fill(), true);
  const reader = new ContentLengthReader(conn, 6);
  assert.equal(decoder.decode(reader.readBuffered()!), "abcdef");
  assert.equal(reader.done, true);
  assert.equal(reader.readBuffered(), null);
});

Deno.test("ContentLengthReader reports a connection closed before the body ended", async () => {
  const conn = connectionOf(new ScriptedSocket(["abc"]));
  const reader = new ContentLengthReader(conn, 10);
  assert.equal(decoder.decode((await reader.read())!), "abc");
  await assertUpstreamError(reader.read(), "closed", /after 3 of 10 body bytes/);
});

Deno.test("ContentLengthReader streams a large body in bounded chunks", async () => {
  const big = new Uint8Array(300_000).fill(7);
  const conn = connectionOf(new ScriptedSocket([big]));
  const reader = new ContentLengthReader(conn, big.length);
  let total = 0;
  let largest = 0;
  for (let chunk = await reader.read(); chunk !== null; chunk = await reader.read()) {
    total += chunk.length;
    largest = Math.max(largest, chunk.length);
    assert.ok(chunk.every((b) => b === 7));
    if (reader.done) break;
  }
  assert.equal(total, big.length);
  assert.ok(largest <= 64 * 1024, `chunk of ${largest} bytes`);
});

Deno.test("UntilCloseReader reads until the server closes", async () => {
  const conn = connectionOf(new ScriptedSocket(["one ", "two ", "three"]));
  const reader = new UntilCloseReader(conn);
  assert.equal(await readAll(reader), "one two three");
  assert.equal(reader.done, true);
});

Deno.test("ChunkedReader decodes chunks, skipping extensions and trailers", async () => {
  const conn = connectionOf(
    new ScriptedSocket([
      "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\nX-Other: o\r\n\r\nNEXT",
    ]),
  );
  const reader = new ChunkedReader(conn, 1024);
  assert.equal(await readAll(reader), "hello world");
  assert.equal(reader.done, true);
  assert.equal(conn.buffered, 4, "bytes after the body stay buffered");
});

Deno.test("ChunkedReader decodes a body delivered one byte at a time", async () => {
  const body = "3\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n";
  const reader = new ChunkedReader(connectionOf(ScriptedSocket.byteByByte(body)), 1024);
  assert.equal(await readAll(reader), "abc0123456789");
  assert.equal(reader.done, true);
});

Deno.test("ChunkedReader accepts bare LF framing", async () => {
  const reader = new ChunkedReader(connectionOf(new ScriptedSocket(["2\nhi\n0\n\n"])), 1024);
  assert.equal(await readAll(reader), "hi");
});

Deno.test("ChunkedReader refuses bare LF framing in a client's body", async () => {
  for (
    const body of [
      "2\nhi\r\n0\r\n\r\n",
      "2;x\nhi\r\n0\r\n\r\n",
      "2\r\nhi\n0\r\n\r\n",
      "2\r\nhi\r\n0\n\r\n",
      "2\r\nhi\r\n0\r\n\n",
      "2\r\nhi\r\n0\r\nX-T: 1\n\r\n",
    ]
  ) {
    const conn = connectionOf(new ScriptedSocket([body]));
    const reader = new ChunkedReader(conn, 1024, "client");
    await assertUpstreamError(readAll(reader), "protocol", /Invalid request body/);
  }
  const conn = connectionOf(new ScriptedSocket(["2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n"]));
  assert.equal(await readAll(new ChunkedReader(conn, 1024, "client")), "hi");
});

Deno.test("ChunkedReader finishes synchronously when the whole body is buffered", async () => {
  const conn = connectionOf(new ScriptedSocket(["2\r\nhi\r\n1\r\n!\r\n0\r\n\r\n"]));
  await conn.fill();
  const reader = new ChunkedReader(conn, 1024);
  const parts: string[] = [];
  for (let chunk = reader.readBuffered(); chunk !== null; chunk = reader.readBuffered()) {
    parts.push(decoder.decode(chunk));
  }
  // The chunks came together: their data is handed over as one piece.
  assert.deepEqual(parts, ["hi!"]);
  assert.equal(reader.done, true);
});

Deno.test("ChunkedReader hands over a body of tiny chunks a socket read at a time, not a chunk at a time", async () => {
  const tiny = "1\r\nx\r\n".repeat(1000);
  const conn = connectionOf(new ScriptedSocket([tiny, tiny + "0\r\n\r\n"]));
  const reader = new ChunkedReader(conn, 1024);
  const sizes: number[] = [];
  for (let chunk = await reader.read(); chunk !== null; chunk = await reader.read()) {
    sizes.push(chunk.length);
    reader.settle();
    if (reader.done) break;
  }
  assert.equal(sizes.reduce((a, b) => a + b, 0), 2000);
  assert.ok(sizes.length <= 4, `${sizes.length} pieces for 2 reads`);
});

Deno.test("ChunkedReader streams a large chunk", async () => {
  const size = 200_000;
  const conn = connectionOf(
    new ScriptedSocket([`${size.toString(16)}\r\n`, new Uint8Array(size).fill(1), "\r\n0\r\n\r\n"]),
  );
  const reader = new ChunkedReader(conn, 1024);
  let total = 0;
  for (let chunk = await reader.read(); chunk !== null; chunk = await reader.read()) {
    total += chunk.length;
    reader.settle();
    if (reader.done) break;
  }
  assert.equal(total, size);
  assert.equal(reader.done, true);
});

Deno.test("ChunkedReader rejects an invalid chunk size", async () => {
  const reader = new ChunkedReader(connectionOf(new ScriptedSocket(["zz\r\nhello\r\n"])), 1024);
  await assertUpstreamError(reader.read(), "protocol", /invalid chunk size line "zz/);
});

Deno.test("ChunkedReader rejects chunk data not followed by CRLF", async () => {
  const reader = new ChunkedReader(
    connectionOf(new ScriptedSocket(["2\r\nhiXX\r\n0\r\n\r\n"])),
    1024,
  );
  await assertUpstreamError(readAll(reader), "protocol", /missing CRLF after chunk data/);
});

Deno.test("ChunkedReader rejects an endless chunk size line", async () => {
  const reader = new ChunkedReader(
    connectionOf(new ScriptedSocket(["1" + ";x".repeat(5000)])),
    1024,
  );
  await assertUpstreamError(reader.read(), "protocol", /chunk size line too long/);
});

Deno.test("ChunkedReader limits the trailer block", async () => {
  const reader = new ChunkedReader(
    connectionOf(new ScriptedSocket([`0\r\nX-Big: ${"a".repeat(200)}\r\n\r\n`])),
    100,
  );
  await assertUpstreamError(readAll(reader), "protocol", /trailers larger than 100 bytes/);
});

Deno.test("ChunkedReader reports a connection closed mid-chunk", async () => {
  const reader = new ChunkedReader(connectionOf(new ScriptedSocket(["a\r\nshort"])), 1024);
  await assertUpstreamError(readAll(reader), "closed", /in the middle of a chunk/);
});

Deno.test("ChunkedReader reports a connection closed before the last chunk", async () => {
  const reader = new ChunkedReader(connectionOf(new ScriptedSocket(["2\r\nhi\r\n"])), 1024);
  await assertUpstreamError(readAll(reader), "closed", /chunked framing/);
});
