/**
 * Benchmark results: the shapes written to `bench/results/latest.json`, the
 * reduction of several rounds to medians and ratios to nginx, and the text
 * table printed at the end of a run.
 *
 * @module
 */

import type { LoadResult } from "./load.ts";

/** One measured load run against one contender. */
export interface RoundResult extends LoadResult {
  /** CPU seconds the contender's processes used during the run. */
  cpuSeconds: number;
  requestsPerCpuSecond: number;
  /** Microseconds of user-space CPU per request. */
  userUsPerRequest: number;
  /** Microseconds of kernel CPU per request (system calls, the network stack). */
  systemUsPerRequest: number;
  /** Peak of the sampled summed RSS during the run, in MB. */
  peakRssMb: number;
}

/** A contender's rounds reduced: medians, except RSS (the peak of all rounds). */
export interface Summary {
  requestsPerSecond: number;
  requestsPerCpuSecond: number;
  userUsPerRequest: number;
  systemUsPerRequest: number;
  p50Ms?: number;
  p99Ms?: number;
  peakRssMb: number;
  /** Errors over all rounds. */
  errors: number;
}

/** The contender's summary divided by nginx's. */
export interface VersusNginx {
  requestsPerSecond: number;
  requestsPerCpuSecond: number;
  peakRss: number;
}

/** One contender in a load scenario. */
export interface ContenderResult {
  name: string;
  /** Threads of its main process after the scenario (worker isolates show here). */
  threads: number;
  rounds: RoundResult[];
  summary: Summary;
  vsNginx?: VersusNginx;
  /** Why it was dropped from the remaining rounds, if it was. */
  error?: string;
}

/** One contender in the idle-connections scenario. */
export interface IdleResult {
  name: string;
  open: number;
  failed: number;
  firstError?: string;
  baselineRssMb: number;
  /** Highest RSS while the connections opened and settled. */
  peakRssMb: number;
  /** RSS once every connection has been idle a few seconds. */
  settledRssMb: number;
  /** (settled - baseline) / open connections: what each idle connection holds. */
  kbPerConnection: number;
  vsNginx?: { peakRss: number; settledRss: number; kbPerConnection: number };
}

/**
 * How much slower one contender is than another measured in the same rounds,
 * in %: between their best rounds, as this machine's noise only ever slows a
 * round down (another tenant's load, a slow phase), never speeds it up.
 */
export interface PipelineCost {
  requestsPerSecondPercent: number;
  requestsPerCpuSecondPercent: number;
  /** Each round's requests/s cost against the round run just before it, in the order run. */
  roundsRequestsPerSecondPercent?: number[];
}

/** One scenario's outcome. */
export interface ScenarioResult {
  name: string;
  description: string;
  /** The load, in words ("wrk -t1 -c64 GET /"). */
  load: string;
  contenders?: ContenderResult[];
  idle?: IdleResult[];
  /** pipeline-cost: how much slower the full pipeline is than the plain proxy, in %. */
  cost?: PipelineCost;
  notes: string[];
  /** Set when the scenario could not be run. */
  error?: string;
}

/** The median of some numbers (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function medianOf(values: readonly (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length ? median(known) : undefined;
}

/** Reduces a contender's rounds to one summary. */
export function summarize(rounds: readonly RoundResult[]): Summary {
  return {
    requestsPerSecond: median(rounds.map((r) => r.requestsPerSecond)),
    requestsPerCpuSecond: median(rounds.map((r) => r.requestsPerCpuSecond)),
    userUsPerRequest: median(rounds.map((r) => r.userUsPerRequest)),
    systemUsPerRequest: median(rounds.map((r) => r.systemUsPerRequest)),
    p50Ms: medianOf(rounds.map((r) => r.p50Ms)),
    p99Ms: medianOf(rounds.map((r) => r.p99Ms)),
    peakRssMb: rounds.length ? Math.max(...rounds.map((r) => r.peakRssMb)) : NaN,
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
  };
}

/** Fills `vsNginx` of every contender when the scenario has an nginx row. */
export function compareToNginx(contenders: ContenderResult[]): void {
  const nginx = contenders.find((c) => c.name === "nginx")?.summary;
  if (!nginx) return;
  for (const c of contenders) {
    c.vsNginx = {
      requestsPerSecond: c.summary.requestsPerSecond / nginx.requestsPerSecond,
      requestsPerCpuSecond: c.summary.requestsPerCpuSecond / nginx.requestsPerCpuSecond,
      peakRss: c.summary.peakRssMb / nginx.peakRssMb,
    };
  }
}

/** Fills `vsNginx` of every idle result when there is an nginx row. */
export function compareIdleToNginx(results: IdleResult[]): void {
  const nginx = results.find((r) => r.name === "nginx");
  if (!nginx) return;
  for (const r of results) {
    r.vsNginx = {
      peakRss: r.peakRssMb / nginx.peakRssMb,
      settledRss: r.settledRssMb / nginx.settledRssMb,
      kbPerConnection: r.kbPerConnection / nginx.kbPerConnection,
    };
  }
}

