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
import { serveHttpOnConnection } from "../../../server/httpserver/runtime_internals.ts";
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
  const server = serveHttp1({
    hostname: "127.0.0.1",
    port: 0,
    keepAliveTimeoutMs: 500,
    maxConnections: 0,
    tls: { cert: cert.cert, key: cert.key },
    handler,
    h2: (socket, host) => new H2Session(serve, socket, handler, host),
  });
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
