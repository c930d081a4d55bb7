/**
 * Membership and status on any {@linkcode Store}: each member keeps an
 * ephemeral `/status/members/<name>` document fresh (the heartbeat) and
 * writes the status of the objects it runs to
 * `/status/objects/<object>/<member>` (the status sync). A member whose
 * heartbeat is older than the lease TTL is reported as not alive; its keys
 * stay until its lease ends or someone purges it.
 *
 * Documents are JSON (which YAML readers also accept).
 *
 * @module
 */

import { keys, type Store } from "./store.ts";
import type { EtcdStore } from "./etcd_store.ts";
import { sleep } from "../filters/sleep.ts";

/** The document a member's heartbeat writes to `/status/members/<name>`. */
export interface MemberStatus {
  /** The member's name (also the key's last segment). */
  readonly name: string;
  /** `primary`, `secondary` or `standalone`. */
  readonly role: string;
  /** Host and port of the member's admin API. */
  readonly apiAddr: string;
  /** When the heartbeat was written, RFC 3339 in UTC. */
  readonly lastHeartbeatTime: string;
  /** The member's startup options, for `member list`. */
  readonly options: Readonly<Record<string, unknown>>;
  /** More fields, e.g. `etcd: {id, state}` for a primary. */
  readonly [field: string]: unknown;
}

/** A member as {@linkcode listMembers} reports it. */
export interface MemberInfo extends MemberStatus {
  /** The heartbeat is younger than the lease TTL. */
  readonly alive: boolean;
  /** Set when the stored document could not be read; the other fields are then blank. */
  readonly error?: string;
}

/** Options for {@linkcode runHeartbeat}. */
export interface HeartbeatOptions {
  name: string;
  role: string;
  apiAddr: string;
  /** The member's startup options. @default {} */
  options?: Record<string, unknown>;
  /** The node's id across restarts (see {@linkcode findLiveNamesake}). @default none */
  nodeId?: string;
  /** Extra fields computed at each beat (e.g. etcd state). @default none */
  extra?: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Time between beats. @default 5000 */
  intervalMs?: number;
  /** Stops the heartbeat. */
  signal: AbortSignal;
  /** Called when a beat fails (e.g. store unavailable); beating goes on. @default console.error */
  onError?: (error: unknown) => void;
}

/**
 * Writes this member's status document now and every `intervalMs` until
 * `signal` aborts; resolves once the last write has finished. The key is
 * ephemeral, so it disappears with the member's session.
 */
export async function runHeartbeat(store: Store, options: HeartbeatOptions): Promise<void> {
  const { intervalMs = 5_000, signal, onError = logError("heartbeat") } = options;
  assertName(options.name, "member name");
  await runPeriodically(() => writeHeartbeat(store, options), {
    intervalMs,
    signal,
    onError,
    immediately: true,
  });
}

/** Writes one heartbeat document for the member described by `options`. */
export async function writeHeartbeat(
  store: Store,
  options: Omit<HeartbeatOptions, "signal" | "intervalMs" | "onError">,
): Promise<void> {
  const extra = options.extra ? await options.extra() : {};
  const status: MemberStatus = {
    ...extra,
    name: options.name,
    role: options.role,
    apiAddr: options.apiAddr,
    lastHeartbeatTime: rfc3339(new Date()),
    ...(options.nodeId ? { nodeId: options.nodeId } : {}),
    options: options.options ?? {},
  };
  await store.put(keys.member(options.name), JSON.stringify(status), { ephemeral: true });
}

/**
 * Every member document, sorted by name, each marked `alive` when its
 * heartbeat is younger than `leaseTtlMs`. Unreadable documents are listed
 * with `error` set and `alive: false` rather than hiding the member.
 */
export async function listMembers(
  store: Store,
  leaseTtlMs: number,
  options: { now?: number } = {},
): Promise<MemberInfo[]> {
  const { now = Date.now() } = options;
  const found = await store.range(keys.memberPrefix);
  return found.map(({ key, value }) => {
    const name = key.slice(keys.memberPrefix.length);
    try {
      const status = parseMemberStatus(value);
      const beat = Date.parse(status.lastHeartbeatTime);
      return { ...status, name, alive: now - beat < leaseTtlMs };
    } catch (error) {
      return {
        name,
        role: "",
        apiAddr: "",
        lastHeartbeatTime: "",
        options: {},
        alive: false,
        error: `${key}: ${error instanceof Error ? error.message : error}`,
      };
    }
  });
}

/**
 * Another node running under `name`: a member document fresher than
 * `aliveMs` whose `nodeId` is not `nodeId`. A document without an id is
 * not counted: it may be this node's own, from before a restart.
 */
export async function findLiveNamesake(
  store: Store,
  name: string,
  nodeId: string,
  aliveMs: number,
  options: { now?: number } = {},
): Promise<MemberStatus | undefined> {
  const { now = Date.now() } = options;
  const found = await store.get(keys.member(name));
  if (!found) return undefined;
  let status: MemberStatus;
  try {
    status = parseMemberStatus(found.value);
  } catch {
    return undefined;
  }
  const fresh = now - Date.parse(status.lastHeartbeatTime) < aliveMs;
  const otherNode = typeof status.nodeId === "string" && status.nodeId !== nodeId;
  return fresh && otherNode ? status : undefined;
}

function parseMemberStatus(text: string): MemberStatus {
  const doc: unknown = JSON.parse(text);
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new SyntaxError("member status is not an object");
  }
  const status = doc as Record<string, unknown>;
  for (const field of ["role", "apiAddr", "lastHeartbeatTime"] as const) {
    if (typeof status[field] !== "string") throw new SyntaxError(`${field} is not a string`);
  }
  if (Number.isNaN(Date.parse(status.lastHeartbeatTime as string))) {
    throw new SyntaxError(`lastHeartbeatTime "${status.lastHeartbeatTime}" is not a time`);
  }
  return { options: {}, ...status } as MemberStatus;
}

