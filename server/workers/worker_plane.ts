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
import type { MqttAdminRequest } from "../mqtt/admin_ops.ts";
import type { RegistryServices } from "../../filters/service_directory.ts";
import { toFileUrl } from "../paths.ts";
import type { WorkerInit, WorkerReply, WorkerRequest } from "./protocol.ts";
import type { Http1ServerKind } from "../httpserver/listener.ts";
import { mergeStatuses } from "./merge_status.ts";
import type { ProfiledIsolate } from "../profiling/node_profiler.ts";
import { type ControlCall, type ControlServices, runControlCall } from "../control_calls.ts";

/** How long a crashed worker's replacement waits before it starts. */
const REPLACE_DELAY_MS = 1_000;
/**
 * How long a status read waits for a worker: one stuck (a filter in an
 * endless loop) is left out rather than holding the admin API's status
 * reads, and the cluster's status sync, for as long as it is stuck.
 */
export const STATUS_WAIT_MS = 5_000;
/** How long an object change waits for each worker to apply it (see `apply`). */
const APPLY_WAIT_MS = 10_000;
/**
 * How long a stop waits for a worker to close: its servers give requests in
 * flight 30 s; one still busy past this (a filter stuck in a loop) is ended,
 * so the stop keeps the bound it promises.
 */
const CLOSE_WAIT_MS = 35_000;

/** What a call with a deadline resolves to when the worker did not answer in time. */
const TIMED_OUT = Symbol("timed out");

// Omit over a union, member by member.
type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

type Pending = {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  /** Gives up waiting, for calls with a deadline. */
  timer?: ReturnType<typeof setTimeout>;
};

/** One worker isolate and its pending requests. */
class WorkerHandle {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  /** Why the worker is gone, once it crashed: later calls fail at once. */
  #crashed: Error | undefined;
  #started = false;
  readonly ready: Promise<void>;
  /** Set by {@linkcode noteLate} until the worker answers again. */
  #late = false;
  /** Hears when a worker noted late answers again. */
  readonly #answersAgain: () => void;

