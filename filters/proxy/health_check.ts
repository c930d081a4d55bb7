/**
 * Active health checks of a pool's servers (`loadBalance.healthCheck`, as
 * Easegress v2.x has them): every `interval` each server is asked
 * `method uri` (its own URL's path when no uri is given) within `timeout`;
 * `fails` failed checks in a row take it out of the pool, `passes`
 * successful ones bring it back. A check passes when the status is in one
 * of `match.statusCode`'s ranges (200-399 by default) and the headers and
 * body `match` asks for are there. Servers start healthy.
 *
 * @module
 */

import type { Logger } from "../filter.ts";
import { HeaderFields } from "../header_fields.ts";
import { parseDuration, type SpecReader } from "../spec.ts";
import { compileGoRegexp } from "../go_regexp.ts";
import type { Transport } from "./transport.ts";
import type { HealthBoard } from "./health_board.ts";

/** A normalized `healthCheck`. */
export interface HealthCheckSpec {
  /** @default {"1m"} */
  interval?: string;
  /** @default {"3s"} */
  timeout?: string;
  /** Failed checks in a row that make a server unhealthy. @default {1} */
  fails: number;
  /** Passed checks in a row that make an unhealthy server healthy again. @default {1} */
  passes: number;
  /** Path and query asked (Easegress's older `path` is read into it). */
  uri?: string;
  /** Port asked instead of the server's. */
  port?: number;
  /** @default {"GET"} */
  method: string;
  headers?: Record<string, string>;
  body?: string;
  username?: string;
  password?: string;
  match?: HealthCheckMatch;
}

/** What a passing check's answer looks like. */
export interface HealthCheckMatch {
  /** Inclusive status ranges, `[[200, 399]]` by default. */
  statusCode?: [number, number][];
  headers?: { name: string; value: string; type: "exact" | "regexp" }[];
  body?: { value: string; type: "contains" | "regexp" };
}

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"];

