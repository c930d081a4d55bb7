/**
 * A WasmHost filter's shared data (Easegress's `host_cluster_*` functions),
 * as one VM sees it: a copy of the filter's keys that the data plane keeps
 * current before each call, and the changes the VM made during the call,
 * sent back with its outcome so that every VM of the filter, in every worker
 * and on every node, sees them. Additions travel as deltas, so counters
 * that many VMs raise at once add up exactly in the store.
 *
 * @module
 */

/** A change a VM made to its filter's shared data. */
export type WasmDataOp =
  | { op: "put"; key: string; value: string }
  /** `delta` is a decimal integer (a 64-bit addend may not fit a number). */
  | { op: "addInteger"; key: string; delta: string }
  | { op: "addFloat"; key: string; delta: number };

/** Changes for a VM's copy: `null` deletes a key; `reset` clears the copy first. */
export interface WasmDataChanges {
  reset: boolean;
  entries: [key: string, value: string | null][];
}

/** A stored value read as a float (0 when it is not a number, as Easegress reads it). */
export function floatOf(text: string | undefined): number {
  const n = Number(text);
  return Number.isFinite(n) ? n : 0;
}

/** A stored value read as a 64-bit integer (a float is truncated; 0 when not a number). */
export function integerOf(text: string | undefined): bigint {
  if (text !== undefined && /^\s*[+-]?\d+\s*$/.test(text)) return BigInt.asIntN(64, BigInt(text));
  return BigInt(Math.trunc(floatOf(text)));
}

/** The value `op` leaves where `current` was. */
export function valueAfter(current: string | undefined, op: WasmDataOp): string {
  switch (op.op) {
    case "put":
      return op.value;
    case "addInteger":
      return String(BigInt.asIntN(64, integerOf(current) + BigInt(op.delta)));
    case "addFloat":
      return String(floatOf(current) + op.delta);
  }
}

/** A VM's copy of its filter's shared data, recording what the VM changes. */
export class WasmClusterData {
  readonly #values = new Map<string, string>();
  #ops: WasmDataOp[] = [];

  /** Brings the copy up to date. */
  update(changes: WasmDataChanges): void {
    if (changes.reset) this.#values.clear();
    for (const [key, value] of changes.entries) {
      if (value === null) this.#values.delete(key);
      else this.#values.set(key, value);
    }
  }

  get(key: string): string | undefined {
    return this.#values.get(key);
  }

  put(key: string, value: string): void {
    this.#change({ op: "put", key, value });
  }

  addInteger(key: string, delta: bigint): bigint {
    return BigInt(this.#change({ op: "addInteger", key, delta: String(delta) }));
  }

  addFloat(key: string, delta: number): number {
    return Number(this.#change({ op: "addFloat", key, delta }));
  }

  /** How many keys start with `prefix`. */
  countPrefix(prefix: string): number {
    let count = 0;
    for (const key of this.#values.keys()) if (key.startsWith(prefix)) count++;
    return count;
  }

  /** The changes made since the last call. */
  takeOps(): WasmDataOp[] {
    const ops = this.#ops;
    this.#ops = [];
    return ops;
  }

  #change(op: WasmDataOp): string {
    const value = valueAfter(this.#values.get(op.key), op);
    this.#values.set(op.key, value);
    this.#ops.push(op);
    return value;
  }
}
