/** Kernel sockets reached by their addresses (Linux, through glibc): shutdown, TCP_NODELAY. */

import assert from "node:assert/strict";
import {
  endpointKey,
  setNoDelayOnListeners,
  sockaddrKey,
  SocketPass,
} from "../../../filters/native_sockets.ts";
import { makeSelfSignedCert } from "../../../tools/self_signed_cert.ts";
import { tcpNoDelayOf } from "../../fixtures/socket_options.ts";

function sockaddrIn(ip: number[], port: number): Uint8Array {
  const bytes = new Uint8Array(16);
  bytes.set([2, 0, port >> 8, port & 255, ...ip]);
  return bytes;
}

function sockaddrIn6(ip: number[], port: number): Uint8Array {
  const bytes = new Uint8Array(28);
  bytes.set([10, 0, port >> 8, port & 255]);
  bytes.set(ip, 8);
  return bytes;
}

Deno.test("endpointKey and sockaddrKey name an address alike", () => {
  const v4 = endpointKey({ transport: "tcp", hostname: "127.0.0.1", port: 8443 });
  assert.equal(v4, sockaddrKey(sockaddrIn([127, 0, 0, 1], 8443)));
  assert.notEqual(v4, sockaddrKey(sockaddrIn([127, 0, 0, 1], 8444)));
  assert.notEqual(v4, sockaddrKey(sockaddrIn([127, 0, 0, 2], 8443)));

  const loopback6 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  const v6 = endpointKey({ transport: "tcp", hostname: "::1", port: 443 });
  assert.equal(v6, sockaddrKey(sockaddrIn6(loopback6, 443)));
  assert.notEqual(v6, endpointKey({ transport: "tcp", hostname: "0.0.0.1", port: 443 }));

  // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d.
  const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 1, 2, 3];
  assert.equal(
    sockaddrKey(sockaddrIn6(mapped, 50000)),
    endpointKey({ transport: "tcp", hostname: "10.1.2.3", port: 50000 }),
  );
  assert.equal(
    endpointKey({ transport: "tcp", hostname: "::ffff:10.1.2.3", port: 50000 }),
    endpointKey({ transport: "tcp", hostname: "10.1.2.3", port: 50000 }),
  );

  assert.equal(sockaddrKey(new Uint8Array([1, 0, 0, 0])), undefined, "AF_UNIX");
  assert.equal(endpointKey({ transport: "unix", path: "/tmp/s" }), undefined);
});

/** A connected pair: the client's socket and the server's accepted one. */
async function connectedPair(
  hostname: string,
): Promise<[Deno.TcpConn, Deno.TcpConn, Deno.Listener]> {
  const listener = Deno.listen({ hostname, port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname, port: (listener.addr as Deno.NetAddr).port }),
    listener.accept(),
  ]);
  return [client, server as Deno.TcpConn, listener];
}

