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
import type { Region, SharedRegions } from "../shared_regions.ts";
import type { AbortWatch } from "../abort_watch.ts";

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
    backOffPolicy: readBackOffPolicy(r),
    randomizationFactor: r.number("randomizationFactor", { default: 0, min: 0, max: 1 }),
  };
}

/**
 * `backOffPolicy` in any case: Easegress's schema takes only lowercase, while
 * its docs spell `EXPONENTIAL` and its cookbook `Exponential`.
 */
function readBackOffPolicy(r: SpecReader): RetrySpec["backOffPolicy"] {
  const policy = r.string("backOffPolicy", { default: "random" })?.toLowerCase();
  if (policy === "random" || policy === "exponential") return policy;
  // undefined: not a string, which the reader has reported.
  if (policy !== undefined) {
    r.problem("backOffPolicy", `must be random or exponential (any case), got "${policy}"`);
  }
  return "random";
}

/**
 * The largest windows a breaker may keep (calls for COUNT_BASED and the
 * half-open state, seconds for TIME_BASED): its state lives in the node's
 * shared memory, a byte per call or 32 bytes per second.
 */
export const MAX_WINDOW = { COUNT_BASED: 1_000_000, TIME_BASED: 86_400 } as const;

function readCircuitBreaker(r: SpecReader): CircuitBreakerSpec {
  const slidingWindowType = r.string("slidingWindowType", {
    default: "COUNT_BASED",
    oneOf: ["COUNT_BASED", "TIME_BASED"],
  }) as CircuitBreakerSpec["slidingWindowType"];
  const slidingWindowSize = r.int("slidingWindowSize", {
    default: 100,
    min: 1,
    max: MAX_WINDOW[slidingWindowType] ?? MAX_WINDOW.COUNT_BASED,
  });
  return {
    slidingWindowType,
    failureRateThreshold: r.int("failureRateThreshold", { default: 50, min: 1, max: 100 }),
    slowCallRateThreshold: r.int("slowCallRateThreshold", { default: 100, min: 1, max: 100 }),
    slowCallDurationThreshold: readSlowCallDuration(r),
    slidingWindowSize,
    // At least one: with none, a breaker that opened would never let a call
    // through to close it again (Easegress takes 0 and stays open for good).
    permittedNumberOfCallsInHalfOpenState: r.int("permittedNumberOfCallsInHalfOpenState", {
      default: 10,
      min: 1,
      max: MAX_WINDOW.COUNT_BASED,
    }),
    minimumNumberOfCalls: readMinimumCalls(r, slidingWindowType, slidingWindowSize),
    maxWaitDurationInHalfOpenState: r.duration("maxWaitDurationInHalfOpenState", {
      default: "0s",
    }),
    waitDurationInOpenState: r.duration("waitDurationInOpenState", { default: "1m" }),
    countingNetworkError: r.bool("countingNetworkError", false),
  };
}

/**
 * `minimumNumberOfCalls`, 100 by default as in Easegress's code (its docs
 * say 10), taken as at most a COUNT_BASED window's size: the window never
 * holds more calls, so a larger minimum would keep the breaker from ever
 * opening, as it does in Easegress. Cut rather than refused, so that specs
 * stored with the default before still load.
 */
function readMinimumCalls(
  r: SpecReader,
  type: CircuitBreakerSpec["slidingWindowType"],
  windowSize: number,
): number {
  const minimum = r.int("minimumNumberOfCalls", { default: 100, min: 0, max: UINT32_MAX });
  // A bad window size is reported on its own.
  if (type !== "COUNT_BASED" || !(windowSize >= 1)) return minimum;
  return Math.min(minimum, windowSize);
}

/**
 * `slowCallDurationThreshold`, above 0: at 0 every call is slow, so the
 * breaker would open on any traffic once it has minimumNumberOfCalls
 * (Easegress takes 0 and does so).
 */