  constructor(
    init: WorkerInit,
    onCrash: (error: Error) => void,
    control: ControlServices | undefined,
    answersAgain: () => void,
  ) {
    this.#answersAgain = answersAgain;
    this.#worker = new Worker(new URL("./worker_main.ts", import.meta.url).href, {
      type: "module",
    });
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.ready = promise;
    this.#worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const msg = event.data;
      if (msg.type === "ready") {
        this.#started = true;
        resolve();
      } else if (msg.type === "control") this.#runControl(control, msg.call, msg.id);
      else if (msg.type === "failed") reject(new Error(`worker ${init.index}: ${msg.message}`));
      else {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        clearTimeout(p?.timer);
        if (this.#late) {
          this.#late = false;
          this.#answersAgain();
        }
        if (msg.error !== undefined) p?.reject(new Error(msg.error));
        else p?.resolve(msg.result);
      }
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      const error = new Error(`worker ${init.index} crashed: ${event.message}`);
      this.#crashed = error;
      reject(error);
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer);
        p.reject(error);
      }
      this.#pending.clear();
      this.#worker.terminate();
      onCrash(error);
    };
    this.#worker.postMessage(init);
  }

  /** Carries out a worker's control call and, when it waits, answers it. */
  async #runControl(
    control: ControlServices | undefined,
    call: ControlCall,
    id: number | undefined,
  ): Promise<void> {
    let reply: WorkerRequest | undefined;
    try {
      if (!control) throw new Error("this node has no control services");
      const result = await runControlCall(control, call);
      if (id !== undefined) reply = { type: "controlReply", id, result };
    } catch (e) {
      if (id !== undefined) reply = { type: "controlReply", id, error: (e as Error).message };
    }
    if (reply && !this.#crashed) this.#worker.postMessage(reply);
  }

  /** Started and not crashed: it can take requests. */
  get serving(): boolean {
    return this.#started && !this.#crashed;
  }

  /**
   * Sends `request` and resolves to the worker's answer; with `waitMs`, to
   * `TIMED_OUT` when none came by then (a later answer is dropped).
   */
  call(request: WithoutId<WorkerRequest>, waitMs?: number): Promise<unknown> {
    if (this.#crashed) return Promise.reject(this.#crashed);
    const id = this.#next++;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const pending: Pending = { resolve, reject };
    if (waitMs !== undefined) {
      pending.timer = setTimeout(() => {
        if (this.#pending.delete(id)) resolve(TIMED_OUT);
      }, waitMs);
      Deno.unrefTimer(pending.timer as unknown as number);
    }
    this.#pending.set(id, pending);
    this.#worker.postMessage({ ...request, id });
    return promise;
  }

  /**
   * Notes that a call went unanswered past its deadline; true the first
   * time since the worker last answered, so it is logged once.
   */
  noteLate(): boolean {
    if (this.#late) return false;
    this.#late = true;
    return true;
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
  /** The memory of the node's shared regions (circuit breakers). */
  regionsBuffer: SharedArrayBuffer;
  /** `--heap-trim-after`, in milliseconds (0: never). */
  heapTrimAfterMs: number;
  /** Called when the worker at `index` has crashed, before its replacement starts. */
  workerGone?: (index: number) => void;
  /** What serves plain HTTP/1.1. */
  http1Server: Http1ServerKind;
  /** Hears of a worker that crashed and of its replacement. */
  log?: { error(message: string): void; info(message: string): void };
  /** What the workers' data planes ask of the control plane. */
  control?: ControlServices;
}

/**
 * N data-plane workers behind one apply/status/close surface. A worker that
 * crashes (an error nothing caught) is replaced by a new one, given the
 * objects and service instances the others have.
 */
export class WorkerPlane {
  readonly #workers: WorkerHandle[] = [];
  readonly #options: WorkerPlaneOptions;
  readonly #plugins: string[];
  #lastApply: { objects: ObjectSpec[]; data?: StoreData } | undefined;
  readonly #services = new Map<string, RegistryServices | undefined>();
  /** The WasmHost shared data as last told, for a replacement worker. */
  readonly #wasmData = new Map<string, string>();
  #closing = false;

  private constructor(options: WorkerPlaneOptions) {
    this.#options = options;
    this.#plugins = options.plugins.map((p) => /^[a-z][a-z0-9+.-]*:/i.test(p) ? p : toFileUrl(p));
  }

  /** Starts the workers and waits until each is ready. */
  static async start(options: WorkerPlaneOptions): Promise<WorkerPlane> {
    const plane = new WorkerPlane(options);
    for (let index = 0; index < options.count; index++) plane.#workers.push(plane.#spawn(index));
    try {
      await Promise.all(plane.#workers.map((w) => w.ready));
    } catch (e) {
      plane.#closing = true;
      for (const w of plane.#workers) w.terminate();
      throw e;
    }
    return plane;
  }

  #spawn(index: number): WorkerHandle {
    const options = this.#options;
    return new WorkerHandle(
      {
        type: "init",
        plugins: this.#plugins,
        logDir: options.logDir,
        debug: options.debug,
        accessLog: options.accessLog,
        sharedBuffer: options.sharedBuffer,
        regionsBuffer: options.regionsBuffer,
        heapTrimAfterMs: options.heapTrimAfterMs,
        index,
        count: options.count,
        http1Server: options.http1Server,
      },
      (error) => this.#replace(index, error),
      options.control,
      () => options.log?.info(`worker ${index} answers again`),
    );
  }

  /** Starts a worker in place of the one at `index`, which crashed. */
  async #replace(index: number, error: Error): Promise<void> {
    if (this.#closing) return;
    this.#options.log?.error(`${error.message}; starting a new worker ${index} in 1 s`);
    // A pause, so a worker that crashes at once cannot spin the CPU.
    await new Promise((resolve) => setTimeout(resolve, REPLACE_DELAY_MS));
    if (this.#closing) return;
    this.#options.workerGone?.(index);
    const worker = this.#spawn(index);
    this.#workers[index] = worker;
    try {
      await worker.ready;
      for (const [registry, services] of this.#services) {
        await worker.call({ type: "services", registry, services });
      }
      if (this.#lastApply) await worker.call({ type: "apply", ...this.#lastApply });
      await worker.call({ type: "wasmData", entries: [...this.#wasmData], full: true });
      this.#options.log?.info(`worker ${index} replaced`);
    } catch (e) {
      this.#options.log?.error(`worker ${index} could not be replaced: ${(e as Error).message}`);
    }
  }

  /**
   * The workers that can take requests. One that crashed, or its replacement
   * while it starts, is left out: the replacement is given what the others
   * have once it has started.
   */
  #serving(): WorkerHandle[] {
    return this.#workers.filter((w) => w.serving);
  }

  /** Applies the desired objects in every worker; failures are merged by name. */
  async apply(objects: ObjectSpec[], data?: StoreData): Promise<ApplyError[]> {
    this.#lastApply = { objects, data };
    // A worker that does not answer in time takes this change, and any
    // later one, in turn once it does (its messages and applies keep their
    // order): waiting for it would hold every later change from the others.
    const results = await this.#ask({ type: "apply", objects, data }, APPLY_WAIT_MS);
    const byName = new Map<string, ApplyError>();
    for (const list of results) {
      if (!Array.isArray(list)) continue; // not answered in time
      for (const e of list as ApplyError[]) byName.set(e.name, e);
    }
    return [...byName.values()];
  }

  /** Sets the instances `registry` lists now in every worker (undefined: it is gone). */
  async updateServices(registry: string, services: RegistryServices | undefined): Promise<void> {
    if (services === undefined) this.#services.delete(registry);
    else this.#services.set(registry, services);
    await Promise.all(this.#serving().map((w) => w.call({ type: "services", registry, services })));
  }

  /** Tells every worker what changed in the WasmHost shared data (all of it when `full`). */
  async updateWasmData(entries: [string, string | null][], full: boolean): Promise<void> {
    if (full) this.#wasmData.clear();
    for (const [key, value] of entries) {
      if (value === null) this.#wasmData.delete(key);
      else this.#wasmData.set(key, value);
    }
    await Promise.all(this.#serving().map((w) => w.call({ type: "wasmData", entries, full })));
  }

  /** Has every worker's WasmHost filters load their code again. */
  async reloadWasmCode(): Promise<void> {
    await Promise.all(this.#serving().map((w) => w.call({ type: "wasmReload" })));
  }

  /** Carries out an admin request on an MQTTProxy, which the first worker runs. */
  async mqttAdmin(name: string, request: MqttAdminRequest): Promise<unknown> {
    return (await this.#workers[0].call({ type: "mqtt", name, request })) ?? undefined;
  }

  /** The workers as profiled isolates (a replaced worker is profiled in its turn). */
  profiledIsolates(): ProfiledIsolate[] {
    return this.#workers.map((_, index) => ({
      label: `worker ${index}`,
      run: async (action) =>
        (await this.#workers[index].call({ type: "profile", action })) ?? undefined,
    }));
  }

  /**
   * The status of an object merged over the workers (counts summed); a
   * worker that does not answer within {@linkcode STATUS_WAIT_MS} is left out.
   * With `keepWindows`, the statistics windows go on (see keepingWindows).
   */
  async status(name: string, keepWindows = false): Promise<Record<string, unknown> | undefined> {
    const all = await this.#ask({ type: "status", name, keepWindows }, STATUS_WAIT_MS);
    const present = all.filter((s): s is Record<string, unknown> =>
      typeof s === "object" && s !== null
    );
    return present.length ? mergeStatuses(present) : undefined;
  }

  /**
   * Asks every serving worker, waiting for each at most `waitMs`: one that
   * does not answer by then gives `TIMED_OUT`, and is logged once until it
   * answers again.
   */
  async #ask(request: WithoutId<WorkerRequest>, waitMs: number): Promise<unknown[]> {
    const serving = this.#workers.map((w, index) => ({ w, index })).filter(({ w }) => w.serving);
    const answers = await Promise.all(serving.map(({ w }) => w.call(request, waitMs)));
    answers.forEach((answer, i) => {
      if (answer !== TIMED_OUT || !serving[i].w.noteLate()) return;
      this.#options.log?.error(
        `worker ${serving[i].index} did not answer in ${waitMs / 1000} s: until it does, ` +
          "statuses leave its statistics out and object changes go on without it (it takes " +
          "them in turn when it answers)",
      );
    });
    return answers;
  }

  /** Drains and stops every worker; one still busy after {@linkcode CLOSE_WAIT_MS} is ended. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#workers.map(async (w, index) => {
      const closed = await w.call({ type: "close" }, CLOSE_WAIT_MS).catch(() => undefined);
      if (closed !== TIMED_OUT) return;
      this.#options.log?.error(`worker ${index} did not stop in ${CLOSE_WAIT_MS / 1000} s: ended`);
    }));
    for (const w of this.#workers) w.terminate();
  }
}
