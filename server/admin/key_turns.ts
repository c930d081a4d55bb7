/**
 * Writes of one store key by this node, made one after another. A
 * compare-and-swap loop alone lets one writer win each round, so with more
 * of this node's own requests racing for a key than rounds, the last ones
 * fail though nothing outside the node is writing it; taking turns here
 * leaves the rounds to writes by other members of a cluster.
 *
 * @module
 */

import type { KeyValue, Store } from "../../cluster/store.ts";
import { ApiError } from "./replies.ts";

/** Per store, the tail of the writes of each key that has some pending. */
const tails = new WeakMap<Store, Map<string, Promise<void>>>();

/**
 * Runs `write` once this node's earlier writes of `key` in `store` have
 * settled (a failure does not stop the next); resolves as `write` does.
 */
export function inTurn<T>(store: Store, key: string, write: () => Promise<T>): Promise<T> {
  let byKey = tails.get(store);
  if (!byKey) tails.set(store, byKey = new Map());
  const result = (byKey.get(key) ?? Promise.resolve()).then(write);
  const tail = result.then(() => {}, () => {});
  byKey.set(key, tail);
  // The last in line removes the key, so the map holds only keys being written.
  tail.then(() => {
    if (byKey.get(key) === tail) byKey.delete(key);
  });
  return result;
}

/** Rounds of read and compare-and-swap before a replace gives up on a key others keep writing. */
const REPLACE_ATTEMPTS = 20;

/**
 * Replaces the value stored at `key`, as a PUT does: a write by another
 * request between the read and this one is no conflict, so the read is made
 * again and the last writer wins, as under Easegress's config lock. `check`
 * sees each value about to be replaced and may throw to refuse. Resolves to
 * false when the key holds no value; a 409 naming `what` when other members
 * kept writing it through every round.
 */
export function replaceStored(
  store: Store,
  key: string,
  value: string,
  what: string,
  check: (existing: KeyValue) => void = () => {},
): Promise<boolean> {
  return inTurn(store, key, async () => {
    for (let attempt = 0; attempt < REPLACE_ATTEMPTS; attempt++) {
      const existing = await store.get(key);
      if (!existing) return false;
      check(existing);
      if (await store.put(key, value, { expectRevision: existing.revision })) return true;
    }
    throw new ApiError(
      409,
      `conflict: ${what} kept changing under ${REPLACE_ATTEMPTS} attempts to write it; retry`,
    );
  });
}
