/**
 * The performance targets the project holds itself to, judged on one run's
 * results, so a run says which are met instead of leaving the reader to
 * work the ratios out of the tables.
 *
 * @module
 */

import type { ContenderResult, ScenarioResult } from "./report.ts";

/** One target judged on a run. */
export interface TargetCheck {
  /** The target, in words. */
  target: string;
  /** What the run measured, in words ("0.62x", "8.7 ms against 2.8 ms"). */
  measured: string;
  /** Whether it is met; undefined when the run lacks what it needs (a scenario left out or failed). */
  met: boolean | undefined;
}

/** Proxying at 64 connections must reach nginx's requests/s and requests per CPU-second. */
const PROXY_RATIO = 1.0;
/** Its p99 may be at most this much nginx's. */
const PROXY_P99_RATIO = 1.5;
/** A static answer must reach nginx's `return 200`. */
const STATIC_RATIO = 1.0;
/** Two workers may cost at most this much more CPU per request than one data plane. */
const WORKERS_CPU_SLACK = 0.1;
/** Idle keep-alive connections must fit under this peak RSS. */
const IDLE_RSS_MB = 150;
/** The validator and request adaptor may cost at most this share of throughput. */
const PIPELINE_COST_PERCENT = 5;

/** The contender of `scenario` named `name` (or matching it) that ran at least one round. */
function contender(
  scenarios: readonly ScenarioResult[],
  scenario: string,
  name: string | RegExp,
): ContenderResult | undefined {
  const found = scenarios.find((s) => s.name === scenario)?.contenders?.find((c) =>
    typeof name === "string" ? c.name === name : name.test(c.name)
  );
  // A contender dropped before any round has no figures to judge.
  return found && found.rounds.length > 0 ? found : undefined;
}

function times(value: number): string {
  return `${value.toFixed(2)}x`;
}

function unknown(target: string, missing: string): TargetCheck {
  return { target, measured: `not measured (${missing})`, met: undefined };
}

function atLeastNginx(
  scenarios: readonly ScenarioResult[],
  scenario: string,
  target: string,
  minimum: number,
): TargetCheck {
  const ratios = contender(scenarios, scenario, "node")?.vsNginx;
  if (!ratios || !contender(scenarios, scenario, "nginx")) {
    return unknown(target, `${scenario}: node or nginx`);
  }
  return {
    target,
    measured: `${times(ratios.requestsPerSecond)} req/s, ${
      times(ratios.requestsPerCpuSecond)
    } req/CPU-s`,
    met: ratios.requestsPerSecond >= minimum && ratios.requestsPerCpuSecond >= minimum,
  };
}

function proxyP99(scenarios: readonly ScenarioResult[]): TargetCheck {
  const target = `proxy, 64 conns: p99 at most ${PROXY_P99_RATIO}x nginx's`;
  const node = contender(scenarios, "proxy-small-64", "node")?.summary.p99Ms;
  const nginx = contender(scenarios, "proxy-small-64", "nginx")?.summary.p99Ms;
  if (node === undefined || nginx === undefined || !(nginx > 0)) {
    return unknown(target, "proxy-small-64: p99 of node or nginx");
  }
  return {
    target,
    measured: `${node.toFixed(1)} ms against ${nginx.toFixed(1)} ms (${times(node / nginx)})`,
    met: node <= nginx * PROXY_P99_RATIO,
  };
}

function twoWorkers(scenarios: readonly ScenarioResult[]): TargetCheck[] {
  const cpuTarget = `two workers: req/CPU-s within ${WORKERS_CPU_SLACK * 100} % of one data plane`;
  const rateTarget = "two workers: more req/s than one data plane";
  const one = contender(scenarios, "proxy-small-64", "node");
  const two = contender(scenarios, "proxy-small-64", /^node-\d+w$/);
  if (!one || !two) {
    const missing = "proxy-small-64: node and node-Nw (--workers 0 leaves them out)";
    return [unknown(cpuTarget, missing), unknown(rateTarget, missing)];
  }
  const cpu = two.summary.requestsPerCpuSecond / one.summary.requestsPerCpuSecond;
  const rate = two.summary.requestsPerSecond / one.summary.requestsPerSecond;
  // The same workers held to one CPU, when measured: their cost apart from
  // competing with the load generator and the backend for the other CPUs.
  const held = contender(scenarios, "proxy-small-64", `${two.name}-1cpu`);
  const heldCpu = held
    ? ` (${held.name} ${
      times(held.summary.requestsPerCpuSecond / one.summary.requestsPerCpuSecond)
    })`
    : "";
  return [
    {
      target: cpuTarget,
      measured: `${two.name} ${times(cpu)} of node's req/CPU-s${heldCpu}`,
      met: cpu >= 1 - WORKERS_CPU_SLACK,
    },
    { target: rateTarget, measured: `${two.name} ${times(rate)} of node's req/s`, met: rate > 1 },
  ];
}

function idleMemory(scenarios: readonly ScenarioResult[]): TargetCheck {
  const scenario = scenarios.find((s) => s.name === "idle-10k");
  const node = scenario?.idle?.find((r) => r.name === "node");
  const target = `idle keep-alive connections: peak RSS under ${IDLE_RSS_MB} MB`;
  if (!node) return unknown(target, "idle-10k: node");
  const failed = node.failed > 0 ? `, ${node.failed} failed to open` : "";
  return {
    target,
    measured: `${node.peakRssMb.toFixed(1)} MB with ${node.open} open${failed}`,
    // Memory held by connections that never opened proves nothing.
    met: node.failed === 0 && node.peakRssMb < IDLE_RSS_MB,
  };
}

function pipelineCost(scenarios: readonly ScenarioResult[]): TargetCheck {
  const cost = scenarios.find((s) => s.name === "pipeline-cost")?.cost;
  const target = `validator + request adaptor: under ${PIPELINE_COST_PERCENT} % of throughput`;
  // No finite cost when either path never finished a round.
  if (!cost || !Number.isFinite(cost.requestsPerSecondPercent)) {
    return unknown(target, "pipeline-cost");
  }
  return {
    target,
    measured: `${cost.requestsPerSecondPercent.toFixed(1)} % req/s, ${
      cost.requestsPerCpuSecondPercent.toFixed(1)
    } % req/CPU-s`,
    met: cost.requestsPerSecondPercent < PIPELINE_COST_PERCENT,
  };
}

/** Judges every target on `scenarios`; the ones a run left out say so. */
export function checkTargets(scenarios: readonly ScenarioResult[]): TargetCheck[] {
  return [
    atLeastNginx(
      scenarios,
      "proxy-small-64",
      `proxy, 64 conns: req/s and req/CPU-s at least ${PROXY_RATIO}x nginx`,
      PROXY_RATIO,
    ),
    proxyP99(scenarios),
    atLeastNginx(
      scenarios,
      "static",
      `static answer: req/s and req/CPU-s at least ${STATIC_RATIO}x nginx's return 200`,
      STATIC_RATIO,
    ),
    ...twoWorkers(scenarios),
    idleMemory(scenarios),
    pipelineCost(scenarios),
  ];
}

/** The checks as lines: "met", "MISSED" or "n/a", the target, and what was measured. */
export function formatTargets(checks: readonly TargetCheck[]): string {
  const lines = ["== targets"];
  for (const check of checks) {
    const verdict = check.met === undefined ? "n/a" : check.met ? "met" : "MISSED";
    lines.push(`${verdict.padEnd(6)}  ${check.target}: ${check.measured}`);
  }
  return lines.join("\n");
}