function readSlowCallDuration(r: SpecReader): string {
  const threshold = r.duration("slowCallDurationThreshold", { default: "1m" });
  if (parseDuration(threshold) === 0) {
    r.problem("slowCallDurationThreshold", "must be longer than 0: every call would be slow");
  }
  return threshold;
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
 * are used up, waiting between attempts. Not after the last one: Easegress
 * waits then too, which only delays the failure (by `waitDuration` for
 * `maxAttempts: 1`, 1.125 s for the third exponential wait by default).
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
    signal: AbortWatch,
  ): Promise<string> {
    let base = this.#baseWaitMs;
    for (let attempts = 1;; attempts++) {
      const result = await attempt();
      if (result === "" || attempts >= this.maxAttempts) return result;
      await sleep(this.waitFor(base), signal);
      if (signal.aborted) return result;
      if (this.#exponential) base *= 1.5;
      beforeRetry();
    }
  }
}

/** Circuit breaker states. */
export type BreakerState = "CLOSED" | "OPEN" | "HALF_OPEN";

const STATE_NAMES: readonly BreakerState[] = ["CLOSED", "OPEN", "HALF_OPEN"];
const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;

const SUCCESS = 0;
const FAILURE = 1;
const SLOW = 2;
type Outcome = typeof SUCCESS | typeof FAILURE | typeof SLOW;

// A breaker's memory, so that the breakers of every worker isolate can be one
// (see SharedRegions). Int32 words:
const LOCK = 0;
const STATE = 1;
const STATE_ID = 2;
const HALF_OPEN_CALLS = 3;
/** Where the closed state's window keeps its counts, and the half-open state's. */
const CLOSED_COUNTS = 4;
const HALF_OPEN_COUNTS = 8;
// A window's counts, from where it keeps them:
const FAILURES = 0;
const SLOW_CALLS = 1;
const TOTAL = 2;
/** The count window's next slot to overwrite; unused by the time window. */
const NEXT = 3;
// Float64 words:
const SINCE = 6;
/** The time window's latest second. */
const LATEST_SECOND = 7;
/** Bytes before the windows' own: the half-open window's slots, then the closed one's. */
const HEADER_BYTES = 64;
/** A time window's second: the second, failures, slow calls, all calls (Float64 words). */
const SECOND_WORDS = 4;

/**
 * A window's counts, kept in the breaker's Int32 words from `at` on (the
 * breaker holds its lock around every call).
 */
abstract class Window {
  protected readonly words: Int32Array;
  protected readonly at: number;

  constructor(words: Int32Array, at: number) {
    this.words = words;
    this.at = at;
  }

  get failures(): number {
    return this.words[this.at + FAILURES];
  }
  get slow(): number {
    return this.words[this.at + SLOW_CALLS];
  }
  get total(): number {
    return this.words[this.at + TOTAL];
  }

  abstract add(outcome: Outcome, nowMs: number): void;

  /** Forgets every call. */
  reset(): void {
    this.words.fill(0, this.at, this.at + 4);
  }
}

/** The last `slots.length` calls, one byte each. */
class CountWindow extends Window {
  readonly #slots: Uint8Array;

  constructor(words: Int32Array, at: number, slots: Uint8Array) {
    super(words, at);
    this.#slots = slots;
  }

  add(outcome: Outcome): void {
    const words = this.words;
    const at = this.at;
    const slots = this.#slots;
    const total = words[at + TOTAL];
    if (total < slots.length) {
      slots[total] = outcome;
      words[at + TOTAL] = total + 1;
    } else {
      const next = words[at + NEXT];
      this.#count(slots[next] as Outcome, -1);
      slots[next] = outcome;
      words[at + NEXT] = next + 1 === slots.length ? 0 : next + 1;
    }
    this.#count(outcome, 1);
  }

  #count(outcome: Outcome, by: number): void {
    if (outcome === FAILURE) this.words[this.at + FAILURES] += by;
    else if (outcome === SLOW) this.words[this.at + SLOW_CALLS] += by;
  }
}

/** The calls of the last `seconds.length / 4` seconds, one slot per second. */
class TimeWindow extends Window {
  readonly #floats: Float64Array;
  readonly #seconds: Float64Array;
  readonly #size: number;

