/**
 * The shared data of the WasmHost filters of one data plane (Easegress's
 * `host_cluster_*` data): the values the store last had for each filter,
 * what this plane's VMs changed since, and what each VM must be told before
 * its next call. VMs' changes apply here at once, so the next call on any
 * VM of the plane sees them, and are sent in batches to the control plane,
 * which writes them to the store (`/wasm/data/<pipeline>/<filter>/<key>`),
 * from where every plane of every node gets them back.
 *
 * @module
 */

import { valueAfter, type WasmDataChanges, type WasmDataOp } from "./wasm_cluster_data.ts";

/** One filter's changes, named `<pipeline>/<filter>`. */
export type ScopedWasmOps = [scope: string, ops: WasmDataOp[]];

/** How long VMs' changes gather before they are sent to the store. */
const FLUSH_DELAY_MS = 20;
/** Changed keys remembered per filter; a VM further behind gets the whole data again. */
const MAX_CHANGE_LOG = 4096;

/** The shared data of one WasmHost filter in this plane, versioned for its VMs. */
export class WasmDataScope {
  readonly #values = new Map<string, string>();
  /** Keys in the order they changed; version = `#base` + index + 1. */
  #changed: string[] = [];
  #base = 0;

  /** Rises with every change; a VM that has seen version v is told what changed after it. */
  get version(): number {
    return this.#base + this.#changed.length;
  }

  /** The current value of `key`. */
  get(key: string): string | undefined {
    return this.#values.get(key);
  }

  /** Every key and value. */
  entries(): [string, string][] {
    return [...this.#values];
  }

  /** Sets (or, with null, deletes) a key. */
  set(key: string, value: string | null): void {
    if (value === null ? !this.#values.delete(key) : this.#values.get(key) === value) return;
    if (value !== null) this.#values.set(key, value);
    if (this.#changed.length >= MAX_CHANGE_LOG) {
      this.#base += this.#changed.length;
      this.#changed = [];
    }
    this.#changed.push(key);
  }

  /** Replaces the data whole (keys missing from `entries` are deleted). */
  replace(entries: ReadonlyMap<string, string>): void {
    for (const key of [...this.#values.keys()]) if (!entries.has(key)) this.set(key, null);
    for (const [key, value] of entries) this.set(key, value);
  }

  /** Applies a VM's changes. */
  apply(ops: readonly WasmDataOp[]): void {
    for (const op of ops) this.set(op.key, valueAfter(this.#values.get(op.key), op));
  }

  /**
   * What a VM that has seen `version` (-1: nothing yet) must be told;
   * undefined when nothing changed.
   */
  since(version: number): WasmDataChanges | undefined {
    const current = this.version;
    if (version === current) return undefined;
    if (version < this.#base || version > current) {
      return { reset: true, entries: [...this.#values] };
    }
    const keys = new Set(this.#changed.slice(version - this.#base));
    return {
      reset: false,
      entries: [...keys].map((key) => [key, this.#values.get(key) ?? null]),
    };
  }
}

/** The shared data of every WasmHost filter of a data plane, and their code reloads. */
export class WasmHub {
  readonly #scopes = new Map<string, WasmDataScope>();
  readonly #send: ((batch: ScopedWasmOps[]) => void) | undefined;
  #pending = new Map<string, WasmDataOp[]>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #reloadListeners = new Set<() => void>();

  /** `send` takes the VMs' changes to the store; without it they stay in this plane. */
  constructor(send?: (batch: ScopedWasmOps[]) => void) {
    this.#send = send;
  }

  /** The shared data of filter `filter` of pipeline `pipeline` (kept when the filter is rebuilt). */
  scope(pipeline: string, filter: string): WasmDataScope {
    const name = `${pipeline}/${filter}`;
    let scope = this.#scopes.get(name);
    if (!scope) this.#scopes.set(name, scope = new WasmDataScope());
    return scope;
  }

  /** Applies a VM's changes here at once and sends them on to the store. */
  record(pipeline: string, filter: string, ops: readonly WasmDataOp[]): void {
    if (ops.length === 0) return;
    this.scope(pipeline, filter).apply(ops);
    if (!this.#send) return;
    const name = `${pipeline}/${filter}`;
    const pending = this.#pending.get(name);
    if (pending) pending.push(...ops);
    else this.#pending.set(name, [...ops]);
    this.#flushTimer ??= setTimeout(() => this.flush(), FLUSH_DELAY_MS);
  }

  /** Sends the changes gathered so far. */
  flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending];
    this.#pending = new Map();
    this.#send?.(batch);
  }

  /**
   * What the store holds now: `entries` are `[<pipeline>/<filter>/<key>,
   * value or null]`; `full` means they are all there is (other keys are gone).
   */
  storeChanged(entries: readonly [string, string | null][], full: boolean): void {
    const byScope = new Map<string, Map<string, string | null>>();
    for (const [path, value] of entries) {
      const first = path.indexOf("/");
      const second = first < 0 ? -1 : path.indexOf("/", first + 1);
      if (second < 0) continue;
      const scope = path.slice(0, second);
      let values = byScope.get(scope);
      if (!values) byScope.set(scope, values = new Map());
      values.set(path.slice(second + 1), value);
    }
    if (full) {
      for (const [name, scope] of this.#scopes) {
        if (!byScope.has(name)) scope.replace(new Map());
      }
    }
    for (const [name, values] of byScope) {
      const slash = name.indexOf("/");
      const scope = this.scope(name.slice(0, slash), name.slice(slash + 1));
      if (full) {
        scope.replace(
          new Map([...values].filter((e): e is [string, string] => e[1] !== null)),
        );
      } else for (const [key, value] of values) scope.set(key, value);
    }
  }

  /** Calls `listener` on each code reload request; returns what stops it. */
  onReload(listener: () => void): () => void {
    this.#reloadListeners.add(listener);
    return () => this.#reloadListeners.delete(listener);
  }

  /** Asks every WasmHost filter to load its code again (and swap it in if it changed). */
  reload(): void {
    for (const listener of this.#reloadListeners) listener();
  }

  /** Sends what is pending and stops the timer. */
  close(): void {
    this.flush();
  }
}
