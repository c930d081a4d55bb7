/**
 * What a process tree costs, read from Linux `/proc`: CPU seconds in user
 * space and in the kernel (utime and stime of every process in the tree, all
 * threads included) and
 * resident memory (VmRSS, summed), with a sampler that keeps the peak.
 *
 * @module
 */

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ; 100 on every Linux we run). */
export const CLOCK_TICKS_PER_SECOND = 100;

/** The fields of `/proc/<pid>/stat` the benchmark needs. */
export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime: CPU time in user space, in clock ticks. */
  userTicks: number;
  /** stime: CPU time in the kernel on the process's behalf, in clock ticks. */
  systemTicks: number;
}

/**
 * Parses one `/proc/<pid>/stat` line. The command name sits in parentheses
 * and may itself hold spaces or ")", so fields are counted from the last ")".
 */
export function parseProcStat(line: string): ProcStat {
  const open = line.indexOf("(");
  const close = line.lastIndexOf(")");
  if (open < 0 || close < open) throw new SyntaxError(`Cannot parse /proc stat "${line}"`);
  const rest = line.slice(close + 2).split(" ");
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const ppid = Number(rest[1]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (![ppid, utime, stime].every(Number.isFinite)) {
    throw new SyntaxError(`Cannot parse /proc stat "${line}": missing fields`);
  }
  return {
    pid: Number(line.slice(0, open).trim()),
    ppid,
    userTicks: utime,
    systemTicks: stime,
  };
}

/** Reads a process's stat, or undefined when it has exited. */
export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return undefined;
  }
}

/** `pid` and all its live descendants (nginx master and workers, say). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = readProcStat(Number(entry.name));
    if (!stat) continue;
    const list = children.get(stat.ppid);
    if (list) list.push(stat.pid);
    else children.set(stat.ppid, [stat.pid]);
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const next = queue.shift()!;
    tree.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return tree;
}

/** CPU seconds used so far, in user space and in the kernel. */
export interface CpuTimes {
  user: number;
  system: number;
}

/** CPU seconds used so far by the given processes, split (exited ones count 0). */
export function cpuTimes(pids: readonly number[]): CpuTimes {
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    const stat = readProcStat(pid);
    if (!stat) continue;
    user += stat.userTicks;
    system += stat.systemTicks;
  }
  return { user: user / CLOCK_TICKS_PER_SECOND, system: system / CLOCK_TICKS_PER_SECOND };
}

/** Reads a `kB` field (VmRSS, VmHWM) of `/proc/<pid>/status`, 0 when absent or exited. */
export function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch {
    return 0;
  }
  const match = text.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return match ? Number(match[1]) : 0;
}

/** Resident memory of the given processes together, in kB. */
export function rssKb(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) total += statusKb(pid, "VmRSS");
  return total;
}

/** Number of threads of a process, 0 when it has exited. */
export function threadCount(pid: number): number {
  try {
    return [...Deno.readDirSync(`/proc/${pid}/task`)].length;
  } catch {
    return 0;
  }
}

/** Samples the summed RSS of some processes on a timer and keeps the peak. */
export class RssSampler {
  #pids: readonly number[];
  #timer: ReturnType<typeof setInterval> | undefined;
  #peakKb = 0;

  /** Starts sampling every `intervalMs` (and once right away). */
  constructor(pids: readonly number[], intervalMs = 100) {
    this.#pids = pids;
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Takes one sample now; returns it in kB. */
  sample(): number {
    const kb = rssKb(this.#pids);
    if (kb > this.#peakKb) this.#peakKb = kb;
    return kb;
  }

  /** Stops the timer; returns the peak in kB. */
  stop(): number {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.sample();
    return this.#peakKb;
  }
}
