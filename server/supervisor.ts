/**
 * The supervisor keeps the data plane equal to the objects in the store,
 * with the other data data planes use (certificates, ACME challenge
 * answers, custom data; see store_data.ts):
 * a watch on the object keys plus a periodic full resync (a missed event
 * cannot leave the node stale). Syncs are serialized; a change during a sync
 * schedules one more.
 *
 * @module
 */

import { keys, type Store } from "../cluster/store.ts";
import type { FilterRegistry, Logger } from "../filters/filter.ts";
import { SpecError } from "../filters/spec.ts";
import { type ObjectSpec, validateObject } from "./objects.ts";
import { readStoreData, STORE_DATA_PREFIXES, type StoreData } from "./store_data.ts";

/** Where the supervisor sends the desired objects. */
export interface ObjectSink {
  apply(desired: ObjectSpec[], data: StoreData): Promise<unknown>;
}

/** Options for {@linkcode Supervisor}. */
export interface SupervisorOptions {
  store: Store;
  sink: ObjectSink;
  filters: FilterRegistry;
  log: Logger;
  /** Full resync period. @default {60000} */
  resyncMs?: number;
}

/** Reconciles the data plane with the store. */
export class Supervisor {
  readonly #o: SupervisorOptions;
  #running: Promise<void> | undefined;
  #again = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #abort = new AbortController();
  #lastError = "";

  constructor(options: SupervisorOptions) {
    this.#o = options;
  }

  /** Applies the stored objects once, then follows changes. */
  async start(): Promise<void> {
    await this.sync();
    this.#o.store.watch(keys.objectPrefix, () => this.sync(), this.#abort.signal);
    for (const prefix of STORE_DATA_PREFIXES) {
      this.#o.store.watch(prefix, () => this.sync(), this.#abort.signal);
    }
    this.#timer = setInterval(() => this.sync(), this.#o.resyncMs ?? 60_000);
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  /** The last store read error ("" when fine). */
  get lastError(): string {
    return this.#lastError;
  }

  /** Reads every object and applies them; resolves once this or a newer sync is done. */
  sync(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          await this.#syncOnce();
        } catch (e) {
          // Left unset, #running would hold the rejection and no change would be applied again.
          this.#o.log.error(`cannot apply the stored objects: ${(e as Error).message}`);
        }
      } while (this.#again);
      this.#running = undefined;
    })();
    return this.#running;
  }

  async #syncOnce(): Promise<void> {
    let stored, data;
    try {
      stored = await this.#o.store.range(keys.objectPrefix);
      data = await readStoreData(this.#o.store);
      this.#lastError = "";
    } catch (e) {
      // Keep serving the last applied config until the store answers again.
      this.#lastError = (e as Error).message;
      this.#o.log.warn(`cannot read objects: ${this.#lastError}`);
      return;
    }
    const desired: ObjectSpec[] = [];
    for (const kv of stored) {
      try {
        desired.push(validateObject(JSON.parse(kv.value), this.#o.filters));
      } catch (e) {
        const why = e instanceof SpecError ? e.problems.join("; ") : (e as Error).message;
        this.#o.log.error(`stored object ${kv.key} is invalid, not applied: ${why}`);
      }
    }
    await this.#o.sink.apply(desired, data);
  }

  /** Stops following the store. */
  async stop(): Promise<void> {
    this.#abort.abort();
    clearInterval(this.#timer);
    await this.#running;
  }
}
