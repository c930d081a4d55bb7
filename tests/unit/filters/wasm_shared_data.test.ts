import assert from "node:assert/strict";
import { integerOf, valueAfter, WasmClusterData } from "../../../filters/wasm_cluster_data.ts";
import { type ScopedWasmOps, WasmDataScope, WasmHub } from "../../../filters/wasm_shared_data.ts";

Deno.test("valueAfter: puts replace, additions add as 64-bit integers or floats", () => {
  assert.equal(valueAfter("7", { op: "put", key: "k", value: "x" }), "x");
  assert.equal(valueAfter(undefined, { op: "addInteger", key: "k", delta: "2" }), "2");
  assert.equal(
    valueAfter("9007199254740993", { op: "addInteger", key: "k", delta: "1" }),
    "9007199254740994",
  );
  // Wraps as Go's int64 does.
  assert.equal(
    valueAfter("9223372036854775807", { op: "addInteger", key: "k", delta: "1" }),
    "-9223372036854775808",
  );
  assert.equal(valueAfter("1.5", { op: "addFloat", key: "k", delta: 0.25 }), "1.75");
  assert.equal(valueAfter("not a number", { op: "addFloat", key: "k", delta: 1 }), "1");
  assert.equal(integerOf("3.9"), 3n);
  assert.equal(integerOf(" -12 "), -12n);
  assert.equal(integerOf(undefined), 0n);
});

Deno.test("WasmClusterData: a VM's copy answers at once and records its changes", () => {
  const data = new WasmClusterData();
  data.update({ reset: false, entries: [["count", "10"], ["id/a", "true"], ["id/b", "true"]] });
  assert.equal(data.addInteger("count", 5n), 15n);
  data.put("id/c", "true");
  assert.equal(data.countPrefix("id/"), 3);
  assert.deepEqual(data.takeOps(), [
    { op: "addInteger", key: "count", delta: "5" },
    { op: "put", key: "id/c", value: "true" },
  ]);
  assert.deepEqual(data.takeOps(), []);
  data.update({ reset: true, entries: [["count", "1"]] });
  assert.equal(data.get("id/a"), undefined);
  data.update({ reset: false, entries: [["count", null]] });
  assert.equal(data.get("count"), undefined);
});

Deno.test("WasmDataScope: a VM is told only what changed since it last looked", () => {
  const scope = new WasmDataScope();
  assert.deepEqual(scope.since(-1), { reset: true, entries: [] });
  scope.set("a", "1");
  scope.set("b", "2");
  const seen = scope.version;
  assert.equal(scope.since(seen), undefined);
  scope.apply([{ op: "addInteger", key: "a", delta: "4" }]);
  scope.set("b", null);
  scope.set("c", "3");
  scope.set("c", "3"); // no change, no news
  assert.deepEqual(scope.since(seen), {
    reset: false,
    entries: [["a", "5"], ["b", null], ["c", "3"]],
  });
  scope.replace(new Map([["c", "3"], ["d", "4"]]));
  assert.deepEqual(scope.entries(), [["c", "3"], ["d", "4"]]);
  // A VM far behind (or never seen) gets everything.
  assert.deepEqual(scope.since(-1), { reset: true, entries: [["c", "3"], ["d", "4"]] });
});

Deno.test("WasmDataScope: a long change log is cut and older VMs start over", () => {
  const scope = new WasmDataScope();
  const start = scope.version;
  for (let i = 0; i < 5000; i++) scope.set("k", String(i));
  assert.deepEqual(scope.since(start), { reset: true, entries: [["k", "4999"]] });
  const recent = scope.version;
  scope.set("k", "x");
  assert.deepEqual(scope.since(recent), { reset: false, entries: [["k", "x"]] });
});

Deno.test("WasmHub: VMs' changes apply at once and go to the store in one batch", async () => {
  const sent: ScopedWasmOps[][] = [];
  const hub = new WasmHub((batch) => sent.push(batch));
  hub.record("p", "w", [{ op: "addInteger", key: "n", delta: "1" }]);
  hub.record("p", "w", [{ op: "addInteger", key: "n", delta: "1" }]);
  hub.record("q", "w", [{ op: "put", key: "x", value: "y" }]);
  assert.equal(hub.scope("p", "w").get("n"), "2");
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(sent, [[
    ["p/w", [
      { op: "addInteger", key: "n", delta: "1" },
      { op: "addInteger", key: "n", delta: "1" },
    ]],
    ["q/w", [{ op: "put", key: "x", value: "y" }]],
  ]]);
  hub.close();
});

Deno.test("WasmHub: the store's data reaches each filter; a full update removes what is gone", () => {
  const hub = new WasmHub();
  hub.storeChanged([["p/w/id/user1", "true"], ["p/w/count", "3"], ["q/v/k", "v"]], true);
  assert.equal(hub.scope("p", "w").get("id/user1"), "true");
  hub.storeChanged([["p/w/count", "4"], ["p/w/id/user1", null]], false);
  assert.deepEqual(hub.scope("p", "w").entries(), [["count", "4"]]);
  hub.storeChanged([["p/w/count", "5"]], true);
  assert.deepEqual(hub.scope("q", "v").entries(), []);
  assert.deepEqual(hub.scope("p", "w").entries(), [["count", "5"]]);
  let reloads = 0;
  const stop = hub.onReload(() => reloads++);
  hub.reload();
  stop();
  hub.reload();
  assert.equal(reloads, 1);
});
