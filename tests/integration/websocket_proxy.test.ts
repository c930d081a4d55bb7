/**
 * WebSocketProxy through the real binary: handshakes reaching an
 * HTTPServer's pipeline are relayed to two backends in turn (or to a
 * candidate pool's), messages flow both ways up to the message size
 * limits, a Validator in front refuses first, what is not a handshake gets 400, and deleting the
 * pipeline closes its relays.
 */

import assert from "node:assert/strict";
import { eventually, request, startNodeProcess } from "./helpers.ts";
import { closed, received } from "./websocket_client.ts";

const API_PORT = 32200;
const SERVER_PORT = 32210;
const BACKEND_PORTS = [32201, 32202];

/** A WebSocket backend: its first message says who it is and what it got; then it echoes. */
function echoBackend(name: string, port: number): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (req) => {
    if (req.headers.get("upgrade") !== "websocket") return new Response("no", { status: 426 });
    const url = new URL(req.url);
    const seen = JSON.stringify({
      name,
      target: url.pathname + url.search,
      origin: req.headers.get("origin"),
      forwardedFor: req.headers.get("x-forwarded-for"),
      forwardedProto: req.headers.get("x-forwarded-proto"),
    });
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onopen = () => socket.send(seen);
    socket.onmessage = (e) =>
      socket.send(typeof e.data === "string" ? `${name}:${e.data}` : e.data);
    return response;
  });
}

const CONFIG = `name: websocket-pipeline
kind: Pipeline
flow:
- filter: validator
- filter: wsproxy
filters:
- kind: Validator
  name: validator
  headers:
    X-Token:
      values: [secret]
- kind: WebSocketProxy
  name: wsproxy
  defaultOrigin: http://127.0.0.1/hello
  pools:
  - servers:
    - url: ws://127.0.0.1:${BACKEND_PORTS[1]}
    filter:
      headers:
        X-Pool:
          exact: canary
    clientMaxMsgSize: -1
    serverMaxMsgSize: 1000
  - servers:
    - url: ws://127.0.0.1:${BACKEND_PORTS[0]}
      keepHost: true
    - url: ws://127.0.0.1:${BACKEND_PORTS[1]}
    loadBalance:
      policy: roundRobin
    clientMaxMsgSize: 32769
    serverMaxMsgSize: 32769
---
name: demo-server
kind: HTTPServer
port: ${SERVER_PORT}
rules:
- paths:
  - path: /ws
    clientMaxBodySize: -1
    backend: websocket-pipeline
`;

/** Opens a WebSocket with `headers` and collects what it receives. */
function open(
  url: string,
  headers: Record<string, string>,
): Promise<{ ws: WebSocket; next: () => Promise<unknown> }> {
  // Deno's WebSocket takes request headers as an option.
  return received(new WebSocket(url, { headers } as unknown as string[]));
}

/** The code the WebSocket closes with. */
function closeCode(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
}

/** Sends a raw handshake and returns the start of the answer. */
async function rawHandshake(extraFields: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: SERVER_PORT });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
          `${extraFields}\r\n`,
      ),
    );
    const buf = new Uint8Array(1024);
    const n = await conn.read(buf);
    return new TextDecoder().decode(buf.subarray(0, n ?? 0));
  } finally {
    conn.close();
  }
}

Deno.test("WebSocketProxy: handshakes through an HTTPServer's pipeline go to its pools' servers", async () => {
  const backends = BACKEND_PORTS.map((port, i) => echoBackend(`b${i + 1}`, port));
  const node = await startNodeProcess({ apiPort: API_PORT });
  const url = `ws://127.0.0.1:${SERVER_PORT}/ws?room=1`;
  const token = { "x-token": "secret" };
  try {
    const created = await node.ctl(["create", "-f", "-"], CONFIG);
    assert.equal(created.code, 0, created.stderr);
    await eventually(
      "serving",
      async () => (await request(`http://127.0.0.1:${SERVER_PORT}/ws`)).status === 400,
    );

    // Round robin over the main pool's two servers, messages both ways.
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { ws, next } = await open(url, token);
      const seen = JSON.parse(String(await next()));
      names.push(seen.name);
      assert.deepEqual(
        { ...seen, name: undefined },
        {
          name: undefined,
          target: "/ws?room=1",
          origin: "http://127.0.0.1/hello",
          forwardedFor: "127.0.0.1",
          forwardedProto: "http",
        },
      );
      ws.send("hello");
      assert.equal(await next(), `${seen.name}:hello`);
      // The limit itself passes.
      const big = new Uint8Array(32_769).map((_, j) => j & 0xff);
      ws.send(big);
      assert.deepEqual(new Uint8Array(await next() as ArrayBuffer), big);
      ws.close();
      await closed(ws);
    }
    assert.deepEqual(names.toSorted(), ["b1", "b1", "b2", "b2"]);
    assert.notEqual(names[0], names[1]);

    // The candidate pool takes what its filter matches.
    for (let i = 0; i < 2; i++) {
      const { ws, next } = await open(url, { ...token, "x-pool": "canary", origin: "http://me" });
      const seen = JSON.parse(String(await next()));
      assert.equal(seen.name, "b2");
      assert.equal(seen.origin, "http://me");
      ws.close();
      await closed(ws);
    }

    // A message past clientMaxMsgSize closes the relay with 1009 (message too big) to its sender.
    const tooBig = await open(url, token);
    await tooBig.next();
    tooBig.ws.send(new Uint8Array(32_770));
    assert.equal(await closeCode(tooBig.ws), 1009);
    // One past serverMaxMsgSize (the backend's echo): the client is told 1001 (going away).
    const echoedTooBig = await open(url, { ...token, "x-pool": "canary" });
    await echoedTooBig.next();
    echoedTooBig.ws.send("x".repeat(990));
    assert.equal(await echoedTooBig.next(), `b2:${"x".repeat(990)}`);
    echoedTooBig.ws.send("x".repeat(2000));
    assert.equal(await closeCode(echoedTooBig.ws), 1001);

    // The Validator answers first: the handshake never reaches a backend.
    assert.match(await rawHandshake(""), /^HTTP\/1\.1 400 /);
    assert.match(await rawHandshake("X-Token: wrong\r\n"), /^HTTP\/1\.1 400 /);
    await assert.rejects(open(url, { "x-token": "wrong" }));
    // A plain request, past the Validator, is no handshake: 400, not a hang.
    const plain = await request(`http://127.0.0.1:${SERVER_PORT}/ws`, {
      headers: { "x-token": "secret" },
    });
    assert.equal(plain.status, 400);
    assert.match(plain.body, /not a WebSocket handshake/);

    // Deleting the pipeline closes the relays still open.
    const { ws } = await open(url, token);
    assert.equal((await node.ctl(["delete", "pipeline", "websocket-pipeline"])).code, 0);
    await closed(ws);
  } finally {
    await node.stop();
    for (const backend of backends) await backend.shutdown();
  }
});
