/**
 * WebSocketServer in this process: a client that connects and stays silent
 * is closed once the handshake deadline passes, over plain TCP and over TLS
 * (where the TLS handshake itself is what it never sends).
 */

import assert from "node:assert/strict";
import { WebSocketServer } from "../../../server/websocket/server.ts";
import { makeSelfSignedCert } from "../../../tools/self_signed_cert.ts";
import { builtinFilters } from "../../../filters/registry.ts";
import { validateObject } from "../../../server/objects.ts";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** How long the server takes to close a client that sends nothing (at most 20 s). */
async function silentFor(port: number): Promise<number> {
  const silent = await Deno.connect({ hostname: "127.0.0.1", port });
  const start = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const read = await Promise.race([
      silent.read(new Uint8Array(16)).catch(() => null),
      new Promise<"open">((resolve) => timer = setTimeout(() => resolve("open"), 20_000)),
    ]);
    assert.equal(read, null, "the silent client's TCP connection was closed");
    return Date.now() - start;
  } finally {
    clearTimeout(timer);
    silent.close();
  }
}

Deno.test({
  name: "WebSocketServer: a silent client is closed after 10 s, over TLS (no ClientHello) too",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const tls = await makeSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
    const plainPort = freePort();
    const tlsPort = freePort();
    const backend = "ws://127.0.0.1:9";
    const plain = new WebSocketServer(
      { name: "ws", kind: "WebSocketServer", port: plainPort, https: false, backend },
      { log: quiet },
    );
    const secure = new WebSocketServer({
      name: "wss",
      kind: "WebSocketServer",
      port: tlsPort,
      https: true,
      backend,
      certBase64: btoa(tls.cert),
      keyBase64: btoa(tls.key),
    }, { log: quiet });
    try {
      for (
        let tries = 0;
        plain.status().state !== "running" || secure.status().state !== "running";
        tries++
      ) {
        assert.ok(tries < 100, "both listening");
        await new Promise((r) => setTimeout(r, 20));
      }
      // The TLS listener serves: a request that is not a WebSocket handshake gets 400.
      const client = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: tlsPort,
        caCerts: [tls.cert],
      });
      await client.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
      assert.match(await new Response(client.readable).text(), /^HTTP\/1\.1 400 /);

      const [plainMs, tlsMs] = await Promise.all([silentFor(plainPort), silentFor(tlsPort)]);
      assert.ok(plainMs >= 9_000 && plainMs < 13_000, `plain: closed after ${plainMs} ms`);
      assert.ok(tlsMs >= 9_000 && tlsMs < 13_000, `TLS: closed after ${tlsMs} ms`);
    } finally {
      await plain.close();
      await secure.close();
      await Deno.remove(tls.dir, { recursive: true });
    }
  },
});

Deno.test("WebSocketServer: an empty backend is refused as no ws:// URL, as a missing one is", () => {
  const problems = (fields: Record<string, unknown>) => {
    try {
      validateObject(
        { kind: "WebSocketServer", name: "ws", port: 10020, ...fields },
        builtinFilters(),
      );
    } catch (e) {
      return (e as Error).message;
    }
    return "accepted";
  };
  assert.match(problems({ backend: "" }), /backend: must be a ws:\/\/ or wss:\/\/ URL .*, got ""/);
  assert.match(problems({}), /backend: is required/);
  assert.doesNotMatch(problems({}), /must be a ws:\/\//);
  assert.equal(problems({ backend: "ws://127.0.0.1:3001" }), "accepted");
});
