/**
 * Holds many idle HTTP/1.1 keep-alive connections open against a proxy, so
 * the benchmark can read the proxy's memory per connection. Each connection
 * sends one GET and reads the whole answer, then stays open and silent.
 *
 * Prints one JSON line `{"open":N,"failed":M,"firstError":"..."}` once every
 * connection is open (or has failed), then waits for stdin to close and
 * closes them all. Started by `bench/run.ts`, which raises `ulimit -n`.
 *
 * ```sh
 * deno run --allow-net bench/idle_client.ts --port 8080 --count 10000
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads one HTTP/1.1 answer (Content-Length or chunked); throws on EOF or a non-200. */
async function readAnswer(conn: Deno.TcpConn, buffer: Uint8Array): Promise<void> {
  let have = 0;
  let headEnd = -1;
  let need = Infinity;
  let chunked = false;
  while (true) {
    if (have === buffer.length) throw new Error("answer larger than the read buffer");
    const n = await conn.read(buffer.subarray(have));
    if (n === null) throw new Error("connection closed before the answer ended");
    have += n;
    const text = decoder.decode(buffer.subarray(0, have));
    if (headEnd < 0) {
      headEnd = text.indexOf("\r\n\r\n");
      if (headEnd < 0) continue;
      const head = text.slice(0, headEnd);
      const status = head.match(/^HTTP\/1\.[01] (\d{3})/)?.[1];
      if (status !== "200") throw new Error(`answer ${head.split("\r\n")[0]}`);
      const length = head.match(/\r\ncontent-length:\s*(\d+)/i)?.[1];
      chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
      if (length !== undefined) need = headEnd + 4 + Number(length);
      else if (!chunked) throw new Error("answer has neither content-length nor chunked body");
    }
    if (chunked ? text.endsWith("0\r\n\r\n") : have >= need) return;
  }
}

/** Opens one connection, does one exchange on it, and returns it still open. */
async function openOne(port: number, request: Uint8Array): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(request);
    await readAnswer(conn, new Uint8Array(64 * 1024));
    return conn;
  } catch (error) {
    conn.close();
    throw error;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string" },
      count: { type: "string", default: "10000" },
      path: { type: "string", default: "/" },
      concurrency: { type: "string", default: "200" },
    },
  });
  const port = Number(values.port);
  const count = Number(values.count);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(port) || !Number.isInteger(count) || !Number.isInteger(concurrency)) {
    throw new TypeError("Cannot start: --port, --count and --concurrency must be integers");
  }
  const request = encoder.encode(`GET ${values.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  const conns: Deno.TcpConn[] = [];
  let failed = 0;
  let firstError = "";
  let next = 0;
  // A few openers at a time: a burst of 10 000 SYNs would overflow listen backlogs.
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      next++;
      try {
        conns.push(await openOne(port, request));
      } catch (error) {
        failed++;
        firstError ||= error instanceof Error ? error.message : String(error);
      }
    }
  }));
  console.log(JSON.stringify({ open: conns.length, failed, firstError }));
  // Hold them until the benchmark closes our stdin.
  for await (const _ of Deno.stdin.readable) { /* wait for EOF */ }
  for (const conn of conns) conn.close();
}

if (import.meta.main) await main();
