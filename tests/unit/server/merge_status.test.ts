import assert from "node:assert/strict";
import { HttpStats, sendLatencyBuckets } from "../../../filters/http_stats.ts";
import { mergeStatuses } from "../../../server/workers/merge_status.ts";

Deno.test("merged worker statuses add counts and codes, weight means, keep extremes", () => {
  const a = new HttpStats();
  const b = new HttpStats();
  a.record(200, 10);
  a.record(404, 30);
  b.record(200, 2);
  const merged = mergeStatuses([
    { name: "s", state: "running", ...a.snapshot(), topN: [{ path: "/x", ...a.snapshot() }] },
    { name: "s", state: "running", ...b.snapshot(), topN: [{ path: "/x", ...b.snapshot() }] },
  ]);
  assert.equal(merged.count, 3);
  assert.equal(merged.errCount, 1);
  assert.deepEqual(merged.codes, { "200": 2, "404": 1 });
  assert.equal(merged.min, 2);
  assert.equal(merged.max, 30);
  assert.equal(merged.mean, 14);
  assert.equal(merged.state, "running");
  const topN = merged.topN as { path: string; count: number }[];
  assert.deepEqual(topN.map((t) => [t.path, t.count]), [["/x", 3]]);
});

Deno.test("merged statuses add sizes and take the error share of the summed rates", () => {
  const rates = (m1: number, m1Err: number, m15: number, m15Err: number) => ({
    m1,
    m1Err,
    m5: 0,
    m5Err: 0,
    m15,
    m15Err,
  });
  const a = { count: 3, codes: {}, ...rates(3, 3, 1, 0), reqSize: 120, respSize: 30 };
  const b = { count: 1, codes: {}, ...rates(1, 0, 1, 1), reqSize: 80, respSize: 70 };
  const merged = mergeStatuses([a, b]);
  assert.equal(merged.reqSize, 200);
  assert.equal(merged.respSize, 100);
  assert.equal(merged.m1ErrPercent, 0.75, "3 errors a second in 4 requests a second");
  assert.equal(merged.m5ErrPercent, 0);
  assert.equal(merged.m15ErrPercent, 0.5);
});

Deno.test("merged percentiles weigh only the workers with requests in the window", () => {
  const busy = new HttpStats();
  const idle = new HttpStats();
  for (let i = 0; i < 100; i++) idle.record(200, 1);
  idle.snapshot(true); // read: its window is empty now
  for (let i = 0; i < 4; i++) busy.record(200, 100);
  const busyDoc = busy.snapshot(true);
  const merged = mergeStatuses([{ ...idle.snapshot(true) }, { ...busyDoc }]);
  assert.equal(merged.count, 104);
  assert.deepEqual(merged.codes, { "200": 4 });
  assert.ok(busyDoc.p50 > 90, String(busyDoc.p50));
  assert.equal(merged.p50, busyDoc.p50);
  assert.equal(merged.p99, busyDoc.p99);
});

Deno.test("merged pipeline statuses merge each filter's pool stats", () => {
  const s = new HttpStats();
  s.record(200, 1);
  const doc = { health: "", filters: { proxy: { mainPool: { stat: s.snapshot() } }, mock: null } };
  const merged = mergeStatuses([doc, doc]) as {
    filters: { proxy: { mainPool: { stat: { count: number } } } };
  };
  assert.equal(merged.filters.proxy.mainPool.stat.count, 2);
});

Deno.test("a failed worker's health shows in the merged status", () => {
  const merged = mergeStatuses([{ health: "", state: "running" }, {
    health: "port in use",
    state: "failed",
  }]);
  assert.equal(merged.health, "port in use");
  assert.equal(merged.state, "failed");
});

Deno.test("merged WebSocketServer statuses add their relay counts and keep the port", () => {
  const worker = (connections: number, served: number) => ({
    state: "running",
    port: 10020,
    connections,
    connectionsServed: served,
  });
  assert.deepEqual(mergeStatuses([worker(2, 5), worker(1, 7)]), worker(3, 12));
});

Deno.test("merged Proxy statuses add each worker's memoryCache counts", () => {
  const pool = (hits: number, misses: number, entries: number, bytes: number) => ({
    mainPool: { memoryCache: { hits, misses, entries, bytes } },
  });
  assert.deepEqual(mergeStatuses([pool(3, 1, 1, 100), pool(5, 2, 1, 120)]), pool(8, 3, 2, 220));
});

Deno.test("merged WasmHost statuses add each worker's calls and failures", () => {
  const wasm = (health: string, numOfRequest: number, numOfWasmError: number) => ({
    filters: { w: { health, numOfRequest, numOfWasmError } },
  });
  assert.deepEqual(
    mergeStatuses([wasm("ready", 6, 1), wasm("ready", 12, 0)]),
    wasm("ready", 18, 1),
  );
});

