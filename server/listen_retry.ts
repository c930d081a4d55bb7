/**
 * The listener of a traffic object (HTTPServer, WebSocketServer) through
 * its life: starting, running, failed (a port taken, say, retried every 10
 * s) or closed, with the error its status reports.
 *
 * @module
 */

/** How long a listener that could not start waits before the next try. */
export const LISTEN_RETRY_MS = 10_000;

/** Where a traffic object's listener stands. */
export type ListenState = "starting" | "running" | "failed" | "closed";

/** Starts listeners, retries those that fail, and forgets attempts a newer one replaced. */
export class ListenRetry<L> {
  #state: ListenState = "starting";
  #error = "";
  #retry: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by every start and by close: a listener that opens for an older attempt is stale. */
  #attempt = 0;
  readonly #open: () => L | Promise<L>;
  readonly #opened: (listener: L) => void;
  readonly #discard: (listener: L) => void;
  readonly #failed: (message: string) => void;
  readonly #port: () => number;

  /**
   * @param open binds the port (throwing or rejecting when it cannot)
   * @param opened takes the listener of the current attempt
   * @param discard closes a listener whose attempt a newer one replaced
   * @param failed logs why an attempt failed (the retry is added to the message)
   * @param port the port `open` binds, named in the error
   */
  constructor(
    open: () => L | Promise<L>,
    opened: (listener: L) => void,
    discard: (listener: L) => void,
    failed: (message: string) => void,
    port: () => number,
  ) {
    this.#open = open;
    this.#opened = opened;
    this.#discard = discard;
    this.#failed = failed;
    this.#port = port;
  }

  /** Where the listener stands. */
  get state(): ListenState {
    return this.#state;
  }

  /**
   * Why the last attempt failed, naming the port (the runtime's "Address
   * already in use" named none, where Go's names it), or "".
   */
  get error(): string {
    return this.#error;
  }

  /** Starts a listener now; any earlier attempt or pending retry is dropped. */
  start(): void {
    clearTimeout(this.#retry);
    this.#retry = undefined;
    if (this.#state === "closed") return;
    const attempt = ++this.#attempt;
    const current = () => attempt === this.#attempt && this.#state !== "closed";
    let opening: Promise<L>;
    try {
      opening = Promise.resolve(this.#open());
    } catch (e) {
      opening = Promise.reject(e);
    }
    opening.then((listener) => {
      if (!current()) {
        this.#discard(listener);
        return;
      }
      this.#state = "running";
      this.#error = "";
      this.#opened(listener);
    }, (e) => {
      if (!current()) return;
      this.#state = "failed";
      this.#error = `cannot listen on port ${this.#port()}: ${(e as Error)?.message ?? e}`;
      this.#failed(`${this.#error}; retrying in ${LISTEN_RETRY_MS / 1000}s`);
      this.#retry = setTimeout(() => this.start(), LISTEN_RETRY_MS);
    });
  }

  /** No more listeners: a pending retry is dropped and one still opening is discarded. */
  close(): void {
    this.#state = "closed";
    this.#attempt++;
    clearTimeout(this.#retry);
    this.#retry = undefined;
  }
}
