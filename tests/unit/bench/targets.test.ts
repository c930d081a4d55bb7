import assert from "node:assert/strict";
import {
  compareToNginx,
  type ContenderResult,
  type RoundResult,
  type ScenarioResult,
  summarize,
} from "../../../bench/lib/report.ts";
import { checkTargets, formatTargets } from "../../../bench/lib/targets.ts";

function contender(
  name: string,
  requestsPerSecond: number,
  requestsPerCpuSecond: number,
  p99Ms = 2,
): ContenderResult {
  const round: RoundResult = {
    requests: requestsPerSecond,
    seconds: 1,
    requestsPerSecond,
    requestsPerCpuSecond,
    userUsPerRequest: 10,
    systemUsPerRequest: 10,
    p50Ms: 1,
    p99Ms,
    errors: 0,
    cpuSeconds: 1,
    peakRssMb: 50,
  };
  return { name, threads: 1, rounds: [round], summary: summarize([round]) };
}

function loadScenario(name: string, contenders: ContenderResult[]): ScenarioResult {
  compareToNginx(contenders);
  return { name, description: name, load: "wrk", contenders, notes: [] };
}

/** A run where every target has its data: `node` given, nginx at 100/100 with a p99 of 2 ms. */
function run(node: { rps: number; cpu: number; p99: number }, twoWorkers: [number, number]) {
  return [
    loadScenario("proxy-small-64", [
      contender("node", node.rps, node.cpu, node.p99),
      contender("node-2w", twoWorkers[0], twoWorkers[1]),
      contender("node-2w-1cpu", 1, 1),
      contender("nginx", 100, 100, 2),
    ]),
    loadScenario("static", [contender("node", node.rps, node.cpu), contender("nginx", 100, 100)]),
    {
      name: "pipeline-cost",
      description: "",
      load: "",
      notes: [],
      cost: { requestsPerSecondPercent: 3, requestsPerCpuSecondPercent: 6 },
    },
    {
      name: "idle-10k",
      description: "",
      load: "",
      notes: [],
      idle: [{
        name: "node",
        open: 10_000,
        failed: 0,
        baselineRssMb: 40,
        peakRssMb: 140,
        settledRssMb: 120,
        kbPerConnection: 8,
      }],
    },
  ] satisfies ScenarioResult[];
}

function verdicts(scenarios: ScenarioResult[]): (boolean | undefined)[] {
  return checkTargets(scenarios).map((c) => c.met);
}

Deno.test("targets are met when the node is at least nginx and within every bound", () => {
  assert.deepEqual(
    verdicts(run({ rps: 100, cpu: 120, p99: 3 }, [101, 110])),
    [true, true, true, true, true, true, true],
  );
});

Deno.test("each target misses on its own figure", () => {
  // Fewer requests per CPU-second than nginx misses both ratio targets, not the others.
  assert.deepEqual(
    verdicts(run({ rps: 120, cpu: 99, p99: 3 }, [121, 98])),
    [false, true, false, true, true, true, true],
  );
  // A p99 over 1.5x nginx's 2 ms.
  assert.equal(verdicts(run({ rps: 100, cpu: 100, p99: 3.1 }, [101, 95]))[1], false);
  // Two workers: 11 % more CPU per request, and no more requests/s.
  assert.deepEqual(verdicts(run({ rps: 100, cpu: 100, p99: 2 }, [100, 89])).slice(3, 5), [
    false,
    false,
  ]);
});

Deno.test("idle memory misses over the bound or when connections failed to open", () => {
  const scenarios = run({ rps: 100, cpu: 100, p99: 2 }, [101, 95]);
  const idle = scenarios[3].idle![0];
  idle.peakRssMb = 150;
  assert.equal(checkTargets(scenarios)[5].met, false);
  idle.peakRssMb = 100;
  idle.failed = 3;
  const check = checkTargets(scenarios)[5];
  assert.equal(check.met, false);
  assert.match(check.measured, /3 failed to open/);
});

Deno.test("pipeline cost is judged on requests/s", () => {
  const scenarios = run({ rps: 100, cpu: 100, p99: 2 }, [101, 95]);
  scenarios[2].cost = { requestsPerSecondPercent: 5, requestsPerCpuSecondPercent: 1 };
  assert.equal(checkTargets(scenarios)[6].met, false);
  // A path that never finished a round leaves no cost to judge.
  scenarios[2].cost = { requestsPerSecondPercent: NaN, requestsPerCpuSecondPercent: NaN };
  assert.equal(checkTargets(scenarios)[6].met, undefined);
});

Deno.test("targets without their scenario, or whose contender never ran, are not judged", () => {
  const scenarios: ScenarioResult[] = run({ rps: 100, cpu: 100, p99: 2 }, [101, 95]).slice(0, 1);
  const dropped = scenarios[0].contenders!.find((c) => c.name === "node-2w")!;
  dropped.rounds = [];
  const checks = checkTargets(scenarios);
  assert.deepEqual(checks.map((c) => c.met), [
    true,
    true,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
  assert.match(checks[2].measured, /not measured \(static: node or nginx\)/);
  // nginx dropped before its first round: nothing to compare the node with.
  const nginx = scenarios[0].contenders!.find((c) => c.name === "nginx")!;
  nginx.rounds = [];
  assert.equal(checkTargets(scenarios)[0].met, undefined);
  assert.match(checks[3].measured, /--workers 0 leaves them out/);
});

Deno.test("formatTargets prints a verdict, the target and the measurement per line", () => {
  const text = formatTargets(checkTargets(run({ rps: 62, cpu: 59, p99: 8.7 }, [61, 55])));
  const lines = text.split("\n");
  assert.equal(lines[0], "== targets");
  assert.equal(
    lines[1],
    "MISSED  proxy, 64 conns: req/s and req/CPU-s at least 1x nginx: 0.62x req/s, 0.59x req/CPU-s",
  );
  assert.equal(
    lines[2],
    "MISSED  proxy, 64 conns: p99 at most 1.5x nginx's: 8.7 ms against 2.0 ms (4.35x)",
  );
  assert.equal(
    lines[4],
    "met     two workers: req/CPU-s within 10 % of one data plane: " +
      "node-2w 0.93x of node's req/CPU-s (node-2w-1cpu 0.02x)",
  );
  assert.match(lines[6], /^met {5}idle keep-alive connections: peak RSS under 150 MB: 140\.0 MB/);
});
