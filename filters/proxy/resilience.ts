/**
 * Resilience policies of a Proxy pool, as Easegress declares them in a
 * pipeline's `resilience` list: `Retry` and `CircuitBreaker`. This module
 * validates their fields and runs them; a pool wraps one upstream attempt as
 * CircuitBreaker(Retry(attempt)).
 *
 * @module
 */

import { parseDuration, SpecReader } from "../spec.ts";
import { sleep } from "../sleep.ts";

/** The policy kinds a pipeline may declare. */
export const POLICY_KINDS = ["Retry", "CircuitBreaker"] as const;

/** A policy kind name. */
export type PolicyKind = typeof POLICY_KINDS[number];

/** A normalized Retry policy (without name and kind). */
export interface RetrySpec {
  /** Total attempts, the first included. @default {3} */
  maxAttempts: number;
  /** The base wait after a failed attempt. @default {"500ms"} */
  waitDuration: string;
  /** `exponential` multiplies the base wait by 1.5 after each failure. @default {"random"} */
  backOffPolicy: "random" | "exponential";
  /** wait = base·(1−f) + uniform[0, 2·base·f]. @default {0} */
  randomizationFactor: number;
}

/** A normalized CircuitBreaker policy (without name and kind). */
export interface CircuitBreakerSpec {
  /** @default {"COUNT_BASED"} */
  slidingWindowType: "COUNT_BASED" | "TIME_BASED";
  /** Failure percentage that opens the breaker. @default {50} */
  failureRateThreshold: number;
  /** Slow-call percentage that opens the breaker. @default {100} */
  slowCallRateThreshold: number;
  /** A call at least this long is slow. @default {"1m"} */
  slowCallDurationThreshold: string;
  /** Calls (COUNT_BASED) or seconds (TIME_BASED) in the window. @default {100} */
  slidingWindowSize: number;
  /** @default {10} */
  permittedNumberOfCallsInHalfOpenState: number;
  /** Calls needed before rates are evaluated. @default {100} */
  minimumNumberOfCalls: number;
  /** Half-open longer than this (while rejecting) opens again; "0s" = forever. @default {"0s"} */
  maxWaitDurationInHalfOpenState: string;
  /** @default {"1m"} */
  waitDurationInOpenState: string;
  /** Accepted for compatibility; unused, as in Easegress. @default {false} */
  countingNetworkError: boolean;
}

const UINT32_MAX = 0xffff_ffff;

/**
 * Reads the fields of a policy of `kind` at `r` (whose `name` and `kind` the
 * caller has read) and returns them normalized, defaults filled.
 */
export function readPolicyFields(
  r: SpecReader,
  kind: PolicyKind,
): RetrySpec | CircuitBreakerSpec {
  return kind === "Retry" ? readRetry(r) : readCircuitBreaker(r);
}

function readRetry(r: SpecReader): RetrySpec {
  return {
    maxAttempts: r.int("maxAttempts", { default: 3, min: 1 }),
    waitDuration: r.duration("waitDuration", { default: "500ms" }),
    backOffPolicy: r.string("backOffPolicy", {
      default: "random",
      oneOf: ["random", "exponential"],
    }) as RetrySpec["backOffPolicy"],
    randomizationFactor: r.number("randomizationFactor", { default: 0, min: 0, max: 1 }),
  };
}

function readCircuitBreaker(r: SpecReader): CircuitBreakerSpec {
  return {
    slidingWindowType: r.string("slidingWindowType", {
      default: "COUNT_BASED",
      oneOf: ["COUNT_BASED", "TIME_BASED"],
    }) as CircuitBreakerSpec["slidingWindowType"],
    failureRateThreshold: r.int("failureRateThreshold", { default: 50, min: 1, max: 100 }),
    slowCallRateThreshold: r.int("slowCallRateThreshold", { default: 100, min: 1, max: 100 }),
    slowCallDurationThreshold: r.duration("slowCallDurationThreshold", { default: "1m" }),
    slidingWindowSize: r.int("slidingWindowSize", { default: 100, min: 1, max: UINT32_MAX }),
    permittedNumberOfCallsInHalfOpenState: r.int("permittedNumberOfCallsInHalfOpenState", {
      default: 10,
      min: 0,
      max: UINT32_MAX,
    }),
    minimumNumberOfCalls: r.int("minimumNumberOfCalls", {
      default: 100,
      min: 0,
      max: UINT32_MAX,
    }),
    maxWaitDurationInHalfOpenState: r.duration("maxWaitDurationInHalfOpenState", {
      default: "0s",
    }),
    waitDurationInOpenState: r.duration("waitDurationInOpenState", { default: "1m" }),
    countingNetworkError: r.bool("countingNetworkError", false),
  };
}

