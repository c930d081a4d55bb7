/**
 * Fault handling for the `etcd3` client, written against the small part of
 * cockatiel's policy interface the client calls (`execute`), so we need no
 * direct dependency on cockatiel: a per-host circuit breaker that skips a
 * dead etcd member for one second (the library's default waits five, which
 * delays recovery after an etcd restart), no global retry (the store
 * retries itself, knowing which writes may repeat) and a capped backoff for
 * watch reconnects (the default grows to 30 s).
 *
 * @module
 */

import { type IOptions, isRecoverableError } from "etcd3";

type FaultHandling = NonNullable<IOptions["faultHandling"]>;
type HostPolicy = ReturnType<NonNullable<FaultHandling["host"]>>;
type GlobalPolicy = NonNullable<FaultHandling["global"]>;
type WatchBackoff = NonNullable<FaultHandling["watchBackoff"]>;
type PolicyContext = { signal: AbortSignal };

/** Thrown instead of calling a host whose breaker is open; the call was not sent. */
export class CircuitOpenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CircuitOpenError";
  }
}

const NEVER_ABORTED = new AbortController().signal;

/**
 * Opens after `threshold` consecutive connection-level failures of a host
 * and refuses calls for `openMs`; the first call after that is a trial that
 * closes the breaker on success or reopens it on failure. While the trial
 * runs the host stays refused: a member that hangs (a frozen process, a
 * partition dropping packets) holds each call sent to it for a whole
 * request timeout, and calls refused here go to another member.
 */
class HostBreaker {
  readonly #host: string;
  readonly #threshold: number;
  readonly #openMs: number;
  #failures = 0;
  /** Why the last of those calls failed: what a skipped call reports, the cause it never met. */
  #lastFailure = "";
  #openUntil = 0;
  #trialRunning = false;

  constructor(host: string, threshold: number, openMs: number) {
    this.#host = host;
    this.#threshold = threshold;
    this.#openMs = openMs;
  }

  async execute<T>(
    call: (context: PolicyContext) => PromiseLike<T> | T,
    signal?: AbortSignal,
  ): Promise<T> {
    if (Date.now() < this.#openUntil || this.#trialRunning) {
      throw new CircuitOpenError(
        `etcd ${this.#host} skipped after ${this.#failures} failed calls in a row, ` +
          `the last: ${this.#lastFailure}`,
      );
    }
    const trial = this.#failures >= this.#threshold;
    if (trial) this.#trialRunning = true;
    try {
      const result = await call({ signal: signal ?? NEVER_ABORTED });
      this.#failures = 0;
      return result;
    } catch (error) {
      if (isConnectionFailure(error)) {
        this.#lastFailure = failureText(error as Error);
        if (++this.#failures >= this.#threshold) this.#openUntil = Date.now() + this.#openMs;
      }
      throw error;
    } finally {
      if (trial) this.#trialRunning = false;
    }
  }
}

/** An error's message without the empty "Resolution note: " gRPC ends some with. */
function failureText(error: Error): string {
  return error.message.replace(/\s*Resolution note:\s*$/, "");
}

function isConnectionFailure(error: unknown): boolean {
  return typeof error === "object" && error !== null && isRecoverableError(error as Error);
}

/** The `faultHandling` option for `new Etcd3(...)`. */
export function faultHandling(options: {
  /** How long a failing host is skipped. @default 1000 */
  breakerOpenMs?: number;
  /** First and longest pause between watch reconnects. @default [100, 1000] */
  watchBackoffMs?: [number, number];
} = {}): FaultHandling {
  const { breakerOpenMs = 1_000, watchBackoffMs: [minMs, maxMs] = [100, 1_000] } = options;
  // The casts: cockatiel's IPolicy also declares events the client never uses.
  return {
    host: (host) => new HostBreaker(host, 3, breakerOpenMs) as unknown as HostPolicy,
    global: {
      execute: <T>(call: (context: PolicyContext) => PromiseLike<T> | T, signal?: AbortSignal) =>
        Promise.resolve().then(() => call({ signal: signal ?? NEVER_ABORTED })),
    } as unknown as GlobalPolicy,
    watchBackoff: cappedBackoff(minMs, maxMs),
  };
}

function cappedBackoff(minMs: number, maxMs: number): WatchBackoff {
  const step = (duration: number): WatchBackoff => ({
    duration,
    next: () => step(Math.min(duration * 2, maxMs)),
  });
  return step(minMs);
}
