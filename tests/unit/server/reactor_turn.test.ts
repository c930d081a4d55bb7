import assert from "node:assert/strict";
import { BUSY_BUDGET, OPEN_BUDGET, ReactorTurn } from "../../../server/httpserver/reactor_turn.ts";

/** Lets pending promise reactions run, without giving the event loop a turn. */
async function runMicrotasks(): Promise<void> {
  for (let i = 0; i < 4; i++) await null;
}

Deno.test("ReactorTurn admits the open budget at once, then the rest in arrival order after a poll", async () => {
  const turn = new ReactorTurn();
  try {
    for (let i = 0; i < OPEN_BUDGET; i++) assert.equal(turn.admit(), undefined);
    // Requests past the budget wait, and are let in in the order they came.
    const order: number[] = [];
    const waits = [0, 1, 2].map((i) => turn.admit()!.then(() => order.push(i)));
    await Promise.all(waits);
    assert.deepEqual(order, [0, 1, 2]);
    // Three admitted in the new turn: the budget starts again.
    assert.equal(turn.admit(), undefined);
  } finally {
    turn.close();
  }
});

Deno.test("ReactorTurn admits a smaller budget per turn while requests queue, the open one after", async () => {
  const turn = new ReactorTurn();
  try {
    for (let i = 0; i < OPEN_BUDGET; i++) turn.admit();
    const queued = OPEN_BUDGET + 2 * BUSY_BUDGET + 8;
    let admitted = 0;
    const waits: Promise<void>[] = [];
    for (let i = 0; i < queued; i++) {
      const wait = turn.admit();
      assert.ok(wait instanceof Promise, `request ${i} past the budget waits`);
      waits.push(wait.then(() => void admitted++));
    }
    // Each poll lets one budget in; the next batch needs another poll.
    const expected = [
      OPEN_BUDGET,
      OPEN_BUDGET + BUSY_BUDGET,
      OPEN_BUDGET + 2 * BUSY_BUDGET,
      queued,
    ];
    for (const total of expected) {
      await waits[admitted];
      await runMicrotasks();
      assert.equal(admitted, total);
    }
    // The backlog is gone: the turn that let the last 8 in has room for the open budget.
    for (let i = 8; i < OPEN_BUDGET; i++) assert.equal(turn.admit(), undefined, `request ${i}`);
  } finally {
    turn.close();
  }
});

Deno.test("ReactorTurn admits a batch whole, and counts all of it against the budget", async () => {
  const turn = new ReactorTurn();
  try {
    // A batch goes in whole even past the budget; after it, the budget is spent.
    assert.equal(turn.admit(OPEN_BUDGET - 1), undefined);
    assert.equal(turn.admit(16), undefined);
    const batch = turn.admit(OPEN_BUDGET);
    assert.ok(batch instanceof Promise, "a batch past a spent budget waits");
    let singleIn = false;
    const single = turn.admit()!.then(() => singleIn = true);
    await batch;
    await runMicrotasks();
    // The batch filled its turn's budget: the single request waits for the next poll.
    assert.equal(singleIn, false);
    await single;
  } finally {
    turn.close();
  }
});

Deno.test("ReactorTurn lets waiting requests in when closed, and never waits after", async () => {
  const turn = new ReactorTurn();
  for (let i = 0; i < OPEN_BUDGET; i++) turn.admit();
  const waits = Array.from({ length: 3 * OPEN_BUDGET }, () => turn.admit());
  turn.close();
  await Promise.all(waits);
  for (let i = 0; i < 1000; i++) assert.equal(turn.admit(), undefined);
});

Deno.test("ReactorTurn.whenAdmitted runs at once within the budget, in its turn after", async () => {
  const turn = new ReactorTurn();
  try {
    for (let i = 1; i < OPEN_BUDGET; i++) turn.admit();
    assert.equal(turn.whenAdmitted(() => "now"), "now");
    const later = turn.whenAdmitted(() => "later");
    assert.ok(later instanceof Promise);
    assert.equal(await later, "later");
  } finally {
    turn.close();
  }
});
