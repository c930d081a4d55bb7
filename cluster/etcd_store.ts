/**
 * The cluster store: {@linkcode Store} on etcd through `npm:etcd3`.
 *
 * - Every key lives under `/<clusterName>`, so clusters can share one etcd.
 * - Revisions are etcd mod revisions; compare-and-swap is an etcd
 *   transaction comparing the key's mod revision (0 = absent).
 * - Ephemeral keys are bound to this member's lease (TTL a few heartbeats,
 *   kept alive in the background). If the lease is lost (etcd unreachable
 *   for too long), a new one is granted and the ephemeral keys are put again.
 * - Calls give up with {@linkcode StoreUnavailableError} within the request
 *   timeout; calls that are safe to repeat are retried until then.
 * - Watches resume from their last revision when etcd comes back and are
 *   re-created when etcd cancels them (e.g. compacted revision).
 *
 * @module
 */

import { etcdEndpointURL } from "./etcd_url.ts";
import {
  ClientClosedError,
  Etcd3,
  EtcdLeaseInvalidError,
  GRPCUnavailableError,
  type IOptions,
  type IResponseHeader,
  isRecoverableError,
  type Lease,
  type Namespace,
  type PutBuilder,
  type Watcher,
} from "etcd3";
import { campaignOnce, type ElectionContext, LeaseLostError } from "./etcd_election.ts";
import { CircuitOpenError, faultHandling } from "./etcd_fault_handling.ts";
import type { Leadership } from "./leadership.ts";
import {
  type KeyValue,
  type PutOptions,
  type Store,
  StoreUnavailableError,
  type WatchEvent,
} from "./store.ts";

/** Options for {@linkcode openEtcdStore}. */
export interface EtcdStoreOptions {
  /** etcd client URLs, e.g. `["http://127.0.0.1:2379"]`. */
  endpoints: string[];
  /** Every key is stored under `/<clusterName>`. */
  clusterName: string;
  /** This member's name: the value it campaigns with. */
  memberName: string;
  /** TTL of the lease ephemeral keys are bound to, in seconds. @default 10 */
  leaseTtlSeconds?: number;
  /** How long one store call may take before StoreUnavailableError. @default 10000 */
  requestTimeoutMs?: number;
  /** Largest request sent, in bytes (Easegress's max-call-send-msg-size). @default 10 MiB */
  maxSendBytes?: number;
}

/** A {@linkcode Store} on etcd, plus leader election. */
export interface EtcdStore extends Store {
  /** This member's name. */
  readonly memberName: string;
  /**
   * Waits until this member leads the election `electionName` (one leader
   * per cluster), retrying through etcd outages. Rejects with
   * `signal.reason` if `signal` aborts first; aborting later resigns.
   */
  campaign(electionName: string, signal: AbortSignal): Promise<Leadership>;
  /**
   * Removes the etcd member named `name` from etcd's own membership (a
   * primary purged for good), so quorum no longer counts it. Returns
   * whether there was one.
   */
  removeEtcdMember(name: string): Promise<boolean>;
}

const MAX_SEND_BYTES = 10 * 1024 * 1024; // Easegress's max-call-send-msg-size
const RETRY_PAUSE_MIN_MS = 50;
const RETRY_PAUSE_MAX_MS = 500;
const WATCH_RECREATE_MS = 1_000;
const RESTORE_PAUSE_MAX_MS = 5_000;
const CAMPAIGN_RETRY_MS = 1_000;

/**
 * Connects to etcd and checks it answers within the request timeout
 * (StoreUnavailableError if not). Keys are namespaced by `clusterName`.
 */
