/**
 * The filter contract: what a filter kind declares and what its instances do.
 * Built-in filters and users' plugins implement exactly this.
 *
 * @module
 */

import type { Context } from "./context.ts";
import type { SharedSlots } from "./shared_slots.ts";
import type { SharedRegions } from "./shared_regions.ts";
import type { ServiceDirectory } from "./service_directory.ts";
import type { CustomDataView } from "./custom_data_view.ts";
import type { WasmHub } from "./wasm_shared_data.ts";
import { SpecError } from "./spec.ts";

/** A leveled logger handed to filters. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** What a pipeline gives each filter instance it creates. */
export interface FilterEnv {
  /** The owning pipeline's name. */
  readonly pipeline: string;
  /** This filter's name in the pipeline. */
  readonly name: string;
  /** A logger whose lines name the pipeline and filter. */
  readonly log: Logger;
  /**
   * A resilience policy (Retry, CircuitBreaker) declared in the pipeline's
   * `resilience` list, or undefined.
   */
  resilience(name: string): ResiliencePolicySpec | undefined;
  /**
   * Counters in memory shared by every worker isolate of the node, for
   * state that must be exact node-wide (rate limits).
   */
  readonly sharedSlots?: SharedSlots;
  /**
   * Byte regions in memory shared by every worker isolate of the node, for
   * larger state that must be one node-wide (circuit breakers).
   */
  readonly sharedRegions?: SharedRegions;
  /** The instances the node's service registries list (for Proxy pools with `serviceName`). */
  readonly services?: ServiceDirectory;
  /** The custom data items (Validator `basicAuth` mode ETCD, HeaderLookup). */
  readonly customData?: CustomDataView;
  /** The WasmHost filters' shared data and code reloads. */
  readonly wasm?: WasmHub;
}

/** A resilience policy as declared in a pipeline (already validated). */
export interface ResiliencePolicySpec {
  readonly name: string;
  readonly kind: string;
  readonly [field: string]: unknown;
}

/** A running filter. */
export interface FilterInstance {
  /**
   * Handles one request; returns "" to go on, or one of the kind's results,
   * which the pipeline looks up in the flow's `jumpIf`.
   */
  handle(ctx: Context): string | Promise<string>;
  /** A status document for `object status get`. */
  status?(): unknown;
  /** Releases what the instance holds (timers, connections). */
  close?(): void | Promise<void>;
}

/** A filter kind: its name, results, spec validation and factory. */
export interface FilterKind<S = unknown> {
  /** The `kind` used in pipeline specs, e.g. "Proxy". */
  readonly kind: string;
  /** One line saying what the filter does. */
  readonly description: string;
  /** Every non-empty result `handle` may return. */
  readonly results: readonly string[];
  /**
   * Checks a spec (the filter's fields without `name` and `kind`) and returns
   * it normalized, defaults filled. Throws {@linkcode SpecError} naming fields.
   */
  validate(spec: Record<string, unknown>): S;
  /**
   * Builds an instance. `previous` is the same-named instance of the pipeline
   * being replaced, so state such as pools or counters can be carried over;
   * the pipeline closes it afterwards unless `create` returned it.
   */
  create(spec: S, env: FilterEnv, previous?: FilterInstance): FilterInstance;
}

/** A set of filter kinds, by kind name. */
export class FilterRegistry {
  readonly #kinds = new Map<string, FilterKind>();

  /** Creates a registry holding `kinds`. */
  constructor(kinds: Iterable<FilterKind<never>> = []) {
    for (const k of kinds) this.register(k);
  }

  /** Adds a kind; throws on an empty, duplicate or malformed kind. */
  register<S>(kind: FilterKind<S>): void {
    const problems = checkKind(kind as FilterKind<unknown>);
    if (problems) throw new TypeError(`Cannot register filter kind: ${problems}`);
    if (this.#kinds.has(kind.kind)) {
      throw new TypeError(`Cannot register filter kind "${kind.kind}": already registered`);
    }
    this.#kinds.set(kind.kind, kind as FilterKind<unknown>);
  }

  /** The kind called `name`, or undefined. */
  get(name: string): FilterKind | undefined {
    return this.#kinds.get(name);
  }

  /** Every kind name, sorted. */
  names(): string[] {
    return [...this.#kinds.keys()].sort();
  }
}

function checkKind(k: FilterKind<unknown>): string {
  if (!k || typeof k !== "object") return "not an object";
  if (typeof k.kind !== "string" || !/^[A-Za-z][A-Za-z0-9]*$/.test(k.kind)) {
    return `kind must be a name made of letters and digits, got ${JSON.stringify(k.kind)}`;
  }
  if (!Array.isArray(k.results) || k.results.some((r) => typeof r !== "string" || !r)) {
    return `"${k.kind}": results must be a list of non-empty strings`;
  }
  if (new Set(k.results).size !== k.results.length) return `"${k.kind}": duplicate results`;
  if (typeof k.validate !== "function") return `"${k.kind}": validate must be a function`;
  if (typeof k.create !== "function") return `"${k.kind}": create must be a function`;
  return "";
}

/** Validates a filter spec with its kind, prefixing problems with `path`. */
export function validateFilterSpec<S>(
  kind: FilterKind<S>,
  spec: Record<string, unknown>,
  path: string,
): S {
  try {
    return kind.validate(spec);
  } catch (e) {
    if (e instanceof SpecError) throw e.withPrefix(path);
    throw new SpecError([`${path}: ${messageOf(e)}`]);
  }
}

/**
 * What a kind's thrown value says: a plugin may throw a string or another
 * value that is no Error, whose `message` would read "undefined".
 */
export function messageOf(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
}
