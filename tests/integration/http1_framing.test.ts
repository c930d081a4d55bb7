/**
 * HTTP/1.1 framing through a node, with raw bytes on both sides: what a
 * client's request becomes on the way to a backend, and what the client
 * gets back, on both HTTP/1.1 servers (builtin and deno).
 */

import assert from "node:assert/strict";
import { eventually, type NodeProcess, startNodeProcess } from "./helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A backend that answers every request `ok` and keeps what it received. */
class RecordingBackend {
  readonly #listener: Deno.Listener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #served: Promise<void>;
  /** Every byte received, all connections together. */
  received = "";

  constructor(port: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port });
    this.#served = this.#accept();
  }

  async #accept(): Promise<void> {
    for await (const conn of this.#listener) {
      this.#conns.add(conn);
      this.#serve(conn).finally(() => this.#conns.delete(conn));
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    let pending = "";
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) return;
        const got = decoder.decode(buf.subarray(0, n));
        this.received += got;
        pending += got;
        // One answer per complete message with a Content-Length body.
        for (;;) {
          const end = pending.indexOf("\r\n\r\n");
          if (end < 0) break;
          const length = Number(/content-length: (\d+)/i.exec(pending.slice(0, end))?.[1] ?? 0);
          if (pending.length < end + 4 + length) break;
          pending = pending.slice(end + 4 + length);
          await conn.write(encoder.encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
        }
      }
    } catch {
      // Closed by the test.
    } finally {
      conn.close();
    }
  }

  async close(): Promise<void> {
    this.#listener.close();
    for (const conn of this.#conns) conn.close();
    await this.#served.catch(() => {});
  }
}

/** Writes `parts` to a new connection, a pause between them; what came back until it went quiet. */
async function exchange(port: number, parts: string[], quietMs = 500): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    for (const part of parts) {
      await conn.write(encoder.encode(part));
      await new Promise((r) => setTimeout(r, 100));
    }
    let answer = "";
    const buf = new Uint8Array(4096);
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const quiet = new Promise<null>((r) => timer = setTimeout(() => r(null), quietMs));
      const n = await Promise.race([conn.read(buf), quiet]).finally(() => clearTimeout(timer));
      if (n === null) return answer;
      answer += decoder.decode(buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

/** Starts a node whose server on `port` proxies to `backendPort`, with clientMaxBodySize 10. */
async function proxyNode(
  apiPort: number,
  port: number,
  backendPort: number,
  http1Server: string,
): Promise<NodeProcess> {
  const node = await startNodeProcess({ apiPort, args: ["--http1-server", http1Server] });
  await node.ctl(
    ["object", "create"],
    `name: p\nkind: Pipeline\nfilters:\n  - name: proxy\n    kind: Proxy\n    pools:\n` +
      `      - servers:\n          - url: http://127.0.0.1:${backendPort}\n`,
  );
  await node.ctl(
    ["object", "create"],
    `kind: HTTPServer\nname: s\nport: ${port}\nclientMaxBodySize: 10\n` +
      `rules:\n  - paths:\n    - backend: p\n`,
  );
  await eventually("serving", async () => {
    const answer = await exchange(port, ["GET / HTTP/1.1\r\nHost: x\r\n\r\n"], 200);
    return answer.startsWith("HTTP/1.1 200");
  });
  return node;
}

for (const [http1Server, base] of [["builtin", 25510], ["deno", 25520]] as const) {
  Deno.test(`http1 framing (${http1Server}): a Content-Length sent twice alike is one length, limit included`, async () => {
    const backend = new RecordingBackend(base + 2);
    const node = await proxyNode(base, base + 1, base + 2, http1Server);
    try {
      // The body comes after the head, so it streams to the backend.
      // Deno.serve refuses the list in one field, as Go does (400); it joins two fields into one.
      const spellings = ["content-length: 4\r\ncontent-length: 4"];
      if (http1Server === "builtin") spellings.push("content-length: 4, 4");
      for (const fields of spellings) {
        backend.received = "";
        const answer = await exchange(base + 1, [
          `POST /up HTTP/1.1\r\nHost: x\r\n${fields}\r\n\r\n`,
          "abcd",
        ]);
        assert.match(answer, /^HTTP\/1\.1 200 /, `${fields}: ${answer}`);
        assert.match(backend.received, /^POST \/up HTTP\/1\.1\r\n/);
        assert.deepEqual(backend.received.match(/content-length: .*/gi), ["content-length: 4"]);
        assert.ok(backend.received.endsWith("\r\n\r\nabcd"), backend.received);
      }
      // Past clientMaxBodySize however it is spelled.
      backend.received = "";
      const answer = await exchange(base + 1, [
        "POST /up HTTP/1.1\r\nHost: x\r\ncontent-length: 20\r\ncontent-length: 20\r\n\r\n",
        "a".repeat(20),
      ]);
      assert.match(answer, /^HTTP\/1\.1 413 /, answer);
      assert.equal(backend.received, "");
    } finally {
      await node.stop();
      await backend.close();
    }
  });
}
