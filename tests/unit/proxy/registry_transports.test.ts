import assert from "node:assert/strict";
import { proxyKind } from "../../../filters/proxy/proxy.ts";
import { Context, HttpRequest } from "../../../filters/context.ts";
import { ServiceDirectory } from "../../../filters/service_directory.ts";
import { silentLogger } from "../../../server/log.ts";

const PORT_A = 32501;
const PORT_B = 32502;

/** Accepts one connection, answers one request on it and leaves it open. */
async function answerOnce(listener: Deno.Listener): Promise<Deno.Conn> {
  const conn = await listener.accept();
  const buf = new Uint8Array(4096);
  let head = "";
  while (!head.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) break;
    head += new TextDecoder().decode(buf.subarray(0, n));
  }
  await conn.write(new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  return conn;
}

/** Whether `conn` is closed by its peer within `ms`. */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((r) => timer = setTimeout(() => r(false), ms));
  const eof = conn.read(new Uint8Array(16)).then((n) => n === null, () => true);
  try {
    return await Promise.race([eof, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const instance = (port: number) => ({
  serviceName: "s",
  instanceID: `i${port}`,
  address: "127.0.0.1",
  port,
  scheme: "http",
  tags: [],
  weight: 0,
});

Deno.test("Proxy: a registry instance that leaves has its pooled connections closed at once", async () => {
  const listenerA = Deno.listen({ hostname: "127.0.0.1", port: PORT_A });
  const listenerB = Deno.listen({ hostname: "127.0.0.1", port: PORT_B });
  const directory = new ServiceDirectory();
  directory.update("r", { s: [instance(PORT_A)] });
  const proxy = proxyKind.create(
    proxyKind.validate({
      pools: [{ servers: [], serviceRegistry: "r", serviceName: "s" }],
    }),
    {
      pipeline: "p",
      name: "proxy",
      log: silentLogger,
      resilience: () => undefined,
      services: directory,
    },
  );
  const conns: Deno.Conn[] = [];
  try {
    const accepted = answerOnce(listenerA);
    const ctx = new Context(new HttpRequest());
    await proxy.handle(ctx);
    assert.equal(ctx.response?.status, 200);
    await new Response(ctx.response?.body as BodyInit).text();
    const connA = await accepted;
    conns.push(connA);
    // The connection to A is idle in A's pool; A leaves the registry.
    directory.update("r", { s: [instance(PORT_B)] });
    assert.equal(await closedWithin(connA, 2_000), true);
    // B is served as before.
    const acceptedB = answerOnce(listenerB);
    const ctxB = new Context(new HttpRequest());
    await proxy.handle(ctxB);
    assert.equal(ctxB.response?.status, 200);
    await new Response(ctxB.response?.body as BodyInit).text();
    conns.push(await acceptedB);
  } finally {
    proxy.close?.();
    for (const c of conns) c.close();
    listenerA.close();
    listenerB.close();
  }
});
