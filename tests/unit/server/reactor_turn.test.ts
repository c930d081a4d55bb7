import assert from "node:assert/strict";
import { ReactorTurn } from "../../../server/httpserver/http1/reactor_turn.ts";

Deno.test("ReactorTurn lets exchanges through until the budget, then makes them wait for one poll", async () => {
  const turn = new ReactorTurn();
  try {
    let passed = 0;
    while (turn.exchanged() === undefined) passed++;
    assert.ok(passed > 0, "some exchanges pass without waiting");
    // Every exchange past the budget shares the same wait.
    const first = turn.exchanged();
    assert.ok(first instanceof Promise);
    assert.equal(turn.exchanged(), first);
    await first;
    // After the poll the budget starts again.
    assert.equal(turn.exchanged(), undefined);
  } finally {
    turn.close();
  }
});

Deno.test("ReactorTurn never waits once closed", () => {
  const turn = new ReactorTurn();
  turn.close();
  for (let i = 0; i < 1000; i++) assert.equal(turn.exchanged(), undefined);
});
