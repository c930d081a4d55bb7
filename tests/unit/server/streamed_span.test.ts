import assert from "node:assert/strict";
import { builtinFilters } from "../../../filters/registry.ts";
import { DataPlane } from "../../../server/dataplane.ts";
import { LogSink } from "../../../server/log.ts";
import { freePort } from "../../integration/helpers.ts";
import { proxiedServer } from "./proxied_server.ts";

Deno.test("a streamed answer's server span lasts until its last byte has gone", async () => {
  const spans: { kind: string; duration: number }[] = [];
  const [zipkinPort, backendPort, port] = [freePort(), freePort(), freePort()];
  const zipkin = Deno.serve(
    { hostname: "127.0.0.1", port: zipkinPort, onListen() {} },
    async (req) => {
      spans.push(...await req.json());
      return new Response(null, { status: 202 });
    },
  );
  // Five chunks 60 ms apart, of no declared length.
  const backend = Deno.serve({ hostname: "127.0.0.1", port: backendPort, onListen() {} }, () => {
    let n = 0;
    return new Response(
      new ReadableStream({
        async pull(c) {
          if (n++ === 5) return c.close();
          await new Promise((r) => setTimeout(r, 60));
          c.enqueue(new TextEncoder().encode(`chunk ${n}\n`));
        },
      }),
    );
  });
  const filters = builtinFilters();
  const plane = new DataPlane({ filters, logs: new LogSink({ level: "error" }) });
  const objects = proxiedServer(filters, `http://127.0.0.1:${backendPort}`, port, {
    tracing: {
      serviceName: "gw",
      zipkin: { serverURL: `http://127.0.0.1:${zipkinPort}/api/v2/spans`, sampleRate: 1 },
    },
  });
  try {
    assert.deepEqual(await plane.apply(objects), []);
    const r = await fetch(`http://127.0.0.1:${port}/stream`);
    assert.equal((await r.text()).split("\n").length, 6);
  } finally {
    // Closing the server sends the spans it holds.
    await plane.close();
    await backend.shutdown();
    await zipkin.shutdown();
  }
  const server = spans.find((s) => s.kind === "SERVER");
  assert.ok(server, JSON.stringify(spans));
  assert.ok(server.duration >= 250_000, `server span of ${server.duration} µs`);
});