async function readOrTimeout(conn: Deno.Conn, ms: number): Promise<number | null | "open"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      conn.read(new Uint8Array(16)),
      new Promise<"open">((resolve) => timer = setTimeout(() => resolve("open"), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

for (const hostname of ["127.0.0.1", "::1"]) {
  Deno.test({
    name: `SocketPass shuts down the queued socket only (${hostname})`,
    ignore: Deno.build.os !== "linux",
    async fn() {
      let pairs: [Deno.TcpConn, Deno.TcpConn, Deno.Listener][];
      try {
        pairs = [await connectedPair(hostname), await connectedPair(hostname)];
      } catch (e) {
        if (hostname === "::1" && e instanceof Deno.errors.AddrNotAvailable) return; // no IPv6
        throw e;
      }
      const [[client, server], [otherClient, otherServer]] = pairs;
      try {
        const shutdown = new SocketPass();
        shutdown.queue(server.localAddr, server.remoteAddr);
        assert.equal(await shutdown.flush(), 1);
        assert.equal(await shutdown.flush(), 0, "the queue is empty after a flush");
        // The server's side was shut down both ways: its client reads the end.
        assert.equal(await readOrTimeout(client, 3000), null);
        // Another connection between the same hosts stays up.
        await otherServer.write(new Uint8Array([1]));
        assert.equal(await readOrTimeout(otherClient, 3000), 1);
      } finally {
        for (const [c, s, l] of pairs) {
          c.close();
          s.close();
          l.close();
        }
      }
    },
  });
}

Deno.test({
  name: "SocketPass turns TCP_NODELAY on for the queued socket only",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const pairs = [await connectedPair("127.0.0.1"), await connectedPair("127.0.0.1")];
    const [[client], [otherClient]] = pairs;
    try {
      assert.equal(tcpNoDelayOf(client.localAddr, "local"), 0);
      const pass = new SocketPass();
      pass.queue(client.localAddr, client.remoteAddr, "nodelay");
      assert.equal(await pass.flush(), 1);
      assert.equal(tcpNoDelayOf(client.localAddr, "local"), 1);
      assert.equal(tcpNoDelayOf(otherClient.localAddr, "local"), 0);
      // The socket is still open and usable.
      await client.write(new Uint8Array([7]));
      assert.equal(await readOrTimeout(pairs[0][1], 3000), 1);
    } finally {
      for (const [c, s, l] of pairs) {
        c.close();
        s.close();
        l.close();
      }
    }
  },
});

Deno.test("SocketPass without glibc does nothing", async () => {
  const shutdown = new SocketPass(() => undefined);
  shutdown.queue(
    { transport: "tcp", hostname: "127.0.0.1", port: 1 },
    { transport: "tcp", hostname: "127.0.0.1", port: 2 },
  );
  assert.equal(await shutdown.flush(), 0);
});

Deno.test({
  name: "SocketPass finds a socket past the first slice of descriptors",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    const pairs: [Deno.Conn, Deno.Conn][] = [];
    try {
      // 600 sockets and more: the pass yields at least once before the last ones.
      for (let i = 0; i < 300; i++) {
        pairs.push(
          await Promise.all([Deno.connect({ hostname: "127.0.0.1", port }), listener.accept()]),
        );
      }
      const shutdown = new SocketPass();
      const [firstClient, firstServer] = pairs[0];
      const [lastClient, lastServer] = pairs[pairs.length - 1];
      shutdown.queue(lastServer.localAddr, lastServer.remoteAddr);
      shutdown.queue(firstServer.localAddr, firstServer.remoteAddr);
      assert.equal(await shutdown.flush(), 2);
      assert.equal(await readOrTimeout(lastClient, 3000), null);
      assert.equal(await readOrTimeout(firstClient, 3000), null);
    } finally {
      for (const [c, s] of pairs) {
        c.close();
        s.close();
      }
      listener.close();
    }
  },
});

Deno.test({
  name: "setNoDelayOnListeners: TLS connections accepted afterwards have TCP_NODELAY",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const cert = await makeSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
    const listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: cert.cert,
      key: cert.key,
    });
    const addr = listener.addr as Deno.NetAddr;
    // HTTP/3 shares the port number over UDP: not a TCP listener, left alone.
    const udp = Deno.listenDatagram({ hostname: "127.0.0.1", port: addr.port, transport: "udp" });
    const conns: Deno.Conn[] = [];
    try {
      const before = await Deno.connect({ hostname: "127.0.0.1", port: addr.port });
      conns.push(before, await listener.accept());
      assert.equal(tcpNoDelayOf(before.localAddr, "peer"), 0, "off by default");

      assert.equal(setNoDelayOnListeners(addr), 1);
      const after = await Deno.connect({ hostname: "127.0.0.1", port: addr.port });
      conns.push(after, await listener.accept());
      assert.equal(tcpNoDelayOf(after.localAddr, "peer"), 1);
      assert.equal(
        setNoDelayOnListeners({ transport: "tcp", hostname: "127.0.0.1", port: 1 }),
        0,
        "no listener there",
      );
    } finally {
      for (const conn of conns) conn.close();
      udp.close();
      listener.close();
      await Deno.remove(cert.dir, { recursive: true });
    }
  },
});
