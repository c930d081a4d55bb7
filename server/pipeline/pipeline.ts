/**
 * A running Pipeline: its filter instances and the compiled flow that runs
 * them for each request.
 *
 * @module
 */

import type { Context } from "../../filters/context.ts";
import { HttpResponse } from "../../filters/context.ts";
import {
  type FilterEnv,
  type FilterInstance,
  type FilterRegistry,
  type Logger,
  messageOf,
  type ResiliencePolicySpec,
} from "../../filters/filter.ts";
import { END, type FilterSpec, type PipelineSpec } from "./spec.ts";
import { millisecondsString } from "../../filters/template/goduration.ts";

interface Step {
  /** The flow identity (alias or filter name), for logs. */
  readonly id: string;
  readonly instance: FilterInstance;
  readonly namespace: string;
  /** result -> index of the step to go to (-1 for END). */
  readonly jumps: ReadonlyMap<string, number> | undefined;
}

/** The result of a filter that threw: the pipeline stops with it. */
export const FILTER_FAILED = "internalError";
const FAILED = FILTER_FAILED;

/** One filter's part in a request, for the access log's tags. */
interface FilterTiming {
  readonly id: string;
  readonly result: string;
  readonly ms: number;
}

function timing(step: Step, result: string, began: number): FilterTiming {
  return { id: step.id, result, ms: performance.now() - began };
}

/**
 * Easegress's tag for a pipeline's run: `pipeline(NAME): a(1.2ms)->b(result,3µs)`,
 * durations as Go prints them.
 */
function timingsTag(pipeline: string, timings: readonly FilterTiming[]): string {
  if (timings.length === 0) return `pipeline(${pipeline}): <empty>`;
  let tag = `pipeline(${pipeline}): `;
  for (let i = 0; i < timings.length; i++) {
    const { id, result, ms } = timings[i];
    if (i > 0) tag += "->";
    tag += id + "(" + (result === "" ? "" : result + ",") + millisecondsString(ms) + ")";
  }
  return tag;
}

/** Makes loggers for a pipeline's filters. */
export type LoggerFactory = (scope: string) => Logger;

/** What a data plane shares with every filter it builds: counters, service instances, custom data. */
export type SharedByFilters = Pick<
  FilterEnv,
  "sharedSlots" | "sharedRegions" | "services" | "customData" | "wasm"
>;

/** A Pipeline object in a data plane. */
export class Pipeline {
  readonly name: string;
  readonly spec: PipelineSpec;
  readonly #instances: Map<string, FilterInstance>;
  readonly #steps: Step[];
  readonly #log: Logger;
  /** The spec's `data`, the same object for every request, as Easegress shares it. */
  readonly data: Record<string, unknown> | undefined;

  /**
   * Builds every filter of `spec`; a filter named as one in `previous` gets
   * that instance to inherit from. `previous` itself is not closed here.
   */
  constructor(
    spec: PipelineSpec,
    registry: FilterRegistry,
    loggers: LoggerFactory,
    previous?: Pipeline,
    shared: SharedByFilters = {},
  ) {
    this.name = spec.name;
    this.spec = spec;
    this.data = spec.data;
    this.#log = loggers(`pipeline/${spec.name}`);
    this.#instances = new Map();
    const policies = new Map((spec.resilience ?? []).map((p) => [p.name, p]));
    const inherited = previous ? previous.#instances : new Map<string, FilterInstance>();
    try {
      for (const f of spec.filters) {
        this.#instances.set(
          f.name,
          createFilter(f, registry, {
            pipeline: spec.name,
            name: f.name,
            log: loggers(`pipeline/${spec.name}/${f.name}`),
            resilience: (n) => policies.get(n) as ResiliencePolicySpec | undefined,
            sharedSlots: shared.sharedSlots,
            sharedRegions: shared.sharedRegions,
            services: shared.services,
            customData: shared.customData,
            wasm: shared.wasm,
          }, inherited.get(f.name)),
        );
      }
    } catch (e) {
      // Never leave half a generation running; what the previous one owns stays.
      this.#closeInstances(previous);
      throw e;
    }
    this.#steps = compileFlow(spec, this.#instances);
  }

  /**
   * Runs the flow for one request; returns the last filter's result, or
   * "END" when the flow reached an END step in order. A non-empty result
   * means the flow ended early (END, or a result it does not map), which
   * is what a GlobalFilter's stages go by.
   */
  handle(ctx: Context): string | Promise<string> {
    if (this.data !== undefined) ctx.data.PIPELINE = this.data;
    if (!ctx.timed) return this.#runFrom(ctx, 0, "", undefined);
    const timings: FilterTiming[] = [];
    const tag = () => ctx.addTag(timingsTag(this.name, timings));
    const result = this.#runFrom(ctx, 0, "", timings);
    if (typeof result === "string") {
      tag();
      return result;
    }
    return result.then((r) => {
      tag();
      return r;
    });
  }

  /** Runs the flow from step `start`; with `timings`, notes each filter's result and time there. */
  #runFrom(
    ctx: Context,
    start: number,
    lastResult: string,
    timings: FilterTiming[] | undefined,
  ): string | Promise<string> {
    const steps = this.#steps;
    let result = lastResult;
    for (let i = start; i < steps.length;) {
      const step = steps[i];
      if (step.instance === END_INSTANCE) return END;
      if (step.namespace !== ctx.namespace) ctx.useNamespace(step.namespace);
      const began = timings === undefined ? 0 : performance.now();
      let out: string | Promise<string>;
      try {
        out = step.instance.handle(ctx);
      } catch (e) {
        timings?.push(timing(step, FAILED, began));
        return this.#failed(ctx, step, e);
      }
      if (typeof out !== "string") {
        if (typeof out?.then !== "function") {
          timings?.push(timing(step, FAILED, began));
          return this.#failed(ctx, step, notAResult(out));
        }
        return out.then(
          (r) => {
            if (typeof r !== "string") {
              timings?.push(timing(step, FAILED, began));
              return this.#failed(ctx, step, notAResult(r));
            }
            timings?.push(timing(step, r, began));
            const next = this.#next(step, i, r);
            return next < 0 ? stopped(r) : this.#runFrom(ctx, next, r, timings);
          },
          (e) => {
            timings?.push(timing(step, FAILED, began));
            return this.#failed(ctx, step, e);
          },
        );
      }
      timings?.push(timing(step, out, began));
      result = out;
      i = this.#next(step, i, out);
      if (i < 0) return stopped(result);
    }
    return result;
  }

  /** The index of the step after `index` returned `result`, or -1 to stop (END). */
  #next(step: Step, index: number, result: string): number {
    const jumps = step.jumps;
    if (result === "") return jumps === undefined ? index + 1 : jumps.get("") ?? index + 1;
    const target = jumps?.get(result);
    return target === undefined ? -1 : target;
  }

  #failed(ctx: Context, step: Step, error: unknown): string {
    this.#log.error(`filter ${step.id} failed: ${(error as Error)?.stack ?? error}`);
    ctx.useNamespace("DEFAULT");
    ctx.response ??= new HttpResponse(500);
    return FAILED;
  }

  /** Status: each filter's own status document (null when it has none). */
  status(): { health: string; filters: Record<string, unknown> } {
    const filters: Record<string, unknown> = {};
    for (const [name, f] of this.#instances) filters[name] = statusOf(f);
    return { health: "", filters };
  }

  /**
   * Closes the filter instances, except those a `successor` pipeline took
   * over (returned from create as the same instance).
   */
  close(successor?: Pipeline): Promise<void> {
    return this.#closeInstances(successor);
  }

  async #closeInstances(keep?: Pipeline): Promise<void> {
    const kept = new Set(keep ? keep.#instances.values() : []);
    for (const [name, f] of this.#instances) {
      if (kept.has(f)) continue;
      try {
        await f.close?.();
      } catch (e) {
        this.#log.warn(`closing filter ${name}: ${(e as Error).message}`);
      }
    }
  }
}