/** Reads a `healthCheck` spec. */
export function readHealthCheck(r: SpecReader): HealthCheckSpec {
  const spec: HealthCheckSpec = {
    fails: r.int("fails", { default: 1, min: 1 }),
    passes: r.int("passes", { default: 1, min: 1 }),
    method: r.string("method", { default: "GET", oneOf: METHODS }),
  };
  const interval = r.duration("interval");
  if (interval) spec.interval = interval;
  const timeout = r.duration("timeout");
  if (timeout) spec.timeout = timeout;
  const pathLike = { pattern: /^\//, patternName: 'a path starting with "/"' };
  const uri = r.string("uri", pathLike) || r.string("path", pathLike);
  if (uri) spec.uri = uri;
  const port = r.int("port", { min: 1, max: 65535 });
  if (port) spec.port = port;
  const headers = r.stringMap("headers");
  if (headers && Object.keys(headers).length) spec.headers = headers;
  const body = r.string("body");
  if (body) spec.body = body;
  const username = r.string("username");
  const password = r.string("password");
  if (!!username !== !!password) {
    r.problem(username ? "password" : "username", "is required with the other one");
  }
  if (username && password) Object.assign(spec, { username, password });
  const match = r.object("match", readMatch);
  if (match) spec.match = match;
  return spec;
}

function readMatch(r: SpecReader): HealthCheckMatch {
  const match: HealthCheckMatch = {};
  const ranges = r.any("statusCode");
  if (ranges !== undefined) {
    const ok = Array.isArray(ranges) &&
      ranges.every((range) =>
        Array.isArray(range) && range.length === 2 &&
        range.every((c) => Number.isInteger(c) && c >= 100 && c <= 599) && range[0] <= range[1]
      );
    if (ok) match.statusCode = ranges as [number, number][];
    else {r.problem(
        "statusCode",
        "must be a list of [from, to] status ranges, such as [[200, 299]]",
      );}
  }
  const headers = r.array("headers", (hr) => {
    const name = hr.string("name", { required: true }) ?? "";
    const type = hr.string("type", { default: "exact", oneOf: ["exact", "regexp"] });
    const value = type === "regexp" ? hr.regexp("value") ?? "" : hr.string("value") ?? "";
    return { name, value, type: type as "exact" | "regexp" };
  });
  if (headers?.length) match.headers = headers;
  const body = r.object("body", (br) => {
    const type = br.string("type", { default: "contains", oneOf: ["contains", "regexp"] });
    const value = type === "regexp" ? br.regexp("value") ?? "" : br.string("value") ?? "";
    return { value, type: type as "contains" | "regexp" };
  });
  if (body) match.body = body;
  return match;
}

/** Asks one server once; resolves to whether it passed, or rejects with why it failed. */
export type HealthProbe = (serverURL: string) => Promise<boolean>;

/** A server's run of check results: positive passes, negative fails. */
interface Health {
  healthy: boolean;
  counter: number;
}

const DEFAULT_INTERVAL_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 3_000;

/** How often a pool sharing a board looks at it (or beats, when it leads): at most this. */
const BOARD_LOOK_MS = 1_000;

/**
 * Checks a pool's servers every interval and reports the set of unhealthy
 * ones whenever it changes. With a board shared by the node's data planes
 * (see health_board.ts), only the plane that leads checks; the others take
 * its verdicts.
 */
export class HealthChecker {
  readonly #spec: HealthCheckSpec;
  readonly #probe: HealthProbe;
  readonly #onChange: (unhealthy: ReadonlySet<string>) => void;
  readonly #board: HealthBoard | undefined;
  readonly #log: Logger | undefined;
  #health = new Map<string, Health>();
  #timer: ReturnType<typeof setInterval> | undefined;
  /** With a board: looks at it between rounds (and beats while leading). */
  #lookTimer: ReturnType<typeof setInterval> | undefined;
  #checking = false;
  /** Whether this plane led the board when it last looked. */
  #leading = false;
  /** The board's generation last taken (while following). */
  #seenGeneration = -1;

  /**
   * Starts checking each server with `probe` (see {@linkcode httpProbe});
   * `log` hears of each server taken out of the pool or brought back.
   */
  constructor(
    spec: HealthCheckSpec,
    onChange: (unhealthy: ReadonlySet<string>) => void,
    probe: HealthProbe,
    board?: HealthBoard,
    log?: Logger,
  ) {
    this.#spec = spec;
    this.#probe = probe;
    this.#onChange = onChange;
    this.#board = board;
    this.#log = log;
    const ms = spec.interval ? parseDuration(spec.interval) ?? 0 : 0;
    const intervalMs = ms > 0 ? ms : DEFAULT_INTERVAL_MS;
    const timer = setInterval(() => {
      if (board === undefined || this.#look(board)) this.check();
    }, intervalMs);
    // Checks never keep a node (or a test) alive on their own.
    Deno.unrefTimer(timer);
    this.#timer = timer;
    if (board !== undefined) {
      this.#lookTimer = setInterval(() => this.#look(board), Math.min(intervalMs, BOARD_LOOK_MS));
      Deno.unrefTimer(this.#lookTimer);
    }
  }

  /** The servers (URLs) to check from now on; those that stay keep their state. */
  setServers(urls: readonly string[]): void {
    const next = new Map<string, Health>();
    for (const url of urls) next.set(url, this.#health.get(url) ?? { healthy: true, counter: 0 });
    this.#health = next;
    // A follower's new servers take the leader's verdicts at once.
    if (this.#board !== undefined && !this.#leading) this.#follow(this.#board, true);
  }

  /** Whether this plane leads the board (beating if so); a follower takes the verdicts. */
  #look(board: HealthBoard): boolean {
    this.#leading = board.lead();
    if (!this.#leading) this.#follow(board, false);
    // Leading: what the board says from here on is this plane's own.
    else this.#seenGeneration = -1;
    return this.#leading;
  }

  /** Takes the board's verdicts when they changed (or `always`), and reports a changed set. */
  #follow(board: HealthBoard, always: boolean): void {
    const generation = board.generation;
    if (generation === this.#seenGeneration && !always) return;
    this.#seenGeneration = generation;
    const down = board.unhealthyAmong(this.#health.keys());
    let changed = false;
    for (const [url, h] of this.#health) {
      const healthy = !down.has(url);
      if (h.healthy !== healthy) changed = true;
      h.healthy = healthy;
      h.counter = 0;
    }
    if (changed && !always) this.#onChange(down);
  }

  /** The URLs of the servers out of the pool now. */
  unhealthy(): Set<string> {
    const out = new Set<string>();
    for (const [url, h] of this.#health) if (!h.healthy) out.add(url);
    return out;
  }

  /** Checks every server once (the timer calls this; tests may too). */
  async check(): Promise<void> {
    // A round slower than the interval is not overlapped by the next.
    if (this.#checking) return;
    this.#checking = true;
    try {
      const urls = [...this.#health.keys()];
      // A probe that rejects failed for the reason it gives; one that resolves false, on its match.
      const results = await Promise.all(
        urls.map((url) => this.#probe(url).catch((e) => `${(e as Error)?.message ?? e}`)),
      );
      if (this.#timer === undefined) return; // closed meanwhile
      let changed = false;
      urls.forEach((url, i) => {
        const h = this.#health.get(url);
        if (h === undefined) return; // left the pool meanwhile
        const result = results[i];
        if (result === true) {
          h.counter = Math.max(h.counter, 0) + 1;
          if (!h.healthy && h.counter >= this.#spec.passes) {
            changed = h.healthy = true;
            this.#log?.info(
              `${url} is back in the pool (health checks passed in a row: ${h.counter})`,
            );
          }
        } else {
          h.counter = Math.min(h.counter, 0) - 1;
          if (h.healthy && -h.counter >= this.#spec.fails) {
            h.healthy = false;
            changed = true;
            const why = result === false ? "its answer did not match" : result;
            const fails = -h.counter;
            this.#log?.warn(
              `${url} is out of the pool (health checks failed in a row: ${fails}, the last: ${why})`,
            );
          }
        }
      });
      this.#board?.post([...this.#health].map(([url, h]) => [url, h.healthy]));
      if (changed) this.#onChange(this.unhealthy());
    } finally {
      this.#checking = false;
    }
  }

  /** Stops checking (and leaves the board's lead to another plane). */
  close(): void {
    clearInterval(this.#timer);
    clearInterval(this.#lookTimer);
    this.#timer = undefined;
    this.#board?.close();
  }
}

/**
 * The probe that sends the spec's request to a server through the pool's
 * own upstream client (`transportOf`, so HTTPS servers are reached with the
 * Proxy's `mtls` and trusted roots) and matches its answer.
 */
export function httpProbe(
  spec: HealthCheckSpec,
  transportOf: (origin: string) => Transport,
): HealthProbe {
  const ms = spec.timeout ? parseDuration(spec.timeout) ?? 0 : 0;
  const timeoutMs = ms > 0 ? ms : DEFAULT_TIMEOUT_MS;
  const headers = new HeaderFields();
  let host: string | undefined;
  for (const [name, value] of Object.entries(spec.headers ?? {})) {
    // A Host among the headers names the virtual host asked, as in Easegress.
    if (name.toLowerCase() === "host") host = value;
    else headers.append(name, value);
  }
  if (spec.username) {
    const credentials = new TextEncoder().encode(`${spec.username}:${spec.password}`);
    headers.set("authorization", `Basic ${credentials.toBase64()}`);
  }
  const ranges = spec.match?.statusCode ?? [[200, 399]];
  const headerChecks = (spec.match?.headers ?? []).map((h) => ({
    name: h.name,
    test: h.type === "regexp"
      ? ((re) => (v: string) => re.test(v))(compileGoRegexp(h.value))
      : (v: string) => v === h.value,
  }));
  const bodyMatch = spec.match?.body;
  const bodyTest = bodyMatch === undefined
    ? undefined
    : bodyMatch.type === "regexp"
    ? ((re) => (text: string) => re.test(text))(compileGoRegexp(bodyMatch.value))
    : (text: string) => text.includes(bodyMatch.value);
  const body = spec.body !== undefined && spec.method !== "GET" && spec.method !== "HEAD"
    ? new TextEncoder().encode(spec.body)
    : null;
  return async (serverURL) => {
    const url = spec.uri ? new URL(spec.uri, serverURL) : new URL(serverURL);
    if (spec.port) url.port = String(spec.port);
    const response = await transportOf(`${url.protocol}//${url.host}`).request({
      method: spec.method,
      target: url.pathname + url.search,
      host: host ?? url.host,
      headers,
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const status = response.status;
    const answer = response.bodyBytes ?? response.body;
    // What did not match is the failure's message, which the checker logs.
    let failure: string | undefined;
    if (!ranges.some(([from, to]) => status >= from && status <= to)) {
      failure = `answered ${status}`;
    } else {
      const header = headerChecks.find((h) => !h.test(response.headers.get(h.name) ?? ""));
      if (header) failure = `its ${header.name} did not match`;
    }
    if (failure === undefined && bodyTest !== undefined) {
      if (!bodyTest(await new Response(answer).text())) failure = "its body did not match";
    } else if (answer instanceof ReadableStream) await answer.cancel();
    if (failure !== undefined) throw new Error(failure);
    return true;
  };
}
