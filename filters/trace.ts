/**
 * What filters see of a request's trace: a way to start a child span (the
 * Proxy does, around each upstream call) whose B3 headers go with the
 * upstream request. Set on the context by servers that trace (an
 * HTTPServer with `tracing`); absent otherwise.
 *
 * @module
 */

/** A request's span, as filters use it. */
export interface RequestTrace {
  /**
   * Starts a span inside this one, such as an upstream call. `upstream`: the
   * headers of the request the call sends (a `b3` among them is answered by
   * one of the span's).
   */
  child(name: string, upstream?: Headers): ChildSpan;
}

/** A span inside a request's span. */
export interface ChildSpan {
  /**
   * B3 headers that carry this span to the upstream, in place of the
   * request's own fields of those names: X-B3-*, plus `b3` when the
   * `upstream` headers given to `child` have one.
   */
  readonly headers: readonly [string, string][];
  /** Ends the span with the status the upstream answered (0: none), or what went wrong. */
  finish(status: number, error?: string): void;
}
