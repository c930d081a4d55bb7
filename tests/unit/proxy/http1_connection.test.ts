import assert from "node:assert/strict";
import { Http1Connection } from "../../../filters/proxy/http1_connection.ts";
import { ScriptedSocket } from "./scripted_socket.ts";

const decoder = new TextDecoder();

function sent(socket: ScriptedSocket): string {
  return socket.written.map((chunk) => decoder.decode(chunk)).join("");
}

Deno.test("Http1Connection.write finishes a write the socket takes in short pieces", async () => {
  const socket = new ScriptedSocket([]);
  socket.maxWrite = 3;
  const conn = new Http1Connection(socket.asConn(), () => {});
  await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
  assert.equal(sent(socket), "GET / HTTP/1.1\r\n\r\n");
  assert.ok(socket.written.every((chunk) => chunk.length <= 3));
});

Deno.test("Http1Connection.writeRest sends what a first write left, in order", async () => {
  const socket = new ScriptedSocket([]);
  socket.maxWrite = 4;
  const conn = new Http1Connection(socket.asConn(), () => {});
  const bytes = new TextEncoder().encode("hello, world");
  const written = await conn.socket.write(bytes);
  assert.equal(written, 4);
  await conn.writeRest(bytes, written);
  assert.equal(sent(socket), "hello, world");
});

Deno.test("Http1Connection reads into the whole buffer when it is empty, after a view otherwise", async () => {
  const socket = new ScriptedSocket(["abc", "def"]);
  const conn = new Http1Connection(socket.asConn(), () => {}, 8);
  assert.equal(await conn.fill(), true);
  assert.equal(await conn.fill(), true);
  assert.equal(decoder.decode(conn.buf.subarray(conn.start, conn.end)), "abcdef");
  assert.equal(await conn.fill(), false);
});
