import assert from "node:assert/strict";
import { SharedRegions } from "../../../filters/shared_regions.ts";

Deno.test("a region's name finds the same bytes until its last holder releases it", () => {
  const regions = new SharedRegions(new ArrayBuffer(64 * 1024));
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
  const regions = new SharedRegions(new ArrayBuffer(64 * 1024));
  const small = regions.claim("x", 8);
  const large = regions.claim("x", 64);
  assert.notEqual(small.offset, large.offset);
});

Deno.test("a claim that does not fit says how much is free, and changes nothing", () => {
  const regions = new SharedRegions(new ArrayBuffer(64 * 1024));
  const a = regions.claim("a", 20_000);
  assert.throws(() => regions.claim("b", 100_000), /100000 bytes .* "b": \d+ bytes are free/);
  assert.equal(regions.used, 1);
  regions.release(a);
  assert.equal(regions.claim("b", 30_000).offset, a.offset);
});

Deno.test("regions in a SharedArrayBuffer are one across isolates' views", () => {
  const regions = new SharedRegions(new SharedArrayBuffer(64 * 1024));
  const other = new SharedRegions(regions.buffer);
  const mine = regions.claim("breaker", 64);
  const theirs = other.claim("breaker", 64);
  assert.equal(theirs.offset, mine.offset);
  assert.equal(theirs.buffer, mine.buffer);
});