Deno.test("percentiles merged from workers' latency buckets are those of one process", () => {
  sendLatencyBuckets(true);
  try {
    const fast = new HttpStats();
    const slow = new HttpStats();
    const whole = new HttpStats();
    // Equal counts, very different tails: averaging p99s would report about 250 ms.
    for (let i = 0; i < 1000; i++) {
      const ms = 1 + (i % 10) / 10;
      fast.record(200, ms);
      whole.record(200, ms);
    }
    for (let i = 0; i < 1000; i++) {
      const ms = i < 970 ? 2 : 500;
      slow.record(200, ms);
      whole.record(200, ms);
    }
    const status = (s: HttpStats) => ({
      name: "s",
      ...s.snapshot(true),
      topN: [{ path: "/", ...s.snapshot() }],
    });
    const merged = mergeStatuses([status(fast), status(slow)]);
    const expected = whole.snapshot(true);
    for (const key of ["p25", "p50", "p75", "p95", "p98", "p99", "p999", "max"] as const) {
      assert.equal(merged[key], expected[key], key);
    }
    assert.equal(merged.p99, expected.p99);
    assert.ok(expected.p99 > 400, String(expected.p99));
    assert.equal("latencyBuckets" in merged, false);
    assert.equal("latencyBuckets" in (merged.topN as Record<string, unknown>[])[0], false);
    // One worker's document alone carries none either, nested ones included.
    const alone = mergeStatuses([{ name: "p", pools: [{ stat: fast.snapshot() }] }]);
    assert.equal(JSON.stringify(alone).includes("latencyBuckets"), false);
  } finally {
    sendLatencyBuckets(false);
  }
});

Deno.test("merged ConnectControl statuses keep the spec's counts: every worker has the same", () => {
  const worker = () => ({ bannedClientNum: 2, bannedTopicRe: "^admin/", bannedTopicNum: 1 });
  const merged = mergeStatuses([{ filters: { ban: worker() } }, { filters: { ban: worker() } }]);
  assert.deepEqual(merged, { filters: { ban: worker() } });
});

Deno.test("a worker's whole topN is merged, and cut to the ten busiest paths", () => {
  const paths = Array.from({ length: 12 }, (_, i) => {
    const stats = new HttpStats();
    for (let n = 0; n <= i; n++) stats.record(200, 1);
    return { path: `/p${i}`, ...stats.snapshot() };
  }).reverse();
  const alone = mergeStatuses([{ name: "s", count: 78, codes: {}, topN: paths }]);
  const counts = (doc: Record<string, unknown>) =>
    (doc.topN as { count: number }[]).map((t) => t.count);
  assert.deepEqual(counts(alone), [12, 11, 10, 9, 8, 7, 6, 5, 4, 3]);
  const two = mergeStatuses([
    { name: "s", ...new HttpStats().snapshot(), topN: paths },
    { name: "s", ...new HttpStats().snapshot(), topN: [paths[11]] },
  ]);
  assert.deepEqual(counts(two), [12, 11, 10, 9, 8, 7, 6, 5, 4, 3]);
  assert.equal((two.topN as { path: string }[])[9].path, "/p2");
});

Deno.test("merged rates and means are rounded as each worker's are", () => {
  const doc = (count: number, mean: number, m1: number) => ({ count, mean, m1, codes: {} });
  const merged = mergeStatuses([doc(1, 1, 0.1), doc(2, 2, 0.2)]);
  assert.equal(merged.m1, 0.3);
  assert.equal(merged.mean, 1.667);
});

Deno.test("merged percentiles lie between the merged least and greatest latency", () => {
  sendLatencyBuckets(true);
  try {
    const a = new HttpStats();
    const b = new HttpStats();
    a.record(200, 0.061);
    b.record(200, 0.07);
    const merged = mergeStatuses([{ ...a.snapshot() }, { ...b.snapshot() }]);
    assert.equal(merged.min, 0.061);
    assert.equal(merged.p25, 0.061);
  } finally {
    sendLatencyBuckets(false);
  }
});

Deno.test("merged lists of names hold every worker's, as unhealthyServers seen apart", () => {
  // Followers take the health checker's verdicts within a second, and each
  // worker checks on its own when the shared memory is full: one may have
  // taken a server out that another has not yet.
  const pool = (unhealthyServers: string[], servers: string[]) => ({
    filters: { proxy: { mainPool: { servers, unhealthyServers } } },
  });
  const a = "http://10.0.0.1:80", b = "http://10.0.0.2:80", c = "http://10.0.0.3:80";
  assert.deepEqual(mergeStatuses([pool([], [a, b]), pool([b], [a, b, c])]), pool([b], [a, b, c]));
  assert.deepEqual(mergeStatuses([pool([a], [a]), pool([b], [b])]), pool([a, b], [a, b]));
  assert.deepEqual(mergeStatuses([pool([a, b], [a]), pool([b, a], [a])]), pool([a, b], [a]));
});
