import assert from "node:assert/strict";
import {
  cpuTimes,
  parseProcStat,
  processTree,
  rssKb,
  RssSampler,
  statusKb,
} from "../../../bench/lib/proc_stats.ts";

Deno.test("parseProcStat counts fields from the last parenthesis", () => {
  const line = "4242 (a (b) c) S 17 4242 4242 0 -1 4194560 1 0 0 0 250 75 0 0 20 0 9 0\n";
  assert.deepEqual(parseProcStat(line), {
    pid: 4242,
    ppid: 17,
    userTicks: 250,
    systemTicks: 75,
  });
  assert.throws(() => parseProcStat("garbage"), /Cannot parse \/proc stat/);
});

Deno.test("the benchmark reads this process's own tree, CPU time and memory", () => {
  assert.deepEqual(processTree(Deno.pid).slice(0, 1), [Deno.pid]);
  const { user, system } = cpuTimes([Deno.pid]);
  assert.ok(user > 0);
  assert.ok(system >= 0);
  assert.ok(statusKb(Deno.pid, "VmHWM") >= statusKb(Deno.pid, "VmRSS") / 2);
  const sampler = new RssSampler([Deno.pid], 1000);
  assert.ok(sampler.stop() >= rssKb([Deno.pid]) / 2);
});

Deno.test("exited processes count as nothing", () => {
  assert.deepEqual(cpuTimes([0x3fffffff]), { user: 0, system: 0 });
  assert.equal(rssKb([0x3fffffff]), 0);
});