/** How much lower `value` is than `base`, in percent (negative when higher). */
export function costPercent(base: number, value: number): number {
  return (1 - value / base) * 100;
}

/**
 * The cost of `value`'s rounds against `base`'s ({@linkcode costPercent})
 * from the best round of each, with each round's own pair for the record.
 * Small differences (two filters, a percent or two) drown in a slow phase
 * that takes a round 20-70 % down, and a median of three or five rounds
 * still lands in one now and then; the best round is the one least
 * disturbed.
 */
export function bestRoundCost(
  base: readonly RoundResult[],
  value: readonly RoundResult[],
): PipelineCost {
  const best = (
    rounds: readonly RoundResult[],
    key: "requestsPerSecond" | "requestsPerCpuSecond",
  ) => Math.max(...rounds.map((r) => r[key]));
  const pairs = Math.min(base.length, value.length);
  const rounds: number[] = [];
  for (let i = 0; i < pairs; i++) {
    rounds.push(costPercent(base[i].requestsPerSecond, value[i].requestsPerSecond));
  }
  return {
    requestsPerSecondPercent: costPercent(
      best(base, "requestsPerSecond"),
      best(value, "requestsPerSecond"),
    ),
    requestsPerCpuSecondPercent: costPercent(
      best(base, "requestsPerCpuSecond"),
      best(value, "requestsPerCpuSecond"),
    ),
    roundsRequestsPerSecondPercent: rounds,
  };
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? "-" : value.toFixed(digits);
}

function ratio(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? "-" : `${value.toFixed(2)}x`;
}

/** Lays rows out in columns; the first row is the header, numbers align right. */
export function formatColumns(rows: readonly string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: readonly string[]) =>
    row.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join("  ");
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)]
    .join("\n");
}

function loadTable(contenders: readonly ContenderResult[]): string {
  const rows = [[
    "proxy",
    "req/s",
    "x nginx",
    "req/CPU-s",
    "x nginx",
    "user us/req",
    "sys us/req",
    "p50 ms",
    "p99 ms",
    "peak RSS MB",
    "x nginx",
    "errors",
  ]];
  for (const c of contenders) {
    const s = c.summary;
    rows.push([
      c.name,
      fixed(s.requestsPerSecond, 0),
      ratio(c.vsNginx?.requestsPerSecond),
      fixed(s.requestsPerCpuSecond, 0),
      ratio(c.vsNginx?.requestsPerCpuSecond),
      fixed(s.userUsPerRequest, 1),
      fixed(s.systemUsPerRequest, 1),
      fixed(s.p50Ms, 3),
      fixed(s.p99Ms, 3),
      fixed(s.peakRssMb, 1),
      ratio(c.vsNginx?.peakRss),
      String(s.errors),
    ]);
  }
  return formatColumns(rows);
}

function idleTable(results: readonly IdleResult[]): string {
  const rows = [[
    "proxy",
    "open",
    "failed",
    "RSS before MB",
    "peak RSS MB",
    "x nginx",
    "settled MB",
    "x nginx",
    "KB/conn",
    "x nginx",
  ]];
  for (const r of results) {
    rows.push([
      r.name,
      String(r.open),
      String(r.failed),
      fixed(r.baselineRssMb, 1),
      fixed(r.peakRssMb, 1),
      ratio(r.vsNginx?.peakRss),
      fixed(r.settledRssMb, 1),
      ratio(r.vsNginx?.settledRss),
      fixed(r.kbPerConnection, 2),
      ratio(r.vsNginx?.kbPerConnection),
    ]);
  }
  return formatColumns(rows);
}

function roundCosts(rounds: readonly number[] | undefined): string {
  if (rounds === undefined || rounds.length < 2) return "";
  return ` (best rounds; req/s round by round: ${rounds.map((r) => `${fixed(r, 1)}%`).join(", ")})`;
}

/** The text report of a run: one titled table per scenario, then its notes. */
export function formatReport(scenarios: readonly ScenarioResult[]): string {
  const parts: string[] = [];
  for (const s of scenarios) {
    const lines = [`== ${s.name}: ${s.description}`, `   load: ${s.load}`];
    if (s.error) lines.push(`   FAILED: ${s.error.split("\n").join("\n   ")}`);
    if (s.contenders?.length) lines.push(loadTable(s.contenders));
    for (const c of s.contenders ?? []) {
      if (c.error) lines.push(`${c.name} FAILED: ${c.error.split("\n").join("\n   ")}`);
    }
    if (s.idle?.length) lines.push(idleTable(s.idle));
    if (s.cost) {
      lines.push(
        `cost of validator + request adaptor: ${fixed(s.cost.requestsPerSecondPercent, 1)}% ` +
          `req/s, ${fixed(s.cost.requestsPerCpuSecondPercent, 1)}% req/CPU-s` +
          roundCosts(s.cost.roundsRequestsPerSecondPercent),
      );
    }
    for (const note of s.notes) lines.push(`note: ${note}`);
    parts.push(lines.join("\n"));
  }
  return parts.join("\n\n");
}
