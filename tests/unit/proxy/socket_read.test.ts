import assert from "node:assert/strict";
import { LeanSocket, readSocket } from "../../../filters/proxy/socket_read.ts";

const CONNECTION_MODULE =
  new URL("../../../filters/proxy/http1_connection.ts", import.meta.url).href;

async function connectedPair(): Promise<{ client: Deno.Conn; server: Deno.Conn }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  listener.close();
  return { client, server };
}

Deno.test("readSocket reads what the peer sent, then reports the end of stream", async () => {
  const { client, server } = await connectedPair();
  await server.write(new TextEncoder().encode("hello"));
  server.close();
  const buf = new Uint8Array(16);
  const n = await readSocket(client, buf);
  assert.equal(new TextDecoder().decode(buf.subarray(0, n ?? 0)), "hello");
  assert.ok(!(await readSocket(client, buf)), "end of stream reads 0 or null");
  client.close();
});

/** Runs `code` in a fresh process; resolves with its exit code, or "hung" after `limitMs`. */
async function exitOf(code: string, limitMs: number): Promise<number | "hung"> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<"hung">((resolve) => timer = setTimeout(() => resolve("hung"), limitMs));
  const outcome = await Promise.race([child.status.then((s) => s.code), hung]);
  clearTimeout(timer);
  if (outcome === "hung") {
    child.kill();
    await child.status;
  }
  return outcome;
}

function parkedConnectionScript(activate: boolean): string {
  return `
    import { Http1Connection } from "${CONNECTION_MODULE}";
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const [socket, peer] = await Promise.all([
      Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
      listener.accept(),
    ]);
    listener.close();
    peer.unref();
    const conn = new Http1Connection(socket, () => {});
    conn.watchIdle(Date.now());
    ${activate ? "conn.activate(); Deno.unrefTimer(setTimeout(() => peer.close(), 1500));" : ""}
  `;
}

Deno.test("a connection parked idle does not keep the process alive; taken out again, it does", async () => {
  assert.equal(await exitOf(parkedConnectionScript(false), 10_000), 0);
  // Activated, the pending read holds the process until the peer closes (1.5 s later).
  const started = Date.now();
  assert.equal(await exitOf(parkedConnectionScript(true), 10_000), 0);
  assert.ok(Date.now() - started >= 1500, "the activated read kept the process alive");
});

Deno.test("LeanSocket reads, writes, half-closes and closes by resource id as Deno.Conn does", async () => {
  const { client, server } = await connectedPair();
  const lean = LeanSocket.of(server);
  assert.ok(lean instanceof LeanSocket);
  await client.write(new TextEncoder().encode("ping"));
  const buf = new Uint8Array(16);
  assert.equal(await readSocket(lean, buf), 4);
  assert.equal(await lean.write(new TextEncoder().encode("pong")), 4);
  assert.equal(await client.read(buf), 4);
  assert.equal(new TextDecoder().decode(buf.subarray(0, 4)), "pong");
  // closeWrite: the client sees the end of the stream, and can still send.
  await lean.closeWrite();
  assert.equal(await client.read(buf), null);
  await client.write(new Uint8Array([1]));
  assert.equal(await lean.read(buf), 1);
  client.close();
  // The end of the stream is null, as from Deno.Conn.read.
  assert.equal(await lean.read(buf), null);
  lean.close();
  assert.throws(() => lean.close(), Deno.errors.BadResource);
});