export async function openEtcdStore(options: EtcdStoreOptions): Promise<EtcdStore> {
  const { endpoints, clusterName, memberName, leaseTtlSeconds = 10, requestTimeoutMs = 10_000 } =
    options;
  if (!Array.isArray(endpoints) || endpoints.length === 0) {
    throw new TypeError("Cannot open etcd store: endpoints is empty");
  }
  if (!clusterName || clusterName.includes("/")) {
    throw new TypeError(`Cannot open etcd store: clusterName "${clusterName}" is empty or has "/"`);
  }
  if (!memberName) throw new TypeError("Cannot open etcd store: memberName is empty");
  if (!Number.isInteger(leaseTtlSeconds) || leaseTtlSeconds < 2) {
    throw new RangeError(`Cannot open etcd store: leaseTtlSeconds ${leaseTtlSeconds} is not >= 2`);
  }
  if (!(requestTimeoutMs > 0)) {
    throw new RangeError(`Cannot open etcd store: requestTimeoutMs ${requestTimeoutMs} is not > 0`);
  }
  const store = new EtcdClusterStore({
    endpoints,
    clusterName,
    memberName,
    leaseTtlSeconds,
    requestTimeoutMs,
    maxSendBytes: options.maxSendBytes ?? MAX_SEND_BYTES,
  });
  try {
    await store.get("/"); // learns the current revision, proves etcd answers
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/** What went wrong with one etcd call, for deciding whether to try again. */
type Failure =
  /** Certainly not applied (no connection, breaker open, no leader): repeat freely. */
  | "not-sent"
  /** Maybe applied (timeout, connection lost mid-call): repeat reads only. */
  | "unknown-outcome"
  /** A real error answer: do not repeat. */
  | "rejected";

/** Ends the error of a write whose outcome etcd did not say. */
const UNSURE_WRITE_NOTE =
  "; it may still take effect once etcd recovers: read it back before trying again";

function classify(error: unknown): Failure {
  if (!(error instanceof Error)) return "rejected";
  if (error instanceof CircuitOpenError || error instanceof EtcdLeaseInvalidError) {
    return "not-sent";
  }
  if (
    error instanceof GRPCUnavailableError &&
    /No connection established|ECONNREFUSED|no leader/i.test(error.message)
  ) return "not-sent";
  if (isRecoverableError(error)) return "unknown-outcome";
  return "rejected";
}

interface ResolvedOptions {
  endpoints: string[];
  clusterName: string;
  memberName: string;
  leaseTtlSeconds: number;
  requestTimeoutMs: number;
  maxSendBytes: number;
}

class EtcdClusterStore implements EtcdStore {
  readonly name = "etcd";
  readonly memberName: string;
  readonly #options: ResolvedOptions;
  readonly #client: Etcd3;
  /** All of this cluster's keys: `/<clusterName>` + key. */
  readonly #ns: Namespace;
  /** Aborts on close: ends retry pauses, restore loops and watches. */
  readonly #closing = new AbortController();
  /** Ephemeral keys this member wrote, to put again under a new lease. */
  readonly #ephemeral = new Map<string, string>();
  readonly #watchers = new Set<Watcher>();
  readonly #leaderships = new Set<Leadership>();
  /** Watch cancellations and campaigns in flight, awaited by close(). */
  readonly #pending = new Set<Promise<void>>();
  readonly #electionContext: ElectionContext;
  #lease: Lease | undefined;
  #restoreNeeded = false;
  #restoring: Promise<void> | undefined;
  /** The highest etcd revision seen; new watches start after it. */
  #revision = 0;
  #closed = false;

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.memberName = options.memberName;
    const { requestTimeoutMs } = options;
    const clientOptions: IOptions = {
      hosts: options.endpoints.map(etcdEndpointURL),
      dialTimeout: requestTimeoutMs,
      grpcOptions: {
        "grpc.max_send_message_length": options.maxSendBytes,
        "grpc.max_receive_message_length": -1,
        // Find a dead etcd under an idle watch stream.
        "grpc.keepalive_time_ms": 10_000,
        "grpc.keepalive_timeout_ms": Math.min(requestTimeoutMs, 10_000),
      },
      // Streams (watch, lease keepalive) have no deadline; every unary call
      // the library makes on its own (lease grant, revoke, elections) does.
      defaultCallOptions: (context) =>
        context.isStream ? {} : { deadline: Date.now() + requestTimeoutMs },
      faultHandling: faultHandling(),
    };
    this.#client = new Etcd3(clientOptions);
    this.#ns = this.#client.namespace(`/${options.clusterName}`);
    this.#electionContext = {
      ns: this.#ns,
      leaseTtlSeconds: options.leaseTtlSeconds,
      call: (kind, what, request) => this.#call(kind, what, request),
      watchFrom: (prefix, startRevision, onEvents, signal) =>
        this.#startWatch(prefix, onEvents, signal, startRevision),
    };
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const response = await this.#call(
      "read",
      `get "${key}"`,
      (deadline) => this.#ns.get(key).options({ deadline }).exec(),
    );
    this.#noteRevision(response.header);
    const kv = response.kvs[0];
    return kv && { key, value: kv.value.toString(), revision: Number(kv.mod_revision) };
  }

  async range(prefix: string): Promise<KeyValue[]> {
    const response = await this.#call("read", `range "${prefix}"`, (deadline) => {
      const builder = this.#ns.getAll().sort("Key", "Ascend").options({ deadline });
      return (prefix === "" ? builder : builder.prefix(prefix)).exec();
    });
    this.#noteRevision(response.header);
    return response.kvs.map((kv) => ({
      key: kv.key.toString(),
      value: kv.value.toString(),
      revision: Number(kv.mod_revision),
    }));
  }

  async put(key: string, value: string, options: PutOptions = {}): Promise<boolean> {
    assertKey(key);
    if (typeof value !== "string") {
      throw new TypeError(`Cannot put "${key}": value is not a string`);
    }
    const { expectRevision, ephemeral = false } = options;
    const written = await this.#call("write", `put "${key}"`, async (deadline) => {
      const lease = ephemeral ? this.#grantedLease() : undefined;
      try {
        const leaseId = lease && await lease.grant();
        const put = this.#ns.put(key).value(value);
        if (leaseId) put.lease(leaseId);
        if (expectRevision === undefined) {
          this.#noteRevision((await put.options({ deadline }).exec()).header);
          return true;
        }
        return await this.#commitIf(key, expectRevision, put, deadline);
      } catch (error) {
        if (error instanceof EtcdLeaseInvalidError && lease) this.#dropLease(lease);
        throw error;
      }
    });
    if (written) {
      if (ephemeral) this.#ephemeral.set(key, value);
      else this.#ephemeral.delete(key);
    }
    return written;
  }

  async delete(key: string, options: { expectRevision?: number } = {}): Promise<boolean> {
    assertKey(key);
    const { expectRevision } = options;
    if (expectRevision === 0) return false; // "only if absent" never deletes anything
    const deleted = await this.#call("write", `delete "${key}"`, async (deadline) => {
      if (expectRevision === undefined) {
        const response = await this.#ns.delete().key(key).options({ deadline }).exec();
        this.#noteRevision(response.header);
        return Number(response.deleted) > 0;
      }
      const response = await this.#ns.if(key, "Mod", "==", expectRevision)
        .then(this.#ns.delete().key(key))
        .options({ deadline })
        .commit();
      this.#noteRevision(response.header);
      const deletedCount = response.responses[0]?.response_delete_range?.deleted;
      return response.succeeded && Number(deletedCount) > 0;
    });
    if (deleted) this.#ephemeral.delete(key);
    return deleted;
  }

  async deletePrefix(prefix: string): Promise<number> {
    const count = await this.#call("write", `delete prefix "${prefix}"`, async (deadline) => {
      const builder = this.#ns.delete().options({ deadline });
      const response = await (prefix === "" ? builder.all() : builder.prefix(prefix)).exec();
      this.#noteRevision(response.header);
      return Number(response.deleted);
    });
    for (const key of [...this.#ephemeral.keys()]) {
      if (key.startsWith(prefix)) this.#ephemeral.delete(key);
    }
    return count;
  }

  /** One request per key: etcd's writes are cheap, and a transaction takes 128 operations at most. */
  async writeAll(
    puts: ReadonlyArray<readonly [string, string]>,
    deletes: readonly string[],
  ): Promise<void> {
    for (const [key, value] of puts) await this.put(key, value);
    for (const key of deletes) await this.delete(key);
  }

  watch(prefix: string, onEvents: (events: WatchEvent[]) => void, signal: AbortSignal): void {
    if (this.#closed) throw this.#closedError();
    if (signal.aborted) return;
    // etcd registers the watch asynchronously; starting after the last
    // revision we saw makes sure writes made after this call are not missed.
    this.#startWatch(prefix, onEvents, signal, this.#revision + 1);
  }

  async campaign(electionName: string, signal: AbortSignal): Promise<Leadership> {
    if (!electionName || electionName.includes("/")) {
      throw new TypeError(`Cannot campaign: election name "${electionName}" is empty or has "/"`);
    }
    const campaignSignal = AbortSignal.any([signal, this.#closing.signal]);
    for (;;) {
      signal.throwIfAborted();
      if (this.#closed) throw this.#closedError();
      const attempt = campaignOnce(this.#electionContext, {
        election: electionName,
        candidate: this.memberName,
        signal: campaignSignal,
      });
      this.#track(attempt);
      try {
        const leadership = await attempt;
        this.#leaderships.add(leadership);
        leadership.lost.addEventListener("abort", () => this.#leaderships.delete(leadership));
        return leadership;
      } catch (error) {
        signal.throwIfAborted();
        if (this.#closed) throw this.#closedError();
        const retryable = error instanceof StoreUnavailableError ||
          error instanceof LeaseLostError || classify(error) !== "rejected";
        if (!retryable) throw error;
        // etcd unreachable or the campaign's lease lost: stand again shortly.
        await pause(CAMPAIGN_RETRY_MS, this.#closing.signal, signal);
      }
    }
  }

  async removeEtcdMember(name: string): Promise<boolean> {
    const list = await this.#call(
      "read",
      "member list",
      (deadline) => this.#client.cluster.memberList({ linearizable: true }, { deadline }),
    );
    const member = list.members.find((m) => m.name === name);
    if (!member) return false;
    await this.#call(
      "write",
      `remove etcd member ${name}`,
      (deadline) => this.#client.cluster.memberRemove({ ID: member.ID }, { deadline }),
    );
    return true;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Ends retry pauses, pending campaigns, the restore loop and watches.
    this.#closing.abort(new Error("etcd store closed"));
    await Promise.allSettled([...this.#leaderships].map((leadership) => leadership.resign()));
    // Watch cancellations and campaign clean-ups must finish before the
    // client closes, or the library keeps reconnecting a closed client.
    await withTimeout(Promise.allSettled([...this.#pending]), this.#options.requestTimeoutMs)
      .catch(() => {});
    await this.#restoring;
    const lease = this.#lease;
    this.#lease = undefined;
    // Revoking drops our ephemeral keys now rather than after the TTL.
    if (lease) await lease.revoke().catch(() => {});
    this.#ephemeral.clear();
    this.#client.close();
  }

  /** Remembers work close() must wait for. */
  #track(work: Promise<unknown>): void {
    const settled = work.then(() => {}, () => {}).finally(() => this.#pending.delete(settled));
    this.#pending.add(settled);
  }

  #closedError(): Error {
    return new Error(
      `Cannot use etcd store of cluster "${this.#options.clusterName}": it is closed`,
    );
  }

  /**
   * Runs one etcd request with an overall deadline, repeating it after
   * failures that are safe to repeat; anything that looks like an
   * unreachable etcd ends as StoreUnavailableError by the deadline.
   */
  async #call<T>(
    kind: "read" | "write",
    what: string,
    request: (deadline: number) => Promise<T>,
  ): Promise<T> {
    const deadline = Date.now() + this.#options.requestTimeoutMs;
    for (let attempt = 0;; attempt++) {
      if (this.#closed) throw this.#closedError();
      let failure: Failure;
      let cause: unknown;
      try {
        // A backstop in case some library path ignores the gRPC deadline.
        return await withTimeout(request(deadline), deadline - Date.now() + 1_000);
      } catch (error) {
        if (error instanceof ClientClosedError || this.#closed) throw this.#closedError();
        cause = error;
        failure = error instanceof TimeoutError ? "unknown-outcome" : classify(error);
      }
      if (failure === "rejected") throw cause;
      const pauseMs = Math.min(RETRY_PAUSE_MIN_MS * 2 ** attempt, RETRY_PAUSE_MAX_MS);
      const unsure = failure === "unknown-outcome" && kind === "write";
      if (unsure || Date.now() + pauseMs >= deadline) {
        throw new StoreUnavailableError(
          `Cannot ${what}: etcd at ${this.#options.endpoints.join(",")} is unavailable ` +
            `(${cause instanceof Error ? cause.message : cause})` +
            // etcd may have taken the write before it failed to answer (a
            // leader that lost its quorum commits it once the quorum is back).
            (unsure ? UNSURE_WRITE_NOTE : ""),
          { cause },
        );
      }
      await pause(pauseMs, this.#closing.signal);
    }
  }

  async #commitIf(
    key: string,
    expectRevision: number,
    put: PutBuilder,
    deadline: number,
  ): Promise<boolean> {
    const response = await this.#ns.if(key, "Mod", "==", expectRevision)
      .then(put)
      .options({ deadline })
      .commit();
    this.#noteRevision(response.header);
    return response.succeeded;
  }

  #noteRevision(header: IResponseHeader | undefined): void {
    const revision = Number(header?.revision ?? 0);
    if (revision > this.#revision) this.#revision = revision;
  }

  /** The current session lease, granting a new one if there is none. */
  #grantedLease(): Lease {
    if (this.#lease && !this.#lease.revoked()) return this.#lease;
    const lease = this.#ns.lease(this.#options.leaseTtlSeconds, { autoKeepAlive: true });
    lease.on("lost", () => this.#dropLease(lease));
    this.#lease = lease;
    return lease;
  }

  /** Forgets a lost lease; the ephemeral keys it held are put again under a new one. */
  #dropLease(lease: Lease): void {
    if (this.#lease !== lease) return;
    this.#lease = undefined;
    lease.release();
    if (this.#closed || this.#ephemeral.size === 0) return;
    this.#restoreNeeded = true;
    this.#restoring ??= this.#restoreEphemeral().finally(() => this.#restoring = undefined);
  }

  async #restoreEphemeral(): Promise<void> {
    let failures = 0;
    while (this.#restoreNeeded && !this.#closed) {
      this.#restoreNeeded = false;
      try {
        for (const [key, value] of [...this.#ephemeral]) {
          // Only still-ephemeral keys: a later write may have changed them.
          if (this.#ephemeral.get(key) === value) await this.put(key, value, { ephemeral: true });
        }
        failures = 0;
      } catch {
        this.#restoreNeeded = true;
        failures++;
        const pauseMs = Math.min(RETRY_PAUSE_MAX_MS * 2 ** failures, RESTORE_PAUSE_MAX_MS);
        await pause(pauseMs, this.#closing.signal).catch(() => {});
      }
    }
  }

  #startWatch(
    prefix: string,
    onEvents: (events: WatchEvent[]) => void,
    signal: AbortSignal,
    startRevision: number | undefined,
  ): void {
    const builder = this.#ns.watch().prefix(prefix);
    if (startRevision !== undefined) builder.startRevision(String(startRevision));
    const watcher = builder.watcher();
    this.#watchers.add(watcher);
    let recreateTimer: ReturnType<typeof setTimeout> | undefined;
    const stop = () => {
      clearTimeout(recreateTimer);
      signal.removeEventListener("abort", stop);
      this.#closing.signal.removeEventListener("abort", stop);
      if (this.#watchers.delete(watcher)) this.#track(watcher.cancel());
    };
    signal.addEventListener("abort", stop, { once: true });
    this.#closing.signal.addEventListener("abort", stop, { once: true });

    watcher.on("data", (response) => {
      if (signal.aborted || this.#closed || response.events.length === 0) return;
      const events: WatchEvent[] = response.events.map((event) =>
        event.type === "Put"
          ? { type: "put", key: event.kv.key.toString(), value: event.kv.value.toString() }
          : { type: "delete", key: event.kv.key.toString() }
      );
      try {
        onEvents(events);
      } catch (error) {
        // One faulty watcher must not break the shared watch stream.
        console.error(`etcd store: watcher of "${prefix}" threw:`, error);
      }
    });
    // Disconnections are retried by the library, resuming at the last revision.
    watcher.on("disconnected", () => {});
    watcher.on("error", (error) => {
      // etcd cancelled this watch (e.g. its revision was compacted away):
      // start over; a compacted history cannot be replayed, so from now.
      if (!this.#watchers.delete(watcher)) return;
      this.#track(watcher.cancel());
      if (signal.aborted || this.#closed) return;
      const compacted = /compact/i.test(error.message);
      const resumeAt = compacted ? undefined : Number(watcher.lastRevision() ?? 0) || undefined;
      recreateTimer = setTimeout(() => {
        signal.removeEventListener("abort", stop);
        this.#closing.signal.removeEventListener("abort", stop);
        if (!signal.aborted && !this.#closed) {
          this.#startWatch(prefix, onEvents, signal, resumeAt);
        }
      }, WATCH_RECREATE_MS);
    });
  }
}

class TimeoutError extends Error {}

/** Rejects with TimeoutError when `promise` has not settled within `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Waits `ms`, or rejects with the reason of the first signal that aborts. */
function pause(ms: number, ...signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: unknown) => {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener("abort", onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = function (this: AbortSignal) {
      done(this.reason);
    };
    const timer = setTimeout(() => done(), ms);
    for (const signal of signals) {
      if (signal.aborted) return done(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    }
  });
}

function assertKey(key: string): void {
  if (typeof key !== "string" || key === "") throw new TypeError("Cannot write key: key is empty");
}
