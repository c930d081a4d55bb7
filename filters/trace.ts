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
  /** Starts a span inside this one, such as an upstream call. */
  child(name: string): ChildSpan;
}

/** A span inside a request's span. */
export interface ChildSpan {
  /** B3 headers that carry this span to the upstream. */
  readonly headers: readonly [string, string][];
  /** Ends the span with the status the upstream answered (0: none), or what went wrong. */
  finish(status: number, error?: string): void;
}
