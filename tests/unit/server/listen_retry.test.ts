import assert from "node:assert/strict";
import { ListenRetry } from "../../../server/listen_retry.ts";

function harness() {
  const opens: PromiseWithResolvers<string>[] = [];
  const opened: string[] = [];
  const discarded: string[] = [];
  const failures: string[] = [];
  const retry = new ListenRetry<string>(
    () => {
      const next = Promise.withResolvers<string>();
      opens.push(next);
      return next.promise;
    },
    (l) => opened.push(l),
    (l) => discarded.push(l),
    (m) => failures.push(m),
    () => 8080,
  );
  return { retry, opens, opened, discarded, failures };
}

Deno.test("ListenRetry: a listener opened for a replaced attempt is discarded", async () => {
  const h = harness();
  h.retry.start();
  h.retry.start();
  assert.equal(h.retry.state, "starting");
  h.opens[1].resolve("second");
  h.opens[0].resolve("first");
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(h.opened, ["second"]);
  assert.deepEqual(h.discarded, ["first"]);
  assert.equal(h.retry.state, "running");
});

Deno.test("ListenRetry: a failure is reported with its retry; close drops the retry and late listeners", async () => {
  const h = harness();
  h.retry.start();
  h.opens[0].reject(new Error("address in use"));
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(h.retry.state, "failed");
  // The port is named, as Go's "listen tcp :8080: bind: address already in use" names it.
  assert.equal(h.retry.error, "cannot listen on port 8080: address in use");
  assert.deepEqual(h.failures, ["cannot listen on port 8080: address in use; retrying in 10s"]);
  h.retry.close();
  assert.equal(h.retry.state, "closed");
  h.retry.start();
  assert.equal(h.opens.length, 1, "no start after close");
});

Deno.test("ListenRetry: an open that throws synchronously fails like one that rejects", async () => {
  const failures: string[] = [];
  const retry = new ListenRetry<string>(
    () => {
      throw new Error("bad certificate");
    },
    () => {},
    () => {},
    (m) => failures.push(m),
    () => 8443,
  );
  retry.start();
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(retry.state, "failed");
  assert.deepEqual(failures, ["cannot listen on port 8443: bad certificate; retrying in 10s"]);
  retry.close();
});
