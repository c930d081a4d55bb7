/**
 * CPU and heap profiling of the isolate this code runs in, through its own
 * inspector session (`node:inspector`, loaded on first use): no debugger
 * port is opened, and an isolate that is not being profiled pays nothing.
 *
 * @module
 */

import type { Session } from "node:inspector";
import type { CpuProfile, HeapProfile } from "./profile_formats.ts";

/** What is profiled: the CPU, or heap allocations. */
export type ProfileKind = "cpu" | "heap";

/** Microseconds between CPU samples: 1 kHz, fine enough for a request path. */
export const CPU_SAMPLING_INTERVAL_US = 1000;
/** Average bytes allocated between heap samples (V8's default). */
export const HEAP_SAMPLING_INTERVAL_BYTES = 32 * 1024;

/** The inspector calls that start and stop each kind of profile. */
const PROTOCOL: Record<
  ProfileKind,
  { what: string; start: [string, Record<string, unknown>?][]; stop: string; disable: string }
> = {
  cpu: {
    what: "a CPU profile",
    start: [
      ["Profiler.enable"],
      ["Profiler.setSamplingInterval", { interval: CPU_SAMPLING_INTERVAL_US }],
      ["Profiler.start"],
    ],
    stop: "Profiler.stop",
    disable: "Profiler.disable",
  },
  // Stopping gives what the samples still alive add up to: the heap in use, by allocating stack.
  heap: {
    what: "a memory profile",
    start: [
      ["HeapProfiler.enable"],
      ["HeapProfiler.startSampling", { samplingInterval: HEAP_SAMPLING_INTERVAL_BYTES }],
    ],
    stop: "HeapProfiler.stopSampling",
    disable: "HeapProfiler.disable",
  },
};

/** Starts and stops the profilers of one isolate; each kind runs at most once at a time. */
export class IsolateProfiler {
  #session: Session | undefined;
  readonly #running = new Set<ProfileKind>();

  /** Starts a profile; throws when one of that kind already runs. */
  async start(kind: ProfileKind): Promise<void> {
    const protocol = PROTOCOL[kind];
    if (this.#running.has(kind)) throw new Error(`${protocol.what} is already being taken`);
    this.#running.add(kind);
    try {
      for (const [method, params] of protocol.start) await this.#post(method, params);
    } catch (e) {
      this.#running.delete(kind);
      this.#release();
      throw e;
    }
  }

  /** Stops a profile and returns it; undefined when none of that kind was running. */
  async stop(kind: "cpu"): Promise<CpuProfile | undefined>;
  async stop(kind: "heap"): Promise<HeapProfile | undefined>;
  async stop(kind: ProfileKind): Promise<CpuProfile | HeapProfile | undefined>;
  async stop(kind: ProfileKind): Promise<CpuProfile | HeapProfile | undefined> {
    if (!this.#running.has(kind)) return undefined;
    const protocol = PROTOCOL[kind];
    try {
      const { profile } = await this.#post(protocol.stop) as {
        profile: CpuProfile | HeapProfile;
      };
      await this.#post(protocol.disable);
      return profile;
    } finally {
      this.#running.delete(kind);
      this.#release();
    }
  }

  async #post(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    if (this.#session === undefined) {
      const inspector = await import("node:inspector");
      this.#session = new inspector.Session();
      this.#session.connect();
    }
    const session = this.#session;
    return new Promise((resolve, reject) => {
      session.post(method, params, (error: Error | null, result?: unknown) => {
        if (error) reject(new Error(`${method}: ${error.message}`));
        else resolve(result);
      });
    });
  }

  /** Closes the session once no profiler runs. */
  #release(): void {
    if (this.#running.size > 0 || this.#session === undefined) return;
    this.#session.disconnect();
    this.#session = undefined;
  }
}
