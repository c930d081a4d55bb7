/**
 * Keeps busy connections from starving the others.
 *
 * The runtime completes a socket operation at once when its data is already
 * there, and only polls the operating system for the other sockets when
 * JavaScript runs out of work. Under load, requests whose bytes happen to be
 * in already are served over and over while reads that wait for the poll
 * sit for hundreds of milliseconds: a bare Deno proxy written in 30 lines,
 * at 512 busy connections, answered with a p99 of 1.6 s and single upstream
 * reads waiting 2 s, while its median was 8 ms.
 *
 * So requests are admitted in turns: a turn ends when the runtime has polled
 * its sockets again (noticed by a datagram sent to ourselves, which only
 * that poll picks up), and requests over a turn's budget wait, in arrival
 * order, for a later turn. The budget is large while nobody has to wait
 * and small once requests queue up: at 512 busy connections a budget of
 * 32 kept the proxy's p99 near 100-150 ms where 64 or more let it climb
 * past a second again (each admitted request does about three socket
 * operations before the next poll, and the runtime stops completing them
 * at once after 128 per turn). At low concurrency the budget is rarely
 * reached and a turn costs one loopback datagram.
 *
 * @module
 */

/** Requests admitted per turn while none waits. */
export const OPEN_BUDGET = 128;
/** Requests admitted per turn once some had to wait. */
export const BUSY_BUDGET = 32;
const PING = new Uint8Array(1);

/** One gate per server; {@linkcode close} releases its socket and every waiter. */
export class ReactorTurn {
  #admitted = 0;
  #budget = OPEN_BUDGET;
  /** Waiting requests (or batches), oldest first from `#head` on, and how many each holds. */
  #waiting: (() => void)[] = [];
  #waitingCounts: number[] = [];
  #head = 0;
  #turning = false;
  #socket: Deno.DatagramConn | null = null;
  #closed = false;

  /**
   * Admits `count` requests together (an HTTP/2 read's streams, say): at
   * once (undefined), or by a promise that resolves in their turn. A batch
   * goes in whole, even past the budget: splitting it would cost each of
   * its requests a promise, and its connection is not read meanwhile.
   */
  admit(count = 1): Promise<void> | undefined {
    if (this.#closed) return undefined;
    if (this.#head === this.#waiting.length && this.#admitted < this.#budget) {
      this.#admitted += count;
      if (this.#admitted >= this.#budget) this.#startTurns();
      return undefined;
    }
    const admitted = new Promise<void>((resolve) => {
      this.#waiting.push(resolve);
      this.#waitingCounts.push(count);
    });
    this.#startTurns();
    return admitted;
  }

  /** Calls `run` once admitted: at once, or in its turn (see {@linkcode admit}). */
  whenAdmitted<T>(run: () => T | Promise<T>): T | Promise<T> {
    const admitted = this.admit();
    return admitted === undefined ? run() : admitted.then(run);
  }

  #startTurns(): void {
    if (this.#turning) return;
    this.#turning = true;
    this.#turns();
  }

  /** Waits out turns, letting a budget of waiters in after each, until a turn has room left. */
  async #turns(): Promise<void> {
    try {
      for (;;) {
        await this.#nextPoll();
        this.#admitted = 0;
        const waiting = this.#waiting;
        while (this.#head < waiting.length && (this.#admitted < this.#budget || this.#closed)) {
          this.#admitted += this.#waitingCounts[this.#head];
          waiting[this.#head++]();
        }
        const backlog = this.#head < waiting.length;
        this.#budget = backlog ? BUSY_BUDGET : OPEN_BUDGET;
        if (!backlog) {
          waiting.length = 0;
          this.#waitingCounts.length = 0;
          this.#head = 0;
          if (this.#admitted < this.#budget) return;
        }
      }
    } finally {
      this.#turning = false;
    }
  }

  /** Resolves once the runtime has polled its sockets. */
  async #nextPoll(): Promise<void> {
    if (this.#closed) return;
    try {
      const socket = this.#socket ??= Deno.listenDatagram({
        hostname: "127.0.0.1",
        port: 0,
        transport: "udp",
      });
      // Receive first, so the datagram cannot be picked up eagerly in this turn.
      await Promise.all([socket.receive(), socket.send(PING, socket.addr)]);
    } catch {
      // No datagram socket (closed, or unstable APIs off): a timer also ends the turn.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  /** Closes the socket and lets every waiter in; later requests never wait. */
  close(): void {
    this.#closed = true;
    try {
      this.#socket?.close();
    } catch {
      // Already closed.
    }
    this.#socket = null;
  }
}
