/**
 * HTTP/2 sessions on the HTTP/1.1 server's TLS listener, driven by the
 * runtime's own HTTP/2 client: requests reach the handler as HTTP/2 over
 * https, and a session streaming a response body is not idle, however long
 * the body takes.
 */

import assert from "node:assert/strict";
import { type HttpRequest, HttpResponse } from "../../../filters/context.ts";
import { H2Session } from "../../../server/httpserver/h2_session.ts";
import { serveHttp1 } from "../../../server/httpserver/http1/server.ts";
import {
  type ServeHttpOnConnection,
  serveHttpOnConnection,
} from "../../../server/httpserver/runtime_internals.ts";
import { makeSelfSignedCert } from "../../../tools/self_signed_cert.ts";

const encoder = new TextEncoder();

/** A body of `parts` chunks, `gapMs` apart. */
function slowBody(parts: number, gapMs: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise((r) => setTimeout(r, gapMs));
      if (sent === parts) {
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(`part ${sent++}\n`));
    },
  });
}

/** The HTTP/1.1 server on TLS, handing HTTP/2 connections to H2Session. */
function serveH2(
  serve: ServeHttpOnConnection,
  cert: { cert: string; key: string },
  handler: (request: HttpRequest) => HttpResponse,
  keepAliveTimeoutMs: number,
) {
  return serveHttp1({
    hostname: "127.0.0.1",
    port: 0,
    keepAliveTimeoutMs,
    maxConnections: 0,
    tls: { cert: cert.cert, key: cert.key },
    handler,
    h2: (socket, host) => new H2Session(serve, socket, handler, host),
  });
}

Deno.test("HTTP/2 session: https requests; a body streaming past keepAliveTimeout is not cut", async () => {
  const serve = serveHttpOnConnection;
  assert.ok(serve, "this Deno has no per-connection HTTP server");
  const cert = await makeSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
  const handler = (request: HttpRequest) => {
    if (request.path !== "/slow") {
      return new HttpResponse(200, {}, `${request.scheme} ${request.proto} ${request.path}\n`);
    }
    // Four gaps of 700 ms: well past the limit and the sweep's margin.
    return new HttpResponse(200, {}, slowBody(3, 700));
  };
  const server = serveH2(serve, cert, handler, 500);
  const client = Deno.createHttpClient({ caCerts: [cert.cert], http1: false, http2: true });
  try {
    const base = `https://127.0.0.1:${server.port}`;
    const quick = await fetch(`${base}/quick`, { client });
    assert.equal(await quick.text(), "https HTTP/2 /quick\n");
    const slow = await fetch(`${base}/slow`, { client });
    assert.equal(await slow.text(), "part 0\npart 1\npart 2\n");
  } finally {
    client.close();
    await server.shutdown(0);
    await Deno.remove(cert.dir, { recursive: true });
  }
});

const FRAME_NAMES: Record<number, string> = { 4: "SETTINGS", 6: "PING", 7: "GOAWAY" };

/**
 * A bare HTTP/2 client that opens a session, answers SETTINGS and (when
 * `answerPings`) PING as any client library does, and records the frames
 * it gets until the server closes the connection.
 */
async function idleSession(
  port: number,
  caCert: string,
  answerPings: boolean,
): Promise<{ frames: string[]; goawayToEndMs: number }> {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port,
    caCerts: [caCert],
    alpnProtocols: ["h2"],
  });
  await conn.write(encoder.encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
  await conn.write(new Uint8Array([0, 0, 0, 4, 0, 0, 0, 0, 0]));
  // Ends a session the server never closes, so the test fails instead of waiting.
  const guard = setTimeout(() => conn.close(), 8000);
  const frames: string[] = [];
  let goawayAt = 0;
  let pending = new Uint8Array(0);
  const chunk = new Uint8Array(16 * 1024);
  try {
    for (;;) {
      const n = await conn.read(chunk);
      if (n === null) break;
      const joined = new Uint8Array(pending.length + n);
      joined.set(pending);
      joined.set(chunk.subarray(0, n), pending.length);
      pending = joined;
      while (pending.length >= 9) {
        const length = (pending[0] << 16) | (pending[1] << 8) | pending[2];
        if (pending.length < 9 + length) break;
        const [type, flags] = [pending[3], pending[4]];
        const name = FRAME_NAMES[type];
        if (name !== undefined) frames.push(name);
        if (type === 7 && goawayAt === 0) goawayAt = Date.now();
        const ack = (flags & 1) !== 0;
        if (type === 4 && !ack) await conn.write(new Uint8Array([0, 0, 0, 4, 1, 0, 0, 0, 0]));
        if (type === 6 && !ack && answerPings) {
          const pong = pending.slice(0, 17);
          pong[4] = 1;
          await conn.write(pong);
        }
        pending = pending.subarray(9 + length);
      }
    }
  } catch {
    // A reset ends the session as surely as an end of stream.
  } finally {
    clearTimeout(guard);
    try {
      conn.close();
    } catch { /* closed by the guard */ }
  }
  return { frames, goawayToEndMs: goawayAt === 0 ? -1 : Date.now() - goawayAt };
}

Deno.test("HTTP/2 session: an idle session says GOAWAY before it is closed", async () => {
  const serve = serveHttpOnConnection;
  assert.ok(serve, "this Deno has no per-connection HTTP server");
  const cert = await makeSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
  const handler = () => new HttpResponse(200, {}, "ok");
  const server = serveH2(serve, cert, handler, 300);
  try {
    // A client that answers the ping: the session ends as soon as it has.
    const polite = await idleSession(server.port, cert.cert, true);
    assert.ok(polite.frames.includes("GOAWAY"), `frames: ${polite.frames.join(" ")}`);
    assert.ok(polite.goawayToEndMs < 500, `ended ${polite.goawayToEndMs} ms after GOAWAY`);
    // One that never answers is not let to keep the connection.
    if (Deno.build.os === "linux") {
      const silent = await idleSession(server.port, cert.cert, false);
      assert.ok(silent.frames.includes("GOAWAY"), `frames: ${silent.frames.join(" ")}`);
      assert.ok(silent.goawayToEndMs < 3000, `ended ${silent.goawayToEndMs} ms after GOAWAY`);
    }
  } finally {
    await server.shutdown(0);
    await Deno.remove(cert.dir, { recursive: true });
  }
});
