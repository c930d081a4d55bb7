/**
 * What data planes get from the store besides objects: the AutoCertManager's
 * certificates and challenge answers, and the custom data items that filters
 * read (Validator `basicAuth` in mode ETCD, HeaderLookup).
 *
 * @module
 */

import { keys, type Store } from "../cluster/store.ts";
import { autoCertKeys, type AutoCertState, readAutoCertState } from "./autocert/state.ts";

/** The store's data for data planes. */
export interface StoreData {
  autoCert: AutoCertState;
  /** Custom data items by their path under `/custom-data/` (`<kind>/<id>`). */
  customData: Record<string, unknown>;
}

/** The prefixes {@linkcode readStoreData} reads: watch them to keep data planes current. */
export const STORE_DATA_PREFIXES = [autoCertKeys.prefix, keys.customDataPrefix] as const;

/** Reads the data planes' data from `store`. */
export async function readStoreData(store: Store): Promise<StoreData> {
  const [autoCert, custom] = await Promise.all([
    store.range(autoCertKeys.prefix),
    store.range(keys.customDataPrefix),
  ]);
  const customData: Record<string, unknown> = {};
  for (const { key, value } of custom) {
    try {
      customData[key.slice(keys.customDataPrefix.length)] = JSON.parse(value);
    } catch { /* not written by the admin API: skipped */ }
  }
  return { autoCert: readAutoCertState(autoCert), customData };
}
