/**
 * HTTP traffic statistics with Easegress's keys: counts, EWMA rates, latency
 * percentiles, sizes and status codes. Recording is a few arithmetic steps;
 * rates tick lazily (no timers) and percentiles are read from log buckets.
 *
 * @module
 */

const TICK_MS = 5000;
// Exponential decay per 5 s tick for 1, 5 and 15 minute averages (as Dropwizard / go-metrics).
const ALPHA = [1, 5, 15].map((m) => 1 - Math.exp(-TICK_MS / 60_000 / m));

/** Moving averages of a rate, per second. */
class Ewma {
  readonly rates = [0, 0, 0];
  #uncounted = 0;
  #started = false;

  add(n: number): void {
    this.#uncounted += n;
  }

  tick(): void {
    const instant = this.#uncounted / (TICK_MS / 1000);
    this.#uncounted = 0;
    for (let i = 0; i < 3; i++) {
      this.rates[i] = this.#started
        ? this.rates[i] + ALPHA[i] * (instant - this.rates[i])
        : instant;
    }
    this.#started = true;
  }
}

// Buckets: 0.1 ms steps under 1 ms, then 5 % steps; enough for p999 of a gateway.
const LINEAR = 10;
const GROWTH = Math.log(1.05);
const BUCKETS = LINEAR + Math.ceil(Math.log(3_600_000) / GROWTH) + 1;

function bucketOf(ms: number): number {
  if (ms < 1) return Math.max(0, Math.floor(ms * LINEAR));
  const i = LINEAR + Math.floor(Math.log(ms) / GROWTH);
  return i < BUCKETS ? i : BUCKETS - 1;
}

function bucketValue(i: number): number {
  if (i < LINEAR) return (i + 0.5) / LINEAR;
  return Math.exp((i - LINEAR + 0.5) * GROWTH);
}

/**
 * The latency at quantile `q` of `count` requests counted in `buckets`
 * (by bucket index), within the `min` and `max` seen: a bucket's middle can
 * lie beyond them.
 */
function quantile(
  buckets: ArrayLike<number>,
  count: number,
  min: number,
  max: number,
  q: number,
): number {
  if (!count) return 0;
  const rank = q * count;
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    const n = buckets[i] ?? 0;
    seen += n;
    if (seen >= rank && n) return Math.max(min, Math.min(bucketValue(i), max));
  }
  return max;
}

/**
 * Whether snapshots carry their window's latency buckets
 * (`latencyBuckets`), for a worker isolate whose statistics the control
 * plane merges with the other workers': percentiles of the merged buckets
 * are those one process would report, where percentiles of percentiles are
 * not. Module state, so each isolate decides for itself.
 */
let withLatencyBuckets = false;

/** Makes this isolate's snapshots carry their latency buckets (see `mergeLatency`). */
export function sendLatencyBuckets(on: boolean): void {
  withLatencyBuckets = on;
}

/** Whether this isolate's snapshots are merged with other workers' (see `sendLatencyBuckets`). */
export function mergedElsewhere(): boolean {
  return withLatencyBuckets;
}

/** Set while {@linkcode keepingWindows} runs its reader. */
let windowsKept = false;

/**
 * Runs `read`, every snapshot taken within it leaving its window (the
 * percentiles and codes since the window restarted) as it was: a reader
 * that is not the one whose rounds the windows follow (the node's status
 * sync, EaseMonitorMetrics), so that it takes nothing from theirs.
 */
export function keepingWindows<T>(read: () => T): T {
  const outer = windowsKept;
  windowsKept = true;
  try {
    return read();
  } finally {
    windowsKept = outer;
  }
}

/**
 * Sets the percentiles of `doc` (a merged snapshot whose `min` and `max` are
 * merged already) from the `latencyBuckets` of the snapshots it merges, and drops
 * that field. Returns false, changing nothing, when one of them lacks it.
 */
export function mergeLatency(
  doc: Record<string, unknown>,
  docs: Record<string, unknown>[],
): boolean {
  if (!docs.every((d) => Array.isArray(d.latencyBuckets))) return false;
  const buckets = new Float64Array(BUCKETS);
  let count = 0;
  for (const d of docs) {
    const pairs = d.latencyBuckets as number[];
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      buckets[pairs[i]] += pairs[i + 1];
      count += pairs[i + 1];
    }
  }
  for (const [key, q] of PERCENTILES) {
    doc[key] = round(quantile(buckets, count, doc.min as number, doc.max as number, q));
  }
  delete doc.latencyBuckets;
  return true;
}

const PERCENTILES: [string, number][] = [
  ["p25", 0.25],
  ["p50", 0.5],
  ["p75", 0.75],
  ["p95", 0.95],
  ["p98", 0.98],
  ["p99", 0.99],
  ["p999", 0.999],
];

