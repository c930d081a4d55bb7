/**
 * Writes of one store key by this node, made one after another. A
 * compare-and-swap loop alone lets one writer win each round, so with more
 * of this node's own requests racing for a key than rounds, the last ones
 * fail though nothing outside the node is writing it; taking turns here
 * leaves the rounds to writes by other members of a cluster.
 *
 * @module
 */

import type { Store } from "../../cluster/store.ts";

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
