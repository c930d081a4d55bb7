import assert from "node:assert/strict";
import { relay } from "../../../server/websocket/relay.ts";

const HANDSHAKE = "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/**
 * Relays one client connection to `backendPort`; returns what the client got.
 * `thenClose` ends the client's sending side once the handshake is out.
 */
async function relayOnce(
  backendPort: number,
  handshakeTimeoutMs: number,
  handshake = HANDSHAKE,
  thenClose = false,
): Promise<string> {
  const front = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const client = await Deno.connect({ hostname: "127.0.0.1", port: front.addr.port });
    const accepted = await front.accept();
    const relayed = relay(accepted, {
      backend: new URL(`ws://127.0.0.1:${backendPort}`),
      scheme: "http",
      handshakeTimeoutMs,
      connect: () => Deno.connect({ hostname: "127.0.0.1", port: backendPort }),
    }, () => {});
    await client.write(new TextEncoder().encode(handshake));
    if (thenClose) await client.closeWrite();
    // The relay answers and returns; its caller closes the client connection.
    await relayed;
    accepted.close();
    return await new Response(client.readable).text();
  } finally {
    front.close();
  }
}

Deno.test("relay: a backend that never answers the handshake is a 504 once the timeout passes", async () => {
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) held.push(conn); // reads nothing, answers nothing
  })();
  try {
    const start = Date.now();
    const answer = await relayOnce(silent.addr.port, 300);
    assert.match(answer, /^HTTP\/1\.1 504 /);
    assert.match(answer, /did not answer the handshake within 0\.3s/);
    assert.ok(Date.now() - start < 3000);
  } finally {
    silent.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
});

Deno.test("relay: a backend that closes without answering is a 502", async () => {
  const closing = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const conn of closing) {
      await conn.read(new Uint8Array(4096));
      conn.close();
    }
  })();
  try {
    assert.match(
      await relayOnce(closing.addr.port, 5000),
      /^HTTP\/1\.1 502 [\s\S]*closed the connection/,
    );
    // Empty lines before the handshake are skipped, not taken for an empty head.
    assert.match(
      await relayOnce(closing.addr.port, 5000, "\r\n\r\n" + HANDSHAKE),
      /^HTTP\/1\.1 502 [\s\S]*closed the connection/,
    );
  } finally {
    closing.close();
    await accepting.catch(() => {});
  }
});

Deno.test("relay: a handshake without a valid key or version 13 is a 400, as gorilla/websocket answers, and reaches no backend", async () => {
  const backend = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let reached = 0;
  const accepting = (async () => {
    for await (const conn of backend) {
      reached++;
      conn.close();
    }
  })();
  const without = (field: string) => HANDSHAKE.replace(new RegExp(`${field}: [^\\r]*\\r\\n`), "");
  try {
    for (
      const handshake of [
        without("Sec-WebSocket-Key"),
        HANDSHAKE.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="),
      ]
    ) {
      assert.match(
        await relayOnce(backend.addr.port, 5000, handshake),
        /^HTTP\/1\.1 400 [\s\S]*Sec-WebSocket-Key must be 16 bytes in base64/,
      );
    }
    for (const handshake of [without("Sec-WebSocket-Version"), HANDSHAKE.replace(": 13", ": 8")]) {
      const answer = await relayOnce(backend.addr.port, 5000, handshake);
      assert.match(answer, /^HTTP\/1\.1 400 [\s\S]*unsupported Sec-WebSocket-Version/);
      assert.match(answer, /\r\nsec-websocket-version: 13\r\n/);
    }
    assert.equal(reached, 0);
  } finally {
    backend.close();
    await accepting.catch(() => {});
  }
});

Deno.test("relay: a backend that refuses the upgrade gets nothing more from the client, whose answer then ends", async () => {
  const refusing = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let received = "";
  const accepting = (async () => {
    for await (const conn of refusing) {
      const buf = new Uint8Array(4096);
      let answered = false;
      // Answers the head, then reads what else comes (nothing should) until
      // the relay stops sending, or for 2 s at most.
      const done = setTimeout(() => conn.close(), 2000);
      try {
        for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
          received += new TextDecoder().decode(buf.subarray(0, n));
          if (!answered && received.includes("\r\n\r\n")) {
            answered = true;
            await conn.write(
              new TextEncoder().encode("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"),
            );
          }
        }
        conn.close();
      } catch {
        // closed by the 2 s bound
      } finally {
        clearTimeout(done);
      }
    }
  })();
  try {
    const smuggled = "GET /inside HTTP/1.1\r\nHost: internal\r\n\r\n";
    // The client stops sending, so the relay ends even if it lets the smuggled bytes through.
    const answer = await relayOnce(refusing.addr.port, 5000, HANDSHAKE + smuggled, true);
    assert.match(answer, /^HTTP\/1\.1 403 Forbidden\r\n[\s\S]*\r\n\r\nno$/);
    assert.ok(!received.includes("/inside"), received);
  } finally {
    refusing.close();
    await accepting.catch(() => {});
  }
});
