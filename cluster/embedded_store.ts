/**
 * The standalone node's store: every persistent key in one JSON file in the
 * data dir, rewritten atomically on each write, so a write that was
 * acknowledged survives `kill -9` and a power cut. Ephemeral keys live in
 * memory only: they vanish with the process, which is what "ephemeral" means
 * for a single node.
 *
 * File: `<dataDir>/store.json` =
 * `{"format": 1, "revision": n, "keys": {"<key>": {"value": "…", "revision": n}}}`.
 * Lock: `<dataDir>/store.lock`, held with an exclusive `flock` while open, so
 * two nodes can never write the same data dir.
 *
 * @module
 */

import type { KeyValue, PutOptions, Store, WatchEvent } from "./store.ts";
import { writeAll } from "../filters/write_all.ts";

/** The store file's name inside the data dir. */
export const STORE_FILE_NAME = "store.json";
/** The lock file's name inside the data dir. */
export const LOCK_FILE_NAME = "store.lock";
const FORMAT_VERSION = 1;

interface Entry {
  readonly value: string;
  readonly revision: number;
  readonly ephemeral: boolean;
}

interface Watcher {
  readonly prefix: string;
  readonly onEvents: (events: WatchEvent[]) => void;
}

/**
 * Opens (creating if needed) the embedded store in `dataDir`.
 *
 * Throws when another process (or another open store in this process) holds
 * the data dir, and when `store.json` cannot be parsed: a damaged file is
 * left in place and named in the error, never replaced by an empty store.
 */
export async function openEmbeddedStore(dataDir: string): Promise<Store> {
  if (typeof dataDir !== "string" || dataDir === "") {
    throw new TypeError("Cannot open embedded store: dataDir is empty");
  }
  await Deno.mkdir(dataDir, { recursive: true });
  const lock = await acquireLock(joinPath(dataDir, LOCK_FILE_NAME));
  try {
    const filePath = joinPath(dataDir, STORE_FILE_NAME);
    // A temp file left by a crash mid-write was never renamed into place,
    // so it holds nothing that was acknowledged.
    await Deno.remove(`${filePath}.tmp`).catch(() => {});
    const { revision, entries } = await loadStoreFile(filePath);
    return new EmbeddedStore(dataDir, filePath, lock, revision, entries);
  } catch (error) {
    lock.close();
    throw error;
  }
}

async function acquireLock(lockPath: string): Promise<Deno.FsFile> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(lockPath, { read: true, write: true, create: true });
  } catch (error) {
    // Mostly a data dir the node cannot write to: the bare OS error named no store.
    throw new Error(
      `Cannot open embedded store: cannot open its lock file "${lockPath}" (the data dir ` +
        `must be writable): ${errorMessage(error)}`,
      { cause: error },
    );
  }
  let locked = false;
  try {
    locked = await file.tryLock(true);
  } catch (error) {
    file.close();
    throw new Error(`Cannot lock "${lockPath}": ${errorMessage(error)}`, { cause: error });
  }
  if (!locked) {
    file.close();
    throw new Error(
      `Cannot open embedded store: data dir is in use by another node (lock "${lockPath}" is held)`,
    );
  }
  // The pid is for people looking at the dir; the flock is what protects it.
  await file.truncate(0);
  await writeAll(file, new TextEncoder().encode(`${Deno.pid}\n`));
  return file;
}

async function loadStoreFile(
  filePath: string,
): Promise<{ revision: number; entries: Map<string, Entry> }> {
  let text: string;
  try {
    text = await Deno.readTextFile(filePath);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { revision: 0, entries: new Map() };
    throw new Error(`Cannot read store file "${filePath}": ${errorMessage(error)}`, {
      cause: error,
    });
  }
  try {
    return parseStoreFile(text);
  } catch (error) {
    throw new Error(
      `Cannot open embedded store: "${filePath}" is corrupt (${errorMessage(error)}); ` +
        "it was left untouched: restore it from a backup, or move it away to start empty",
      { cause: error },
    );
  }
}

function parseStoreFile(text: string): { revision: number; entries: Map<string, Entry> } {
  const doc: unknown = JSON.parse(text);
  if (!isPlainObject(doc)) throw new SyntaxError("top level is not an object");
  if (doc.format !== FORMAT_VERSION) {
    throw new SyntaxError(`format is ${JSON.stringify(doc.format)}, want ${FORMAT_VERSION}`);
  }
  if (!isRevision(doc.revision)) throw new SyntaxError("revision is not a non-negative integer");
  if (!isPlainObject(doc.keys)) throw new SyntaxError("keys is not an object");
  let revision = doc.revision;
  const entries = new Map<string, Entry>();
  for (const [key, raw] of Object.entries(doc.keys)) {
    if (!isPlainObject(raw) || typeof raw.value !== "string" || !isRevision(raw.revision)) {
      throw new SyntaxError(`keys[${JSON.stringify(key)}] is not {value: string, revision: int}`);
    }
    entries.set(key, { value: raw.value, revision: raw.revision, ephemeral: false });
    if (raw.revision > revision) revision = raw.revision;
  }
  return { revision, entries };
}