/**
 * A filter's status document, or what its `status` threw: one plugin's
 * failing status must not fail the status of every object.
 */
function statusOf(filter: FilterInstance): unknown {
  try {
    return filter.status?.() ?? null;
  } catch (e) {
    return { error: `status failed: ${messageOf(e)}` };
  }
}

function createFilter(
  spec: FilterSpec,
  registry: FilterRegistry,
  env: FilterEnv,
  previous: FilterInstance | undefined,
): FilterInstance {
  const kind = registry.get(spec.kind);
  if (!kind) throw new Error(`filter ${spec.name}: unknown kind ${spec.kind}`);
  const { name: _name, kind: _kind, ...fields } = spec;
  let instance: FilterInstance;
  try {
    instance = kind.create(kind.validate(fields), env, previous);
  } catch (e) {
    // Named by the filter: a kind's error names the field ("pools[0].timeout"),
    // which alone does not say which of a pipeline's Proxies refused it.
    throw new Error(`filter ${spec.name}: ${messageOf(e)}`, { cause: e });
  }
  // A plugin is not type-checked: an async create would pass here and fail every request.
  if (typeof instance?.handle !== "function") {
    const gave = instance instanceof Promise
      ? "a Promise (create must not be async)"
      : instance === null || instance === undefined
      ? `${instance} (a missing return?)`
      : typeof instance === "object"
      ? "an object without a handle function"
      : `a ${typeof instance}`;
    if (instance instanceof Promise) instance.catch(() => {});
    throw new Error(
      `filter ${spec.name}: ${spec.kind}'s create gave ${gave}, not a filter instance`,
    );
  }
  return instance;
}

function compileFlow(spec: PipelineSpec, instances: Map<string, FilterInstance>): Step[] {
  const ids = spec.flow.map((n) => n.filter === END ? END : n.alias ?? n.filter);
  return spec.flow.map((node, i): Step => {
    let jumps: Map<string, number> | undefined;
    for (const [result, target] of Object.entries(node.jumpIf ?? {})) {
      // Validation guarantees the target is END or a later step; -1 (END) stops the run.
      const at = target === END ? -1 : ids.indexOf(target, i + 1);
      (jumps ??= new Map()).set(result, at);
    }
    return {
      id: ids[i],
      instance: node.filter === END ? END_INSTANCE : instances.get(node.filter)!,
      namespace: node.namespace ?? "DEFAULT",
      jumps,
    };
  });
}

/**
 * The error for a filter whose `handle` gave something other than a result
 * string: a plugin's handle that forgot its `return` gives undefined, which
 * must not pass for "" (go on) nor for a result.
 */
function notAResult(value: unknown): TypeError {
  const got = value === null || value === undefined ? String(value) : `a ${typeof value}`;
  return new TypeError(
    `handle gave ${got}, not a result: it must return "" to go on or one of its kind's results`,
  );
}

/** A stopped run's result: END for a success mapped to END, so that later stages are skipped. */
function stopped(result: string): string {
  return result === "" ? END : result;
}

// An END step in the flow stops the run; later steps are reached only by jumps.
const END_INSTANCE: FilterInstance = { handle: () => "" };
