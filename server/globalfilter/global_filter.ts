/**
 * A running GlobalFilter: its before and after stages, each a Pipeline,
 * run around the pipeline an HTTPServer routed the request to.
 *
 * @module
 */

import type { Context } from "../../filters/context.ts";
import type { FilterRegistry } from "../../filters/filter.ts";
import { type LoggerFactory, Pipeline, type SharedByFilters } from "../pipeline/pipeline.ts";
import type { PipelineHandler } from "../httpserver/server.ts";
import type { PipelineSpec } from "../pipeline/spec.ts";
import type { GlobalFilterSpec } from "./spec.ts";

/** A GlobalFilter object in a data plane. */
export class GlobalFilter {
  readonly spec: GlobalFilterSpec;
  readonly #before: Pipeline | undefined;
  readonly #after: Pipeline | undefined;

  /** Builds both stages; same-named filters of `previous`'s stages are inherited. */
  constructor(
    spec: GlobalFilterSpec,
    registry: FilterRegistry,
    loggers: LoggerFactory,
    previous?: GlobalFilter,
    shared?: SharedByFilters,
  ) {
    this.spec = spec;
    const stage = (which: "beforePipeline" | "afterPipeline", old: Pipeline | undefined) => {
      const fields = spec[which];
      if (fields === undefined) return undefined;
      // A stage's own `data` is accepted but unused: the routed pipeline's is what filters see.
      const { data: _data, ...rest } = fields;
      const pipeline: PipelineSpec = { name: `${spec.name}/${which}`, kind: "Pipeline", ...rest };
      return new Pipeline(pipeline, registry, loggers, old, shared);
    };
    this.#before = stage("beforePipeline", previous ? previous.#before : undefined);
    try {
      this.#after = stage("afterPipeline", previous ? previous.#after : undefined);
    } catch (e) {
      this.#before?.close(previous ? previous.#before : undefined);
      throw e;
    }
  }

  /**
   * Runs the before stage, `main`, then the after stage. A stage that ends
   * with a result (END, or a result its flow does not map) skips the
   * stages after it, as in Easegress: a Validator refusing in the before
   * stage answers without the pipeline running.
   */
  async handle(ctx: Context, main: PipelineHandler): Promise<string> {
    // Easegress gives the routed pipeline's data to the before stage as well.
    if (main.data !== undefined) ctx.data.PIPELINE = main.data;
    if (this.#before !== undefined) {
      const result = await this.#before.handle(ctx);
      if (result !== "") return result;
    }
    const result = await main.handle(ctx);
    if (result !== "" || this.#after === undefined) return result;
    return await this.#after.handle(ctx);
  }

  /** Status: each stage's filters, as a Pipeline reports them. */
  status(): Record<string, unknown> {
    const status: Record<string, unknown> = { health: "" };
    if (this.#before) status.beforePipeline = this.#before.status();
    if (this.#after) status.afterPipeline = this.#after.status();
    return status;
  }

  /** Closes the stages' filters, except those `successor` took over. */
  async close(successor?: GlobalFilter): Promise<void> {
    await this.#before?.close(successor ? successor.#before : undefined);
    await this.#after?.close(successor ? successor.#after : undefined);
  }
}
