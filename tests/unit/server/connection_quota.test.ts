import assert from "node:assert/strict";
import {
  connectionQuota,
  LocalConnectionQuota,
  SharedConnectionQuota,
} from "../../../server/httpserver/connection_quota.ts";
import { SharedRegions } from "../../../filters/shared_regions.ts";

/** Two planes' views of one node's regions, as worker isolates get them. */
function twoPlanes(): [SharedRegions, SharedRegions] {
  const first = SharedRegions.create(1 << 20, 2);
  return [first, new SharedRegions(first.buffer, 1)];
}

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((r) => timer = setTimeout(() => r(false), ms));
  const settled = await Promise.race([promise.then(() => true), late]);
  clearTimeout(timer);
  return settled;
}

Deno.test("connection quota: a plane's own counts to the cap and wakes a waiter at a release", async () => {
  const quota = new LocalConnectionQuota();
  assert.equal(quota.acquire(2), true);
  assert.equal(quota.acquire(2), true);
  const waiting = quota.acquire(2);
  assert.notEqual(waiting, true);
  quota.release();
  assert.equal(await settlesWithin(waiting as Promise<void>, 1000), true);
  assert.equal(quota.acquire(2), true);
  assert.equal(quota.held, 2);
  assert.equal(quota.acquire(0), true, "0: no limit");
});

Deno.test("connection quota: shared by two planes, the cap is over both", async () => {
  const [a, b] = twoPlanes();
  const qa = new SharedConnectionQuota(a, "s");
  const qb = new SharedConnectionQuota(b, "s");
  assert.equal(qa.acquire(3), true);
  assert.equal(qb.acquire(3), true);
  assert.equal(qb.acquire(3), true);
  const waiting = qa.acquire(3);
  assert.notEqual(waiting, true, "the third slot went to the other plane");
  assert.equal(await settlesWithin(waiting as Promise<void>, 100), false);
  // A release in the other plane wakes this one.
  qb.release();
  assert.equal(await settlesWithin(waiting as Promise<void>, 1000), true);
  assert.equal(qa.acquire(3), true);
  assert.notEqual(qb.acquire(3), true);
  // Another server's quota is its own.
  assert.equal(new SharedConnectionQuota(b, "other").acquire(1), true);
});

Deno.test("connection quota: a raised cap is taken at once; wake rouses waiters of every plane", async () => {
  const [a, b] = twoPlanes();
  const qa = new SharedConnectionQuota(a, "s");
  const qb = new SharedConnectionQuota(b, "s");
  assert.equal(qa.acquire(1), true);
  const waiting = qb.acquire(1);
  assert.notEqual(waiting, true);
  qa.wake();
  assert.equal(await settlesWithin(waiting as Promise<void>, 1000), true);
  assert.equal(qb.acquire(2), true);
});

Deno.test("connection quota: a replacement plane drops the slots its crashed predecessor held", () => {
  const [a, b] = twoPlanes();
  const qa = new SharedConnectionQuota(a, "s");
  const crashed = new SharedConnectionQuota(b, "s");
  assert.equal(crashed.acquire(2), true);
  assert.equal(crashed.acquire(2), true);
  assert.notEqual(qa.acquire(2), true);
  // The control plane gives up the claims of a worker that is gone.
  a.releaseHolder(1);
  const replacement = new SharedConnectionQuota(new SharedRegions(a.buffer, 1), "s");
  assert.equal(qa.acquire(2), true);
  assert.equal(replacement.acquire(2), true);
  assert.notEqual(replacement.acquire(2), true);
});

Deno.test("connection quota: a closed quota keeps its memory until its last slot is given back", () => {
  const [a] = twoPlanes();
  const quota = new SharedConnectionQuota(a, "s");
  assert.equal(quota.acquire(5), true);
  quota.close();
  assert.equal(a.used, 1, "a connection still open holds the region");
  quota.release();
  assert.equal(a.used, 0);
});

Deno.test("connection quota: without shared memory, or without room in it, a plane counts its own", () => {
  const warnings: string[] = [];
  assert.ok(
    connectionQuota("s", undefined, (m) => warnings.push(m)) instanceof LocalConnectionQuota,
  );
  const [a] = twoPlanes();
  assert.throws(() => {
    for (let i = 0;; i++) a.claim(`filler ${i}`, 8);
  }, /regions are held/);
  assert.ok(connectionQuota("s", a, (m) => warnings.push(m)) instanceof LocalConnectionQuota);
  assert.match(warnings[0], /maxConnections is counted per data plane: .*\d+ regions are held/);
});
