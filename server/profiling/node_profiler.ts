/**
 * Profiling a whole node, as Easegress's `/profile` routes and
 * `--cpu-profile-file`/`--memory-profile-file` options do: every isolate
 * (the control plane and each data-plane worker) is profiled at once, and
 * their profiles are written to the one file asked for, each isolate's
 * tree under its own name.
 *
 * @module
 */

import {
  CPU_SAMPLING_INTERVAL_US,
  HEAP_SAMPLING_INTERVAL_BYTES,
  IsolateProfiler,
  type ProfileKind,
} from "./isolate_profiler.ts";
import { cpuProfileToPprof, gzipped, heapProfileToPprof } from "./pprof.ts";
import {
  type CpuProfile,
  type HeapProfile,
  type LabeledProfile,
  mergeCpuProfiles,
  mergeHeapProfiles,
} from "./profile_formats.ts";

/**
 * Paths whose profiles are written in V8's own JSON formats, which Chrome
 * DevTools opens; any other path gets pprof's, as Easegress writes.
 */
const V8_FORMAT_PATH = /\.(cpuprofile|heapprofile|json)$/i;

/** What an isolate's profiler is asked to do. */
export interface ProfileAction {
  op: "start" | "stop";
  kind: ProfileKind;
}

/** One isolate of the node, profiled here or through messages to a worker. */
export interface ProfiledIsolate {
  readonly label: string;
  run(action: ProfileAction): Promise<unknown>;
}

/** A profiling request that cannot be carried out (answered with 400). */
export class ProfileRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProfileRequestError";
  }
}

/** The files being written, "" where no profile runs (the `GET /profile` answer). */
export interface ProfileInfo {
  cpuPath: string;
  memoryPath: string;
}

type Kind = "cpu" | "memory";

const KINDS: Record<Kind, { profile: ProfileKind; what: string }> = {
  cpu: { profile: "cpu", what: "CPU profile" },
  memory: { profile: "heap", what: "memory profile" },
};

/** Starts and stops the profiles of every isolate of a node. */
export class NodeProfiler {
  readonly #isolates: () => readonly ProfiledIsolate[];
  readonly #protectedDirs: readonly string[];
  readonly #paths: Record<Kind, string> = { cpu: "", memory: "" };
  /** Serializes start and stop, which each take several isolates' turns. */
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * `isolates` is asked on each start and stop: a replaced worker is
   * profiled too. No profile is written inside `protectedDirs` (the node's
   * data and log dirs): a mistyped path must not overwrite the store.
   */
  constructor(isolates: () => readonly ProfiledIsolate[], protectedDirs: readonly string[] = []) {
    this.#isolates = isolates;
    this.#protectedDirs = protectedDirs;
  }

  /** Where the running profiles will be written. */
  info(): ProfileInfo {
    return { cpuPath: this.#paths.cpu, memoryPath: this.#paths.memory };
  }

  /** Starts sampling every isolate's CPU, to be written to `path` by {@linkcode stop}. */
  startCpu(path: string): Promise<void> {
    return this.#serialized(() => this.#start("cpu", path));
  }

  /** Starts sampling every isolate's heap, to be written to `path` by {@linkcode stop}. */
  startMemory(path: string): Promise<void> {
    return this.#serialized(() => this.#start("memory", path));
  }

  /** Stops the running profiles and writes them; returns the files written. */
  stop(): Promise<string[]> {
    return this.#serialized(async () => {
      const written: string[] = [];
      const errors: string[] = [];
      for (const kind of ["cpu", "memory"] as const) {
        const path = this.#paths[kind];
        if (path === "") continue;
        this.#paths[kind] = "";
        try {
          await this.#finish(kind, path);
          written.push(path);
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      if (errors.length) throw new Error(errors.join("; "));
      return written;
    });
  }

  #serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #start(kind: Kind, path: string): Promise<void> {
    const { profile, what } = KINDS[kind];
    const start: ProfileAction = { op: "start", kind: profile };
    const stop: ProfileAction = { op: "stop", kind: profile };
    if (path === "") throw new ProfileRequestError("missing path");
    if (this.#paths[kind] !== "") {
      throw new ProfileRequestError(`a ${what} is already being taken into ${this.#paths[kind]}`);
    }
    await this.#refuseProtected(path);
    const other = this.#paths[kind === "cpu" ? "memory" : "cpu"];
    if (other !== "" && await sameFile(other, path)) {
      throw new ProfileRequestError(`${path} is already taking the other profile`);
    }
    // Created now, as Easegress does, so a path that cannot be written is told at once.
    try {
      await Deno.writeFile(path, new Uint8Array());
    } catch (e) {
      throw new ProfileRequestError(`cannot create ${path}: ${(e as Error).message}`);
    }
    const isolates = this.#isolates();
    const started = await Promise.allSettled(isolates.map((isolate) => isolate.run(start)));
    const failed = started.findIndex((result) => result.status === "rejected");
    if (failed >= 0) {
      await Promise.allSettled(
        isolates.filter((_, i) => started[i].status === "fulfilled").map((i) => i.run(stop)),
      );
      const reason = (started[failed] as PromiseRejectedResult).reason;
      throw new Error(`cannot start the ${what} in ${isolates[failed].label}: ${reason?.message}`);
    }
    this.#paths[kind] = path;
  }

