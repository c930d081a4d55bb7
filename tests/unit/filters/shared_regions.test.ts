import assert from "node:assert/strict";
import { SharedRegions } from "../../../filters/shared_regions.ts";

Deno.test("a region's name finds the same bytes until its last holder releases it", () => {
  const regions = SharedRegions.create(64 * 1024);
  const a = regions.claim("a", 100);
  const again = regions.claim("a", 100);
  assert.equal(again.offset, a.offset);
  assert.equal(a.length, 104); // whole 8-byte words
  assert.equal(a.offset % 8, 0);
  const b = regions.claim("b", 16);
  assert.ok(b.offset >= a.offset + a.length, "b lies past a");
  assert.equal(regions.used, 2);
  new Uint8Array(a.buffer, a.offset, a.length).fill(7);
  regions.release(again);
  assert.equal(new Uint8Array(a.buffer, a.offset, 1)[0], 7, "one holder left: kept");
  regions.release(a);
  assert.equal(regions.used, 1);
  const fresh = regions.claim("a", 100);
  assert.equal(fresh.offset, a.offset, "the freed gap is reused");
  assert.deepEqual(
    [...new Uint8Array(fresh.buffer, fresh.offset, fresh.length)].some((x) => x),
    false,
  );
});

Deno.test("the same name with another size is another region", () => {
  const regions = SharedRegions.create(64 * 1024);
  const small = regions.claim("x", 8);
  const large = regions.claim("x", 64);
  assert.notEqual(small.offset, large.offset);
});

Deno.test("a claim that does not fit says how much is free, and changes nothing", () => {
  const regions = SharedRegions.create(64 * 1024);
  const a = regions.claim("a", 20_000);
  assert.throws(() => regions.claim("b", 100_000), /100000 bytes .* "b": \d+ bytes are free/);
  assert.equal(regions.used, 1);
  regions.release(a);
  assert.equal(regions.claim("b", 30_000).offset, a.offset);
});

Deno.test("regions in a SharedArrayBuffer are one across isolates' views", () => {
  const regions = SharedRegions.create(64 * 1024, 2);
  const other = new SharedRegions(regions.buffer, 1);
  const mine = regions.claim("breaker", 64);
  const theirs = other.claim("breaker", 64);
  assert.equal(theirs.offset, mine.offset);
  assert.equal(theirs.buffer, mine.buffer);
});

Deno.test("a gone holder's claims are given up for it, the others' kept", () => {
  const regions = SharedRegions.create(64 * 1024, 2);
  const worker0 = new SharedRegions(regions.buffer, 0);
  const worker1 = new SharedRegions(regions.buffer, 1);
  const shared = worker0.claim("both", 64);
  worker1.claim("both", 64);
  worker1.claim("both", 64); // an update's next generation, before the old one closed
  const own = worker1.claim("only 1", 64);
  new Uint8Array(own.buffer, own.offset, 1)[0] = 9;
  regions.releaseHolder(1); // worker 1 crashed
  assert.equal(regions.used, 1, "only worker 0's region is held");
  const again = worker1.claim("only 1", 64);
  assert.equal(new Uint8Array(again.buffer, again.offset, 1)[0], 0, "claimed afresh");
  worker0.release(shared);
  assert.equal(regions.used, 1);
  assert.throws(() => new SharedRegions(regions.buffer, 2), /holder 2 is not one of its 2 holders/);
});

Deno.test("the node's regions hold thousands of pools' breakers and health boards at once", () => {
  const regions = SharedRegions.create(undefined, 2);
  // A pool with a circuit breaker and a health check holds two regions.
  for (let i = 0; i < 2000; i++) {
    regions.claim(`breaker ${i}`, 256);
    regions.claim(`health ${i}`, 12_304);
  }
  assert.equal(regions.used, 4000);
});
