import assert from "node:assert/strict";
import { IdleHeapTrim } from "../../../server/idle_heap_trim.ts";

/** A trimmer over a counter the test moves, with a `gc` that counts its calls. */
function setup() {
  const state = { requests: 0, collections: 0, flavors: [] as string[] };
  const trim = new IdleHeapTrim(() => state.requests, {
    gc: (options) => {
      state.collections++;
      state.flavors.push(options.flavor);
    },
  });
  return { state, trim };
}

Deno.test("IdleHeapTrim trims once after two quiet ticks that follow traffic", () => {
  const { state, trim } = setup();
  state.requests = 5;
  assert.equal(trim.tick(), false, "traffic seen: not quiet yet");
  assert.equal(trim.tick(), false, "one quiet tick is not enough");
  assert.equal(trim.tick(), true);
  assert.deepEqual(state.flavors, ["last-resort"]);
  assert.equal(trim.tick(), false, "nothing came since the trim");
  assert.equal(trim.tick(), false);
  assert.equal(state.collections, 1);
});

Deno.test("IdleHeapTrim never trims a node that has served nothing", () => {
  const { state, trim } = setup();
  for (let i = 0; i < 5; i++) assert.equal(trim.tick(), false);
  assert.equal(state.collections, 0);
});

Deno.test("IdleHeapTrim waits while requests keep coming", () => {
  const { state, trim } = setup();
  for (let i = 0; i < 5; i++) {
    state.requests++;
    assert.equal(trim.tick(), false);
  }
  trim.tick();
  assert.equal(trim.tick(), true);
  state.requests++;
  trim.tick();
  trim.tick();
  assert.equal(trim.tick(), true, "a new burst is trimmed after it too");
  assert.equal(state.collections, 2);
});

Deno.test("IdleHeapTrim without an exposed gc neither starts nor trims", () => {
  let requests = 0;
  const trim = new IdleHeapTrim(() => requests, { gc: null });
  trim.start();
  requests = 3;
  trim.tick();
  trim.tick();
  assert.equal(trim.tick(), false);
  trim.stop();
});

Deno.test("IdleHeapTrim with trimAfterStart trims once after start-up, then only after traffic", () => {
  let collections = 0;
  let requests = 0;
  const trim = new IdleHeapTrim(() => requests, {
    gc: () => collections++,
    trimAfterStart: true,
  });
  assert.equal(trim.tick(), false);
  assert.equal(trim.tick(), true);
  for (let i = 0; i < 4; i++) assert.equal(trim.tick(), false);
  requests++;
  trim.tick();
  trim.tick();
  assert.equal(trim.tick(), true);
  assert.equal(collections, 2);
});