  constructor(words: Int32Array, floats: Float64Array, at: number, seconds: Float64Array) {
    super(words, at);
    this.#floats = floats;
    this.#seconds = seconds;
    this.#size = seconds.length / SECOND_WORDS;
  }

  add(outcome: Outcome, nowMs: number): void {
    const latest = this.#floats[LATEST_SECOND];
    let second = Math.floor(nowMs / 1000);
    if (second > latest) {
      // Empty the slots of the seconds that left the window (each second's slot is second % size).
      for (let s = Math.max(latest + 1, second - this.#size + 1); s <= second; s++) {
        this.#clear(s % this.#size * SECOND_WORDS, s);
      }
      this.#floats[LATEST_SECOND] = second;
    } else {
      // Another isolate's clock may be a little behind: count the call in the latest second.
      second = latest;
    }
    const slot = second % this.#size * SECOND_WORDS;
    const seconds = this.#seconds;
    const words = this.words;
    seconds[slot + 3]++;
    words[this.at + TOTAL]++;
    if (outcome === FAILURE) {
      seconds[slot + 1]++;
      words[this.at + FAILURES]++;
    } else if (outcome === SLOW) {
      seconds[slot + 2]++;
      words[this.at + SLOW_CALLS]++;
    }
  }

  override reset(): void {
    super.reset();
    this.#seconds.fill(0);
    this.#floats[LATEST_SECOND] = 0;
  }

  /** Empties `slot` for `second`, taking its calls out of the counts. */
  #clear(slot: number, second: number): void {
    const seconds = this.#seconds;
    const words = this.words;
    words[this.at + FAILURES] -= seconds[slot + 1];
    words[this.at + SLOW_CALLS] -= seconds[slot + 2];
    words[this.at + TOTAL] -= seconds[slot + 3];
    seconds[slot] = second;
    seconds[slot + 1] = seconds[slot + 2] = seconds[slot + 3] = 0;
  }
}

function halfOpenSlots(spec: CircuitBreakerSpec): number {
  return Math.max(1, spec.permittedNumberOfCallsInHalfOpenState);
}

/** Bytes of memory a breaker of `spec` keeps its state in. */
export function breakerBytes(spec: CircuitBreakerSpec): number {
  const closed = spec.slidingWindowType === "TIME_BASED"
    ? spec.slidingWindowSize * SECOND_WORDS * 8
    : spec.slidingWindowSize;
  return HEADER_BYTES + Math.ceil(halfOpenSlots(spec) / 8) * 8 + closed;
}

/** Options of a CircuitBreaker. */
export interface BreakerOptions extends PolicyOptions {
  /**
   * Keep the state in this node-wide memory, under `name`: the breakers of
   * every isolate made with the same name are one breaker. Without it the
   * state is the breaker's own.
   */
  shared?: { regions: SharedRegions; name: string };
}

/** What {@linkcode CircuitBreaker.acquire} returns when the call is rejected. */
export const REJECTED = -1;

/**
 * A running CircuitBreaker: CLOSED → OPEN when the failure (or slow-call)
 * rate of its window reaches a threshold; OPEN rejects calls until
 * `waitDurationInOpenState` has passed, then HALF_OPEN lets a few calls
 * through and decides between OPEN and CLOSED by their rates.
 *
 * Its state lives in one piece of memory, shared by every isolate's
 * breaker of the same name, and every change to it is made under a lock in
 * that memory: with several worker isolates the node still has one breaker,
 * counting every call, as Easegress's one process does.
 */
export class CircuitBreaker {
  readonly #spec: CircuitBreakerSpec;
  readonly #now: Clock;
  readonly #slowMs: number;
  readonly #openWaitMs: number;
  readonly #halfOpenMaxWaitMs: number;
  readonly #words: Int32Array;
  readonly #floats: Float64Array;
  readonly #closedWindow: Window;
  readonly #halfOpenWindow: Window;
  readonly #release: () => void;
  /** Calls permitted and not yet recorded: the memory is kept for them. */
  #inFlight = 0;
  #closed = false;
  #released = false;

