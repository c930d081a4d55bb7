/**
 * Shared helpers for filter unit tests: a FilterEnv whose logger records
 * lines, and a way to run a kind's validate + create + handle.
 *
 * @module
 */

import { Context, HttpRequest, type HttpRequestInit } from "../../../filters/context.ts";
import type { FilterEnv, FilterInstance, FilterKind } from "../../../filters/filter.ts";
import { SpecError } from "../../../filters/spec.ts";
import { parse, stringify } from "yaml";

/** A FilterEnv for tests; `lines` collects what the filter logged. */
export function testEnv(): FilterEnv & { lines: string[] } {
  const lines: string[] = [];
  const record = (level: string) => (message: string) => lines.push(`${level}: ${message}`);
  return {
    pipeline: "test-pipeline",
    name: "test-filter",
    log: {
      debug: record("debug"),
      info: record("info"),
      warn: record("warn"),
      error: record("error"),
    },
    resilience: () => undefined,
    lines,
  };
}

/** Validates `spec` with `kind` and creates an instance from the normalized result. */
export function build<S>(kind: FilterKind<S>, spec: Record<string, unknown>): FilterInstance {
  return kind.create(kind.validate(spec), testEnv());
}

/** A context holding a request made from `init`. */
export function contextFor(init: HttpRequestInit = {}, signal?: AbortSignal): Context {
  return new Context(new HttpRequest(init), { signal });
}

/** The problems `kind.validate(spec)` reports; fails when it accepts the spec. */
export function specProblems<S>(kind: FilterKind<S>, spec: Record<string, unknown>): string[] {
  try {
    kind.validate(spec);
  } catch (e) {
    if (e instanceof SpecError) return [...e.problems];
    throw e;
  }
  throw new Error(`spec was accepted: ${JSON.stringify(spec)}`);
}

/** Validates `spec`, then checks that its normalized form survives YAML and validates to itself. */
export function roundTrip<S>(kind: FilterKind<S>, spec: Record<string, unknown>): S {
  const normalized = kind.validate(spec);
  const again = kind.validate(parse(stringify(normalized)));
  if (JSON.stringify(again) !== JSON.stringify(normalized)) {
    throw new Error(
      `normalized spec does not round-trip:\n${JSON.stringify(normalized)}\n${
        JSON.stringify(again)
      }`,
    );
  }
  return normalized;
}
