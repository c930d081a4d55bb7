/**
 * A data plane spread over N worker isolates (one core each). The control
 * plane pushes the desired objects to every worker and merges their
 * statuses, so the admin API sees one node.
 *
 * @module
 */

import type { ApplyError } from "../dataplane.ts";
import type { ObjectSpec } from "../objects.ts";
import type { StoreData } from "../store_data.ts";
import type { RegistryServices } from "../../filters/service_directory.ts";
import { toFileUrl } from "../paths.ts";
import type { WorkerInit, WorkerReply, WorkerRequest } from "./protocol.ts";
import type { Http1ServerKind } from "../httpserver/listener.ts";
import { mergeStatuses } from "./merge_status.ts";

// Omit over a union, member by member.
type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** One worker isolate and its pending requests. */
class WorkerHandle {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  readonly ready: Promise<void>;

  constructor(init: WorkerInit) {
    this.#worker = new Worker(new URL("./worker_main.ts", import.meta.url).href, {
      type: "module",
    });
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.ready = promise;
    this.#worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const msg = event.data;
      if (msg.type === "ready") resolve();
      else if (msg.type === "failed") reject(new Error(`worker ${init.index}: ${msg.message}`));
      else {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        if (msg.error !== undefined) p?.reject(new Error(msg.error));
        else p?.resolve(msg.result);
      }
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      const error = new Error(`worker ${init.index} crashed: ${event.message}`);
      reject(error);
      for (const p of this.#pending.values()) p.reject(error);
      this.#pending.clear();
    };
    this.#worker.postMessage(init);
  }

  call(request: WithoutId<WorkerRequest>): Promise<unknown> {
    const id = this.#next++;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.#pending.set(id, { resolve, reject });
    this.#worker.postMessage({ ...request, id });
    return promise;
  }

  terminate(): void {
    this.#worker.terminate();
  }
}

/** Options for {@linkcode startWorkerPlane}. */
export interface WorkerPlaneOptions {
  count: number;
  plugins: string[];
  logDir: string;
  debug: boolean;
  accessLog: boolean;
  sharedBuffer: SharedArrayBuffer;
  /** What serves plain HTTP/1.1. */
  http1Server: Http1ServerKind;
}

/** N data-plane workers behind one apply/status/close surface. */
export class WorkerPlane {
  readonly #workers: WorkerHandle[];

  private constructor(workers: WorkerHandle[]) {
    this.#workers = workers;
  }

  /** Starts the workers and waits until each is ready. */
  static async start(options: WorkerPlaneOptions): Promise<WorkerPlane> {
    const plugins = options.plugins.map((p) => /^[a-z][a-z0-9+.-]*:/i.test(p) ? p : toFileUrl(p));
    const workers = Array.from({ length: options.count }, (_, index) =>
      new WorkerHandle({
        type: "init",
        plugins,
        logDir: options.logDir,
        debug: options.debug,
        accessLog: options.accessLog,
        sharedBuffer: options.sharedBuffer,
        index,
        count: options.count,
        http1Server: options.http1Server,
      }));
    try {
      await Promise.all(workers.map((w) => w.ready));
    } catch (e) {
      for (const w of workers) w.terminate();
      throw e;
    }
    return new WorkerPlane(workers);
  }

  /** Applies the desired objects in every worker; failures are merged by name. */
  async apply(objects: ObjectSpec[], data?: StoreData): Promise<ApplyError[]> {
    const results = await Promise.all(
      this.#workers.map((w) => w.call({ type: "apply", objects, data }) as Promise<ApplyError[]>),
    );
    const byName = new Map<string, ApplyError>();
    for (const list of results) for (const e of list) byName.set(e.name, e);
    return [...byName.values()];
  }

  /** Sets the instances `registry` lists now in every worker (undefined: it is gone). */
  async updateServices(registry: string, services: RegistryServices | undefined): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.call({ type: "services", registry, services })));
  }

  /** The status of an object merged over the workers (counts summed). */
  async status(name: string): Promise<Record<string, unknown> | undefined> {
    const all = await Promise.all(this.#workers.map((w) => w.call({ type: "status", name })));
    const present = all.filter((s): s is Record<string, unknown> => s !== null && s !== undefined);
    return present.length ? mergeStatuses(present) : undefined;
  }

  /** Drains and stops every worker. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#workers.map((w) => w.call({ type: "close" })));
    for (const w of this.#workers) w.terminate();
  }
}
