/**
 * The records EaseMonitorMetrics sends, in Easegress's format: per
 * statistics set one `eg-http-request` record (counts, rates, error shares,
 * latencies, sizes) and one `eg-http-status-code` record per status code,
 * each with the common fields (timestamp in ms, category, host, cluster,
 * service, type, resource, url). An HTTPServer gives its totals (resource
 * `SERVER`) and each of its top paths (`SERVER_TOPN`, with `url`); a
 * Pipeline gives each Proxy pool (`PROXY`, service
 * `PIPELINE/FILTER/mainPool`, `.../candidatePool/N`, `.../mirrorPool`).
 *
 * @module
 */

import { isPlainObject } from "../../filters/spec.ts";

/** Where the records come from: the node, and the snapshot's time. */
export interface RecordOrigin {
  /** The snapshot's time, milliseconds since the epoch. */
  timestamp: number;
  hostName: string;
  hostIpv4: string;
  /** The cluster's name. */
  system: string;
}

type Doc = Record<string, unknown>;

/** Easegress's record fields for a statistics document's fields. */
const REQUEST_FIELDS: readonly [record: string, status: string][] = [
  ["cnt", "count"],
  ["m1", "m1"],
  ["m5", "m5"],
  ["m15", "m15"],
  ["errcnt", "errCount"],
  ["m1err", "m1Err"],
  ["m5err", "m5Err"],
  ["m15err", "m15Err"],
  ["m1errpct", "m1ErrPercent"],
  ["m5errpct", "m5ErrPercent"],
  ["m15errpct", "m15ErrPercent"],
  ["min", "min"],
  ["max", "max"],
  ["mean", "mean"],
  ["p25", "p25"],
  ["p50", "p50"],
  ["p75", "p75"],
  ["p95", "p95"],
  ["p98", "p98"],
  ["p99", "p99"],
  ["p999", "p999"],
  ["reqsize", "reqSize"],
  ["respsize", "respSize"],
];

/** The records of one statistics document (an HTTPServer's, a path's or a pool's). */
function statsRecords(
  origin: RecordOrigin,
  service: string,
  resource: string,
  stats: Doc,
  url?: string,
): Doc[] {
  const common = (type: string): Doc => ({
    timestamp: origin.timestamp,
    category: "application",
    host_name: origin.hostName,
    host_ipv4: origin.hostIpv4,
    system: origin.system,
    service,
    type,
    resource,
    ...(url ? { url } : {}),
  });
  const request = common("eg-http-request");
  for (const [field, key] of REQUEST_FIELDS) request[field] = numberOr0(stats[key]);
  const out = [request];
  if (isPlainObject(stats.codes)) {
    for (const [code, count] of Object.entries(stats.codes)) {
      out.push({ ...common("eg-http-status-code"), code: Number(code), cnt: numberOr0(count) });
    }
  }
  return out;
}

function numberOr0(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

/** The records of an HTTPServer's status. */
export function serverRecords(origin: RecordOrigin, name: string, status: Doc): Doc[] {
  const out = statsRecords(origin, name, "SERVER", status);
  if (Array.isArray(status.topN)) {
    for (const item of status.topN) {
      if (isPlainObject(item) && typeof item.path === "string") {
        out.push(...statsRecords(origin, name, "SERVER_TOPN", item, item.path));
      }
    }
  }
  return out;
}

/** The records of a Pipeline's status: those of its Proxy filters' pools. */
export function pipelineRecords(
  origin: RecordOrigin,
  name: string,
  status: Doc,
  proxies: readonly string[],
): Doc[] {
  const out: Doc[] = [];
  const filters = isPlainObject(status.filters) ? status.filters : {};
  for (const filter of proxies) {
    const proxy = filters[filter];
    if (!isPlainObject(proxy)) continue;
    const pool = (path: string, value: unknown) => {
      if (isPlainObject(value) && isPlainObject(value.stat)) {
        out.push(...statsRecords(origin, `${name}/${filter}/${path}`, "PROXY", value.stat));
      }
    };
    pool("mainPool", proxy.mainPool);
    if (Array.isArray(proxy.candidatePools)) {
      proxy.candidatePools.forEach((candidate, i) => pool(`candidatePool/${i}`, candidate));
    }
    pool("mirrorPool", proxy.mirrorPool);
  }
  return out;
}