/**
 * Removes a member's status document, every object status it wrote and its etcd member
 * (`egctl member purge`, once the node is gone for good). Returns whether
 * the member document or its etcd member existed.
 */
export async function purgeMember(store: Store, name: string): Promise<boolean> {
  assertName(name, "member name");
  const existed = await store.delete(keys.member(name));
  const suffix = `/${name}`;
  for (const { key } of await store.range(keys.statusPrefix)) {
    if (key.endsWith(suffix)) await store.delete(key);
  }
  // A purged primary leaves etcd's membership too, as in Easegress: else
  // quorum goes on counting a node that is gone. Never this node's own.
  const etcd = store as Partial<EtcdStore>;
  const removed = typeof etcd.removeEtcdMember === "function" && etcd.memberName !== name &&
    await etcd.removeEtcdMember(name);
  return existed || removed;
}

/** Options for {@linkcode runStatusSync}. */
export interface StatusSyncOptions {
  /** This member's name: the last segment of every status key. */
  member: string;
  /**
   * The statuses to publish, by object (`<name>`, or `<namespace>/<name>`
   * for traffic objects). Each gets a `timestamp` (unix seconds).
   */
  collect: () =>
    | ReadonlyMap<string, Record<string, unknown>>
    | Promise<ReadonlyMap<string, Record<string, unknown>>>;
  /** Time between syncs; syncs run at wall-clock multiples of it. @default 5000 */
  intervalMs?: number;
  /** Statuses written at once (Easegress's status-update-max-batch-size). @default 20 */
  batchSize?: number;
  /** Stops the sync. */
  signal: AbortSignal;
  /** Called when a sync fails; syncing goes on. @default console.error */
  onError?: (error: unknown) => void;
}

/**
 * Publishes this member's object statuses now and every `intervalMs` until
 * `signal` aborts, deleting the keys of objects that are gone (including,
 * on the first sync, any left by an earlier run of this member). Resolves
 * once the last sync has finished.
 */
export async function runStatusSync(store: Store, options: StatusSyncOptions): Promise<void> {
  const {
    member,
    collect,
    intervalMs = 5_000,
    batchSize = 20,
    signal,
    onError = logError("status sync"),
  } = options;
  assertName(member, "member name");
  let published: Set<string> | undefined;
  await runPeriodically(async () => {
    published ??= await publishedObjects(store, member);
    published = await syncStatuses(store, member, await collect(), published, batchSize);
  }, { intervalMs, signal, onError, immediately: true, aligned: true });
}

/**
 * Writes one round of statuses, `batchSize` at once, and deletes those of
 * objects in `previous` that are no longer reported; returns the objects
 * written, to pass as `previous` next time.
 */
export async function syncStatuses(
  store: Store,
  member: string,
  statuses: ReadonlyMap<string, Record<string, unknown>>,
  previous: ReadonlySet<string> = new Set(),
  batchSize = 20,
): Promise<Set<string>> {
  const timestamp = Math.floor(Date.now() / 1000);
  const written = new Set<string>();
  const all = [...statuses];
  for (let at = 0; at < all.length; at += batchSize) {
    await Promise.all(
      all.slice(at, at + batchSize).map(([object, status]) =>
        store.put(keys.status(object, member), JSON.stringify({ ...status, timestamp }), {
          ephemeral: true,
        })
      ),
    );
    for (const [object] of all.slice(at, at + batchSize)) written.add(object);
  }
  for (const object of previous) {
    if (!written.has(object)) await store.delete(keys.status(object, member));
  }
  return written;
}

/** Objects that have a status key of `member` in the store. */
async function publishedObjects(store: Store, member: string): Promise<Set<string>> {
  const suffix = `/${member}`;
  const objects = new Set<string>();
  for (const { key } of await store.range(keys.statusPrefix)) {
    if (key.endsWith(suffix)) {
      objects.add(key.slice(keys.statusPrefix.length, key.length - suffix.length));
    }
  }
  return objects;
}

interface PeriodicOptions {
  intervalMs: number;
  signal: AbortSignal;
  onError: (error: unknown) => void;
  /** Run once before the first wait. */
  immediately?: boolean;
  /** Wake at wall-clock multiples of the interval, as Easegress does. */
  aligned?: boolean;
}

/** Runs `task` every interval until the signal aborts; one run at a time. */
async function runPeriodically(task: () => Promise<void>, options: PeriodicOptions) {
  const { intervalMs, signal, onError, immediately = false, aligned = false } = options;
  if (!(intervalMs > 0)) throw new RangeError(`interval ${intervalMs} ms is not > 0`);
  const runTask = async () => {
    try {
      await task();
    } catch (error) {
      onError(error);
    }
  };
  if (immediately && !signal.aborted) await runTask();
  while (!signal.aborted) {
    const delay = aligned ? intervalMs - (Date.now() % intervalMs) : intervalMs;
    if (!await sleep(delay, signal)) break;
    await runTask();
  }
}

/** RFC 3339 in UTC with whole seconds, as Go's time.RFC3339 prints it. */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function assertName(name: string, what: string): void {
  if (typeof name !== "string" || name === "" || name.includes("/")) {
    throw new TypeError(`Invalid ${what} "${name}": must be non-empty without "/"`);
  }
}

function logError(what: string): (error: unknown) => void {
  return (error) => console.error(`${what} failed:`, error);
}
