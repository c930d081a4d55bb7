/**
 * WebSocketServer through the real binary: handshakes relayed to a ws://
 * backend with the client's path, query and subprotocol and the
 * X-Forwarded-* fields, messages both ways, refusals for what is not a
 * handshake and for a backend that is down, a TLS listener, spec errors,
 * and relays closed with their object.
 */

import assert from "node:assert/strict";
import { anyAddress } from "../../server/any_address.ts";
import { makeSelfSignedCert } from "../../tools/self_signed_cert.ts";
import { eventually, freePort, request, startNodeProcess } from "./helpers.ts";
import { closed, received } from "./websocket_client.ts";

/** A WebSocket backend: its first message says what handshake it got; then it echoes. */
function echoBackend(tls?: { cert: string; key: string }): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {}, ...tls }, (req) => {
    if (req.headers.get("upgrade") !== "websocket") return new Response("no", { status: 426 });
    const url = new URL(req.url);
    const seen = JSON.stringify({
      target: url.pathname + url.search,
      host: req.headers.get("host"),
      forwardedFor: req.headers.get("x-forwarded-for"),
      forwardedHost: req.headers.get("x-forwarded-host"),
      forwardedProto: req.headers.get("x-forwarded-proto"),
      protocol: req.headers.get("sec-websocket-protocol"),
    });
    const asked = req.headers.get("sec-websocket-protocol") !== null;
    const { socket, response } = Deno.upgradeWebSocket(req, asked ? { protocol: "chat" } : {});
    socket.onopen = () => socket.send(seen);
    socket.onmessage = (e) => socket.send(typeof e.data === "string" ? `echo:${e.data}` : e.data);
    return response;
  });
}

/** Easegress's own example, unused TLS fields left empty. */
function webSocketServer(name: string, port: number, backend: string): string {
  return `kind: WebSocketServer\nname: ${name}\nhttps: false\ncertBase64:\nkeyBase64:\n` +
    `port: ${port}\nbackend: ${backend}\nwssCertBase64:\nwssKeyBase64:\n`;
}

/** Opens a WebSocket and collects what it receives. */
function open(url: string): Promise<{ ws: WebSocket; next: () => Promise<unknown> }> {
  return received(new WebSocket(url, ["chat"]));
}

Deno.test("websocket: handshakes and messages are relayed; refusals; closed with the object", async () => {
  const backend = echoBackend();
  const node = await startNodeProcess();
  const port = freePort();
  const downPort = freePort();
  try {
    const yaml = webSocketServer("ws", port, `ws://127.0.0.1:${backend.addr.port}`);
    const created = await node.ctl(["object", "create"], yaml);
    assert.equal(created.code, 0, created.stderr);
    const down = await node.ctl(
      ["object", "create"],
      webSocketServer("down", downPort, `ws://127.0.0.1:${freePort()}`),
    );
    assert.equal(down.code, 0, down.stderr);
    await eventually(
      "listening",
      async () => (await request(`http://127.0.0.1:${port}/`)).status === 400,
    );

    const { ws, next } = await open(`ws://127.0.0.1:${port}/chat/room?x=1`);
    assert.equal(ws.protocol, "chat");
    assert.deepEqual(JSON.parse(String(await next())), {
      target: "/chat/room?x=1",
      host: `127.0.0.1:${backend.addr.port}`,
      forwardedFor: "127.0.0.1",
      forwardedHost: `127.0.0.1:${port}`,
      forwardedProto: "http",
      protocol: "chat",
    });
    ws.send("hello");
    assert.equal(await next(), "echo:hello");
    if (anyAddress() === "::") {
      // Served on every address, as Easegress's :port: an IPv6 client too.
      const v6 = await open(`ws://[::1]:${port}/`);
      assert.equal(JSON.parse(String(await v6.next())).forwardedFor, "::1");
      v6.ws.close();
    }
    const big = new Uint8Array(200_000).map((_, i) => i & 0xff);
    ws.send(big);
    assert.deepEqual(new Uint8Array(await next() as ArrayBuffer), big);

    const plain = await request(`http://127.0.0.1:${port}/chat`);
    assert.equal(plain.status, 400);
    assert.match(plain.body, /not a WebSocket handshake/);
    // wss:// pointed at this plain listener: refused at once, not after the handshake timeout.
    const tls = await Deno.connect({ hostname: "127.0.0.1", port });
    await tls.write(new Uint8Array([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00]));
    const refusal = new Uint8Array(512);
    const n = await tls.read(refusal);
    tls.close();
    assert.match(
      new TextDecoder().decode(refusal.subarray(0, n ?? 0)),
      /^HTTP\/1\.1 400 [^]*TLS handshake/,
    );
    await eventually(
      "the down backend answers 502",
      async () => (await rawHandshake(downPort)).startsWith("HTTP/1.1 502"),
    );

    // Deleting the object closes its port and the relays still open.
    assert.equal((await node.ctl(["object", "delete", "ws"])).code, 0);
    await closed(ws);
    await eventually("port closed", async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return false;
      } catch {
        return true;
      }
    });
  } finally {
    await node.stop();
    await backend.shutdown();
  }
});

