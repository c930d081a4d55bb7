/**
 * CPU and heap profiling of the isolate this code runs in, through its own
 * inspector session (`node:inspector`, loaded on first use): no debugger
 * port is opened, and an isolate that is not being profiled pays nothing.
 *
 * @module
 */

import type { Session } from "node:inspector";
import type { CpuProfile, HeapProfile } from "./profile_formats.ts";

/** Microseconds between CPU samples: 1 kHz, fine enough for a request path. */
const CPU_SAMPLING_INTERVAL_US = 1000;
/** Average bytes allocated between heap samples (V8's default). */
const HEAP_SAMPLING_INTERVAL_BYTES = 32 * 1024;

/** Starts and stops the profilers of one isolate; each runs at most once at a time. */
export class IsolateProfiler {
  #session: Session | undefined;
  #cpu = false;
  #heap = false;

  /** Whether a CPU profile is being taken. */
  get cpuRunning(): boolean {
    return this.#cpu;
  }

  /** Whether heap allocations are being sampled. */
  get heapRunning(): boolean {
    return this.#heap;
  }

  /** Starts sampling the CPU; throws when it already is. */
  async startCpu(): Promise<void> {
    if (this.#cpu) throw new Error("a CPU profile is already being taken");
    this.#cpu = true;
    try {
      await this.#post("Profiler.enable");
      await this.#post("Profiler.setSamplingInterval", { interval: CPU_SAMPLING_INTERVAL_US });
      await this.#post("Profiler.start");
    } catch (e) {
      this.#cpu = false;
      this.#release();
      throw e;
    }
  }

  /** Stops the CPU profile and returns it; undefined when none was being taken. */
  async stopCpu(): Promise<CpuProfile | undefined> {
    if (!this.#cpu) return undefined;
    try {
      const { profile } = await this.#post("Profiler.stop") as { profile: CpuProfile };
      await this.#post("Profiler.disable");
      return profile;
    } finally {
      this.#cpu = false;
      this.#release();
    }
  }

  /** Starts sampling heap allocations; throws when it already is. */
  async startHeap(): Promise<void> {
    if (this.#heap) throw new Error("a memory profile is already being taken");
    this.#heap = true;
    try {
      await this.#post("HeapProfiler.enable");
      await this.#post("HeapProfiler.startSampling", {
        samplingInterval: HEAP_SAMPLING_INTERVAL_BYTES,
      });
    } catch (e) {
      this.#heap = false;
      this.#release();
      throw e;
    }
  }

  /**
   * Stops sampling and returns what the samples still alive add up to (the
   * heap in use, by allocating stack); undefined when none was being taken.
   */
  async stopHeap(): Promise<HeapProfile | undefined> {
    if (!this.#heap) return undefined;
    try {
      const { profile } = await this.#post("HeapProfiler.stopSampling") as {
        profile: HeapProfile;
      };
      await this.#post("HeapProfiler.disable");
      return profile;
    } finally {
      this.#heap = false;
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

  /** Closes the session once neither profiler runs. */
  #release(): void {
    if (this.#cpu || this.#heap || this.#session === undefined) return;
    this.#session.disconnect();
    this.#session = undefined;
  }
}
