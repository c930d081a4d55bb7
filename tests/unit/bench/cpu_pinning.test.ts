import assert from "node:assert/strict";
import { cpuPlan, pinnedCommand } from "../../../bench/lib/cpu_pinning.ts";

Deno.test("cpuPlan gives the proxy CPU 0 and everything else the rest", () => {
  assert.deepEqual(cpuPlan(2), { proxy: "0", tools: "1" });
  assert.deepEqual(cpuPlan(8), { proxy: "0", tools: "1-7" });
  assert.equal(cpuPlan(1), null);
  assert.equal(cpuPlan(Number.NaN), null);
});

Deno.test("pinnedCommand prefixes taskset only when given CPUs", () => {
  assert.deepEqual(pinnedCommand(["wrk", "-c64"], "1"), ["taskset", "-c", "1", "wrk", "-c64"]);
  assert.deepEqual(pinnedCommand(["wrk", "-c64"], undefined), ["wrk", "-c64"]);
});