/** Validates a whole policy object's fields for `kind`; throws a `SpecError` naming fields. */
export function validatePolicy(kind: "Retry", fields: unknown): RetrySpec;
export function validatePolicy(kind: "CircuitBreaker", fields: unknown): CircuitBreakerSpec;
export function validatePolicy(
  kind: PolicyKind,
  fields: unknown,
): RetrySpec | CircuitBreakerSpec {
  const r = SpecReader.root(fields);
  r.ignore("name", "kind");
  const out = readPolicyFields(r, kind);
  r.finish();
  r.throwIfProblems();
  return out;
}

/** The pool fields that name policies, with the kind each must name. */
const POLICY_FIELDS = [["retryPolicy", "Retry"], [
  "circuitBreakerPolicy",
  "CircuitBreaker",
]] as const;

/**
 * Checks that every pool of a normalized Proxy spec names declared policies
 * of the right kind. `policyKinds` maps policy name to kind; `report` gets a
 * path relative to the filter ("pools[0].retryPolicy") and a message.
 */
export function checkPolicyReferences(
  proxySpec: Readonly<Record<string, unknown>>,
  policyKinds: ReadonlyMap<string, string>,
  report: (path: string, message: string) => void,
): void {
  const check = (pool: unknown, path: string) => {
    if (!pool || typeof pool !== "object") return;
    for (const [field, kind] of POLICY_FIELDS) {
      const name = (pool as Record<string, unknown>)[field];
      if (typeof name !== "string" || !name) continue;
      if (policyKinds.get(name) !== kind) {
        report(`${path}.${field}`, `no ${kind} policy named "${name}"`);
      }
    }
  };
  if (Array.isArray(proxySpec.pools)) {
    proxySpec.pools.forEach((p, i) => check(p, `pools[${i}]`));
  }
  check(proxySpec.mirrorPool, "mirrorPool");
}

/** A clock in milliseconds; tests pass a fake one. */
export type Clock = () => number;

/** Options of the runtime policies. */
export interface PolicyOptions {
  /** The clock. @default {performance.now} */
  now?: Clock;
  /** A source of uniform numbers in [0, 1). @default {Math.random} */
  random?: () => number;
}

const DEFAULT_WAIT_MS = 500;

/**
 * A running Retry policy: runs an attempt until it succeeds or the attempts
 * are used up, waiting between attempts (and, as Easegress does, after the
 * last failed one too).
 */
export class Retry {
  readonly maxAttempts: number;
  readonly #baseWaitMs: number;
  readonly #exponential: boolean;
  readonly #factor: number;
  readonly #random: () => number;

  /** Creates a retry from a normalized (or raw, validated here) spec. */
  constructor(spec: RetrySpec, options: PolicyOptions = {}) {
    this.maxAttempts = spec.maxAttempts;
    const wait = parseDuration(spec.waitDuration) ?? 0;
    this.#baseWaitMs = wait > 0 ? wait : DEFAULT_WAIT_MS;
    this.#exponential = spec.backOffPolicy === "exponential";
    this.#factor = spec.randomizationFactor;
    this.#random = options.random ?? Math.random;
  }

  /** The wait after a failure when the base wait is `baseMs`. */
  waitFor(baseMs: number): number {
    const delta = baseMs * this.#factor;
    return baseMs - delta + this.#random() * 2 * delta;
  }

