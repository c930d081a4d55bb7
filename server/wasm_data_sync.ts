/**
 * The control plane's side of the WasmHost filters' shared data: it writes
 * what the data planes' VMs changed to the store (additions as
 * compare-and-swap, so concurrent counters add up), tells every data plane
 * what changed there (its own members' and other nodes' writes, read from a
 * watch, and all of it now and then, as watches can miss events), and
 * passes code reload events (`POST /wasm/code`) on to the data planes.
 *
 * @module
 */

import { keys, type Store, type WatchEvent } from "../cluster/store.ts";
import type { Logger } from "../filters/filter.ts";
import { valueAfter, type WasmDataOp } from "../filters/wasm_cluster_data.ts";
import type { ScopedWasmOps } from "../filters/wasm_shared_data.ts";
import { errorText } from "./error_text.ts";

/** What the data planes are told. */
export interface WasmDataPlanes {
  updateWasmData(entries: [string, string | null][], full: boolean): unknown;
  reloadWasmCode(): unknown;
}

/** Options for {@linkcode WasmDataSync}. */
export interface WasmDataSyncOptions {
  store: Store;
  planes: WasmDataPlanes;
  log: Logger;
  /** How often the data planes get all of the data again. */
  resyncMs: number;
}

/** Watch events gather this long before the data planes are told. */
const PUSH_DELAY_MS = 20;
/** Compare-and-swap rounds for one addition before it is given up (and logged). */
const ADD_ATTEMPTS = 50;

/** Keeps the store and the data planes' WasmHost shared data in step. */
export class WasmDataSync {
  readonly #o: WasmDataSyncOptions;
  readonly #abort = new AbortController();
  #changed = new Map<string, string | null>();
  #pushTimer: ReturnType<typeof setTimeout> | undefined;
  #resyncTimer: ReturnType<typeof setInterval> | undefined;
  /** Writes run one batch at a time, in the order the planes sent them. */
  #writes: Promise<void> = Promise.resolve();

  constructor(options: WasmDataSyncOptions) {
    this.#o = options;
  }

  /** Tells the data planes all of the data, then follows the store. */
  async start(): Promise<void> {
    this.#o.store.watch(keys.wasmPrefix, (events) => this.#watched(events), this.#abort.signal);
    await this.#pushAll();
    this.#resyncTimer = setInterval(() => this.#pushAll(), this.#o.resyncMs);
  }

  /** Writes the VMs' changes to the store. */
  write(batch: readonly ScopedWasmOps[]): Promise<void> {
    const run = this.#writes.then(() => this.#writeBatch(batch));
    this.#writes = run.catch(() => {});
    return run;
  }

  /** Stops following the store (pending writes still finish). */
  async close(): Promise<void> {
    this.#abort.abort();
    clearTimeout(this.#pushTimer);
    clearInterval(this.#resyncTimer);
    await this.#writes;
  }

  async #writeBatch(batch: readonly ScopedWasmOps[]): Promise<void> {
    for (const [scope, ops] of batch) {
      for (const op of ops) {
        const key = `${keys.wasmDataPrefix}${scope}/${op.key}`;
        try {
          if (op.op === "put") await this.#o.store.put(key, op.value);
          else await this.#add(key, op);
        } catch (e) {
          this.#o.log.warn(`cannot store WasmHost data ${key}: ${errorText(e)}`);
        }
      }
    }
  }

  async #add(key: string, op: WasmDataOp): Promise<void> {
    const store = this.#o.store;
    for (let attempt = 0; attempt < ADD_ATTEMPTS; attempt++) {
      const kv = await store.get(key);
      const next = valueAfter(kv?.value, op);
      if (await store.put(key, next, { expectRevision: kv?.revision ?? 0 })) return;
    }
    throw new Error(`it kept changing under ${ADD_ATTEMPTS} attempts to add to it`);
  }

  #watched(events: WatchEvent[]): void {
    for (const event of events) {
      if (event.key === keys.wasmCodeEvent) {
        if (event.type === "put") this.#o.planes.reloadWasmCode();
      } else if (event.key.startsWith(keys.wasmDataPrefix)) {
        const path = event.key.slice(keys.wasmDataPrefix.length);
        this.#changed.set(path, event.type === "put" ? event.value ?? "" : null);
      }
    }
    if (this.#changed.size) {
      this.#pushTimer ??= setTimeout(() => this.#pushChanged(), PUSH_DELAY_MS);
    }
  }

  #pushChanged(): void {
    this.#pushTimer = undefined;
    const entries = [...this.#changed];
    this.#changed = new Map();
    this.#o.planes.updateWasmData(entries, false);
  }

  async #pushAll(): Promise<void> {
    try {
      const all = await this.#o.store.range(keys.wasmDataPrefix);
      const entries = all.map((kv): [string, string] => [
        kv.key.slice(keys.wasmDataPrefix.length),
        kv.value,
      ]);
      await this.#o.planes.updateWasmData(entries, true);
    } catch (e) {
      this.#o.log.warn(`cannot read the WasmHost data: ${errorText(e)}`);
    }
  }
}
