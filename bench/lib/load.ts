/**
 * Load generators and what their output says: `wrk` for HTTP/1.1 and
 * `h2load` for HTTP/2 over TLS, each reduced to one {@linkcode LoadResult}.
 *
 * @module
 */

/** One load run, as the load generator saw it. */
export interface LoadResult {
  /** Completed requests. */
  requests: number;
  /** Measured duration in seconds. */
  seconds: number;
  requestsPerSecond: number;
  /** Median latency in milliseconds; undefined when the tool gave none. */
  p50Ms?: number;
  p99Ms?: number;
  /** Non-2xx answers plus socket errors and timeouts. */
  errors: number;
}

const TIME_UNITS_MS: Record<string, number> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a wrk duration such as `57.00us`, `1.26ms` or `2.00s` into milliseconds. */
export function parseWrkTime(text: string): number {
  const match = text.trim().match(/^([\d.]+)(us|ms|s|m|h)$/);
  if (!match) throw new SyntaxError(`Cannot parse wrk time "${text}"`);
  return Number(match[1]) * TIME_UNITS_MS[match[2]];
}

/** Parses the output of `wrk --latency`. */
export function parseWrk(output: string): LoadResult {
  const done = output.match(/(\d+) requests in ([\d.]+\w+),/);
  const rate = output.match(/Requests\/sec:\s+([\d.]+)/);
  if (!done || !rate) throw new SyntaxError(`Cannot parse wrk output:\n${output}`);
  const percentile = (p: string) => {
    const match = output.match(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m"));
    return match ? parseWrkTime(match[1]) : undefined;
  };
  let errors = Number(output.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const socket = output.match(
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/,
  );
  if (socket) errors += socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  return {
    requests: Number(done[1]),
    seconds: parseWrkTime(done[2]) / 1000,
    requestsPerSecond: Number(rate[1]),
    p50Ms: percentile("50"),
    p99Ms: percentile("99"),
    errors,
  };
}

/** The command line of one wrk run. */
export function wrkCommand(options: {
  url: string;
  connections: number;
  seconds: number;
  headers?: Record<string, string>;
}): string[] {
  const args = ["wrk", "-t1", `-c${options.connections}`, `-d${options.seconds}s`, "--latency"];
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    args.push("-H", `${name}: ${value}`);
  }
  args.push(options.url);
  return args;
}

/** Parses the summary of `h2load` (latency percentiles come from its log file). */
export function parseH2load(output: string): LoadResult {
  const finished = output.match(/finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/);
  const requests = output.match(
    /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/,
  );
  const codes = output.match(/status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/);
  if (!finished || !requests) throw new SyntaxError(`Cannot parse h2load output:\n${output}`);
  const seconds = Number(finished[1]) / (finished[2] === "ms" ? 1000 : 1);
  const failed = Number(requests[3]) + Number(requests[4]) + Number(requests[5]);
  const non2xx = codes ? Number(codes[2]) + Number(codes[3]) + Number(codes[4]) : 0;
  return {
    requests: Number(requests[2]),
    seconds,
    requestsPerSecond: Number(finished[3]),
    errors: failed + non2xx,
  };
}

/**
 * Latency percentiles (ms) from an h2load `--log-file`: tab-separated rows of
 * start time (µs since epoch), status, and µs until the end of the response.
 */
export function h2loadLogPercentiles(log: string): { p50Ms?: number; p99Ms?: number } {
  const micros: number[] = [];
  for (const line of log.split("\n")) {
    const duration = Number(line.split("\t")[2]);
    if (line && Number.isFinite(duration)) micros.push(duration);
  }
  if (!micros.length) return {};
  micros.sort((a, b) => a - b);
  return { p50Ms: percentile(micros, 50) / 1000, p99Ms: percentile(micros, 99) / 1000 };
}

/** The nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** The command line of one h2load run: HTTP/2 over TLS, one thread, `streams` per connection. */
export function h2loadCommand(options: {
  url: string;
  connections: number;
  streams: number;
  seconds: number;
  logFile: string;
}): string[] {
  return [
    "h2load",
    "-t1",
    `-c${options.connections}`,
    `-m${options.streams}`,
    `-D${options.seconds}`,
    `--log-file=${options.logFile}`,
    options.url,
  ];
}