/** The status document keys of one statistics set. */
export interface HttpStatsSnapshot {
  count: number;
  errCount: number;
  m1: number;
  m5: number;
  m15: number;
  m1Err: number;
  m5Err: number;
  m15Err: number;
  /**
   * The share of errors in the 1, 5 and 15-minute rates, from 0 to 1: a
   * ratio despite the name, as Easegress reports it (see errorShare).
   */
  m1ErrPercent: number;
  m5ErrPercent: number;
  m15ErrPercent: number;
  min: number;
  max: number;
  mean: number;
  p25: number;
  p50: number;
  p75: number;
  p95: number;
  p98: number;
  p99: number;
  p999: number;
  reqSize: number;
  respSize: number;
  codes: Record<string, number>;
  /**
   * The window's requests by latency bucket, as pairs of bucket index and
   * count; only where {@linkcode sendLatencyBuckets} asked for them.
   */
  latencyBuckets?: number[];
}

/** Statistics of one server, route or pool. */
export class HttpStats {
  count = 0;
  errCount = 0;
  #total = new Ewma();
  #errors = new Ewma();
  #lastTick = performance.now();
  #min = Infinity;
  #max = 0;
  #sumMs = 0;
  #reqSize = 0;
  #respSize = 0;
  #window = new Uint32Array(BUCKETS);
  #windowCount = 0;
  #codes = new Map<number, number>();

  /**
   * Records one finished request. `now` is when it finished
   * (`performance.now()`): callers that timed the request pass the reading
   * they took, as each clock read is an op call into the runtime.
   */
  record(
    status: number,
    durationMs: number,
    now = performance.now(),
    reqSize = 0,
    respSize = 0,
  ): void {
    this.#catchUp(now);
    this.count++;
    this.#total.add(1);
    if (status >= 400) {
      this.errCount++;
      this.#errors.add(1);
    }
    if (durationMs < this.#min) this.#min = durationMs;
    if (durationMs > this.#max) this.#max = durationMs;
    this.#sumMs += durationMs;
    this.#reqSize += reqSize;
    this.#respSize += respSize;
    this.#window[bucketOf(durationMs)]++;
    this.#windowCount++;
    this.#codes.set(status, (this.#codes.get(status) ?? 0) + 1);
  }

  #catchUp(now: number): void {
    // Idle periods of more than an hour need no exact replay.
    let ticks = Math.min(720, Math.floor((now - this.#lastTick) / TICK_MS));
    if (ticks <= 0) return;
    this.#lastTick += ticks * TICK_MS;
    if (now - this.#lastTick > TICK_MS) this.#lastTick = now;
    while (ticks-- > 0) {
      this.#total.tick();
      this.#errors.tick();
    }
  }

  /**
   * The status document. Percentiles and codes cover the time since the
   * previous read when `resetWindow` is set (Easegress's behaviour), unless
   * the read is one {@linkcode keepingWindows} runs.
   */
  snapshot(resetWindow = false): HttpStatsSnapshot {
    this.#catchUp(performance.now());
    const r = this.#total.rates, e = this.#errors.rates;
    const share = (i: number) => errorShare(e[i], r[i]);
    const out: HttpStatsSnapshot = {
      count: this.count,
      errCount: this.errCount,
      m1: round(r[0]),
      m5: round(r[1]),
      m15: round(r[2]),
      m1Err: round(e[0]),
      m5Err: round(e[1]),
      m15Err: round(e[2]),
      m1ErrPercent: share(0),
      m5ErrPercent: share(1),
      m15ErrPercent: share(2),
      min: this.count ? round(this.#min) : 0,
      max: round(this.#max),
      mean: this.count ? round(this.#sumMs / this.count) : 0,
      p25: 0,
      p50: 0,
      p75: 0,
      p95: 0,
      p98: 0,
      p99: 0,
      p999: 0,
      reqSize: this.#reqSize,
      respSize: this.#respSize,
      codes: Object.fromEntries([...this.#codes].map(([k, v]) => [String(k), v])),
    };
    const target = out as unknown as Record<string, number>;
    for (const [key, q] of PERCENTILES) {
      target[key] = round(quantile(this.#window, this.#windowCount, this.#min, this.#max, q));
    }
    if (withLatencyBuckets) {
      const pairs: number[] = [];
      this.#window.forEach((n, i) => n && pairs.push(i, n));
      out.latencyBuckets = pairs;
    }
    if (resetWindow && !windowsKept) {
      this.#window.fill(0);
      this.#windowCount = 0;
      this.#codes.clear();
    }
    return out;
  }
}

/**
 * The `m*ErrPercent` of a status document: error rate over request rate,
 * from 0 to 1 (Easegress's statistics give the ratio under that name, and
 * dashboards built on them expect it); 0 without requests.
 */
export function errorShare(errorRate: number, rate: number): number {
  return rate > 0 ? Math.round(errorRate / rate * 1e6) / 1e6 : 0;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
