/**
 * Keeps every contender of a scenario stopped (SIGSTOP) except the one
 * whose turn it is, so the one measured has its CPU to itself.
 *
 * Contenders share CPU 0 (`cpu_pinning.ts`), and an idle one is not
 * necessarily quiet: our node trims its heap once it has had no traffic
 * for 30 s (three full collections, about 50 ms each), which in interleaved
 * rounds lands in another contender's measured run. Measured from a shell,
 * a node whose idle neighbour on its CPU trimmed during its 5-second run had
 * a p99 of 8.1-19.8 ms, against 4.6-5.8 ms with the neighbour quiet.
 * Stopped, a contender runs no timers either, so a node never counts the
 * others' rounds as its own quiet time: each round measures it as it runs
 * under steady traffic, as nginx and HAProxy are.
 *
 * @module
 */

import type { Contender } from "./contenders.ts";

/** Sends `signal` to `pid`, if it still exists. */
export type Signaller = (pid: number, signal: "SIGSTOP" | "SIGCONT") => void;

function signalProcess(pid: number, signal: "SIGSTOP" | "SIGCONT"): void {
  try {
    Deno.kill(pid, signal);
  } catch (error) {
    // A contender that exited is reported by its failed run, not here.
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Whose turn it is among a scenario's contenders. */
export class Turns {
  readonly #contenders: readonly Contender[];
  readonly #signal: Signaller;
  /** Processes stopped now, by pid. */
  readonly #stopped = new Set<number>();

  constructor(contenders: readonly Contender[], signal: Signaller = signalProcess) {
    this.#contenders = contenders;
    this.#signal = signal;
  }

  /**
   * Lets `turn` run and stops every other contender. Contenders that are
   * views of one process (the pipeline-cost scenario's) run together.
   */
  give(turn: Contender): void {
    const running = new Set(turn.pids);
    for (const c of this.#contenders) {
      if (c.process === turn.process) continue;
      for (const pid of c.pids) {
        if (running.has(pid) || this.#stopped.has(pid)) continue;
        this.#signal(pid, "SIGSTOP");
        this.#stopped.add(pid);
      }
    }
    for (const pid of running) this.#resume(pid);
  }

  /** Lets every contender run again (before they are stopped for good). */
  end(): void {
    for (const pid of [...this.#stopped]) this.#resume(pid);
  }

  #resume(pid: number): void {
    if (!this.#stopped.delete(pid)) return;
    this.#signal(pid, "SIGCONT");
  }
}
