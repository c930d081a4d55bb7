import assert from "node:assert/strict";
import { AbortNotice } from "../../../filters/abort_watch.ts";
import { AttemptDeadlines } from "../../../filters/proxy/attempt_deadlines.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("attempts time out in the order they started; settled ones never do", async () => {
  // Deadlines at 300 and 450 ms, checked at 375 and 600: room for a slow timer.
  const deadlines = new AttemptDeadlines(300);
  const client = new AbortNotice();
  const first = deadlines.start(client, performance.now());
  await sleep(150);
  const second = deadlines.start(client, performance.now());
  const settled = deadlines.start(client, performance.now());
  settled.settle();
  const aborted: string[] = [];
  first.addEventListener("abort", () => aborted.push("first"));
  second.addEventListener("abort", () => aborted.push("second"));
  await sleep(225);
  assert.deepEqual(aborted, ["first"]);
  assert.equal(first.timedOut, true);
  assert.equal((first.reason as DOMException).name, "TimeoutError");
  await sleep(225);
  assert.deepEqual(aborted, ["first", "second"]);
  assert.equal(settled.aborted, false);
  assert.equal(deadlines.idle, true);
});

Deno.test("a client leaving aborts its attempts, not as a timeout, and they leave the list", () => {
  const deadlines = new AttemptDeadlines(10_000);
  const client = new AbortNotice();
  const watch = deadlines.start(client, performance.now());
  let heard = 0;
  watch.addEventListener("abort", () => heard++);
  client.abort("gone");
  assert.equal(heard, 1);
  assert.deepEqual([watch.aborted, watch.timedOut, watch.reason], [true, false, "gone"]);
  assert.equal(deadlines.idle, true);
  const late = deadlines.start(client, performance.now());
  assert.deepEqual([late.aborted, late.reason], [true, "gone"]);
  assert.equal(deadlines.idle, true);
});

Deno.test("a settled attempt whose body still streams stays timed until its reader stops listening", async () => {
  const deadlines = new AttemptDeadlines(50);
  const client = new AbortNotice();
  const streaming = deadlines.start(client, performance.now());
  const reader = () => {};
  // Connecting adds and removes a listener before the exchange listens: not an end.
  const connecting = () => {};
  streaming.addEventListener("abort", connecting);
  streaming.removeEventListener("abort", connecting);
  assert.equal(deadlines.idle, false);
  streaming.addEventListener("abort", reader);
  streaming.settle();
  assert.equal(deadlines.idle, false);
  await sleep(150);
  assert.equal(streaming.timedOut, true);

  const finished = deadlines.start(client, performance.now());
  finished.addEventListener("abort", reader);
  finished.settle();
  finished.removeEventListener("abort", reader);
  assert.equal(deadlines.idle, true);
  await sleep(60);
  assert.equal(finished.aborted, false);
});

Deno.test("attempts that end leave no entry and no timer behind", () => {
  const deadlines = new AttemptDeadlines(30_000);
  const client = new AbortNotice();
  for (let i = 0; i < 1000; i++) deadlines.start(client, performance.now()).settle();
  assert.equal(deadlines.idle, true);
});

Deno.test("a timeout beyond setTimeout's range waits with one timer in range", async () => {
  const delays: number[] = [];
  const setTimer = globalThis.setTimeout;
  globalThis.setTimeout = ((handler: () => void, ms?: number) => {
    delays.push(ms ?? 0);
    return setTimer(handler, ms);
  }) as typeof setTimeout;
  try {
    // 30 days: a delay past 2^31-1 ms would fire at once, then again every millisecond.
    const deadlines = new AttemptDeadlines(30 * 24 * 3600 * 1000);
    const watch = deadlines.start(new AbortNotice(), performance.now());
    await sleep(30);
    watch.settle();
    assert.equal(watch.aborted, false);
    assert.deepEqual(delays.filter((ms) => ms !== 30), [2 ** 31 - 1]);
  } finally {
    globalThis.setTimeout = setTimer;
  }
});