  /** Creates a breaker from a normalized spec, closed unless it shares the state of one. */
  constructor(spec: CircuitBreakerSpec, options: BreakerOptions = {}) {
    this.#spec = spec;
    // Milliseconds on a clock every isolate shares (performance.now() alone starts per isolate).
    this.#now = options.now ?? (() => performance.timeOrigin + performance.now());
    this.#slowMs = parseDuration(spec.slowCallDurationThreshold) ?? 60_000;
    this.#openWaitMs = parseDuration(spec.waitDurationInOpenState) ?? 60_000;
    this.#halfOpenMaxWaitMs = parseDuration(spec.maxWaitDurationInHalfOpenState) ?? 0;
    const bytes = breakerBytes(spec);
    let region: Region = {
      buffer: new ArrayBuffer(bytes),
      offset: 0,
      length: bytes,
      firstForHolder: true,
    };
    this.#release = () => {};
    if (options.shared) {
      const { regions, name } = options.shared;
      const claimed = region = regions.claim(name, bytes);
      this.#release = () => regions.release(claimed);
    }
    const { buffer, offset } = region;
    this.#words = new Int32Array(buffer, offset, HEADER_BYTES / 4);
    this.#floats = new Float64Array(buffer, offset, HEADER_BYTES / 8);
    const halfOpen = halfOpenSlots(spec);
    this.#halfOpenWindow = new CountWindow(
      this.#words,
      HALF_OPEN_COUNTS,
      new Uint8Array(buffer, offset + HEADER_BYTES, halfOpen),
    );
    const closedAt = offset + HEADER_BYTES + Math.ceil(halfOpen / 8) * 8;
    const size = spec.slidingWindowSize;
    this.#closedWindow = spec.slidingWindowType === "TIME_BASED"
      ? new TimeWindow(
        this.#words,
        this.#floats,
        CLOSED_COUNTS,
        new Float64Array(buffer, closedAt, size * SECOND_WORDS),
      )
      : new CountWindow(this.#words, CLOSED_COUNTS, new Uint8Array(buffer, closedAt, size));
  }