  /**
   * Runs `attempt` (which returns "" on success or a failure result) until it
   * succeeds or `maxAttempts` ran; `beforeRetry` is called before each
   * further attempt. Stops waiting early when `signal` aborts.
   */
  async run(
    attempt: () => string | Promise<string>,
    beforeRetry: () => void,
    signal: AbortSignal,
  ): Promise<string> {
    let base = this.#baseWaitMs;
    for (let attempts = 1;; attempts++) {
      const result = await attempt();
      if (result === "") return result;
      await sleep(this.waitFor(base), signal);
      if (attempts >= this.maxAttempts || signal.aborted) return result;
      if (this.#exponential) base *= 1.5;
      beforeRetry();
    }
  }
}

/** Circuit breaker states. */
export type BreakerState = "CLOSED" | "OPEN" | "HALF_OPEN";

const SUCCESS = 0;
const FAILURE = 1;
const SLOW = 2;
type Outcome = typeof SUCCESS | typeof FAILURE | typeof SLOW;

/** Counts of the calls in a window. */
interface Window {
  failures: number;
  slow: number;
  total: number;
  add(outcome: Outcome, nowMs: number): void;
}

/** The last `size` calls. Grows with the calls seen, so a huge size costs nothing up front. */
class CountWindow implements Window {
  failures = 0;
  slow = 0;
  total = 0;
  readonly #size: number;
  readonly #ring: Outcome[] = [];
  #next = 0;

  constructor(size: number) {
    this.#size = size;
  }

  add(outcome: Outcome): void {
    if (this.#ring.length < this.#size) {
      this.#ring.push(outcome);
      this.total++;
    } else {
      this.#count(this.#ring[this.#next], -1);
      this.#ring[this.#next] = outcome;
      this.#next = (this.#next + 1) % this.#size;
    }
    this.#count(outcome, 1);
  }

  #count(outcome: Outcome, by: number): void {
    if (outcome === FAILURE) this.failures += by;
    else if (outcome === SLOW) this.slow += by;
  }
}

interface Bucket {
  second: number;
  failures: number;
  slow: number;
  total: number;
}

/** The calls of the last `seconds` seconds, in one-second buckets (only seconds that had calls). */
class TimeWindow implements Window {
  failures = 0;
  slow = 0;
  total = 0;
  readonly #seconds: number;
  #buckets: Bucket[] = [];
  #head = 0;

  constructor(seconds: number) {
    this.#seconds = seconds;
  }

  add(outcome: Outcome, nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    this.#evict(second - this.#seconds);
    let last = this.#buckets.length > this.#head
      ? this.#buckets[this.#buckets.length - 1]
      : undefined;
    if (!last || last.second !== second) {
      last = { second, failures: 0, slow: 0, total: 0 };
      this.#buckets.push(last);
    }
    last.total++;
    this.total++;
    if (outcome === FAILURE) {
      last.failures++;
      this.failures++;
    } else if (outcome === SLOW) {
      last.slow++;
      this.slow++;
    }
  }

