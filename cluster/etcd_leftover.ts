/**
 * An etcd an earlier run of a node left running on a member's data dir (the
 * node killed with SIGKILL: etcd lives on, adopted by init), found through
 * the pid file kept beside the data dir and Linux's /proc, and ended before
 * a new member starts there.
 *
 * @module
 */

/** How long a leftover etcd may take to end after SIGTERM, then after SIGKILL. */
const LEFTOVER_TERM_MS = 10_000;
const LEFTOVER_KILL_MS = 5_000;

/** Where the pid of a member's etcd is kept: beside its data dir, `<dataDir>.pid`. */
export function pidFileOf(dataDir: string): string {
  return `${dataDir.replace(/\/+$/, "")}.pid`;
}

/**
 * Ends the etcd processes an earlier run left on `dataDir`: the one named
 * in the pid file and any other etcd whose `--data-dir` is that dir (Linux
 * /proc). Such an etcd is a leftover when its node is gone: it was adopted
 * (parent pid 1, or not the node the pid file names). One whose node still
 * runs is another node on the same data dir: refused. Returns the pids
 * ended (SIGTERM, then SIGKILL after 10 s).
 */
export async function endLeftoverEtcd(
  name: string,
  dataDir: string,
  pidFile: string,
): Promise<number[]> {
  const dir = await realDir(dataDir, Deno.cwd());
  const recorded = (await Deno.readTextFile(pidFile).catch(() => "")).trim().split(/\s+/)
    .map(Number);
  const [recordedPid, recordedOwner] = recorded.length === 2 && recorded.every((n) => n > 0)
    ? recorded
    : [0, 0];
  const candidates = new Set<number>();
  if (recordedPid && await runsEtcdOn(recordedPid, dir)) candidates.add(recordedPid);
  for (const pid of await etcdPidsOn(dir)) candidates.add(pid);
  const ended: number[] = [];
  for (const pid of candidates) {
    const parent = (await procStat(pid))?.parent;
    if (parent === undefined) continue; // gone meanwhile
    const adopted = parent === 1 || (pid === recordedPid && parent !== recordedOwner);
    if (!adopted) {
      throw new Error(
        `Cannot start etcd member "${name}": etcd pid ${pid} already runs on ${dataDir}, ` +
          `started by process ${parent}, which still runs (two nodes on one data dir?)`,
      );
    }
    if (!await endProcess(pid, dir)) {
      throw new Error(
        `Cannot start etcd member "${name}": etcd pid ${pid}, left running on ${dataDir} by ` +
          `an earlier run, does not end`,
      );
    }
    ended.push(pid);
  }
  return ended;
}

/**
 * SIGTERM, then SIGKILL; true once `pid` has ended: gone, or a zombie whose
 * threads are all gone (the last one closes the sockets). An exiting process
 * loses its command line before its sockets, and etcd's main thread turns
 * zombie before its other threads end, so neither is enough. Known by its
 * start time, so a pid reused meanwhile is never signalled.
 */
async function endProcess(pid: number, dir: string): Promise<boolean> {
  const identity = await procStat(pid);
  if (!identity || !await runsEtcdOn(pid, dir)) return true;
  const running = async () => {
    const now = await procStat(pid);
    if (now === undefined || now.startTime !== identity.startTime) return false;
    return !/^[ZX]$/.test(now.state) || await threadCount(pid) > 1;
  };
  for (
    const [signal, waitMs] of [["SIGTERM", LEFTOVER_TERM_MS], [
      "SIGKILL",
      LEFTOVER_KILL_MS,
    ]] as const
  ) {
    if (!await running()) return true;
    try {
      Deno.kill(pid, signal);
    } catch {
      return !await running();
    }
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      if (!await running()) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return !await running();
}

/** How many threads `pid` has left (/proc/PID/task); 0 when it is gone. */
async function threadCount(pid: number): Promise<number> {
  let count = 0;
  try {
    for await (const _ of Deno.readDir(`/proc/${pid}/task`)) count++;
  } catch {
    return 0;
  }
  return count;
}

/** What /proc/PID/stat tells of a process. */
interface ProcStat {
  /** R, S, D, Z (zombie), X (dead), ... */
  state: string;
  parent: number;
  /** Clock ticks since boot: with the pid, who the process is. */
  startTime: string;
}

/** State, parent and start time of `pid`, from /proc/PID/stat; undefined when it is gone. */
async function procStat(pid: number): Promise<ProcStat | undefined> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/stat`);
    // After "pid (comm) ": state is field 3, the parent field 4, the start time field 22.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0], parent: Number(fields[1]), startTime: fields[19] };
  } catch {
    return undefined;
  }
}

/** Pids of the etcd processes whose data dir is `dir` (an absolute, resolved path). */
async function etcdPidsOn(dir: string): Promise<number[]> {
  const pids: number[] = [];
  try {
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const pid = Number(entry.name);
      if (pid !== Deno.pid && await runsEtcdOn(pid, dir)) pids.push(pid);
    }
  } catch {
    // No /proc (not Linux): only the pid file tells.
  }
  return pids;
}

/**
 * Whether process `pid` is an etcd whose `--data-dir` is `dir`, read from
 * /proc (a relative data dir is taken from the process's working dir). A
 * zombie has an empty command line: it runs nothing.
 */
async function runsEtcdOn(pid: number, dir: string): Promise<boolean> {
  let args: string[];
  try {
    args = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0");
  } catch {
    return false;
  }
  if (!/(^|\/)etcd$/.test(args[0] ?? "")) return false;
  let given: string | undefined;
  args.forEach((arg, i) => {
    if (arg.startsWith("--data-dir=")) given = arg.slice("--data-dir=".length);
    else if (arg === "--data-dir" || arg === "-data-dir") given = args[i + 1];
  });
  if (!given) return false;
  let cwd = "/";
  if (!given.startsWith("/")) {
    try {
      cwd = await Deno.readLink(`/proc/${pid}/cwd`);
    } catch {
      return false;
    }
  }
  return await realDir(given, cwd) === dir;
}

/** `dir` made absolute against `cwd`, with symbolic links resolved when it exists. */
async function realDir(dir: string, cwd: string): Promise<string> {
  const absolute = dir.startsWith("/") ? dir : `${cwd.replace(/\/+$/, "")}/${dir}`;
  try {
    return await Deno.realPath(absolute);
  } catch {
    return absolute.replace(/\/+$/, "") || "/";
  }
}
