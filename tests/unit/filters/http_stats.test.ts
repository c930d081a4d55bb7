import assert from "node:assert/strict";
import { HttpStats } from "../../../filters/http_stats.ts";

Deno.test("HttpStats.record ticks its rates by the finish time it is given", () => {
  const stats = new HttpStats();
  const start = performance.now();
  stats.record(200, 1, start);
  assert.equal(stats.snapshot().m1, 0, "no 5 s tick has passed: no rate yet");
  // A request that finished one tick later moves the first request into the rates.
  stats.record(500, 1, start + 5_000);
  const snapshot = stats.snapshot();
  assert.equal(snapshot.m1, 0.2, "one request in the first 5 s tick is 0.2 per second");
  assert.equal(snapshot.m1Err, 0, "the error came after that tick");
  assert.equal(snapshot.count, 2);
  assert.equal(snapshot.errCount, 1);
});