Deno.test("websocket: a TLS listener relays to a plain backend; bad specs name the field", async () => {
  const backend = echoBackend();
  const tls = await makeSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
  const other = await makeSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
  const node = await startNodeProcess();
  const port = freePort();
  try {
    const yaml = `kind: WebSocketServer\nname: wss\nhttps: true\ncertBase64: ${btoa(tls.cert)}\n` +
      `keyBase64: ${
        btoa(tls.key)
      }\nport: ${port}\nbackend: ws://127.0.0.1:${backend.addr.port}/base\n`;
    const created = await node.ctl(["object", "create"], yaml);
    assert.equal(created.code, 0, created.stderr);
    await eventually(
      "TLS handshake relayed",
      async () => (await rawHandshake(port, tls.cert)).startsWith("HTTP/1.1 101"),
    );
    const answer = await rawHandshake(port, tls.cert);
    assert.match(answer, /sec-websocket-accept: /i);
    // The backend URL's path goes before the request's; the client came over TLS.
    assert.match(answer, /"target":"\/base\/ws"/);
    assert.match(answer, /"forwardedProto":"https"/);
    // Clients offering ALPN (Deno's WebSocket among them) give up unless one is chosen.
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port,
      caCerts: [tls.cert],
      alpnProtocols: ["h2", "http/1.1"],
    });
    try {
      assert.equal((await conn.handshake()).alpnProtocol, "http/1.1");
    } finally {
      conn.close();
    }

    // A wss:// backend whose certificate the node does not trust: the 502 says so.
    const untrusted = echoBackend({ cert: other.cert, key: other.key });
    try {
      const yaml = webSocketServer(
        "untrusted",
        freePort(),
        `wss://127.0.0.1:${untrusted.addr.port}`,
      );
      assert.equal((await node.ctl(["object", "create"], yaml)).code, 0);
      const untrustedPort = Number(/port: (\d+)/.exec(yaml)![1]);
      await eventually(
        "the untrusted backend answers 502",
        async () => (await rawHandshake(untrustedPort)).startsWith("HTTP/1.1 502"),
      );
      assert.match(await rawHandshake(untrustedPort), /cannot reach the backend: .*certificate/i);
    } finally {
      await untrusted.shutdown();
    }

    const cases: [string, RegExp][] = [
      [webSocketServer("b1", port, "http://x"), /backend: must be a ws:\/\/ or wss:\/\/ URL/],
      [webSocketServer("b2", port, "").replace("backend: \n", ""), /backend: is required/],
      [
        webSocketServer("b3", port, "ws://x").replace("https: false", "https: true"),
        /certBase64: is required with https: true/,
      ],
      [
        webSocketServer("b4", port, "wss://x").replace(
          "wssCertBase64:",
          `wssCertBase64: ${btoa(tls.cert)}`,
        ),
        /wssKeyBase64: is required with the other one/,
      ],
      [
        webSocketServer("b5", port, "wss://x").replace(
          "wssCertBase64:",
          `wssCertBase64: ${btoa(tls.cert)}`,
        ).replace("wssKeyBase64:", `wssKeyBase64: ${btoa(other.key)}`),
        /wssKeyBase64: is not the key of the certificate in wssCertBase64/,
      ],
    ];
    for (const [spec, message] of cases) {
      const r = await node.ctl(["object", "create"], spec);
      assert.equal(r.code, 1, spec);
      assert.match(r.stderr, message);
    }
  } finally {
    await node.stop();
    await backend.shutdown();
    await Deno.remove(tls.dir, { recursive: true });
  }
});

/** Sends a handshake by hand (over TLS when `caCert` is given); returns the answer's head. */
async function rawHandshake(port: number, caCert?: string): Promise<string> {
  const conn = caCert
    ? await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caCert] })
    : await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      ),
    );
    // The head, and the backend's first message when the handshake went through.
    const buf = new Uint8Array(4096);
    let text = "";
    const deadline = Date.now() + 2000;
    while (!text.includes("}") && Date.now() < deadline) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text;
  } catch (e) {
    return `failed: ${(e as Error).message}`;
  } finally {
    conn.close();
  }
}

Deno.test("websocket: a changed backend takes new handshakes at once; open relays go on", async () => {
  const first = echoBackend();
  const second = echoBackend();
  // One data plane: its listener does not share the port, so the old one must let it go first.
  const node = await startNodeProcess({ args: ["--workers", "1"] });
  const port = freePort();
  const backendOf = async () => {
    const { ws, next } = await open(`ws://127.0.0.1:${port}/`);
    const host = JSON.parse(String(await next())).host;
    return { ws, next, host };
  };
  try {
    const spec = (backend: Deno.HttpServer<Deno.NetAddr>) =>
      webSocketServer("ws", port, `ws://127.0.0.1:${backend.addr.port}`);
    assert.equal((await node.ctl(["object", "create"], spec(first))).code, 0);
    await eventually(
      "listening",
      async () => (await request(`http://127.0.0.1:${port}/`)).status === 400,
    );
    const old = await backendOf();
    assert.equal(old.host, `127.0.0.1:${first.addr.port}`);

    const started = Date.now();
    assert.equal((await node.ctl(["object", "update"], spec(second))).code, 0);
    let relay: Awaited<ReturnType<typeof backendOf>> | undefined;
    await eventually("the new backend", async () => {
      relay?.ws.close();
      relay = await backendOf();
      return relay.host === `127.0.0.1:${second.addr.port}`;
    }, 3000);
    assert.ok(Date.now() - started < 3000);
    relay!.ws.close();

    old.ws.send("still here");
    assert.equal(await old.next(), "echo:still here");
    old.ws.close();
    await closed(old.ws);
  } finally {
    await node.stop();
    await first.shutdown();
    await second.shutdown();
  }
});
