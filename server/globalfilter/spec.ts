/**
 * The GlobalFilter object, as Easegress's: a `beforePipeline` and an
 * `afterPipeline` (each a Pipeline spec without name and kind) that run
 * around the pipeline of every request of the HTTPServers naming it in
 * their `globalFilter` field.
 *
 * @module
 */

import type { FilterRegistry } from "../../filters/filter.ts";
import type { SpecReader } from "../../filters/spec.ts";
import { type PipelineSpec, readPipelineSpec } from "../pipeline/spec.ts";

/** A stage: a Pipeline spec without name and kind. */
export type PipelineStageSpec = Omit<PipelineSpec, "name" | "kind">;

/** A normalized GlobalFilter spec. */
export interface GlobalFilterSpec {
  name: string;
  kind: "GlobalFilter";
  /** Runs before the request's pipeline; absent when it has no filters. */
  beforePipeline?: PipelineStageSpec;
  /** Runs after the request's pipeline; absent when it has no filters. */
  afterPipeline?: PipelineStageSpec;
}

const STAGES = ["beforePipeline", "afterPipeline"] as const;

/** Reads a GlobalFilter spec at `r` (name and kind already read). */
export function readGlobalFilterSpec(
  r: SpecReader,
  name: string,
  registry: FilterRegistry,
): GlobalFilterSpec {
  const spec: GlobalFilterSpec = { name, kind: "GlobalFilter" };
  for (const stage of STAGES) {
    if (r.raw[stage] === null) {
      r.ignore(stage);
      continue;
    }
    const read = r.object(stage, (sr) => {
      // Easegress builds a stage only when it has a flow: an empty one is no stage.
      const filters = sr.raw.filters;
      if (!sr.raw.flow && (filters === undefined || filters === null || isEmptyList(filters))) {
        for (const key of Object.keys(sr.raw)) sr.ignore(key);
        return undefined;
      }
      const { name: _name, kind: _kind, ...fields } = readPipelineSpec(sr, name, registry);
      return fields;
    });
    if (read) spec[stage] = read;
  }
  return spec;
}

function isEmptyList(value: unknown): boolean {
  return Array.isArray(value) && value.length === 0;
}
