/**
 * The processes a benchmark run starts, kept in one place so that every one
 * of them (and their children, such as nginx workers) is stopped at the end,
 * on failure and on Ctrl-C alike.
 *
 * @module
 */

import { processTree } from "./proc_stats.ts";

/** File descriptors asked for; the 10 000 idle connections need more than the usual 1024. */
export const NOFILE = 65536;

/**
 * `sh -c` prologue: raise the open-file limit (to the hard limit when not
 * allowed more), then `exec` so the started program keeps the shell's pid.
 */
const RAISE_NOFILE = `ulimit -n ${NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)";`;

/** A started process the group owns. */
export interface OwnedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: Deno.ChildProcess;
  /** Where its stdout and stderr go, when started with {@linkcode ProcessGroup.spawnLogged}. */
  readonly logFile?: string;
  /** Set once it has exited. */
  exited: boolean;
  /** How it ended (exit code or signal), once it has. */
  status?: Deno.CommandStatus;
}

/** Options for {@linkcode ProcessGroup.spawnLogged}. */
export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string>;
}

/** Starts processes and stops them all, children included. */
export class ProcessGroup {
  #owned: OwnedProcess[] = [];
  #closed = false;

  /**
   * Starts a long-running program with stdout and stderr appended to
   * `logFile`, in a session of its own. Contenders are stopped between
   * their turns (see turns.ts), and when a process group with a stopped
   * member becomes orphaned (the shell job that started this benchmark
   * ends, say) the kernel sends SIGHUP to all its members, which ends a
   * node; a contender in its own session is out of this benchmark's group.
   * The benchmark stops its contenders itself, on every way out.
   */
  spawnLogged(
    name: string,
    command: readonly string[],
    logFile: string,
    options: SpawnOptions = {},
  ): OwnedProcess {
    const script = `${RAISE_NOFILE} log=$1; shift; exec "$@" >>"$log" 2>&1`;
    const child = new Deno.Command("sh", {
      args: ["-c", script, "sh", logFile, ...command],
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    }).spawn();
    return this.#own(name, child, logFile);
  }

  /** Starts a program whose stdin and stdout the caller reads and writes (stderr inherited). */
  spawnPiped(name: string, command: readonly string[]): OwnedProcess {
    const child = new Deno.Command("sh", {
      args: ["-c", `${RAISE_NOFILE} exec "$@"`, "sh", ...command],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    return this.#own(name, child);
  }

  /** Runs a program to its end; returns its stdout, throws with its stderr when it fails. */
  async run(name: string, command: readonly string[]): Promise<string> {
    const child = new Deno.Command("sh", {
      args: ["-c", `${RAISE_NOFILE} exec "$@"`, "sh", ...command],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const owned = this.#own(name, child);
    const output = await child.output();
    owned.exited = true;
    const decoder = new TextDecoder();
    if (!output.success) {
      const stderr = decoder.decode(output.stderr).trim();
      const stdout = decoder.decode(output.stdout).trim();
      throw new Error(`${name} exited with ${output.code}: ${stderr || stdout}`);
    }
    return decoder.decode(output.stdout);
  }

  /** Stops one process and its children: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(owned: OwnedProcess, graceMs = 3000): Promise<void> {
    if (owned.exited) return;
    // Taken before the signal: nginx workers outlive a killed master.
    const tree = processTree(owned.pid);
    try {
      owned.child.kill("SIGTERM");
    } catch { /* already gone */ }
    // A contender stopped between its turns (turns.ts) acts on signals once continued.
    for (const pid of tree) {
      try {
        Deno.kill(pid, "SIGCONT");
      } catch { /* already gone */ }
    }
    const exited = await Promise.race([
      owned.child.status.then(() => true),
      new Promise<false>((resolve) => {
        const timer = setTimeout(() => resolve(false), graceMs);
        owned.child.status.finally(() => clearTimeout(timer));
      }),
    ]);
    if (!exited) {
      try {
        owned.child.kill("SIGKILL");
      } catch { /* already gone */ }
      await owned.child.status;
    }
    const leftovers = tree.slice(1);
    for (const pid of leftovers) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* exited with its parent */ }
    }
    // Killing is asynchronous: wait (briefly) until their ports are free again.
    for (let i = 0; i < 50 && leftovers.some(isRunning); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    owned.exited = true;
  }

  /** Stops everything still running, newest first; nothing can be started afterwards. */
  async stopAll(): Promise<void> {
    this.#closed = true;
    for (const owned of [...this.#owned].reverse()) await this.stop(owned);
  }

  #own(name: string, child: Deno.ChildProcess, logFile?: string): OwnedProcess {
    if (this.#closed) {
      // Started while everything is being stopped (Ctrl-C): it goes too.
      child.kill("SIGKILL");
      throw new Error(`not starting ${name}: stopping`);
    }
    const owned: OwnedProcess = { name, pid: child.pid, child, logFile, exited: false };
    this.#owned.push(owned);
    child.status.then((status) => {
      owned.exited = true;
      owned.status = status;
      this.#owned = this.#owned.filter((o) => o !== owned);
    });
    return owned;
  }
}

/** How a process ended, as a failure report says it: "exit code 1", "signal SIGKILL". */
export function endedBy(status: Deno.CommandStatus | undefined): string {
  if (status === undefined) return "unknown";
  return status.signal !== null ? `signal ${status.signal}` : `exit code ${status.code}`;
}

/** Whether a process exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /s.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

/** The last `lines` lines of a log file, for error messages. */
export function logTail(path: string | undefined, lines = 15): string {
  if (!path) return "";
  try {
    return Deno.readTextFileSync(path).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}
