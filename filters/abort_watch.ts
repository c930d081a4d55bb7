/**
 * The part of an `AbortSignal` the Proxy uses to stop an upstream exchange
 * when its client goes away, and a light implementation of it. A real
 * signal costs an `AbortController` and an event listener table per
 * request; the server's HTTP/1.1 connections offer an {@linkcode AbortNotice}
 * instead, one per connection, reused request after request.
 *
 * @module
 */

/** What code that only waits for an abort needs; an `AbortSignal` is one. */
export interface AbortWatch {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: () => void): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/**
 * A flag with abort listeners. As with an `AbortSignal`, listeners run once,
 * in the order added, and none added after the abort runs; unlike one, the
 * same listener added twice runs twice.
 */
export class AbortNotice implements AbortWatch {
  aborted = false;
  reason: unknown = undefined;
  // One listener is the common case (the Proxy's exchange): no array for it.
  #first: (() => void) | null = null;
  #more: (() => void)[] | null = null;

  /** Adds a listener (the type is always "abort"). */
  addEventListener(_type: "abort", listener: () => void): void {
    if (this.aborted) return;
    if (this.#first === null && this.#more === null) this.#first = listener;
    else (this.#more ??= []).push(listener);
  }

  /** Removes one registration of `listener`. */
  removeEventListener(_type: "abort", listener: () => void): void {
    if (this.#first === listener) {
      this.#first = null;
      return;
    }
    const more = this.#more;
    const at = more === null ? -1 : more.indexOf(listener);
    if (at >= 0) more!.splice(at, 1);
  }

  /** Sets the flag and runs the listeners once; a listener's error is reported, not thrown. */
  abort(reason: unknown = new DOMException("The client went away", "AbortError")): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const first = this.#first;
    const more = this.#more;
    this.clear();
    if (first !== null) run(first);
    if (more !== null) { for (const listener of more) run(listener); }
  }

  /** Whether any listener is registered. */
  get listening(): boolean {
    return this.#first !== null || (this.#more !== null && this.#more.length > 0);
  }

  /** Drops every listener (the request they were for is over); the flag stays. */
  clear(): void {
    this.#first = null;
    this.#more = null;
  }
}

function run(listener: () => void): void {
  try {
    listener();
  } catch (error) {
    // What an AbortSignal does with a throwing listener.
    reportError(error);
  }
}
