/**
 * The config version Easegress reports in every admin answer's
 * `X-Config-Version` header: a counter in the store (`/config/version`,
 * shared by a cluster) that each object create, update and delete raises.
 *
 * @module
 */

import { keys, type Store } from "../../cluster/store.ts";

/** Compare-and-swap rounds before giving up on a counter other writers keep moving. */
const BUMP_ATTEMPTS = 20;

/** The current config version (0 before the first object change). */
export async function readConfigVersion(store: Store): Promise<number> {
  const kv = await store.get(keys.configVersion);
  const version = kv === undefined ? 0 : Number(kv.value);
  return Number.isSafeInteger(version) && version >= 0 ? version : 0;
}

/** Per store, the tail of this node's bumps (each settled, so a failure does not stop the next). */
const bumps = new WeakMap<Store, Promise<void>>();

/**
 * Raises the config version by one, even with other members raising it at
 * the same time. A node's own bumps take turns: racing each other, only one
 * of them would win each compare-and-swap round, and with more object
 * writes at once than rounds the last ones would fail after their object
 * was written.
 */
export function bumpConfigVersion(store: Store): Promise<void> {
  const bump = (bumps.get(store) ?? Promise.resolve()).then(() => raise(store));
  bumps.set(store, bump.catch(() => {}));
  return bump;
}

async function raise(store: Store): Promise<void> {
  for (let attempt = 0; attempt < BUMP_ATTEMPTS; attempt++) {
    const kv = await store.get(keys.configVersion);
    const current = kv === undefined ? 0 : Number(kv.value);
    const next = Number.isSafeInteger(current) && current >= 0 ? current + 1 : 1;
    const written = await store.put(keys.configVersion, String(next), {
      expectRevision: kv?.revision ?? 0,
    });
    if (written) return;
  }
  throw new Error(
    `${keys.configVersion} kept changing under ${BUMP_ATTEMPTS} attempts to raise it`,
  );
}
