import assert from "node:assert/strict";
import { createPicker, localTurns, sharedTurns } from "../../../filters/proxy/load_balancer.ts";
import { SharedSlots } from "../../../filters/shared_slots.ts";
import { Context, HttpRequest } from "../../../filters/context.ts";

const ctx = {} as Context;

Deno.test("roundRobin goes round the servers in order", () => {
  const pick = createPicker({ policy: "roundRobin" }, []);
  assert.deepEqual([0, 1, 2, 3, 4].map(() => pick(ctx, 3)), [0, 1, 2, 0, 1]);
  assert.deepEqual([0, 1].map(() => localTurns().next()), [0, 0]);
});

Deno.test("roundRobin pickers of two isolates sharing turns take them together", () => {
  const first = SharedSlots.create(64, 2);
  const second = new SharedSlots(first.buffer, 1);
  const turnsA = sharedTurns(first, "roundrobin/p/proxy/0");
  const turnsB = sharedTurns(second, "roundrobin/p/proxy/0");
  const pickA = createPicker({ policy: "roundRobin" }, [], turnsA);
  const pickB = createPicker({ policy: "roundRobin" }, [], turnsB);
  const picks = [pickA, pickB, pickB, pickA, pickA, pickB].map((pick) => pick(ctx, 3));
  assert.deepEqual(picks, [0, 1, 2, 0, 1, 2]);
  // Another name is another round.
  const other = sharedTurns(first, "roundrobin/p/proxy/1");
  assert.equal(other.next(), 0);
  other.close();
  turnsA.close();
  turnsA.close(); // a second close gives up nothing more
  assert.equal(first.used, 1);
  turnsB.close();
  assert.equal(first.used, 0);
});

Deno.test("headerHash hashes a header value's bytes as they came, as Easegress's FNV-1 does", () => {
  // "José" as its UTF-8 bytes arrive in a field: one char per byte.
  const request = { firstHeader: () => "Jos\u00c3\u00a9" };
  const pick = createPicker({ policy: "headerHash", headerHashKey: "X-User" }, []);
  // FNV-1 32 of the bytes 4a 6f 73 c3 a9 is 1095550775.
  assert.equal(pick({ request } as unknown as Context, 2 ** 32), 1095550775);
  // A char above 0xFF (set by a filter) is hashed as its UTF-8 bytes.
  const set = { firstHeader: () => "Jos\u00e9\u{1F600}" };
  const emoji = [0x4a, 0x6f, 0x73, 0xe9, 0xf0, 0x9f, 0x98, 0x80];
  const expected = emoji.reduce((h, b) => (Math.imul(h, 0x01000193) ^ b) >>> 0, 0x811c9dc5);
  assert.equal(pick({ request: set } as unknown as Context, 2 ** 32), expected);
});

Deno.test("headerHash hashes the first field of a header sent twice, as Go's Header.Get", () => {
  const pick = createPicker({ policy: "headerHash", headerHashKey: "X-User" }, []);
  const first = new Context(new HttpRequest({ headers: [["X-User", "alice"]] }));
  const twice = new Context(
    new HttpRequest({ headers: [["X-User", "alice"], ["X-User", "bob"]] }),
  );
  assert.equal(pick(twice, 2 ** 32), pick(first, 2 ** 32));
});
