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
