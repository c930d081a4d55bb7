import assert from "node:assert/strict";
import { HttpRequest } from "../../../filters/context.ts";
import { Tracer } from "../../../server/tracing/tracer.ts";
import { readTracingSpec } from "../../../server/tracing/spec.ts";
import { SpecReader } from "../../../filters/spec.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function collect(run: (tracer: Tracer) => void, sampleRate = 1, extra = {}) {
  const spans: Record<string, unknown>[] = [];
  const zipkin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    spans.push(...await req.json());
    return new Response(null, { status: 202 });
  });
  const r = SpecReader.root({
    serviceName: "svc",
    zipkin: { serverURL: `http://127.0.0.1:${zipkin.addr.port}/`, sampleRate, ...extra },
  });
  const tracer = new Tracer(readTracingSpec(r), quiet);
  try {
    run(tracer);
    await tracer.close();
  } finally {
    await zipkin.shutdown();
  }
  return spans;
}

const get = (headers: Record<string, string> = {}) => new HttpRequest({ path: "/x", headers });

Deno.test("Tracer joins a single b3 header's trace, or shares its span with sameSpan", async () => {
  const b3 = { b3: "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1" };
  const joined = await collect((t) => t.start(get(b3), "GET /x", "")!.finish(200));
  assert.equal(joined[0].traceId, "80f198ee56343ba864fe8b2a57d3eff7");
  assert.equal(joined[0].parentId, "e457b5a2e4d86bd1");
  assert.notEqual(joined[0].id, "e457b5a2e4d86bd1");
  const shared = await collect(
    (t) => t.start(get(b3), "GET /x", "")!.finish(200),
    1,
    { sameSpan: true },
  );
  assert.equal(shared[0].id, "e457b5a2e4d86bd1");
  assert.equal(shared[0].shared, true);
  assert.equal(shared[0].parentId, undefined);
});

Deno.test("Tracer samples by rate unless the client decided; ids have the asked width", async () => {
  const none = await collect((t) => {
    for (let i = 0; i < 20; i++) assert.equal(t.start(get(), "GET /x", ""), undefined);
    // The client's decision wins over the rate.
    t.start(get({ "X-B3-Sampled": "1" }), "GET /x", "")!.finish(200);
    t.start(get({ b3: "d" }), "GET /x", "")!.finish(200);
  }, 0);
  assert.equal(none.length, 2);
  const wide = await collect(
    (t) => {
      assert.equal(t.start(get({ b3: "0" }), "GET /x", ""), undefined);
      t.start(get(), "GET /x", "192.0.2.1")!.finish(503);
    },
    1,
    { id128Bit: true },
  );
  assert.equal(wide.length, 1);
  assert.match(String(wide[0].traceId), /^[0-9a-f]{32}$/);
  assert.match(String(wide[0].id), /^[0-9a-f]{16}$/);
  assert.deepEqual(wide[0].remoteEndpoint, { ipv4: "192.0.2.1" });
  assert.equal((wide[0].tags as Record<string, string>).error, "503");
});
