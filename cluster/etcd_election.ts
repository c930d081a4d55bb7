/**
 * One campaign in an etcd election, the algorithm of etcd's Go
 * `concurrency.Election`: each candidate writes `<prefix><leaseId>` under
 * its own lease; the candidate with the oldest key leads; the others wait
 * for the key just older than theirs to be deleted.
 *
 * Written here rather than taken from `etcd3`'s `Election` because that one
 * leaves a watch behind when a waiting candidate gives up, which keeps the
 * client reconnecting after close; and because a leader must step down
 * before etcd can expire its lease, not after (see {@linkcode LeaseWatchdog}).
 *
 * @module
 */

import type { IRangeResponse, IResponseHeader, Lease, Namespace } from "etcd3";
import type { Leadership } from "./leadership.ts";
import type { WatchEvent } from "./store.ts";

/** What a campaign needs from the etcd store. */
export interface ElectionContext {
  /** The cluster's namespace. */
  readonly ns: Namespace;
  readonly leaseTtlSeconds: number;
  /** Runs an etcd request with the store's deadline and retry rules. */
  call<T>(
    kind: "read" | "write",
    what: string,
    request: (deadline: number) => Promise<T>,
  ): Promise<T>;
  /** The store's resilient prefix watch, starting at `startRevision`. */
  watchFrom(
    prefix: string,
    startRevision: number,
    onEvents: (events: WatchEvent[]) => void,
    signal: AbortSignal,
  ): void;
}

/** Thrown when a candidate's or leader's lease is (about to be) gone. */
export class LeaseLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LeaseLostError";
  }
}

/**
 * Campaigns once: resolves when elected, rejects when `signal` aborts or the
 * lease is lost (the caller may stand again). The Leadership is lost when
 * `signal` aborts later, on resign, or when the lease is in doubt.
 */
export async function campaignOnce(
  context: ElectionContext,
  options: { election: string; candidate: string; signal: AbortSignal },
): Promise<Leadership> {
  const { ns, leaseTtlSeconds } = context;
  const { election, candidate, signal } = options;
  const prefix = `/election/${election}/`;
  // Aborts on the caller's signal and on lease trouble: ends waiting or leading.
  const attempt = new AbortController();
  const onAbort = () => attempt.abort(signal.reason);
  const lease = ns.lease(leaseTtlSeconds, { autoKeepAlive: true });
  const watchdog = new LeaseWatchdog(lease, leaseTtlSeconds, (error) => attempt.abort(error));
  const cleanUp = async () => {
    watchdog.stop();
    signal.removeEventListener("abort", onAbort);
    await lease.revoke().catch(() => {});
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  try {
    // Not through context.call: a failed grant stays failed; the caller
    // stands again with a new lease instead.
    const leaseId = await abortable(lease.grant(), attempt.signal);
    watchdog.start();
    const key = `${prefix}${BigInt(leaseId).toString(16)}`;
    const put = await context.call("write", `join election "${election}"`, (deadline) =>
      abortable(
        ns.put(key).value(candidate).lease(leaseId).options({ deadline }).exec(),
        attempt.signal,
      ));
    const createdAt = BigInt(revisionOf(put.header));
    for (;;) {
      const older: IRangeResponse = await context.call(
        "read",
        `read election "${election}"`,
        (deadline) =>
          abortable(
            ns.getAll().prefix(prefix).maxCreateRevision(String(createdAt - 1n))
              .sort("Create", "Descend").limit(1).options({ deadline }).exec(),
            attempt.signal,
          ),
      );
      if (older.kvs.length === 0) break;
      const olderKey = older.kvs[0].key.toString();
      await waitForDelete(context, olderKey, revisionOf(older.header) + 1, attempt.signal);
    }
  } catch (error) {
    await cleanUp();
    throw attempt.signal.aborted ? attempt.signal.reason : error;
  }

  const lost = new AbortController();
  let resigning: Promise<void> | undefined;
  const resign = () => {
    resigning ??= (async () => {
      if (!lost.signal.aborted) lost.abort(new Error("resigned"));
      await cleanUp();
    })();
    return resigning;
  };
  const onLost = () => {
    if (!lost.signal.aborted) lost.abort(attempt.signal.reason);
    void resign();
  };
  if (attempt.signal.aborted) onLost();
  else attempt.signal.addEventListener("abort", onLost, { once: true });
  return { lost: lost.signal, resign };
}

/**
 * Declares the lease lost once no keepalive succeeded for 80 % of its TTL.
 * etcd expires a lease a full TTL after the last keepalive it answered, and
 * may then elect another member; stepping down earlier keeps two leaders
 * from running at once (the `etcd3` client reports loss only after 2 TTLs).
 */
class LeaseWatchdog {
  readonly #lease: Lease;
  readonly #limitMs: number;
  readonly #onLost: (error: LeaseLostError) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  readonly #onKeepalive = () => this.#arm();
  readonly #onLeaseLost = (error: Error) =>
    this.#fire(new LeaseLostError(`election lease lost: ${error.message}`));

  constructor(lease: Lease, ttlSeconds: number, onLost: (error: LeaseLostError) => void) {
    this.#lease = lease;
    this.#limitMs = ttlSeconds * 800;
    this.#onLost = onLost;
    lease.on("lost", this.#onLeaseLost);
  }

  /** Starts counting, from the grant. */
  start(): void {
    this.#lease.on("keepaliveSucceeded", this.#onKeepalive);
    this.#arm();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#lease.off("keepaliveSucceeded", this.#onKeepalive);
    this.#lease.off("lost", this.#onLeaseLost);
  }

  #arm(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => this.#fire(new LeaseLostError(`no lease keepalive for ${this.#limitMs} ms`)),
      this.#limitMs,
    );
  }

  #fire(error: LeaseLostError): void {
    if (this.#stopped) return;
    this.stop();
    this.#onLost(error);
  }
}

/** Resolves once `key` is deleted at or after `startRevision`. */
function waitForDelete(
  context: ElectionContext,
  key: string,
  startRevision: number,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const watching = new AbortController();
    const onAbort = () => {
      watching.abort();
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    context.watchFrom(key, startRevision, (events) => {
      if (!events.some((event) => event.type === "delete" && event.key === key)) return;
      signal.removeEventListener("abort", onAbort);
      watching.abort();
      resolve();
    }, watching.signal);
  });
}

/** `promise`, or a rejection with the signal's reason if it aborts first. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function revisionOf(header: IResponseHeader | undefined): number {
  return Number(header?.revision ?? 0);
}