  async #refuseProtected(path: string): Promise<void> {
    const target = await realTarget(path);
    if (target === undefined) return; // its dir does not exist: creating it fails next
    for (const dir of this.#protectedDirs) {
      const real = await Deno.realPath(dir).catch(() => dir);
      if (target === real || target.startsWith(real.endsWith("/") ? real : `${real}/`)) {
        throw new ProfileRequestError(
          `${path} is in ${dir}, a dir of the node's own: a profile may not overwrite its files`,
        );
      }
    }
  }

  /** Collects every isolate's profile and writes them, merged, to `path`. */
  async #finish(kind: Kind, path: string): Promise<void> {
    const isolates = this.#isolates();
    const results = await Promise.allSettled(
      isolates.map((isolate) => isolate.run({ op: "stop", kind: KINDS[kind].profile })),
    );
    // A worker that crashed meanwhile has no profile to give: the others still count.
    const parts: LabeledProfile<unknown>[] = [];
    results.forEach((result, i) => {
      if (result.status === "fulfilled" && result.value) {
        parts.push({ label: isolates[i].label, profile: result.value });
      }
    });
    if (parts.length === 0) throw new Error(`no isolate returned its ${KINDS[kind].what}`);
    const merged = kind === "cpu"
      ? mergeCpuProfiles(parts as LabeledProfile<CpuProfile>[])
      : mergeHeapProfiles(parts as LabeledProfile<HeapProfile>[]);
    const bytes = await profileFile(kind, merged, path);
    try {
      await Deno.writeFile(path, bytes);
    } catch (e) {
      throw new Error(`cannot write ${path}: ${(e as Error).message}`);
    }
  }
}

/** What a profile's file holds: V8's JSON for the paths DevTools opens, pprof's otherwise. */
async function profileFile(
  kind: Kind,
  profile: CpuProfile | HeapProfile,
  path: string,
): Promise<Uint8Array> {
  if (V8_FORMAT_PATH.test(path)) return new TextEncoder().encode(JSON.stringify(profile));
  const pprof = kind === "cpu"
    ? cpuProfileToPprof(profile as CpuProfile, CPU_SAMPLING_INTERVAL_US, Date.now())
    : heapProfileToPprof(profile as HeapProfile, HEAP_SAMPLING_INTERVAL_BYTES, Date.now());
  return await gzipped(pprof);
}

/** Where `path` really leads (links followed), or undefined when its dir does not exist. */
async function realTarget(path: string): Promise<string | undefined> {
  try {
    return await Deno.realPath(path);
  } catch {
    const slash = path.lastIndexOf("/");
    const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
    try {
      const realDir = await Deno.realPath(dir);
      return `${realDir === "/" ? "" : realDir}/${path.slice(slash + 1)}`;
    } catch {
      return undefined;
    }
  }
}

async function sameFile(a: string, b: string): Promise<boolean> {
  return (await realTarget(a)) === (await realTarget(b));
}

/** The isolate this code runs in, as a {@linkcode ProfiledIsolate}. */
export function thisIsolate(label: string): ProfiledIsolate {
  const profiler = new IsolateProfiler();
  return {
    label,
    run: ({ op, kind }) => op === "start" ? profiler.start(kind) : profiler.stop(kind),
  };
}
