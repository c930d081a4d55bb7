/**
 * An HTTPServer's `maxConnections`, counted over every listener that serves
 * it: the data planes of a node (worker isolates sharing the port), and an
 * old listener draining after a restart. Splitting the cap between planes
 * instead was wrong both ways: the kernel picks a plane for each connection
 * by a hash of its addresses, so with a cap of 2 over two planes, two
 * clients hashed to one plane got one slot between them, while a cap of 1
 * let two connections in.
 *
 * Slots are taken after `accept`, not before: a plane that held a slot
 * while waiting for a client would keep it from a client waiting in another
 * plane's backlog. A connection accepted at the cap waits unserved for a
 * slot, as one in the backlog would (Go's `LimitListener`), and its plane
 * accepts no other meanwhile.
 *
 * @module
 */

import type { Region, SharedRegions } from "../../filters/shared_regions.ts";

/** Connection slots of one HTTPServer. */
export interface ConnectionQuota {
  /**
   * Takes a slot when fewer than `max` connections hold one (0: no limit):
   * true; at the cap, a promise that settles once a slot may be free again.
   */
  acquire(max: number): true | Promise<void>;
  /** Gives back a slot from `acquire`. */
  release(): void;
  /** Wakes everyone waiting for a slot, in every plane (the cap changed, a listener stops). */
  wake(): void;
  /** Gives up the quota's memory once the server is gone; open connections may still release. */
  close(): void;
}

/** A quota of one isolate. */
export class LocalConnectionQuota implements ConnectionQuota {
  #held = 0;
  #waiters: (() => void)[] = [];

  /** Slots held now. */
  get held(): number {
    return this.#held;
  }

  acquire(max: number): true | Promise<void> {
    if (max <= 0 || this.#held < max) {
      this.#held++;
      return true;
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    this.#held--;
    this.wake();
  }

  wake(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }

  close(): void {
    this.wake();
  }
}

// Int32 words of a shared quota's region:
/** Slots held in all planes. */
const TOTAL = 0;
/** Bumped at each release and wake, for waiters' `Atomics.waitAsync`. */
const GENERATION = 1;
/** Then one word per plane: the slots it holds. */
const PER_HOLDER = 2;
/**
 * How long a waiting plane sleeps before looking again on its own: a wake
 * is not expected to be missed, this bounds the cost if one were.
 */
const RECHECK_MS = 1000;

/** A quota in memory every data plane of the node shares. */
export class SharedConnectionQuota implements ConnectionQuota {
  readonly #words: Int32Array;
  readonly #mine: number;
  #giveUpRegion: (() => void) | undefined;
  #closed = false;

  /** The quota called `name` (the HTTPServer's) in `regions`, claimed for this plane. */
  constructor(regions: SharedRegions, name: string) {
    const region: Region = regions.claim(
      `connections ${name}`,
      (PER_HOLDER + regions.holders) * 4,
    );
    this.#words = new Int32Array(region.buffer, region.offset, PER_HOLDER + regions.holders);
    this.#mine = PER_HOLDER + regions.holder;
    this.#giveUpRegion = () => regions.release(region);
    if (region.firstForHolder) {
      // What this plane's word holds was left by a worker that crashed with its connections.
      const stale = Atomics.exchange(this.#words, this.#mine, 0);
      if (stale !== 0) {
        Atomics.sub(this.#words, TOTAL, stale);
        this.wake();
      }
    }
  }

  acquire(max: number): true | Promise<void> {
    const words = this.#words;
    // Read before trying: a release after a failed try changes it, so the wait below returns.
    const generation = Atomics.load(words, GENERATION);
    for (;;) {
      const held = Atomics.load(words, TOTAL);
      if (max > 0 && held >= max) break;
      if (Atomics.compareExchange(words, TOTAL, held, held + 1) === held) {
        Atomics.add(words, this.#mine, 1);
        return true;
      }
    }
    const wait = Atomics.waitAsync(words, GENERATION, generation, RECHECK_MS);
    return wait.async ? wait.value.then(() => {}) : Promise.resolve();
  }

  release(): void {
    const words = this.#words;
    const left = Atomics.sub(words, this.#mine, 1) - 1;
    Atomics.sub(words, TOTAL, 1);
    this.wake();
    if (left === 0 && this.#closed) this.#leave();
  }

  wake(): void {
    Atomics.add(this.#words, GENERATION, 1);
    Atomics.notify(this.#words, GENERATION);
  }

  close(): void {
    this.#closed = true;
    this.wake();
    if (Atomics.load(this.#words, this.#mine) === 0) this.#leave();
  }

  /** Gives up the region: only once this plane holds no slot, as another claim may reuse it. */
  #leave(): void {
    this.#giveUpRegion?.();
    this.#giveUpRegion = undefined;
  }
}

/**
 * The quota of the HTTPServer `name`: shared by the node's planes when
 * `regions` are at hand and have room, else this plane's own.
 */
export function connectionQuota(
  name: string,
  regions: SharedRegions | undefined,
  onError: (message: string) => void,
): ConnectionQuota {
  if (regions === undefined) return new LocalConnectionQuota();
  try {
    return new SharedConnectionQuota(regions, name);
  } catch (e) {
    onError(`maxConnections is counted per data plane: ${(e as Error).message}`);
    return new LocalConnectionQuota();
  }
}