  /** The current state. */
  get state(): BreakerState {
    return STATE_NAMES[Atomics.load(this.#words, STATE)];
  }

  /**
   * Gives up the shared state: the last isolate's breaker of its name frees
   * it, once the calls it permitted are recorded (a pipeline update closes
   * the old breaker while its calls run, and freed memory may be another
   * breaker's by the time they end).
   */
  close(): void {
    this.#closed = true;
    this.#releaseIfDone();
  }

  #releaseIfDone(): void {
    if (!this.#closed || this.#inFlight > 0 || this.#released) return;
    this.#released = true;
    this.#release();
  }

  /**
   * Asks to make a call: returns a permit (pass it to {@linkcode record}), or
   * {@linkcode REJECTED}.
   */
  acquire(): number {
    // A request of a replaced pipeline that reaches its Proxy late goes
    // through unguarded: the memory may be another breaker's now.
    if (this.#released) return 0;
    const permit = this.#permit();
    if (permit !== REJECTED) this.#inFlight++;
    return permit;
  }

  #permit(): number {
    const words = this.#words;
    // Closed, the common case, needs no lock: a permit from just before a
    // change of state is ignored by record().
    if (Atomics.load(words, STATE) === CLOSED) return Atomics.load(words, STATE_ID);
    this.#lock();
    try {
      const now = this.#now();
      if (words[STATE] === CLOSED) return words[STATE_ID];
      if (words[STATE] === OPEN) {
        if (now - this.#floats[SINCE] < this.#openWaitMs) return REJECTED;
        this.#transition(HALF_OPEN, now);
      }
      if (words[HALF_OPEN_CALLS] < this.#spec.permittedNumberOfCallsInHalfOpenState) {
        words[HALF_OPEN_CALLS]++;
        return words[STATE_ID];
      }
      if (this.#halfOpenMaxWaitMs > 0 && now - this.#floats[SINCE] >= this.#halfOpenMaxWaitMs) {
        this.#transition(OPEN, now);
      }
      return REJECTED;
    } finally {
      this.#unlock();
    }
  }

  /**
   * Records the outcome of a call made with `permit`; calls permitted in an
   * earlier state are ignored.
   */
  record(permit: number, failed: boolean, durationMs: number): void {
    if (this.#released) return;
    this.#count(permit, failed ? FAILURE : durationMs >= this.#slowMs ? SLOW : SUCCESS);
    if (this.#inFlight > 0) this.#inFlight--;
    this.#releaseIfDone();
  }

  /**
   * Ends a call made with `permit` that has no outcome to judge the server
   * by: its client went away first. It counts as slow when it ran at least
   * `slowCallDurationThreshold`; otherwise it is not counted, and a
   * half-open breaker lets another call through in its place. Easegress
   * counts it as a failure, so clients giving up on a healthy but slower
   * server opened the breaker for every client.
   */
  abandon(permit: number, durationMs: number): void {
    if (this.#released) return;
    if (durationMs >= this.#slowMs) this.#count(permit, SLOW);
    else this.#givePermitBack(permit);
    if (this.#inFlight > 0) this.#inFlight--;
    this.#releaseIfDone();
  }

  #givePermitBack(permit: number): void {
    const words = this.#words;
    this.#lock();
    try {
      if (permit === words[STATE_ID] && words[STATE] === HALF_OPEN && words[HALF_OPEN_CALLS] > 0) {
        words[HALF_OPEN_CALLS]--;
      }
    } finally {
      this.#unlock();
    }
  }

  #count(permit: number, outcome: Outcome): void {
    const words = this.#words;
    this.#lock();
    try {
      if (permit !== words[STATE_ID] || words[STATE] === OPEN) return;
      const now = this.#now();
      const halfOpen = words[STATE] === HALF_OPEN;
      const window = halfOpen ? this.#halfOpenWindow : this.#closedWindow;
      window.add(outcome, now);
      const spec = this.#spec;
      const minimum = halfOpen
        ? Math.min(spec.minimumNumberOfCalls, spec.permittedNumberOfCallsInHalfOpenState)
        : spec.minimumNumberOfCalls;
      const total = window.total;
      if (total < minimum || total === 0) return;
      const failureRate = Math.floor(window.failures * 100 / total);
      const slowRate = Math.floor(window.slow * 100 / total);
      if (failureRate >= spec.failureRateThreshold || slowRate >= spec.slowCallRateThreshold) {
        this.#transition(OPEN, now);
      } else if (halfOpen) this.#transition(CLOSED, now);
    } finally {
      this.#unlock();
    }
  }

  /** Called with the lock held. */
  #transition(state: number, now: number): void {
    const words = this.#words;
    // Stored atomically: acquire() reads them without the lock.
    Atomics.store(words, STATE, state);
    // Wraps at 2^31: permits are compared for equality only.
    Atomics.store(words, STATE_ID, (words[STATE_ID] + 1) | 0);
    words[HALF_OPEN_CALLS] = 0;
    this.#floats[SINCE] = now;
    if (state === CLOSED) this.#closedWindow.reset();
    else if (state === HALF_OPEN) this.#halfOpenWindow.reset();
  }

  #lock(): void {
    // Held for a few dozen instructions; another isolate holding it runs on another thread.
    while (Atomics.compareExchange(this.#words, LOCK, 0, 1) !== 0) {
      // Spin.
    }
  }

  #unlock(): void {
    Atomics.store(this.#words, LOCK, 0);
  }
}

/** Builds a Retry from a pipeline's policy object (validated again: it is cheap and catches hand-built specs). */
export function createRetry(policy: unknown, options?: PolicyOptions): Retry {
  return new Retry(validatePolicy("Retry", policy), options);
}

/** Builds a CircuitBreaker from a pipeline's policy object (validated again). */
export function createCircuitBreaker(policy: unknown, options?: BreakerOptions): CircuitBreaker {
  return new CircuitBreaker(validatePolicy("CircuitBreaker", policy), options);
}