  #evict(oldest: number): void {
    const buckets = this.#buckets;
    while (this.#head < buckets.length && buckets[this.#head].second <= oldest) {
      const b = buckets[this.#head++];
      this.failures -= b.failures;
      this.slow -= b.slow;
      this.total -= b.total;
    }
    // Compact now and then so the array does not grow forever.
    if (this.#head > 64 && this.#head * 2 > buckets.length) {
      this.#buckets = buckets.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** What {@linkcode CircuitBreaker.acquire} returns when the call is rejected. */
export const REJECTED = -1;

/**
 * A running CircuitBreaker: CLOSED → OPEN when the failure (or slow-call)
 * rate of its window reaches a threshold; OPEN rejects calls until
 * `waitDurationInOpenState` has passed, then HALF_OPEN lets a few calls
 * through and decides between OPEN and CLOSED by their rates.
 */
export class CircuitBreaker {
  readonly #spec: CircuitBreakerSpec;
  readonly #now: Clock;
  readonly #slowMs: number;
  readonly #openWaitMs: number;
  readonly #halfOpenMaxWaitMs: number;
  #state: BreakerState = "CLOSED";
  #stateId = 0;
  #since: number;
  #window: Window;
  #halfOpenCalls = 0;

  /** Creates a closed breaker from a normalized spec. */
  constructor(spec: CircuitBreakerSpec, options: PolicyOptions = {}) {
    this.#spec = spec;
    this.#now = options.now ?? (() => performance.now());
    this.#slowMs = parseDuration(spec.slowCallDurationThreshold) ?? 60_000;
    this.#openWaitMs = parseDuration(spec.waitDurationInOpenState) ?? 60_000;
    this.#halfOpenMaxWaitMs = parseDuration(spec.maxWaitDurationInHalfOpenState) ?? 0;
    this.#since = this.#now();
    this.#window = this.#closedWindow();
  }

  /** The current state. */
  get state(): BreakerState {
    return this.#state;
  }

  /**
   * Asks to make a call: returns a permit (pass it to {@linkcode record}), or
   * {@linkcode REJECTED}.
   */
  acquire(): number {
    if (this.#state === "CLOSED") return this.#stateId;
    const now = this.#now();
    if (this.#state === "OPEN") {
      if (now - this.#since < this.#openWaitMs) return REJECTED;
      this.#transition("HALF_OPEN", now);
    }
    if (this.#halfOpenCalls < this.#spec.permittedNumberOfCallsInHalfOpenState) {
      this.#halfOpenCalls++;
      return this.#stateId;
    }
    if (this.#halfOpenMaxWaitMs > 0 && now - this.#since >= this.#halfOpenMaxWaitMs) {
      this.#transition("OPEN", now);
    }
    return REJECTED;
  }

  /**
   * Records the outcome of a call made with `permit`; calls permitted in an
   * earlier state are ignored.
   */
  record(permit: number, failed: boolean, durationMs: number): void {
    if (permit !== this.#stateId || this.#state === "OPEN") return;
    const outcome = failed ? FAILURE : durationMs >= this.#slowMs ? SLOW : SUCCESS;
    const now = this.#now();
    const window = this.#window;
    window.add(outcome, now);
    const spec = this.#spec;
    const halfOpen = this.#state === "HALF_OPEN";
    const minimum = halfOpen
      ? Math.min(spec.minimumNumberOfCalls, spec.permittedNumberOfCallsInHalfOpenState)
      : spec.minimumNumberOfCalls;
    if (window.total < minimum || window.total === 0) return;
    const failureRate = Math.floor(window.failures * 100 / window.total);
    const slowRate = Math.floor(window.slow * 100 / window.total);
    if (failureRate >= spec.failureRateThreshold || slowRate >= spec.slowCallRateThreshold) {
      this.#transition("OPEN", now);
    } else if (halfOpen) this.#transition("CLOSED", now);
  }

  #transition(state: BreakerState, now: number): void {
    this.#state = state;
    this.#stateId++;
    this.#since = now;
    this.#halfOpenCalls = 0;
    if (state === "CLOSED") this.#window = this.#closedWindow();
    else if (state === "HALF_OPEN") {
      this.#window = new CountWindow(Math.max(1, this.#spec.permittedNumberOfCallsInHalfOpenState));
    }
  }

  #closedWindow(): Window {
    const size = this.#spec.slidingWindowSize;
    return this.#spec.slidingWindowType === "TIME_BASED"
      ? new TimeWindow(size)
      : new CountWindow(size);
  }
}

/** Builds a Retry from a pipeline's policy object (validated again: it is cheap and catches hand-built specs). */
export function createRetry(policy: unknown, options?: PolicyOptions): Retry {
  return new Retry(validatePolicy("Retry", policy), options);
}

/** Builds a CircuitBreaker from a pipeline's policy object (validated again). */
export function createCircuitBreaker(policy: unknown, options?: PolicyOptions): CircuitBreaker {
  return new CircuitBreaker(validatePolicy("CircuitBreaker", policy), options);
}
