import assert from "node:assert/strict";
import { pipelineRecords, serverRecords } from "../../../server/easemonitor/records.ts";
import { readEaseMonitorMetricsSpec } from "../../../server/easemonitor/spec.ts";
import { SpecError, SpecReader } from "../../../filters/spec.ts";

const origin = {
  timestamp: 1_700_000_000_000,
  hostName: "eg-1",
  hostIpv4: "10.0.0.5",
  system: "c1",
};
const stats = (count: number, codes: Record<string, number>) => ({
  count,
  errCount: 1,
  m1: 0.5,
  m5: 0.1,
  m15: 0.03,
  m1Err: 0.01,
  m5Err: 0,
  m15Err: 0,
  m1ErrPercent: 0.02,
  m5ErrPercent: 0,
  m15ErrPercent: 0,
  min: 1,
  max: 9,
  mean: 3,
  p25: 1,
  p50: 2,
  p75: 4,
  p95: 8,
  p98: 9,
  p99: 9,
  p999: 9,
  reqSize: 100,
  respSize: 200,
  codes,
});

Deno.test("EaseMonitorMetrics records: a server's totals and top paths in Easegress's fields", () => {
  const records = serverRecords(origin, "front", {
    health: "",
    ...stats(10, { "200": 9, "503": 1 }),
    topN: [{ path: "/api", ...stats(7, { "200": 7 }) }],
  });
  assert.equal(records.length, 5);
  assert.deepEqual(records[0], {
    timestamp: 1_700_000_000_000,
    category: "application",
    host_name: "eg-1",
    host_ipv4: "10.0.0.5",
    system: "c1",
    service: "front",
    type: "eg-http-request",
    resource: "SERVER",
    cnt: 10,
    m1: 0.5,
    m5: 0.1,
    m15: 0.03,
    errcnt: 1,
    m1err: 0.01,
    m5err: 0,
    m15err: 0,
    m1errpct: 0.02,
    m5errpct: 0,
    m15errpct: 0,
    min: 1,
    max: 9,
    mean: 3,
    p25: 1,
    p50: 2,
    p75: 4,
    p95: 8,
    p98: 9,
    p99: 9,
    p999: 9,
    reqsize: 100,
    respsize: 200,
  });
  assert.deepEqual(
    records.slice(1).map((r) => [r.type, r.resource, r.url, r.code, r.cnt]),
    [
      ["eg-http-status-code", "SERVER", undefined, 200, 9],
      ["eg-http-status-code", "SERVER", undefined, 503, 1],
      ["eg-http-request", "SERVER_TOPN", "/api", undefined, 7],
      ["eg-http-status-code", "SERVER_TOPN", "/api", 200, 7],
    ],
  );
});

Deno.test("EaseMonitorMetrics records: each Proxy pool of a pipeline, other filters left out", () => {
  const records = pipelineRecords(origin, "pl", {
    filters: {
      proxy: {
        mainPool: { stat: stats(4, {}) },
        candidatePools: [{ stat: stats(2, {}) }],
        mirrorPool: { stat: stats(1, {}) },
      },
      mock: { mainPool: { stat: stats(5, {}) } },
    },
  }, ["proxy"]);
  assert.deepEqual(records.map((r) => [r.service, r.resource, r.cnt]), [
    ["pl/proxy/mainPool", "PROXY", 4],
    ["pl/proxy/candidatePool/0", "PROXY", 2],
    ["pl/proxy/mirrorPool", "PROXY", 1],
  ]);
});

Deno.test("EaseMonitorMetrics spec: Easegress's default broker, a topic required", () => {
  const read = (raw: Record<string, unknown>) => {
    const r = SpecReader.root(raw);
    const spec = readEaseMonitorMetricsSpec(r, "emm");
    r.finish();
    r.throwIfProblems();
    return spec;
  };
  assert.deepEqual(read({ kafka: { topic: "metrics" } }).kafka, {
    brokers: ["localhost:9092"],
    topic: "metrics",
  });
  assert.throws(
    () => read({}),
    (e) => e instanceof SpecError && /kafka: is required/.test(e.message),
  );
  assert.throws(
    () => read({ kafka: { brokers: ["a:1", "a:1"], topic: "x y" } }),
    (e) =>
      e instanceof SpecError && /kafka.brokers\[1\]: repeats/.test(e.message) &&
      /kafka.topic: must be a Kafka topic name/.test(e.message),
  );
});
