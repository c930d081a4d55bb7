import assert from "node:assert/strict";
import { errorShare, HttpStats, keepingWindows } from "../../../filters/http_stats.ts";

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

Deno.test("HttpStats adds up sizes, and gives the error share of each rate as a ratio", () => {
  const stats = new HttpStats();
  const start = performance.now();
  stats.record(200, 1, start, 100, 40);
  stats.record(500, 1, start, 50, 10);
  stats.record(503, 1, start, 50, 10);
  stats.record(200, 1, start, 60, 20);
  const snapshot = stats.snapshot();
  assert.equal(snapshot.reqSize, 260);
  assert.equal(snapshot.respSize, 80);
  // A request one 5 s tick later moves the first four into the rates.
  stats.record(200, 1, start + 5_000);
  const ticked = stats.snapshot();
  for (const key of ["m1ErrPercent", "m5ErrPercent", "m15ErrPercent"] as const) {
    assert.equal(ticked[key], 0.5, `${key}: 2 errors in 4 requests`);
  }
});

Deno.test("errorShare is 0 without requests and rounds to six places", () => {
  assert.equal(errorShare(0, 0), 0);
  assert.equal(errorShare(1, 3), 0.333333);
});

Deno.test("HttpStats percentiles lie between the least and the greatest latency", () => {
  const stats = new HttpStats();
  for (const ms of [0.061, 0.196, 0.246, 1.04]) stats.record(200, ms);
  const doc = stats.snapshot();
  assert.equal(doc.min, 0.061);
  assert.equal(doc.p25, 0.061, "the 0-0.1 ms bucket's middle is below the least");
  const one = new HttpStats();
  one.record(200, 1.04);
  assert.equal(one.snapshot().p50, 1.04);
});

Deno.test("HttpStats snapshots taken within keepingWindows leave the window to its reader", () => {
  const stats = new HttpStats();
  stats.record(404, 2);
  const peeked = keepingWindows(() => stats.snapshot(true));
  assert.deepEqual([peeked.codes, peeked.p50], [{ "404": 1 }, 2]);
  const read = stats.snapshot(true);
  assert.deepEqual([read.codes, read.p50], [{ "404": 1 }, 2], "the peek restarted nothing");
  assert.deepEqual(stats.snapshot(true).codes, {}, "the reader's own read restarted the window");
});
