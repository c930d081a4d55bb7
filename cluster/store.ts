/**
 * The key-value store a node keeps its config, membership and status in.
 * Two implementations: the embedded store (one node, a file in the data dir)
 * and etcd (a cluster). The supervisor and admin API only see this interface.
 *
 * @module
 */

/** One stored key. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /** Changes every time the key is written; used for compare-and-swap. */
  readonly revision: number;
}

/** A change seen by a watcher: a put carries the new value, a delete none. */
export interface WatchEvent {
  readonly type: "put" | "delete";
  readonly key: string;
  readonly value?: string;
}

/** Options for {@linkcode Store.put}. */
export interface PutOptions {
  /**
   * Write only if the key's current revision is this one (0: only if absent).
   * Omitted: write unconditionally.
   */
  expectRevision?: number;
  /**
   * The key lives only as long as this node's session (lease): it vanishes
   * when the node stops or dies. Used for membership and status.
   */
  ephemeral?: boolean;
}

/**
 * The JSON a key holds. A value that is not JSON (damaged, or put by hand
 * with etcdctl) fails naming its key, so it can be found and deleted: a bare
 * parse error says neither which key nor that the store is at fault.
 */
export function parseStoredJson(kv: KeyValue): unknown {
  try {
    return JSON.parse(kv.value);
  } catch (error) {
    throw new Error(`the value stored at ${kv.key} is not JSON: ${(error as Error).message}`);
  }
}

/** Thrown when the store cannot be reached; the admin API answers 503. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

/** A key-value store with prefix reads, compare-and-swap and prefix watches. */
export interface Store {
  /** A short name for logs and status: "embedded" or "etcd". */
  readonly name: string;
  /** One key, or undefined. */
  get(key: string): Promise<KeyValue | undefined>;
  /** Every key starting with `prefix`, sorted by key. */
  range(prefix: string): Promise<KeyValue[]>;
  /** Writes a key; false when `expectRevision` did not match (nothing written). */
  put(key: string, value: string, options?: PutOptions): Promise<boolean>;
  /** Deletes a key; false when it did not exist or `expectRevision` did not match. */
  delete(key: string, options?: { expectRevision?: number }): Promise<boolean>;
  /** Deletes every key starting with `prefix`; returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  /**
   * Writes each of `puts` (persistent keys), then deletes each of `deletes`
   * (absent ones skipped), as one change where the store can: the embedded
   * store writes its file once for them all. Watchers see the puts before
   * the deletes.
   */
  writeAll(
    puts: ReadonlyArray<readonly [string, string]>,
    deletes: readonly string[],
  ): Promise<void>;
  /**
   * Calls `onEvents` for every change under `prefix` until `signal` aborts.
   * Watchers may miss events while the store is unreachable, so users also
   * re-read periodically.
   */
  watch(prefix: string, onEvents: (events: WatchEvent[]) => void, signal: AbortSignal): void;
  /** Releases connections and files; ephemeral keys of this node go away. */
  close(): Promise<void>;
}

/** The key layout shared by every node of a cluster. */
export const keys = {
  objectPrefix: "/config/objects/",
  object: (name: string) => `/config/objects/${name}`,
  memberPrefix: "/status/members/",
  member: (name: string) => `/status/members/${name}`,
  statusPrefix: "/status/objects/",
  status: (object: string, member: string) => `/status/objects/${object}/${member}`,
  configVersion: "/config/version",
  customDataKindPrefix: "/custom-data-kinds/",
  customDataKind: (kind: string) => `/custom-data-kinds/${kind}`,
  customDataPrefix: "/custom-data/",
  customDataItems: (kind: string) => `/custom-data/${kind}/`,
  customData: (kind: string, id: string) => `/custom-data/${kind}/${id}`,
  wasmPrefix: "/wasm/",
  wasmDataPrefix: "/wasm/data/",
  wasmData: (pipeline: string, filter: string) => `/wasm/data/${pipeline}/${filter}/`,
  wasmCodeEvent: "/wasm/code-event",
  mqttSession: (proxy: string, clientID: string) =>
    `/mqtt/sessions/${proxy}/${encodeURIComponent(clientID)}`,
} as const;
