import assert from "node:assert/strict";
import {
  bestRoundCost,
  compareIdleToNginx,
  compareToNginx,
  type ContenderResult,
  costPercent,
  formatColumns,
  formatReport,
  type IdleResult,
  median,
  type RoundResult,
  summarize,
} from "../../../bench/lib/report.ts";

function round(requestsPerSecond: number, extra: Partial<RoundResult> = {}): RoundResult {
  return {
    requests: requestsPerSecond,
    seconds: 1,
    requestsPerSecond,
    requestsPerCpuSecond: requestsPerSecond * 2,
    userUsPerRequest: 1_000_000 / requestsPerSecond / 4,
    systemUsPerRequest: 1_000_000 / requestsPerSecond / 4,
    p50Ms: 1,
    p99Ms: 2,
    errors: 0,
    cpuSeconds: 0.5,
    peakRssMb: 10,
    ...extra,
  };
}

function contender(name: string, rounds: RoundResult[]): ContenderResult {
  return { name, threads: 1, rounds, summary: summarize(rounds) };
}

Deno.test("median takes the middle, or the mean of the middle two", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("summarize takes medians, the peak RSS of all rounds and the sum of errors", () => {
  const summary = summarize([
    round(100, { peakRssMb: 30, errors: 1 }),
    round(300, { p99Ms: undefined }),
    round(200, { p99Ms: 8 }),
  ]);
  assert.deepEqual(summary, {
    requestsPerSecond: 200,
    requestsPerCpuSecond: 400,
    userUsPerRequest: 1250,
    systemUsPerRequest: 1250,
    p50Ms: 1,
    p99Ms: 5,
    peakRssMb: 30,
    errors: 1,
  });
});

Deno.test("compareToNginx divides by nginx's summary", () => {
  const results = [contender("node", [round(50)]), contender("nginx", [round(100)])];
  compareToNginx(results);
  assert.deepEqual(results[0].vsNginx, {
    requestsPerSecond: 0.5,
    requestsPerCpuSecond: 0.5,
    peakRss: 1,
  });
  assert.equal(results[1].vsNginx?.requestsPerSecond, 1);
});

Deno.test("compareToNginx leaves scenarios without nginx alone", () => {
  const results = [contender("node proxy", [round(50)])];
  compareToNginx(results);
  assert.equal(results[0].vsNginx, undefined);
});

Deno.test("compareIdleToNginx compares peak and settled RSS and KB per connection", () => {
  const idle: IdleResult[] = [
    {
      name: "node",
      open: 10,
      failed: 0,
      baselineRssMb: 1,
      peakRssMb: 40,
      settledRssMb: 30,
      kbPerConnection: 8,
    },
    {
      name: "nginx",
      open: 10,
      failed: 0,
      baselineRssMb: 1,
      peakRssMb: 10,
      settledRssMb: 10,
      kbPerConnection: 2,
    },
  ];
  compareIdleToNginx(idle);
  assert.deepEqual(idle[0].vsNginx, { peakRss: 4, settledRss: 3, kbPerConnection: 4 });
});

Deno.test("costPercent is how much lower a value is than its base", () => {
  assert.equal(costPercent(200, 150), 25);
  assert.ok(Math.abs(costPercent(100, 110) + 10) < 1e-9);
});

Deno.test("bestRoundCost compares best rounds and lists each round's pair", () => {
  // The second round of the longer pipeline met a slow phase.
  const base = [round(100), round(98), round(80)];
  const value = [round(97), round(40), round(78)];
  const cost = bestRoundCost(base, value);
  assert.ok(Math.abs(cost.requestsPerSecondPercent - 3) < 1e-9);
  assert.ok(Math.abs(cost.requestsPerCpuSecondPercent - 3) < 1e-9);
  assert.deepEqual(cost.roundsRequestsPerSecondPercent?.map((c) => Math.round(c * 100) / 100), [
    3,
    59.18,
    2.5,
  ]);
  // A contender that ran fewer rounds pairs only those.
  assert.equal(bestRoundCost(base, value.slice(0, 1)).roundsRequestsPerSecondPercent?.length, 1);
  const text = formatReport([{
    name: "pipeline-cost",
    description: "",
    load: "",
    notes: [],
    cost,
  }]);
  assert.match(
    text,
    /: 3\.0% req\/s, 3\.0% req\/CPU-s \(best rounds; req\/s round by round: 3\.0%, 59\.2%, 2\.5%\)/,
  );
});

Deno.test("formatColumns pads names left and numbers right", () => {
  assert.equal(
    formatColumns([["proxy", "req/s"], ["node", "5"], ["haproxy", "12345"]]),
    "proxy    req/s\n-------  -----\nnode         5\nhaproxy  12345",
  );
});

Deno.test("formatReport prints each scenario with its table, cost, notes and failure", () => {
  const contenders = [contender("node", [round(50)]), contender("nginx", [round(100)])];
  compareToNginx(contenders);
  const text = formatReport([
    {
      name: "proxy-small-64",
      description: "small",
      load: "wrk -t1 -c64 GET /",
      contenders,
      cost: { requestsPerSecondPercent: 12.34, requestsPerCpuSecondPercent: 5 },
      notes: ["node-2w skipped: no"],
    },
    { name: "h2-tls", description: "h2", load: "", notes: [], error: "nginx did not start" },
  ]);
  assert.match(text, /^== proxy-small-64: small\n {3}load: wrk -t1 -c64 GET \/\nproxy /);
  assert.match(
    text,
    /\nnode +50 +0\.50x +100 +0\.50x +5000\.0 +5000\.0 +1\.000 +2\.000 +10\.0 +1\.00x +0\n/,
  );
  assert.match(text, /cost of validator \+ request adaptor: 12\.3% req\/s, 5\.0% req\/CPU-s\n/);
  assert.match(text, /note: node-2w skipped: no/);
  assert.match(text, /== h2-tls: h2\n {3}load: \n {3}FAILED: nginx did not start/);
});

Deno.test("a contender that failed before any round shows dashes and its reason", () => {
  const failed: ContenderResult = {
    ...contender("node-2w", []),
    error: "wrk exited with 1: unable to connect",
  };
  assert.ok(Number.isNaN(failed.summary.peakRssMb));
  const text = formatReport([{
    name: "proxy-small-512",
    description: "small",
    load: "wrk",
    contenders: [failed],
    notes: [],
  }]);
  assert.match(text, /\nnode-2w +- +- +- +- +- +- +- +- +- +- +0\n/);
  assert.match(text, /node-2w FAILED: wrk exited with 1: unable to connect/);
});
