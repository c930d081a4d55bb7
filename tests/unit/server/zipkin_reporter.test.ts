import assert from "node:assert/strict";
import { ZipkinReporter, type ZipkinSpan } from "../../../server/tracing/zipkin.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function span(i: number): ZipkinSpan {
  return {
    traceId: "463ac35c9f6413ad",
    id: i.toString(16).padStart(16, "1"),
    name: "GET /",
    kind: "SERVER",
    timestamp: 1,
    duration: 1,
    localEndpoint: { serviceName: "svc" },
  };
}

Deno.test("ZipkinReporter holds at most 10 000 spans for a Zipkin that does not answer", async () => {
  // A Zipkin that takes connections and never answers.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })();
  const reporter = new ZipkinReporter(`http://127.0.0.1:${listener.addr.port}/api/v2/spans`, quiet);
  try {
    // Batches of 200 go to the send chain at once; the first send hangs.
    for (let i = 0; i < 25_000; i++) reporter.report(span(i));
    assert.equal(reporter.dropped, 15_000);
  } finally {
    listener.close();
    for (const conn of conns) conn.close();
    await accepting.catch(() => {});
    // The hung send fails at once now, and the others find no server.
    await reporter.close();
  }
});

Deno.test("ZipkinReporter.close() waits a bounded time for a Zipkin that does not answer", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })();
  const url = `http://127.0.0.1:${listener.addr.port}/api/v2/spans`;
  const reporter = new ZipkinReporter(url, quiet, { closeWaitMs: 200 });
  try {
    // Five batches: each would wait for the send timeout in turn.
    for (let i = 0; i < 1000; i++) reporter.report(span(i));
    const started = performance.now();
    await reporter.close();
    assert.ok(performance.now() - started < 3000, "close waited past its bound");
    // The batch under way was given up; the four behind it were dropped.
    assert.equal(reporter.dropped, 800);
  } finally {
    listener.close();
    for (const conn of conns) conn.close();
    await accepting.catch(() => {});
  }
});

Deno.test("ZipkinReporter sends spans reported after a close that did not wait long", async () => {
  const received: unknown[] = [];
  const zipkin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    received.push(...await req.json());
    return new Response(null, { status: 202 });
  });
  const reporter = new ZipkinReporter(`http://127.0.0.1:${zipkin.addr.port}/`, quiet);
  try {
    reporter.report(span(1));
    await reporter.close();
    // A request that was in flight finishes its span on the closed reporter.
    reporter.report(span(2));
    await reporter.flush();
    assert.equal(received.length, 2);
  } finally {
    await zipkin.shutdown();
  }
});
