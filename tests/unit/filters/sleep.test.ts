import assert from "node:assert/strict";
import { sleep, waitUntil } from "../../../filters/sleep.ts";

Deno.test("waitUntil() gives up at the deadline", async () => {
  const never = new Promise<void>(() => {});
  const started = Date.now();
  await waitUntil(never, started + 30);
  assert.ok(Date.now() - started >= 25);
});

Deno.test("waitUntil() waits for the promise when the deadline is past setTimeout's range or Infinity", async () => {
  for (const deadline of [Infinity, Date.now() + 2 ** 32]) {
    let settled = false;
    const promise = sleep(30, new AbortController().signal).then(() => settled = true);
    await waitUntil(promise, deadline);
    // Such a timer would fire at once (Node prints a TimeoutOverflowWarning): the wait ended early.
    assert.ok(settled, `deadline ${deadline}`);
  }
});

Deno.test("waitUntil() ends when the promise fails, and ignores the failure", async () => {
  await waitUntil(Promise.reject(new Error("gone")), Date.now() + 60_000);
});
