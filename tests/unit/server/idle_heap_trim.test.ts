import assert from "node:assert/strict";
import { IdleHeapTrim } from "../../../server/idle_heap_trim.ts";
import { shapeAnchor } from "../../../filters/shape_anchor.ts";

/**
 * A trimmer (two quiet ticks) over counters the test moves, with a `gc`
 * that counts its calls; `unwatch` must run before the test ends (it stops
 * the interval).
 */
function setup(quietTicks = 2) {
  const state = { requests: 0, admin: 0, collections: 0, flavors: [] as string[] };
  const trim = new IdleHeapTrim({
    gc: (options) => {
      // A trim is a regular collection, then a memory-reducing one: counted once.
      if (options.flavor === "last-resort") state.collections++;
      state.flavors.push(options.flavor);
    },
    quietTicks,
  });
  const unwatch = [trim.watch(() => state.requests), trim.watch(() => state.admin)];
  return { state, trim, unwatch: () => unwatch.forEach((stop) => stop()) };
}

Deno.test("IdleHeapTrim trims once after the quiet ticks that follow traffic", () => {
  const { state, trim, unwatch } = setup();
  try {
    state.requests = 5;
    assert.equal(trim.tick(), false, "traffic seen: not quiet yet");
    assert.equal(trim.tick(), false, "one quiet tick is not enough");
    assert.equal(trim.tick(), true);
    assert.deepEqual(state.flavors, ["regular", "last-resort"]);
    assert.equal(trim.tick(), false, "nothing came since the trim");
    assert.equal(trim.tick(), false);
    assert.equal(state.collections, 1);
  } finally {
    unwatch();
  }
});

Deno.test("IdleHeapTrim never trims an isolate that has served nothing", () => {
  const { state, trim, unwatch } = setup();
  try {
    for (let i = 0; i < 5; i++) assert.equal(trim.tick(), false);
    assert.equal(state.collections, 0);
  } finally {
    unwatch();
  }
});

Deno.test("IdleHeapTrim waits while any watched counter keeps moving", () => {
  const { state, trim, unwatch } = setup();
  try {
    for (let i = 0; i < 6; i++) {
      if (i % 2) state.requests++;
      else state.admin++;
      assert.equal(trim.tick(), false);
    }
    trim.tick();
    assert.equal(trim.tick(), true);
    state.admin++;
    trim.tick();
    trim.tick();
    assert.equal(trim.tick(), true, "a new burst is trimmed after it too");
    assert.equal(state.collections, 2);
  } finally {
    unwatch();
  }
});

Deno.test("IdleHeapTrim.markDirty trims once after start-up, then only after traffic", () => {
  const { state, trim, unwatch } = setup();
  try {
    trim.markDirty();
    assert.equal(trim.tick(), false);
    assert.equal(trim.tick(), true);
    for (let i = 0; i < 4; i++) assert.equal(trim.tick(), false);
    assert.equal(state.collections, 1);
  } finally {
    unwatch();
  }
});

Deno.test("IdleHeapTrim waits half a minute of quiet by default", () => {
  let collections = 0;
  let requests = 0;
  const trim = new IdleHeapTrim({
    gc: (options) => options.flavor === "last-resort" && collections++,
  });
  const unwatch = trim.watch(() => requests);
  try {
    requests = 1;
    trim.tick();
    for (let i = 0; i < 29; i++) assert.equal(trim.tick(), false);
    assert.equal(trim.tick(), true);
    assert.equal(collections, 1);
  } finally {
    unwatch();
  }
});

Deno.test("IdleHeapTrim without an exposed gc starts no timer and never trims", () => {
  let requests = 0;
  const trim = new IdleHeapTrim({ gc: null, quietTicks: 2 });
  // No unwatch: the test's leak check fails if an interval was started.
  trim.watch(() => requests);
  requests = 3;
  trim.tick();
  trim.tick();
  assert.equal(trim.tick(), false);
});

Deno.test("IdleHeapTrim runs what afterFirstTrim was given after the first trim only", () => {
  const { state, trim, unwatch } = setup();
  const released: number[] = [];
  trim.afterFirstTrim(() => released.push(state.collections));
  try {
    state.requests = 1;
    trim.tick();
    trim.tick();
    assert.equal(trim.tick(), true);
    assert.deepEqual(released, [1], "runs once the heap was trimmed");
    state.requests = 2;
    trim.tick();
    trim.tick();
    assert.equal(trim.tick(), true);
    assert.equal(state.collections, 2);
    assert.deepEqual(released, [1], "not again on the next trim");
  } finally {
    unwatch();
  }
});

Deno.test("IdleHeapTrim.configure sets the quiet time in whole ticks, 0 turning trims off", () => {
  const { state, trim, unwatch } = setup();
  try {
    trim.configure(0);
    state.requests = 1;
    for (let i = 0; i < 100; i++) assert.equal(trim.tick(), false);
    trim.configure(2500); // three one-second ticks
    state.requests = 2;
    assert.equal(trim.tick(), false, "traffic seen");
    assert.equal(trim.tick(), false);
    assert.equal(trim.tick(), false);
    assert.equal(trim.tick(), true);
    assert.equal(state.collections, 1);
  } finally {
    unwatch();
  }
});

Deno.test("IdleHeapTrim holds the anchored objects through its collections, then lets go", () => {
  const anchor = shapeAnchor();
  const seenDuringCollections: (object | null)[] = [];
  const trim = new IdleHeapTrim({
    gc: () => seenDuringCollections.push(anchor.latest),
    quietTicks: 1,
  });
  let requests = 0;
  const unwatch = trim.watch(() => requests);
  try {
    const newest = { shape: "request" };
    anchor.latest = newest;
    requests++;
    trim.tick();
    assert.equal(trim.tick(), true);
    assert.deepEqual(seenDuringCollections, [newest, newest]);
    assert.equal(anchor.latest, null);
  } finally {
    unwatch();
  }
});
