import assert from "node:assert/strict";
import { createPicker, localTurns, sharedTurns } from "../../../filters/proxy/load_balancer.ts";
import { SharedSlots } from "../../../filters/shared_slots.ts";
import type { Context } from "../../../filters/context.ts";

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
