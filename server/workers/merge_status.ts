/**
 * Merges the status documents of one object from several workers into the
 * document one process would report: counters and rates add up, extremes
 * take the extreme, means are weighted by request count, and percentiles
 * are read from the workers' latency buckets added together (weighted by
 * the requests of each window, the `codes` counts, for documents without
 * buckets).
 *
 * @module
 */

import { errorShare, mergeLatency } from "../../filters/http_stats.ts";
import { isPlainObject } from "../../filters/spec.ts";

const SUMMED = new Set([
  "count",
  "errCount",
  "m1",
  "m5",
  "m15",
  "m1Err",
  "m5Err",
  "m15Err",
  "reqSize",
  "respSize",
]);
/**
 * Counters of documents that are not request statistics: a WebSocketServer's
 * relays, a pool's memoryCache (each worker has its own cache), a WasmHost's
 * calls and failures (each worker runs its own modules), a Kafka filter's
 * messages (each worker has its own producer). (A
 * ConnectControl's bannedClientNum and bannedTopicNum count its spec's
 * lists, the same in every worker: not summed.)
 */
const SUMMED_COUNTERS = new Set([
  "connections",
  "connectionsServed",
  "hits",
  "misses",
  "entries",
  "bytes",
  "numOfRequest",
  "numOfWasmError",
  "messagesSent",
  "messagesFailed",
  "messagesPending",
]);
const PERCENTILES = new Set(["p25", "p50", "p75", "p95", "p98", "p99", "p999"]);
const PERCENTAGES = ["m1", "m5", "m15"];
/** Paths in a merged `topN` (workers send all of theirs). */
const TOP_N = 10;

type Doc = Record<string, unknown>;

/** Whether a document is a statistics set (it has a request count). */
function isStats(doc: Doc): boolean {
  return typeof doc.count === "number" && "codes" in doc;
}

/** How many requests a statistics window holds: the sum of its status code counts. */
function windowCount(codes: unknown): number {
  let n = 0;
  if (isPlainObject(codes)) {
    for (const v of Object.values(codes)) {
      n += typeof v === "number" ? v : 0;
    }
  }
  return n;
}

function mergeStats(docs: Doc[]): Doc {
  if (docs.length === 1) return withoutLatency(docs[0]) as Doc;
  const out: Doc = { ...docs[0] };
  const total = docs.reduce((n, d) => n + (d.count as number), 0);
  for (const key of Object.keys(out)) {
    const values = docs.map((d) => d[key]);
    if (SUMMED.has(key)) {
      out[key] = round(values.reduce((a: number, b) => a + (b as number), 0));
    } else if (key === "mean") {
      out.mean = total
        ? round(docs.reduce((n, d) => n + (d.mean as number) * (d.count as number), 0) / total)
        : 0;
    } else if (PERCENTILES.has(key) || key === "latencyBuckets") {
      // Below, once the extremes are merged.
    } else if (key === "min") {
      const counted = docs.filter((d) => (d.count as number) > 0).map((d) => d.min as number);
      out.min = counted.length ? Math.min(...counted) : 0;
    } else if (key === "max") out.max = Math.max(...(values as number[]));
    else if (key === "codes") {
      const codes: Record<string, number> = {};
      for (const v of values as Record<string, number>[]) {
        for (const [code, n] of Object.entries(v ?? {})) codes[code] = (codes[code] ?? 0) + n;
      }
      out.codes = codes;
    } else if (key === "topN") out.topN = mergeTopN(values as Doc[][]);
    else out[key] = mergeValues(values);
  }
  if (!mergeLatency(out, docs)) weighPercentiles(out, docs);
  for (const m of PERCENTAGES) {
    const rate = out[m] as number;
    out[`${m}ErrPercent`] = errorShare(out[`${m}Err`] as number, rate);
  }
  return out;
}

/**
 * `n` to a thousandth, as each worker's snapshot gives it: sums and means of
 * those would otherwise show binary fractions (0.30000000000000004).
 */
function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/**
 * `value` as one process reports it: without the latency buckets its
 * statistics carried for merging, and with ten `topN` paths at most.
 */
function withoutLatency(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutLatency);
  if (!isPlainObject(value)) return value;
  const out: Doc = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === "topN" && Array.isArray(v)) out.topN = v.slice(0, TOP_N).map(withoutLatency);
    else if (key !== "latencyBuckets") out[key] = withoutLatency(v);
  }
  return out;
}

/** Percentiles from documents without latency buckets: each worker's, weighted by its window. */
function weighPercentiles(out: Doc, docs: Doc[]): void {
  // A worker whose window is empty reports 0 for every percentile: it must
  // not weigh in, however many requests it counted before.
  const windows = docs.map((d) => windowCount(d.codes));
  const windowTotal = windows.reduce((a, b) => a + b, 0);
  for (const key of PERCENTILES) {
    out[key] = windowTotal
      ? round(docs.reduce((n, d, i) => n + (d[key] as number) * windows[i], 0) / windowTotal)
      : 0;
  }
  delete out.latencyBuckets;
}

function mergeTopN(lists: Doc[][]): Doc[] {
  const byPath = new Map<string, Doc[]>();
  for (const list of lists) {
    for (const item of list ?? []) {
      const path = String(item.path);
      byPath.set(path, [...(byPath.get(path) ?? []), item]);
    }
  }
  return [...byPath.values()].map((items) => mergeStats(items))
    .sort((a, b) => (b.count as number) - (a.count as number)).slice(0, TOP_N);
}

/** Whether `v` is a string, number or boolean (nothing to merge inside). */
function isScalar(v: unknown): boolean {
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean";
}

function mergeValues(values: unknown[]): unknown {
  const first = values[0];
  if (isPlainObject(first) && values.every(isPlainObject)) return mergeStatuses(values as Doc[]);
  if (Array.isArray(first) && values.every(Array.isArray)) {
    const lists = values as unknown[][];
    // Names (a pool's servers, its unhealthyServers): the workers may see
    // them apart for a moment, and each one's belong to the node's.
    if (lists.every((list) => list.every(isScalar))) return [...new Set(lists.flat())];
    const length = Math.max(...lists.map((list) => list.length));
    return Array.from(
      { length },
      (_, i) => mergeValues(lists.filter((list) => i < list.length).map((list) => list[i])),
    );
  }
  // Text such as health or state: report a problem if any worker has one.
  return values.find((v) => v !== first && v !== "" && v !== "running") ?? first;
}

/** Merges same-shaped status documents from several workers. */
export function mergeStatuses(docs: Doc[]): Doc {
  if (docs.length === 1) return withoutLatency(docs[0]) as Doc;
  if (isStats(docs[0])) return mergeStats(docs);
  const out: Doc = {};
  for (const key of new Set(docs.flatMap((d) => Object.keys(d)))) {
    const values = docs.map((d) => d[key]).filter((v) => v !== undefined);
    out[key] = SUMMED_COUNTERS.has(key) && values.every((v) => typeof v === "number")
      ? values.reduce((a, b) => (a as number) + (b as number), 0)
      : mergeValues(values);
  }
  return out;
}
