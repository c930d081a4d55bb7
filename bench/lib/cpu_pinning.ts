/**
 * Which CPUs the benchmark's programs run on. The proxy under test gets
 * CPU 0 to itself; the load generators, the backend and the idle client
 * share the others. Every contender then meets the same contention, and
 * runs repeat: on the 2-core development machine the node's CPU per
 * proxied request spread over 48-67 µs in five unpinned runs and 43-47 µs
 * pinned. A contender with several workers is left unpinned (it is there
 * to use more than one core).
 *
 * @module
 */

/** `taskset` CPU lists for the proxy under test and for everything else. */
export interface CpuPlan {
  proxy: string;
  tools: string;
}

/** The plan for a machine with `cpus` CPUs; null with fewer than two (nothing to separate). */
export function cpuPlan(cpus: number): CpuPlan | null {
  if (!Number.isInteger(cpus) || cpus < 2) return null;
  return { proxy: "0", tools: cpus === 2 ? "1" : `1-${cpus - 1}` };
}

/** `command` run on `cpus` through `taskset`, or unchanged without a CPU list. */
export function pinnedCommand(command: readonly string[], cpus: string | undefined): string[] {
  return cpus === undefined ? [...command] : ["taskset", "-c", cpus, ...command];
}

/** Moves running processes, every thread of each, to `cpus`; throws naming a pid it could not move. */
export async function pinProcesses(pids: readonly number[], cpus: string): Promise<void> {
  for (const pid of pids) {
    const output = await new Deno.Command("taskset", {
      args: ["-a", "-p", "-c", cpus, String(pid)],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!output.success) {
      const reason = new TextDecoder().decode(output.stderr).trim();
      throw new Error(`Cannot pin process ${pid} to CPU ${cpus}: ${reason}`);
    }
  }
}

/** Whether `taskset` can run here (util-linux); the benchmark runs unpinned without it. */
export async function canPin(): Promise<boolean> {
  try {
    return (await new Deno.Command("taskset", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output()).success;
  } catch {
    return false;
  }
}