function isRevision(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Pending changes of one write: a new entry, or undefined for a delete. */
type Changes = ReadonlyMap<string, Entry | undefined>;

class EmbeddedStore implements Store {
  readonly name = "embedded";
  readonly #dataDir: string;
  readonly #filePath: string;
  readonly #lock: Deno.FsFile;
  readonly #entries: Map<string, Entry>;
  readonly #watchers = new Map<Watcher, () => void>();
  #revision: number;
  /** Tail of the write queue: writes run one at a time, in call order. */
  #writeQueue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(
    dataDir: string,
    filePath: string,
    lock: Deno.FsFile,
    revision: number,
    entries: Map<string, Entry>,
  ) {
    this.#dataDir = dataDir;
    this.#filePath = filePath;
    this.#lock = lock;
    this.#revision = revision;
    this.#entries = entries;
  }

  get(key: string): Promise<KeyValue | undefined> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const entry = this.#entries.get(key);
    return Promise.resolve(entry && toKeyValue(key, entry));
  }

  range(prefix: string): Promise<KeyValue[]> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const found: KeyValue[] = [];
    for (const [key, entry] of this.#entries) {
      if (key.startsWith(prefix)) found.push(toKeyValue(key, entry));
    }
    found.sort(byKey);
    return Promise.resolve(found);
  }

  async put(key: string, value: string, options: PutOptions = {}): Promise<boolean> {
    assertKey(key);
    if (typeof value !== "string") {
      throw new TypeError(`Cannot put "${key}": value is not a string`);
    }
    const { expectRevision, ephemeral = false } = options;
    return await this.#serialize(async () => {
      const current = this.#entries.get(key);
      if (expectRevision !== undefined && (current?.revision ?? 0) !== expectRevision) return false;
      const revision = this.#revision + 1;
      const changes: Changes = new Map([[key, { value, revision, ephemeral }]]);
      await this.#commit(changes, revision, [{ type: "put", key, value }]);
      return true;
    });
  }

  async delete(key: string, options: { expectRevision?: number } = {}): Promise<boolean> {
    assertKey(key);
    return await this.#serialize(async () => {
      const current = this.#entries.get(key);
      if (current === undefined) return false;
      if (options.expectRevision !== undefined && current.revision !== options.expectRevision) {
        return false;
      }
      const changes: Changes = new Map([[key, undefined]]);
      await this.#commit(changes, this.#revision + 1, [{ type: "delete", key }]);
      return true;
    });
  }

  async deletePrefix(prefix: string): Promise<number> {
    return await this.#serialize(async () => {
      const changes = new Map<string, undefined>();
      const events: WatchEvent[] = [];
      for (const key of this.#entries.keys()) {
        if (!key.startsWith(prefix)) continue;
        changes.set(key, undefined);
        events.push({ type: "delete", key });
      }
      if (changes.size === 0) return 0;
      await this.#commit(changes, this.#revision + 1, events);
      return changes.size;
    });
  }

  async writeAll(
    puts: ReadonlyArray<readonly [string, string]>,
    deletes: readonly string[],
  ): Promise<void> {
    for (const [key, value] of puts) {
      assertKey(key);
      if (typeof value !== "string") {
        throw new TypeError(`Cannot put "${key}": value is not a string`);
      }
    }
    for (const key of deletes) assertKey(key);
    await this.#serialize(async () => {
      // One file write for them all: a file write per key made a batch of
      // thousands of custom data items take minutes.
      const revision = this.#revision + 1;
      const changes = new Map<string, Entry | undefined>();
      const events: WatchEvent[] = [];
      for (const [key, value] of puts) {
        changes.set(key, { value, revision, ephemeral: false });
        events.push({ type: "put", key, value });
      }
      for (const key of deletes) {
        if (!this.#entries.has(key) && !changes.has(key)) continue;
        changes.set(key, undefined);
        events.push({ type: "delete", key });
      }
      if (changes.size > 0) await this.#commit(changes, revision, events);
    });
  }

  watch(prefix: string, onEvents: (events: WatchEvent[]) => void, signal: AbortSignal): void {
    if (this.#closed) throw this.#closedError();
    if (signal.aborted) return;
    const watcher: Watcher = { prefix, onEvents };
    const stop = () => {
      this.#watchers.delete(watcher);
      signal.removeEventListener("abort", stop);
    };
    signal.addEventListener("abort", stop, { once: true });
    this.#watchers.set(watcher, stop);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Let acknowledged-but-queued writes finish before the lock goes.
    await this.#writeQueue.catch(() => {});
    for (const stop of [...this.#watchers.values()]) stop();
    this.#entries.clear();
    this.#lock.close();
  }

  #closedError(): Error {
    return new Error(`Cannot use embedded store "${this.#dataDir}": it is closed`);
  }

  /** Queues a write behind the ones already accepted (close() lets them finish). */
  #serialize<T>(write: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const result = this.#writeQueue.then(write);
    this.#writeQueue = result.catch(() => {});
    return result;
  }

  /**
   * Makes `changes` durable (when they touch persistent keys), then applies
   * them in memory and tells the watchers. Memory changes only after the
   * file is safely renamed, so a failed write leaves no trace.
   */
  async #commit(changes: Changes, revision: number, events: WatchEvent[]): Promise<void> {
    if (this.#touchesDisk(changes)) await this.#persist(changes, revision);
    for (const [key, entry] of changes) {
      if (entry === undefined) this.#entries.delete(key);
      else this.#entries.set(key, entry);
    }
    this.#revision = revision;
    this.#notify(events);
  }

  #touchesDisk(changes: Changes): boolean {
    for (const [key, entry] of changes) {
      if (entry !== undefined && !entry.ephemeral) return true;
      const current = this.#entries.get(key);
      if (current !== undefined && !current.ephemeral) return true;
    }
    return false;
  }

  async #persist(changes: Changes, revision: number): Promise<void> {
    const persisted: Record<string, { value: string; revision: number }> = {};
    const keys: string[] = [];
    for (const [key, entry] of this.#entries) {
      if (!entry.ephemeral && !changes.has(key)) keys.push(key);
    }
    for (const [key, entry] of changes) {
      if (entry !== undefined && !entry.ephemeral) keys.push(key);
    }
    keys.sort();
    for (const key of keys) {
      const entry = changes.get(key) ?? this.#entries.get(key)!;
      persisted[key] = { value: entry.value, revision: entry.revision };
    }
    const text = JSON.stringify({ format: FORMAT_VERSION, revision, keys: persisted });
    try {
      await writeFileAtomically(this.#filePath, this.#dataDir, new TextEncoder().encode(text));
    } catch (error) {
      // A write error (a full disk) does not say which file it was writing.
      throw new Error(
        `Cannot write store file "${this.#filePath}": ${errorMessage(error)}`,
        { cause: error },
      );
    }
  }

  #notify(events: WatchEvent[]): void {
    for (const watcher of this.#watchers.keys()) {
      const matching = events.filter((event) => event.key.startsWith(watcher.prefix));
      if (matching.length === 0) continue;
      queueMicrotask(() => {
        if (!this.#watchers.has(watcher)) return;
        try {
          watcher.onEvents(matching);
        } catch (error) {
          // One faulty watcher must not break the writer or other watchers.
          console.error(`embedded store: watcher of "${watcher.prefix}" threw:`, error);
        }
      });
    }
  }
}

/**
 * Writes a temp file, fsyncs it, renames it over `path` and fsyncs the
 * directory: after this resolves the new content survives a crash, and at
 * no point can a reader see a half-written file.
 */
async function writeFileAtomically(path: string, dir: string, bytes: Uint8Array): Promise<void> {
  const tempPath = `${path}.tmp`;
  const file = await Deno.open(tempPath, { write: true, create: true, truncate: true });
  try {
    await writeAll(file, bytes);
    await file.sync();
  } catch (error) {
    file.close();
    // On a full disk the partial copy would hold on to the space the node's logs need.
    await Deno.remove(tempPath).catch(() => {});
    throw error;
  }
  file.close();
  await Deno.rename(tempPath, path);
  const dirHandle = await Deno.open(dir, { read: true });
  try {
    await dirHandle.sync();
  } finally {
    dirHandle.close();
  }
}

function toKeyValue(key: string, entry: Entry): KeyValue {
  return { key, value: entry.value, revision: entry.revision };
}

function byKey(a: KeyValue, b: KeyValue): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

function assertKey(key: string): void {
  if (typeof key !== "string" || key === "") throw new TypeError("Cannot write key: key is empty");
}

function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
