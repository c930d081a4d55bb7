/**
 * The public API of the gateway: the filter contract plugins are written
 * against, the request context, spec validation helpers, and `startNode`.
 *
 * @example A plugin filter
 * ```ts
 * import { type FilterKind, HttpResponse, SpecReader } from "./mod.ts";
 *
 * export default {
 *   kind: "Hello",
 *   description: "answers hello",
 *   results: [],
 *   validate(spec) {
 *     // The filter's own fields: its name and kind are the pipeline's, never here.
 *     const r = SpecReader.root(spec);
 *     const who = r.string("who", { default: "world" });
 *     r.finish();
 *     r.throwIfProblems();
 *     return { who };
 *   },
 *   create(spec) {
 *     return { handle(ctx) { ctx.response = new HttpResponse(200, {}, `hello ${spec.who}`); return ""; } };
 *   },
 * } satisfies FilterKind<{ who: string }>;
 * ```
 *
 * @module
 */

export type {
  FilterEnv,
  FilterInstance,
  FilterKind,
  Logger,
  ResiliencePolicySpec,
} from "./filters/filter.ts";
export { FilterRegistry } from "./filters/filter.ts";
export type { ChildSpan, RequestTrace } from "./filters/trace.ts";
export {
  type Body,
  BodyTooLargeError,
  type ClientInfo,
  Context,
  HttpRequest,
  type HttpRequestInit,
  HttpResponse,
  MalformedBodyError,
  type Namespace,
  readAll,
} from "./filters/context.ts";
export { HeaderFields, isHeaders } from "./filters/header_fields.ts";
export { AbortNotice, type AbortWatch } from "./filters/abort_watch.ts";
export { formatDuration, parseDuration, SpecError, SpecReader } from "./filters/spec.ts";
export { compileGoRegexp } from "./filters/go_regexp.ts";
export { type Node, startNode, type StartNodeExtras, VERSION } from "./server/node.ts";
export { DEFAULT_OPTIONS, type NodeOptions } from "./server/options.ts";
